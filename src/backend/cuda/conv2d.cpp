#include "backend/cuda/conv2d.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <string>
#include <vector>

#include "backend/cuda/check.h"
#include "backend/cuda/cudnn_descriptor.h"
#include "backend/cuda/eltwise.h"
#include "backend/cuda/layout.h"

namespace sd::cuda {

namespace {

// Unique ids of the graph's tensors (the variant pack binds pointers to them).
enum Uid : int64_t { kX = 1, kW, kBias, kResidual, kY, kVirtual = 100 };

cudnnDataType_t cudnn_type(DType dt) {
  switch (dt) {
    case DType::F32: return CUDNN_DATA_FLOAT;
    case DType::F16: return CUDNN_DATA_HALF;
    case DType::BF16: return CUDNN_DATA_BFLOAT16;
    default: throw Error(std::string("cuDNN convolution takes f32, f16 or bf16, not ") + std::string(dtype_name(dt)));
  }
}

int alignment_of(const void* p) {
  if (!p) return 256;
  const auto a = reinterpret_cast<uintptr_t>(p);
  return int(std::min<uintptr_t>(256, a & (~a + 1)));
}

// A tensor in cuDNN's logical [N, C, H, W] order with channels-last strides.
CudnnDescriptor nhwc_tensor(int64_t uid, int64_t n, int64_t c, int64_t h, int64_t w, cudnnDataType_t type,
                            bool is_virtual, int64_t alignment) {
  CudnnDescriptor t(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  t.set_data_type(CUDNN_ATTR_TENSOR_DATA_TYPE, type)
      .set_int(CUDNN_ATTR_TENSOR_DIMENSIONS, {n, c, h, w})
      .set_int(CUDNN_ATTR_TENSOR_STRIDES, {h * w * c, 1, w * c, c})
      .set_int(CUDNN_ATTR_TENSOR_UNIQUE_ID, {uid})
      .set_int(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, {alignment});
  const bool v = is_virtual;
  t.set(CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &v);
  t.finalize("conv tensor descriptor");
  return t;
}

bool pointwise_mode(Act act, cudnnPointwiseMode_t* mode, float* swish_beta) {
  *swish_beta = 1.f;
  switch (act) {
    case Act::None: return false;
    case Act::SiLU: *mode = CUDNN_POINTWISE_SWISH_FWD; return true;
    case Act::QuickGELU: *mode = CUDNN_POINTWISE_SWISH_FWD, *swish_beta = 1.702f; return true;
    case Act::GELU: *mode = CUDNN_POINTWISE_GELU_FWD; return true;
    case Act::GELUTanh: *mode = CUDNN_POINTWISE_GELU_APPROX_TANH_FWD; return true;
    case Act::ReLU: *mode = CUDNN_POINTWISE_RELU_FWD; return true;
    case Act::Tanh: *mode = CUDNN_POINTWISE_TANH_FWD; return true;
  }
  return false;
}

// The operation y = mode(x[, b]); its pointwise descriptor goes into `held`, which must
// outlive the operation.
CudnnDescriptor pointwise_op(cudnnPointwiseMode_t mode, float swish_beta, const CudnnDescriptor& x,
                             const CudnnDescriptor* b, const CudnnDescriptor& y, std::deque<CudnnDescriptor>& held) {
  held.emplace_back(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
  CudnnDescriptor& pw = held.back();
  pw.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode)
      .set_data_type(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_DATA_FLOAT);
  if (mode == CUDNN_POINTWISE_SWISH_FWD) pw.set_float(CUDNN_ATTR_POINTWISE_SWISH_BETA, swish_beta);
  pw.finalize("pointwise descriptor");
  CudnnDescriptor op(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
  op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw)
      .set_desc(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x)
      .set_desc(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y);
  if (b) op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b);
  op.finalize("pointwise operation");
  return op;
}

}  // namespace

struct Conv2d::Plan {
  CudnnDescriptor plan;
  int64_t workspace = 0;
  bool fused = false;  // bias, activation and residual are in the graph
  // Every descriptor the plan was built from (tensors, operations, graph, engine
  // configurations), kept alive as long as the plan.
  std::shared_ptr<std::deque<CudnnDescriptor>> graph;
};

// The device pointers one execution binds to the graph's tensors.
struct Conv2d::Operands {
  const void* x;
  void* y;               // the convolution's (or fused graph's) output
  const void* residual;  // bound only when the fused graph reads it
};

namespace {

// How many engine configurations the heuristic ranks first are timed before a shape's plan
// is chosen: the heuristic's first choice is not always the fastest, fused graphs least.
constexpr int kTimedCandidates = 4;

// Whether an engine configuration may serve a convolution in `dt`. Engines cuDNN compiles
// at run time (NVRTC) are left out: each costs about a second per shape, which made the
// first denoising step of a model take tens of seconds, measured on an H200; a graph no
// precompiled engine takes runs as the bare convolution plus the element-wise epilogue.
// In float32, tensor-core engines (TF32, 10-bit mantissas) are left out too, as PyTorch
// does when TF32 is off: f32 is the precision reference, and TF32 moved the tiny model's
// images by up to 118 levels.
bool engine_allowed(const CudnnDescriptor& config, DType dt) {
  CudnnDescriptor engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  cudnnBackendDescriptor_t raw = engine.get();
  int64_t got = 0;
  if (cudnnBackendGetAttribute(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &got,
                               &raw) != CUDNN_STATUS_SUCCESS)
    return false;
  cudnnBackendBehaviorNote_t behavior[CUDNN_BEHAVIOR_NOTE_TYPE_COUNT];
  if (cudnnBackendGetAttribute(raw, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                               CUDNN_BEHAVIOR_NOTE_TYPE_COUNT, &got, behavior) != CUDNN_STATUS_SUCCESS)
    return false;
  for (int64_t i = 0; i < got; ++i)
    if (behavior[i] == CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION) return false;
  if (dt != DType::F32) return true;
  cudnnBackendNumericalNote_t numerical[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  if (cudnnBackendGetAttribute(raw, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                               CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &got, numerical) != CUDNN_STATUS_SUCCESS)
    return false;
  for (int64_t i = 0; i < got; ++i)
    if (numerical[i] == CUDNN_NUMERICAL_NOTE_TENSOR_CORE || numerical[i] == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS)
      return false;
  return true;
}

}  // namespace

void Conv2d::execute(Context& ctx, const Plan& plan, const Operands& ops) const {
  std::vector<int64_t> uids{kX, kW, kY};
  std::vector<void*> ptrs{const_cast<void*>(ops.x), const_cast<void*>(weight_), ops.y};
  if (plan.fused && bias_) uids.push_back(kBias), ptrs.push_back(const_cast<void*>(bias_));
  if (plan.fused && ops.residual) uids.push_back(kResidual), ptrs.push_back(const_cast<void*>(ops.residual));
  void* workspace = plan.workspace > 0 ? ctx.workspace(size_t(plan.workspace)) : nullptr;
  CudnnDescriptor pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, int64_t(uids.size()), uids.data())
      .set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, int64_t(ptrs.size()), ptrs.data())
      .set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
  pack.finalize("variant pack");
  SD_CUDNN_CHECK(cudnnBackendExecute(ctx.cudnn(), plan.plan.get(), pack.get()));
}

// Milliseconds of one execution: a warm-up, then the mean of three.
float Conv2d::time_plan(Context& ctx, const Plan& plan, const Operands& ops) const {
  return mean_stream_ms(ctx, [&] { execute(ctx, plan, ops); });
}

void ohwi_from_oihw(Context& ctx, const void* oihw, void* ohwi, int64_t out_channels, int64_t in_channels, int kh,
                    int kw, DType dt) {
  nchw_to_nhwc(ctx, oihw, ohwi, out_channels, in_channels, int64_t(kh) * kw, dt);
}

Conv2d::Conv2d(const void* weight, const void* bias, int64_t out_channels, int64_t in_channels, int kh, int kw,
               ConvGeometry g, DType dt)
    : weight_(weight), bias_(bias), out_(out_channels), in_(in_channels), kh_(kh), kw_(kw), g_(g), dt_(dt) {
  cudnn_type(dt);
  SD_CHECK(out_channels > 0 && in_channels > 0 && kh > 0 && kw > 0 && g.stride > 0, "bad convolution geometry");
}

Conv2d::~Conv2d() = default;

Conv2d::Plan& Conv2d::plan_for(Context& ctx, const Key& key, const Operands& operands) {
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;
  const auto [n, h, w, act_i, residual, align_x, align_y, align_r] = key;
  const Act act = Act(act_i);
  const int64_t oh = out_height(h), ow = out_width(w);
  const cudnnDataType_t type = cudnn_type(dt_);
  cudnnHandle_t handle = ctx.cudnn();
  auto held = std::make_shared<std::deque<CudnnDescriptor>>();  // a deque: stable addresses
  auto keep = [&](CudnnDescriptor d) -> CudnnDescriptor& {
    held->push_back(std::move(d));
    return held->back();
  };

  const CudnnDescriptor& x = keep(nhwc_tensor(kX, n, in_, h, w, type, false, align_x));
  const CudnnDescriptor& wt = keep([&] {
    CudnnDescriptor t(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    t.set_data_type(CUDNN_ATTR_TENSOR_DATA_TYPE, type)
        .set_int(CUDNN_ATTR_TENSOR_DIMENSIONS, {out_, in_, kh_, kw_})
        .set_int(CUDNN_ATTR_TENSOR_STRIDES, {int64_t(kh_) * kw_ * in_, 1, kw_ * in_, in_})
        .set_int(CUDNN_ATTR_TENSOR_UNIQUE_ID, {kW})
        .set_int(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, {int64_t(alignment_of(weight_))});
    t.finalize("filter descriptor");
    return t;
  }());
  CudnnDescriptor& conv = keep(CudnnDescriptor(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR));
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  conv.set_data_type(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_DATA_FLOAT)
      .set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode)
      .set_int(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, {2})
      .set_int(CUDNN_ATTR_CONVOLUTION_DILATIONS, {1, 1})
      .set_int(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, {g_.stride, g_.stride})
      .set_int(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, {g_.pad_top, g_.pad_left})
      .set_int(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, {g_.pad_bottom, g_.pad_right});
  conv.finalize("convolution descriptor");

  // Builds the graph conv [-> +bias] [-> act] [-> +residual] (fused) or the bare
  // convolution, and the fastest of the first execution plans engines accept, timed on
  // this call's operands (the output is not an input, so running it again is harmless);
  // false when no engine accepts the graph.
  auto build = [&](bool fused, Plan& out) {
    std::vector<cudnnBackendDescriptor_t> raw_ops;
    auto add_op = [&](CudnnDescriptor op) { raw_ops.push_back(keep(std::move(op)).get()); };
    const CudnnDescriptor& y = keep(nhwc_tensor(kY, n, out_, oh, ow, type, false, align_y));
    cudnnPointwiseMode_t act_mode{};
    float swish_beta = 1.f;
    const bool has_act = fused && pointwise_mode(act, &act_mode, &swish_beta);
    const int stages = fused ? int(bias_ != nullptr) + int(has_act) + int(residual) : 0;
    int64_t next_virtual = kVirtual;
    // The output of the next stage: y for the last one, a float32 virtual tensor before.
    auto stage_out = [&](int remaining) -> const CudnnDescriptor& {
      if (remaining == 0) return y;
      return keep(nhwc_tensor(next_virtual++, n, out_, oh, ow, CUDNN_DATA_FLOAT, true, 16));
    };
    int remaining = stages;
    const CudnnDescriptor* cur = &stage_out(remaining);
    CudnnDescriptor conv_op(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
    conv_op.set_desc(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, x)
        .set_desc(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, wt)
        .set_desc(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, *cur)
        .set_desc(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, conv)
        .set_float(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, 1.f)
        .set_float(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, 0.f);
    conv_op.finalize("convolution operation");
    add_op(std::move(conv_op));
    if (fused && bias_) {
      const CudnnDescriptor& b = keep([&] {
        CudnnDescriptor t(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
        t.set_data_type(CUDNN_ATTR_TENSOR_DATA_TYPE, type)
            .set_int(CUDNN_ATTR_TENSOR_DIMENSIONS, {1, out_, 1, 1})
            .set_int(CUDNN_ATTR_TENSOR_STRIDES, {out_, 1, out_, out_})
            .set_int(CUDNN_ATTR_TENSOR_UNIQUE_ID, {kBias})
            .set_int(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, {int64_t(alignment_of(bias_))});
        t.finalize("bias descriptor");
        return t;
      }());
      const CudnnDescriptor* in = cur;
      cur = &stage_out(--remaining);
      add_op(pointwise_op(CUDNN_POINTWISE_ADD, 1.f, *in, &b, *cur, *held));
    }
    if (has_act) {
      const CudnnDescriptor* in = cur;
      cur = &stage_out(--remaining);
      add_op(pointwise_op(act_mode, swish_beta, *in, nullptr, *cur, *held));
    }
    if (fused && residual) {
      const CudnnDescriptor& z = keep(nhwc_tensor(kResidual, n, out_, oh, ow, type, false, align_r));
      const CudnnDescriptor* in = cur;
      cur = &stage_out(--remaining);
      add_op(pointwise_op(CUDNN_POINTWISE_ADD, 1.f, *in, &z, *cur, *held));
    }

    CudnnDescriptor& graph = keep(CudnnDescriptor(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR));
    graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, int64_t(raw_ops.size()), raw_ops.data())
        .set_handle(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, handle);
    if (!graph.try_finalize()) return false;

    // The heuristic's ranking first; its fallback list when none of those may serve.
    std::vector<Plan> candidates;
    for (const cudnnBackendHeurMode_t heur_mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
      if (!candidates.empty()) break;
      CudnnDescriptor& heur = keep(CudnnDescriptor(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR));
      heur.set_desc(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph)
          .set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &heur_mode);
      if (!heur.try_finalize()) continue;
      int64_t count = 0;
      SD_CUDNN_CHECK(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                              CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nullptr));
      std::vector<const CudnnDescriptor*> configs;
      std::vector<cudnnBackendDescriptor_t> raw_configs;
      for (int64_t i = 0; i < count; ++i) {
        configs.push_back(&keep(CudnnDescriptor(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR)));
        raw_configs.push_back(configs.back()->get());
      }
      int64_t returned = 0;
      if (count > 0)
        SD_CUDNN_CHECK(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                                CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &returned, raw_configs.data()));
      for (int64_t i = 0; i < returned && int(candidates.size()) < kTimedCandidates; ++i) {
        if (!engine_allowed(*configs[size_t(i)], dt_)) continue;
        Plan c;
        c.plan = CudnnDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
        c.plan.set_handle(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, handle)
            .set_desc(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, *configs[size_t(i)]);
        if (!c.plan.try_finalize()) continue;
        int64_t got = 0;
        SD_CUDNN_CHECK(cudnnBackendGetAttribute(c.plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                                CUDNN_TYPE_INT64, 1, &got, &c.workspace));
        c.fused = fused;
        c.graph = held;
        candidates.push_back(std::move(c));
      }
    }
    if (candidates.empty()) return false;
    size_t best = 0;
    if (candidates.size() > 1) {
      const Operands bound{operands.x, operands.y, fused ? operands.residual : nullptr};
      float best_ms = INFINITY;
      for (size_t i = 0; i < candidates.size(); ++i) {
        const float ms = time_plan(ctx, candidates[i], bound);
        if (ms < best_ms) best_ms = ms, best = i;
      }
    }
    out = std::move(candidates[best]);
    return true;
  };

  // A fused graph cuDNN refuses at any step (an activation this version lacks, no engine)
  // falls back to the bare convolution; a refused bare convolution is an error.
  auto try_fused = [&](Plan& out) {
    try {
      return build(true, out);
    } catch (const Error&) {
      return false;
    }
  };
  auto plan = std::make_unique<Plan>();
  const bool wants_epilogue = bias_ || act != Act::None || residual;
  if (!(wants_epilogue && try_fused(*plan)) && !build(false, *plan))
    throw Error("cuDNN has no engine for a " + std::to_string(kh_) + "x" + std::to_string(kw_) + " convolution of " +
                std::to_string(n) + "x" + std::to_string(h) + "x" + std::to_string(w) + "x" + std::to_string(in_) +
                " to " + std::to_string(out_) + " channels in " + std::string(dtype_name(dt_)));
  return *plans_.emplace(key, std::move(plan)).first->second;
}

void Conv2d::forward(Context& ctx, const void* x, int64_t n, int64_t h, int64_t w, void* y, const void* residual,
                     Act act) {
  const int64_t oh = out_height(h), ow = out_width(w);
  SD_CHECK(n > 0 && oh > 0 && ow > 0, "convolution input smaller than its filter");
  // The fused graph would read the residual where it writes y: a residual living in y goes
  // through a separate output and the elementwise epilogue.
  const bool in_place = residual != nullptr && residual == y;
  const Key key{n, h, w, int(act), residual != nullptr && !in_place, alignment_of(x), alignment_of(y),
                alignment_of(in_place ? nullptr : residual)};
  DeviceBuffer scratch;
  void* conv_out = y;
  if (in_place) {
    scratch = ctx.buffer(size_t(n * oh * ow * out_) * dtype_size(dt_));
    conv_out = scratch.get();
  }
  const Operands operands{x, conv_out, in_place ? nullptr : residual};
  const Plan& plan = plan_for(ctx, key, operands);
  execute(ctx, plan, {x, conv_out, plan.fused ? operands.residual : nullptr});
  if (plan.fused) {
    if (in_place) bias_act_residual(ctx, conv_out, nullptr, residual, y, n * oh * ow, out_, dt_, Act::None);
  } else if (bias_ || act != Act::None || residual) {
    bias_act_residual(ctx, conv_out, bias_, residual, y, n * oh * ow, out_, dt_, act);
  }
}

}  // namespace sd::cuda
