#pragma once
// The interface every compute backend implements (the CPU's oneDNN/AVX code, CUDA). The
// op API (src/ops) checks arguments, then calls the Backend of its main input's device;
// nothing above ops sees a backend. Models and weights live on one device: every tensor
// an op receives is on the backend's device (ops refuses mixed devices before calling).
//
// Contract for every function below, unless it says otherwise:
// - Shapes are logical NCHW / [B, L, C]; strides are free (views, slices of a fused
//   projection, channels-last). A backend must accept any strides the core Tensor can
//   describe, making a dense copy itself where its kernels need one.
// - 4-D activations it creates are channels-last (NHWC in memory): ops and models rely on
//   that, e.g. ops::as_tokens reads a channels-last image as [B, H*W, C] without a copy.
//   Other results are contiguous.
// - Float dtypes are F32, F16 and BF16; accumulation (sums, dot products, statistics) is
//   float32 whatever the storage dtype. A result has its main input's dtype unless said
//   otherwise. A backend throws sd::Error naming the op and dtype it cannot compute.
// - Results never alias inputs, except the in-place functions (name ending in `_`).
// - Work may be queued (a CUDA stream); it must be ordered so that the next call on the
//   same backend sees the results, and memory released to the device pool may be reused
//   by queued work only in stream order. Copies to the host (DeviceMemory::copy_to_host,
//   Tensor::to(Device::cpu())) wait for the queued work.
// - Nothing is printed; failures are sd::Error with one line (the op, the shapes, the
//   driver's message).
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/tensor.h"
#include "core/weight_rows.h"

namespace sd::backend {

// Activations a backend fuses into convolutions and matmuls or applies element-wise.
// GELU is the exact erf form; QuickGELU is x * sigmoid(1.702 x) (CLIP).
enum class Act { None, SiLU, GELU, QuickGELU, ReLU, Tanh };

struct ConvGeometry {
  int stride = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
};

// A convolution prepared once per layer: the weight in the backend's own layout on its
// device, plus whatever per-shape state (cuDNN plans, oneDNN primitives) it builds
// lazily. Not safe to call from two threads at once.
class PreparedConv {
 public:
  virtual ~PreparedConv() = default;
  // y = act(conv(x) + bias) + residual. x [N, I, H, W] any layout and float dtype (converted
  // to the compute dtype first); residual, when given, has y's shape, any layout and float
  // dtype. y is channels-last [N, O, Ho, Wo] in the compute dtype. CUDA: fuse bias, act and
  // residual where cuDNN allows, else a separate pass; never write into x or residual.
  virtual Tensor forward(const Tensor& x, const Tensor* residual, Act act) = 0;
  // The weight as a plain contiguous [O, I, kh, kw] tensor in the compute dtype on this
  // device (rebuilt from the backend's layout if it dropped the original): LoRA merging
  // reads it. It must not alias memory the backend keeps using.
  virtual Tensor weight() const = 0;
  virtual DType dtype() const = 0;  // the compute dtype
  virtual size_t weight_bytes() const = 0;  // device memory the weight holds
  // Puts `weight` (the layer's shape, the compute dtype, on this device) in place of the
  // weight, in the memory and layout the backend keeps it in (a LoRA merge and its undoing).
  // False where the backend cannot: the layer is then prepared again.
  virtual bool replace_weight(const Tensor& weight) {
    (void)weight;
    return false;
  }
};

// A linear layer (y = act(x W^T + bias) + residual over the last dimension), prepared once.
class PreparedMatmul {
 public:
  virtual ~PreparedMatmul() = default;
  // x [..., I] with a contiguous last dimension (other strides free: a row-strided slice
  // must work without a copy where the library allows) -> contiguous [..., O] in the
  // compute dtype; residual [..., O] any strides and float dtype, or null. CUDA: cuBLASLt
  // with the bias/GELU epilogue where it applies.
  virtual Tensor forward(const Tensor& x, const Tensor* residual, Act act) = 0;
  virtual Tensor weight() const = 0;  // contiguous [O, I], as PreparedConv::weight
  virtual DType dtype() const = 0;
  virtual size_t weight_bytes() const = 0;
  virtual bool replace_weight(const Tensor& weight) {  // as PreparedConv::replace_weight
    (void)weight;
    return false;
  }
};

enum class BinaryOp { Add, Mul };

class Backend {
 public:
  virtual ~Backend() = default;

  virtual Device device() const = 0;
  // The hardware, for /info and logs: the CPU's ISA ("avx512_bf16"), the GPU's name.
  virtual std::string name() const = 0;
  // Total device memory in bytes (0 when unknown, e.g. the host).
  virtual size_t total_memory() const = 0;
  // Device memory free now, in bytes, as the driver reports it (0 when unknown, e.g. the
  // host): what a model about to be uploaded may use.
  virtual size_t free_memory() const = 0;
  // The most device memory this backend's tensors and workspaces have held at once since it
  // started, in bytes (0 on the host, whose peak the process's RSS shows).
  virtual size_t peak_memory_used() const = 0;
  // The float dtypes this backend computes in natively (CPU: F32, BF16; CUDA: F16, BF16,
  // F32). A prepared layer of another float dtype computes in F32.
  virtual bool computes_in(DType t) const = 0;
  // Waits until all queued work has finished (timing, before freeing host buffers that
  // queued copies read).
  virtual void synchronize() = 0;

  // -- layers with weights ---------------------------------------------------------------
  // weight [O, I, kh, kw] / [O, I] in its compute dtype, on this device or the host (the
  // backend uploads a host weight once, here, and may drop its own reference to the
  // argument); bias [O] any float dtype or undefined (kept in float32 by the backend).
  virtual std::unique_ptr<PreparedConv> prepare_conv(const Tensor& weight, const Tensor& bias,
                                                     ConvGeometry g) = 0;
  virtual std::unique_ptr<PreparedMatmul> prepare_matmul(const Tensor& weight,
                                                         const Tensor& bias) = 0;
  // The same from a weight read in bands of rows (WeightRows, on the host), for a backend
  // that lays each band out as it is read; by default the whole weight is read, then
  // prepared as above.
  virtual std::unique_ptr<PreparedConv> prepare_conv_rows(const WeightRows& weight, const Tensor& bias,
                                                          ConvGeometry g) {
    return prepare_conv(weight.read_all(), bias, g);
  }
  virtual std::unique_ptr<PreparedMatmul> prepare_matmul_rows(const WeightRows& weight, const Tensor& bias) {
    return prepare_matmul(weight.read_all(), bias);
  }

  // -- attention and normalisations ----------------------------------------------------
  // softmax(q k^T * scale) v per head. q [B, Lq, H*D], k and v [B, Lk, H*D], each with a
  // contiguous last dimension and free other strides (slices of a fused qkv projection);
  // D = channels / heads (SD: 40, 64, 80, 160; CLIP 64). Returns contiguous [B, Lq, H*D]
  // in q's dtype. causal: query i sees keys <= i. Must not materialise the Lq x Lk matrix
  // of all heads; CUDA: flash attention with online softmax, float32 statistics. scale is
  // the real one (ops::attention resolves its default, 1/sqrt(D), before the call).
  virtual Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads,
                           bool causal, float scale) = 0;
  // GroupNorm over x [N, C, ...] with float32 statistics per (n, group); gamma/beta are
  // float32 [C] on this device or undefined (no affine). Output keeps x's layout
  // (contiguous or channels-last; other layouts give contiguous) and dtype. silu: SiLU of
  // the normalised, affine output, fused.
  virtual Tensor group_norm(const Tensor& x, int groups, const Tensor& gamma, const Tensor& beta,
                            float eps, bool silu) = 0;
  // The same, writing the result over x (x is contiguous or channels-last and its memory
  // is the caller's alone).
  virtual void group_norm_(Tensor& x, int groups, const Tensor& gamma, const Tensor& beta,
                           float eps, bool silu) = 0;
  // LayerNorm over the last dimension; gamma/beta float32 [C] or undefined. Contiguous
  // output in x's dtype.
  virtual Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                            float eps) = 0;
  // Softmax over the last dimension; contiguous output in x's dtype.
  virtual Tensor softmax(const Tensor& x) = 0;

  // -- element-wise (float32 math; the result has the first input's dtype and its layout
  //    when that is contiguous or channels-last, contiguous otherwise) -------------------
  virtual Tensor activation(const Tensor& x, Act act) = 0;
  // x [..., 2F] -> x[..., :F] * gelu(x[..., F:]) (diffusers GEGLU, exact GELU); contiguous.
  virtual Tensor geglu(const Tensor& x) = 0;
  // a op b, b broadcast to a's shape the numpy way (trailing axes aligned, size-1 axes
  // repeated); b may have another float dtype.
  virtual Tensor binary(const Tensor& a, const Tensor& b, BinaryOp op) = 0;
  // a = a op b in place (a may be any view; b as in binary).
  virtual void binary_(Tensor& a, const Tensor& b, BinaryOp op) = 0;
  virtual Tensor scale(const Tensor& a, float s) = 0;
  // a * sa + b * sb, same shapes, b of any float dtype.
  virtual Tensor axpby(const Tensor& a, float sa, const Tensor& b, float sb) = 0;

  // -- layout, dtype, resampling ---------------------------------------------------------
  // x in `fmt` (Contiguous, or ChannelsLast for 4-D) and `dtype` (any dtype, including
  // integer ones: a plain value conversion, round-to-nearest-even into F16/BF16). Returns
  // x itself when it already is both.
  virtual Tensor to_format(const Tensor& x, DType dtype, MemoryFormat fmt) = 0;
  // Element-wise copy of src into dst: same shape, any strides and dtypes of each (dst may
  // be a view into a larger tensor, e.g. a tile or a channel range).
  virtual void copy(const Tensor& src, Tensor& dst) = 0;
  // Sets every element of t (any view) to value.
  virtual void fill(Tensor& t, float value) = 0;
  // [N, C, H, W] any layout -> channels-last [N, C, 2H, 2W], nearest neighbour.
  virtual Tensor upsample_nearest2x(const Tensor& x) = 0;
  // phase [N, C, H, W] (any layout) into channels-last out [N, C, 2H, 2W] at rows 2y+dy,
  // columns 2x+dx; same dtype. The 2x2 phase convolutions of ops::UpsampleConv2d use it.
  virtual void write_phase(const Tensor& phase, Tensor& out, int dy, int dx) = 0;
  // Concatenation along `dim` (inputs agree on every other dimension and dtype); the
  // result has the first input's layout when contiguous or channels-last.
  virtual Tensor concat(const std::vector<Tensor>& xs, int dim) = 0;
};

// How a backend joins (src/backend/registry.cpp): the CPU one is always built; a build with
// CUDA defines SD_WITH_CUDA for sd_backend and builds the shared library SD_CUDA_MODULE
// beside the programs, which the registry loads on first use. It provides, in
// src/backend/cuda/cuda_backend.h (exported as C names by module_entry.cpp):
//   int cuda_device_count();   // usable GPUs, 0 without a driver (never throws)
//   std::unique_ptr<Backend> make_cuda_backend(int index);  // throws sd::Error
// make_cuda_backend registers the GPU's DeviceMemory (core/device.h) before returning,
// so tensors can be allocated on cuda:N once backend_for(cuda:N) has run.

// The backend of `d`, created on first use and kept for the process. Throws sd::Error when
// the build has no backend for d's type ("this build has no CUDA backend") or the device
// does not exist or cannot start (the driver's message).
Backend& backend_for(Device d);
// The devices this process can use: "cpu" always, then each usable GPU.
std::vector<Device> available_devices();

// The CPU's bf16 arithmetic against its float32, for the pipeline's "auto" dtype. The two
// rates are one core's, measured once per process by a probe of about a millisecond that
// alternates the two instructions' loops: AVX512-BF16 dot products do not outpace float32
// FMAs on every CPU that has them (measured: half their FLOP rate on a Xeon whose virtual
// machine hides AMX), and oneDNN's bf16 primitives follow them there.
struct CpuBf16Rates {
  bool native = false;          // AVX512-BF16 dot products, which the bf16 kernels need
  bool tiles = false;           // AMX-BF16 tiles this process may use: bf16 far ahead of f32
  double dot_gflops = 0;        // bf16 dot products, probed where native
  double fma_gflops = 0;        // AVX-512 float32 FMAs, probed where native
};
const CpuBf16Rates& cpu_bf16_rates();

}  // namespace sd::backend
