#pragma once
// The op API the models call. It hides the backend: tensors come in with any layout the
// core Tensor can describe, and 4-D activations come out channels-last (NHWC in memory),
// the layout the backends keep between layers so no op has to reorder. Each op runs on
// the backend of its inputs' device (src/backend/backend.h); inputs on two devices are
// an sd::Error.
//
// Conventions:
// - Activations are F32 or BF16. An op's output has the dtype of its main input unless the
//   op says otherwise; modules with weights (Conv2d, Linear) compute in their weights'
//   dtype and return that dtype, converting the input if needed.
// - Accumulation is always float32.
// - "Token" tensors are [B, L, C] with a contiguous last dimension. A channels-last image
//   [B,C,H,W] *is* a token tensor [B,H*W,C] in memory: see as_tokens()/from_tokens().
// - Modules cache backend state (primitives, reordered weights) per input shape; they are
//   not safe to call from two threads at once. A module's weights live on the device of
//   its first input (uploaded then, once), or where to(Device) put them.
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "core/weight_rows.h"

namespace sd::ops {

enum class Activation { None, SiLU, GELU, QuickGELU, ReLU, Tanh };

// Sets the number of threads every op uses (OpenMP and oneDNN share one pool).
void set_num_threads(int n);
int num_threads();

// -- Modules with weights ---------------------------------------------------------------

struct Conv2dOptions {
  int stride = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  static Conv2dOptions same(int pad, int stride = 1) { return {stride, pad, pad, pad, pad}; }
};

// weight [O, I, kh, kw], bias [O] or undefined.
class Conv2d {
 public:
  Conv2d();
  Conv2d(Tensor weight, Tensor bias, Conv2dOptions opt);
  // Prepared on `device` as the weight is read: the backend lays it out band by band, and
  // no plain copy of it is made (loading).
  Conv2d(const WeightRows& weight, Tensor bias, Conv2dOptions opt, Device device);
  ~Conv2d();
  Conv2d(Conv2d&&) noexcept;
  Conv2d& operator=(Conv2d&&) noexcept;

  // y = act(conv(x) + bias) + residual. x [N,I,H,W]; residual, if given, has y's shape.
  Tensor forward(const Tensor& x, const Tensor* residual = nullptr,
                 Activation act = Activation::None) const;

  // The weight [O, I, kh, kw] in its compute dtype. The backend keeps one copy of each
  // weight, in its own layout once the layer is prepared (to() or the first forward());
  // this then rebuilds the plain tensor, and the reference stays valid until the next
  // forward() or set_weight().
  const Tensor& weight() const;
  // The weight's shape, without rebuilding the tensor.
  const Shape& weight_shape() const { return wshape_; }
  const Tensor& bias() const { return bias_; }
  // Replaces the weights (LoRA merge and unmerge): in the prepared layer's memory where
  // its backend can (the same shape and compute dtype), else the layer is prepared anew.
  void set_weight(Tensor weight);
  // Prepares the layer on `device` now (the backend uploads the weight once and keeps the
  // one copy), instead of at the first forward(). The layer then takes inputs on `device`.
  void to(Device device) const;
  // Whether the backend holds the weight yet: after to() or the first forward().
  bool prepared() const { return cache_ != nullptr; }
  int out_channels() const { return int(wshape_[0]); }
  int in_channels() const { return int(wshape_[1]); }
  bool defined() const { return wshape_.size() == 4; }

 private:
  void check_arguments(DType weight_dtype) const;
  mutable Tensor weight_;  // undefined while the backend holds the only copy
  Tensor bias_;
  Shape wshape_;
  Conv2dOptions opt_;
  struct Cache;
  mutable std::unique_ptr<Cache> cache_;
};

// Nearest 2x upsampling followed by a 3x3 "same" convolution (diffusers' Upsample2D),
// without the upsampled tensor: each output phase (even/odd row x even/odd column) is a
// 2x2 convolution of the input whose taps are sums of the 3x3 taps. That is 4/9 of the
// arithmetic and no 4x-sized intermediate, at the price of 16/9 of the weight memory.
// weight [O, I, 3, 3] (any float dtype; the taps are summed in float32), bias [O].
class UpsampleConv2d {
 public:
  UpsampleConv2d() = default;
  UpsampleConv2d(const Tensor& weight, const Tensor& bias, DType dtype);
  // x [N, I, H, W] -> channels-last [N, O, 2H, 2W] in the compute dtype.
  Tensor forward(const Tensor& x) const;
  bool defined() const { return phases_[0][0].defined(); }

 private:
  Conv2d phases_[2][2];  // [row parity][column parity]
};

// weight [O, I], bias [O] or undefined. Applies to the last dimension of x.
class Linear {
 public:
  Linear();
  Linear(Tensor weight, Tensor bias);
  Linear(const WeightRows& weight, Tensor bias, Device device);  // as Conv2d's
  ~Linear();
  Linear(Linear&&) noexcept;
  Linear& operator=(Linear&&) noexcept;

  // y = act(x W^T + bias) + residual. x [..., I] with a contiguous last dimension.
  Tensor forward(const Tensor& x, const Tensor* residual = nullptr,
                 Activation act = Activation::None) const;

  // As Conv2d::weight(): rebuilt from the backend's copy once the layer is prepared.
  const Tensor& weight() const;
  const Shape& weight_shape() const { return wshape_; }
  const Tensor& bias() const { return bias_; }
  void set_weight(Tensor weight);
  void to(Device device) const;  // as Conv2d::to
  bool prepared() const { return cache_ != nullptr; }  // as Conv2d::prepared
  // Where its weights are: the device it was prepared on, the host before its first use.
  Device device() const;
  int out_features() const { return int(wshape_[0]); }
  int in_features() const { return int(wshape_[1]); }
  bool defined() const { return wshape_.size() == 2; }

 private:
  void check_arguments(DType weight_dtype) const;
  mutable Tensor weight_;  // undefined while the backend holds the only copy
  Tensor bias_;
  Shape wshape_;
  struct Cache;
  mutable std::unique_ptr<Cache> cache_;
};

// GroupNorm over [N,C,H,W] (any layout); output has the input's layout and dtype.
class GroupNorm {
 public:
  GroupNorm() = default;
  GroupNorm(int groups, Tensor gamma, Tensor beta, float eps);
  // silu: apply SiLU to the normalised output (GroupNorm + SiLU fused, one pass).
  Tensor forward(const Tensor& x, bool silu = false) const;
  // The same, overwriting x when x alone holds its memory (Tensor::is_sole_owner): the
  // caller gives up x's value to save a tensor of its size.
  void forward_(Tensor& x, bool silu = false) const;
  int groups() const { return groups_; }

 private:
  void check_input(const Tensor& x) const;
  int groups_ = 0;
  mutable Tensor gamma_, beta_;  // float32, on the device of the latest input
  float eps_ = 1e-5f;
};

// LayerNorm over the last dimension.
class LayerNorm {
 public:
  LayerNorm() = default;
  LayerNorm(Tensor gamma, Tensor beta, float eps);
  Tensor forward(const Tensor& x) const;

 private:
  mutable Tensor gamma_, beta_;  // float32, on the device of the latest input
  float eps_ = 1e-5f;
};

// -- Functional ops ----------------------------------------------------------------------
// Element-wise ops (activation, add, mul, scale, axpby) return their first input's layout
// when it is contiguous or channels-last (contiguous otherwise) and its dtype.

// Multi-head scaled dot-product attention, softmax(q k^T * scale) v per head.
// q [B, Lq, H*D], k and v [B, Lk, H*D]; each may be a strided view (e.g. a slice of a
// fused qkv projection) as long as the last dimension is contiguous. Returns a contiguous
// [B, Lq, H*D]. Never materialises the full (Lq x Lk) matrix of all heads at once.
// causal: position i attends to positions <= i (CLIP). scale defaults to 1/sqrt(D).
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads,
                 bool causal = false, float scale = 0.f);

Tensor softmax(const Tensor& x);  // over the last dimension
Tensor activation(const Tensor& x, Activation act);
inline Tensor silu(const Tensor& x) { return activation(x, Activation::SiLU); }
inline Tensor gelu(const Tensor& x) { return activation(x, Activation::GELU); }  // exact erf
inline Tensor quick_gelu(const Tensor& x) { return activation(x, Activation::QuickGELU); }
// x [..., 2F] -> [..., F]: first half * gelu(second half) (diffusers GEGLU).
Tensor geglu(const Tensor& x);

Tensor add(const Tensor& a, const Tensor& b);  // same shape, or b broadcast like numpy
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& a, float s);
// out = a * sa + b * sb, element-wise (same shapes): the sampler's workhorse.
Tensor axpby(const Tensor& a, float sa, const Tensor& b, float sb);
void add_(Tensor& a, const Tensor& b);  // in place
// Element-wise copy of src into dst (same shape, any layouts and dtypes, one device).
void copy(const Tensor& src, Tensor& dst);
void fill(Tensor& t, float value);  // every element of t (any view)

// Nearest-neighbour 2x upsampling of [N,C,H,W].
Tensor upsample_nearest2x(const Tensor& x);
// Concatenation along `dim`; the result takes the layout of the first input.
Tensor concat(const std::vector<Tensor>& xs, int dim);

// Layout and dtype changes that the backend does fast (multi-threaded).
Tensor to_layout(const Tensor& x, MemoryFormat fmt);
Tensor to_dtype(const Tensor& x, DType dtype);

// [B,C,H,W] channels-last <-> [B,H*W,C] contiguous, both without copying (as_tokens copies
// only an x that is not channels-last, from_tokens only a t that is not contiguous).
Tensor as_tokens(const Tensor& x);
Tensor from_tokens(const Tensor& t, int64_t height, int64_t width);

}  // namespace sd::ops
