// CUDA op throughput on the SD1.5 512x512 shapes, next to the rate of a 4096^3 cuBLASLt
// matmul in the same dtype: per-op figures and, per model, the sum of the timed ops and
// its ratio to what the matmul rate allows. Prints; asserts nothing. Without a usable GPU
// it prints one line and exits 1.
//
//   bench_cuda_ops [--dtype f16|bf16] [--reps N]

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/attention.h"
#include "backend/cuda/context.h"
#include "backend/cuda/conv2d.h"
#include "backend/cuda/eltwise.h"
#include "backend/cuda/linear.h"
#include "backend/cuda/norm.h"
#include "core/error.h"
#include "sd15_shapes.h"

namespace sd::bench {
namespace {

struct Options {
  DType dt = DType::F16;
  int reps = 10;
};

// Device memory of `dt` holding normal(0, scale) values.
cuda::DeviceBuffer random_buffer(cuda::Context& ctx, int64_t n, DType dt, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, scale);
  std::vector<float> host(static_cast<size_t>(n));
  for (float& v : host) v = dist(rng);
  cuda::DeviceBuffer f32 = ctx.buffer(size_t(n) * 4), out = ctx.buffer(size_t(n) * dtype_size(dt));
  cuda::copy_to_device(ctx, f32.get(), host.data(), host.size() * 4);
  cuda::convert(ctx, f32.get(), DType::F32, out.get(), dt, n);
  ctx.synchronize();
  return out;
}

// Seconds per call: one warm-up call (plans, allocations), then the mean of `reps` timed
// on the stream (the timer the matmul and convolution plans are chosen with).
double seconds(cuda::Context& ctx, int reps, const std::function<void()>& fn) {
  return double(cuda::mean_stream_ms(ctx, fn, reps)) * 1e-3;
}

struct Totals {
  double seconds = 0, flops = 0;
};

void row(std::map<std::string, Totals>& totals, const char* model, const std::string& what, int count, double s,
         double flops, double peak) {
  std::printf("%-5s %-44s x%-3d %9.3f ms", model, what.c_str(), count, s * 1e3);
  if (flops > 0) std::printf("  %7.1f TFLOP/s  %5.1f%% of matmul", flops / s * 1e-12, 100 * flops / s / peak);
  std::printf("\n");
  totals[model].seconds += s * count;
  totals[model].flops += flops * count;
}

int run(const Options& o) {
  cuda::Context ctx(0);
  const cuda::DeviceInfo& info = ctx.info();
  std::printf("%s, %zu MB, compute capability %d.%d, %d SMs; dtype %s\n", info.name.c_str(), info.total_bytes >> 20,
              info.cc_major, info.cc_minor, info.multiprocessors, std::string(dtype_name(o.dt)).c_str());

  const int64_t mm = 4096;
  cuda::DeviceBuffer a = random_buffer(ctx, mm * mm, o.dt, 1), w = random_buffer(ctx, mm * mm, o.dt, 2, 0.02f),
                     c = ctx.buffer(size_t(mm * mm) * dtype_size(o.dt));
  cuda::Linear big(w.get(), nullptr, mm, mm, o.dt);
  const double peak =
      2.0 * mm * mm * mm / seconds(ctx, o.reps, [&] { big.forward(ctx, a.get(), mm, mm, c.get(), mm, nullptr, cuda::Act::None); });
  std::printf("matmul 4096^3: %.1f TFLOP/s\n", peak * 1e-12);

  std::map<std::string, Totals> totals;
  uint32_t seed = 10;
  for (const ConvShape& s : sd15_convs()) {
    const int pad = int(s.k / 2);
    cuda::DeviceBuffer wt = random_buffer(ctx, s.co * s.ci * s.k * s.k, o.dt, seed++, 0.02f),
                       bias = random_buffer(ctx, s.co, o.dt, seed++);
    cuda::Conv2d conv(wt.get(), bias.get(), s.co, s.ci, int(s.k), int(s.k),
                      cuda::ConvGeometry{int(s.stride), pad, pad, pad, pad}, o.dt);
    const int64_t ho = conv.out_height(s.hw);
    cuda::DeviceBuffer x = random_buffer(ctx, s.n * s.hw * s.hw * s.ci, o.dt, seed++),
                       y = ctx.buffer(size_t(s.n * ho * ho * s.co) * dtype_size(o.dt));
    const double t = seconds(ctx, o.reps, [&] { conv.forward(ctx, x.get(), s.n, s.hw, s.hw, y.get(), nullptr, cuda::Act::None); });
    char what[96];
    std::snprintf(what, sizeof what, "conv %ldx%ld k%ld s%ld %ld->%ld", long(s.hw), long(s.hw), long(s.k), long(s.stride),
                  long(s.ci), long(s.co));
    row(totals, s.model, what, s.count, t, 2.0 * s.n * ho * ho * s.co * s.ci * s.k * s.k, peak);
  }
  for (const LinearShape& s : sd15_linears()) {
    cuda::DeviceBuffer wt = random_buffer(ctx, s.out * s.in, o.dt, seed++, 0.02f), bias = random_buffer(ctx, s.out, o.dt, seed++);
    cuda::DeviceBuffer x = random_buffer(ctx, s.m * s.in, o.dt, seed++), y = ctx.buffer(size_t(s.m * s.out) * dtype_size(o.dt));
    cuda::Linear lin(wt.get(), bias.get(), s.out, s.in, o.dt);
    const double t = seconds(ctx, o.reps, [&] { lin.forward(ctx, x.get(), s.in, s.m, y.get(), s.out, nullptr, cuda::Act::None); });
    char what[96];
    std::snprintf(what, sizeof what, "linear %ldx%ld->%ld", long(s.m), long(s.in), long(s.out));
    row(totals, s.model, what, s.count, t, 2.0 * s.m * s.in * s.out, peak);
  }
  for (const AttentionShape& s : sd15_attentions()) {
    const int64_t hd = s.heads * s.d;
    cuda::DeviceBuffer q = random_buffer(ctx, s.b * s.lq * hd, o.dt, seed++), k = random_buffer(ctx, s.b * s.lk * hd, o.dt, seed++),
                       v = random_buffer(ctx, s.b * s.lk * hd, o.dt, seed++), out = ctx.buffer(size_t(s.b * s.lq * hd) * dtype_size(o.dt));
    const cuda::AttentionShape shape{s.b, s.lq, s.lk, int(s.heads), int(s.d)};
    const double t = seconds(ctx, o.reps, [&] {
      cuda::attention(ctx, {q.get(), s.lq * hd, hd}, {k.get(), s.lk * hd, hd}, {v.get(), s.lk * hd, hd}, out.get(),
                      s.lq * hd, hd, shape, false, 1.f / std::sqrt(float(s.d)), o.dt);
    });
    char what[96];
    std::snprintf(what, sizeof what, "attention %ldx%ld h%ld d%ld", long(s.lq), long(s.lk), long(s.heads), long(s.d));
    row(totals, s.model, what, s.count, t, 4.0 * s.b * s.heads * s.lq * s.lk * s.d, peak);
  }
  for (const NormShape& s : sd15_group_norms()) {
    cuda::DeviceBuffer x = random_buffer(ctx, s.n * s.hw * s.hw * s.c, o.dt, seed++);
    const double t = seconds(ctx, o.reps, [&] {
      cuda::group_norm(ctx, x.get(), x.get(), s.n, s.hw * s.hw, s.c, 32, nullptr, nullptr, 1e-5f, true, o.dt);
    });
    char what[96];
    std::snprintf(what, sizeof what, "group norm+silu %ldx%ld c%ld", long(s.hw), long(s.hw), long(s.c));
    row(totals, s.model, what, s.count, t, 0, peak);
  }
  for (const auto& [model, t] : totals)
    std::printf("%-5s sum of timed ops %.2f ms, %.1f GFLOP, limit_ratio %.2f\n", model.c_str(), t.seconds * 1e3,
                t.flops * 1e-9, t.seconds / (t.flops / peak));
  const cuda::PoolUsage u = ctx.pool().usage();
  std::printf("peak pool use %zu MB\n", u.peak_used >> 20);
  return 0;
}

}  // namespace
}  // namespace sd::bench

int main(int argc, char** argv) {
  sd::bench::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dtype" && i + 1 < argc) {
      const std::string v = argv[++i];
      if (v != "f16" && v != "bf16") {
        std::fprintf(stderr, "bench_cuda_ops: --dtype must be f16 or bf16, not %s\n", v.c_str());
        return 2;
      }
      o.dt = v == "f16" ? sd::DType::F16 : sd::DType::BF16;
    } else if (a == "--reps" && i + 1 < argc) {
      o.reps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: bench_cuda_ops [--dtype f16|bf16] [--reps N]\n");
      return 2;
    }
  }
  try {
    return sd::bench::run(o);
  } catch (const sd::Error& e) {
    std::fprintf(stderr, "bench_cuda_ops: %s\n", e.what());
    return 1;
  }
}
