#include "backend/cuda/linear.h"

#include <cublasLt.h>

#include <algorithm>
#include <cmath>

#include "backend/cuda/check.h"
#include "backend/cuda/cublaslt_plan.h"
#include "backend/cuda/eltwise.h"

namespace sd::cuda {

namespace {

// How many of the heuristic's algorithms are timed before a shape's plan is chosen.
constexpr int kTimedCandidates = 4;

// The largest power of two (up to 256) dividing the address: what cuBLASLt may assume.
int alignment_of(const void* p) {
  if (!p) return 256;
  const auto a = reinterpret_cast<uintptr_t>(p);
  return int(std::min<uintptr_t>(256, a & (~a + 1)));
}

// The part of `act` cuBLASLt applies itself, after the bias.
cublasLtEpilogue_t epilogue_for(Act act, bool bias) {
  switch (act) {
    case Act::None: return bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    case Act::ReLU: return bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
    case Act::GELUTanh: return bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
    default: return bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
  }
}

bool fused_act(Act act) { return act == Act::None || act == Act::ReLU || act == Act::GELUTanh; }

}  // namespace

struct Linear::Plan : CublasLtPlan {};

Linear::Linear(const void* weight, const void* bias, int64_t out_features, int64_t in_features, DType dt)
    : weight_(weight), bias_(bias), out_(out_features), in_(in_features), dt_(dt) {
  cublaslt_type(dt);  // refuses other dtypes now rather than at the first call
  SD_CHECK(out_features > 0 && in_features > 0, "empty linear layer");
}

Linear::~Linear() = default;

// cuBLASLt is column-major: the row-major y [rows, out] = x [rows, in] W^T is computed as
// y^T (out x rows, ld y_row) = W (read as the transpose of a column-major in x out matrix,
// ld in) times x^T (a column-major in x rows matrix, ld x_row).
void Linear::execute(Context& ctx, const Plan& plan, const Operands& ops) const {
  void* workspace = plan.workspace ? ctx.workspace(plan.workspace) : nullptr;
  const float alpha = 1.f, beta = ops.beta_one ? 1.f : 0.f;
  SD_CUBLAS_CHECK(cublasLtMatmul(ctx.cublaslt(), plan.desc, &alpha, weight_, plan.a, ops.x, plan.b, &beta, ops.c, plan.c, ops.y, plan.d, &plan.algo, workspace,
                                 plan.workspace, ctx.stream()));
}

// Milliseconds of one matmul: a warm-up, then the mean of three.
float Linear::time_plan(Context& ctx, const Plan& plan, const Operands& ops) const {
  return mean_stream_ms(ctx, [&] { execute(ctx, plan, ops); });
}

Linear::Plan& Linear::plan_for(Context& ctx, const Key& key, const Operands& operands) {
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;
  const auto [rows, x_row, y_row, epi, residual_in_c, align_x, align_y, align_r] = key;
  const cudaDataType_t t = cublaslt_type(dt_);
  auto plan = std::make_unique<Plan>();
  SD_CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t trans = CUBLAS_OP_T, no_trans = CUBLAS_OP_N;
  SD_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans, sizeof(trans)));
  SD_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, &no_trans, sizeof(no_trans)));
  const auto epilogue = cublasLtEpilogue_t(epi);
  SD_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)));
  if (bias_) {
    SD_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias_, sizeof(bias_)));
  }
  SD_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->a, t, uint64_t(in_), uint64_t(out_), in_));
  SD_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->b, t, uint64_t(in_), uint64_t(rows), x_row));
  SD_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->c, t, uint64_t(out_), uint64_t(rows), y_row));
  SD_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->d, t, uint64_t(out_), uint64_t(rows), y_row));

  const uint32_t al_a = uint32_t(alignment_of(weight_)), al_b = uint32_t(align_x), al_d = uint32_t(align_y),
                 al_c = uint32_t(residual_in_c ? align_r : align_y);
  cublasLtMatmulHeuristicResult_t results[kTimedCandidates] = {};
  const int found = cublaslt_algorithms(ctx.cublaslt(), *plan, kCublasLtWorkspaceBytes, al_a, al_b, al_c, al_d,
                                        kTimedCandidates, results);
  if (found == 0)
    throw Error("cuBLASLt has no algorithm for a " + std::to_string(rows) + "x" + std::to_string(in_) + " by " +
                std::to_string(in_) + "x" + std::to_string(out_) + " " + std::string(dtype_name(dt_)) + " matmul");
  int best = 0;
  // Timing runs the matmul again: only when that leaves y as it was (C is not y itself).
  if (found > 1 && !(residual_in_c && operands.c == operands.y)) {
    float best_ms = INFINITY;
    for (int i = 0; i < found; ++i) {
      plan->algo = results[i].algo;
      plan->workspace = results[i].workspaceSize;
      const float ms = time_plan(ctx, *plan, operands);
      if (ms < best_ms) best_ms = ms, best = i;
    }
  }
  plan->algo = results[best].algo;
  plan->workspace = results[best].workspaceSize;
  return *plans_.emplace(key, std::move(plan)).first->second;
}

void Linear::forward(Context& ctx, const void* x, int64_t x_row, int64_t rows, void* y, int64_t y_row,
                     const void* residual, Act act) {
  SD_CHECK(x_row >= in_ && y_row >= out_, "row strides shorter than the rows");
  if (rows <= 0) return;
  // cuBLASLt computes act(x W^T + bias + C): the residual can only be C when nothing comes
  // after it, and the library's GELU is the tanh form, so other activations follow as a kernel.
  const bool residual_in_c = residual && act == Act::None;
  const Act lib_act = fused_act(act) ? act : Act::None;
  const Key key{rows, x_row, y_row, int(epilogue_for(lib_act, bias_ != nullptr)), residual_in_c, alignment_of(x),
                alignment_of(y), alignment_of(residual_in_c ? residual : nullptr)};
  const bool finish = !fused_act(act) || (residual && !residual_in_c);
  SD_CHECK(!finish || y_row == out_, "an unfused activation or residual needs contiguous rows");
  const Operands operands{x, residual_in_c ? residual : y, y, residual_in_c};
  execute(ctx, plan_for(ctx, key, operands), operands);
  if (finish) bias_act_residual(ctx, y, nullptr, residual, y, rows, out_, dt_, fused_act(act) ? Act::None : act);
}

}  // namespace sd::cuda
