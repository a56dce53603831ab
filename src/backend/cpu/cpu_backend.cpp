#include "backend/cpu/cpu_backend.h"

#include "backend/cpu/attention.h"
#include "backend/cpu/convolution.h"
#include "backend/cpu/eltwise.h"
#include "backend/cpu/layout.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/norm.h"
#include "backend/cpu/simd.h"

namespace sd::cpu {

namespace {

const float* floats_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

class CpuConv final : public backend::PreparedConv {
 public:
  template <class Weight>
  CpuConv(const Weight& weight, const Tensor& bias, ConvGeometry g) : conv_(weight, bias, g) {}
  Tensor forward(const Tensor& x, const Tensor* residual, Act act) override {
    return conv_.forward(x, residual, act);
  }
  Tensor weight() const override { return conv_.weight(); }
  DType dtype() const override { return conv_.dtype(); }
  size_t weight_bytes() const override { return conv_.weight_bytes(); }
  bool replace_weight(const Tensor& weight) override { return conv_.replace_weight(weight); }

 private:
  Convolution conv_;
};

class CpuMatmul final : public backend::PreparedMatmul {
 public:
  template <class Weight>
  CpuMatmul(const Weight& weight, const Tensor& bias) : mm_(weight, bias) {}
  Tensor forward(const Tensor& x, const Tensor* residual, Act act) override {
    return mm_.forward(x, residual, act);
  }
  Tensor weight() const override { return mm_.weight(); }
  DType dtype() const override { return mm_.dtype(); }
  size_t weight_bytes() const override { return mm_.weight_bytes(); }
  bool replace_weight(const Tensor& weight) override { return mm_.replace_weight(weight); }

 private:
  Matmul mm_;
};

class CpuBackend final : public backend::Backend {
 public:
  Device device() const override { return Device::cpu(); }
  std::string name() const override {
    return std::string("cpu (") + kernels().isa + (amx_kernels() ? ", amx" : "") + ")";
  }
  size_t total_memory() const override { return 0; }
  size_t free_memory() const override { return 0; }
  size_t peak_memory_used() const override { return 0; }
  bool computes_in(DType t) const override { return t == DType::F32 || t == DType::BF16; }
  void synchronize() override {}

  std::unique_ptr<backend::PreparedConv> prepare_conv(const Tensor& weight, const Tensor& bias,
                                                      ConvGeometry g) override {
    return std::make_unique<CpuConv>(weight, bias, g);
  }
  std::unique_ptr<backend::PreparedMatmul> prepare_matmul(const Tensor& weight,
                                                          const Tensor& bias) override {
    return std::make_unique<CpuMatmul>(weight, bias);
  }
  std::unique_ptr<backend::PreparedConv> prepare_conv_rows(const WeightRows& weight, const Tensor& bias,
                                                           ConvGeometry g) override {
    return std::make_unique<CpuConv>(weight, bias, g);
  }
  std::unique_ptr<backend::PreparedMatmul> prepare_matmul_rows(const WeightRows& weight,
                                                               const Tensor& bias) override {
    return std::make_unique<CpuMatmul>(weight, bias);
  }

  Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal,
                   float scale) override {
    return cpu::attention(q, k, v, heads, causal, scale);
  }
  Tensor group_norm(const Tensor& x, int groups, const Tensor& gamma, const Tensor& beta,
                    float eps, bool silu) override {
    return cpu::group_norm(x, groups, floats_or_null(gamma), floats_or_null(beta), eps, silu);
  }
  void group_norm_(Tensor& x, int groups, const Tensor& gamma, const Tensor& beta, float eps,
                   bool silu) override {
    cpu::group_norm_(x, groups, floats_or_null(gamma), floats_or_null(beta), eps, silu);
  }
  Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) override {
    return cpu::layer_norm(x, floats_or_null(gamma), floats_or_null(beta), eps);
  }
  Tensor softmax(const Tensor& x) override { return cpu::softmax(x); }

  Tensor activation(const Tensor& x, Act act) override { return cpu::activation(x, act); }
  Tensor geglu(const Tensor& x) override { return cpu::geglu(x); }
  Tensor binary(const Tensor& a, const Tensor& b, BinaryOp op) override {
    return cpu::binary(a, b, op);
  }
  void binary_(Tensor& a, const Tensor& b, BinaryOp op) override { cpu::binary_(a, b, op); }
  Tensor scale(const Tensor& a, float s) override { return cpu::scale(a, s); }
  Tensor axpby(const Tensor& a, float sa, const Tensor& b, float sb) override {
    return cpu::axpby(a, sa, b, sb);
  }

  Tensor to_format(const Tensor& x, DType dtype, MemoryFormat fmt) override {
    return cpu::to_format(x, dtype, fmt);
  }
  void copy(const Tensor& src, Tensor& dst) override { cpu::copy(src, dst); }
  void fill(Tensor& t, float value) override { t.fill(value); }
  Tensor upsample_nearest2x(const Tensor& x) override { return cpu::upsample_nearest2x(x); }
  void write_phase(const Tensor& phase, Tensor& out, int dy, int dx) override {
    cpu::write_phase(phase, out, dy, dx);
  }
  Tensor concat(const std::vector<Tensor>& xs, int dim) override { return cpu::concat(xs, dim); }
};

}  // namespace

std::unique_ptr<backend::Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace sd::cpu
