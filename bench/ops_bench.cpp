// Op throughput on the SD1.5 512x512 shapes, next to the rate of a 2048^3 matmul in the
// same dtype: the figure the speed targets are stated against. Prints; asserts nothing.
//
//   bench_ops [--dtype f32|bf16|both] [--only conv,linear,attention,norm,misc,upsample]
//             [--model unet|vae] [--filter TEXT] [--threads N] [--min-time S] [--cpu-time] [--cold]
//
// --cpu-time measures process CPU time instead of wall time: on a busy shared machine,
// with --threads 1, that approximates the time the op would take alone.
// --cold overwrites 256 MB before each timed call, so no cache holds the op's weights or
// inputs: as in a UNet step, which streams its 1.7 GB of bf16 weights from memory.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "ops/ops.h"
#include "sd15_shapes.h"

namespace sd::bench {
namespace {

struct Options {
  std::vector<DType> dtypes{DType::BF16, DType::F32};
  std::string only = "matmul,conv,linear,attention,norm,misc,upsample";
  std::string model;   // empty: all
  std::string filter;  // only rows whose description contains this
  double min_time = 0.3;  // seconds of repeats per case, after one warm-up run
  int min_reps = 3;
  bool cpu_time = false;
  bool cold = false;
};

Tensor random(const Shape& shape, DType dt, uint32_t seed, float scale = 1.f,
              MemoryFormat fmt = MemoryFormat::Contiguous) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, scale);
  std::vector<float> v(static_cast<size_t>(shape.product()));
  for (float& x : v) x = dist(rng);
  Tensor t = Tensor::from_floats(v, shape);
  t = ops::to_dtype(t, dt);
  return fmt == MemoryFormat::ChannelsLast ? ops::to_layout(t, fmt) : t;
}

// Best wall time of fn over repeats, after one warm-up call (primitive creation, weight
// reorder). The machine is shared: the best run is the one least disturbed.
double now(bool cpu) {
  if (cpu) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void evict_caches() {
  static std::vector<unsigned char> junk(size_t(256) << 20);
  static unsigned char round = 0;
  ++round;
  const int64_t lines = int64_t(junk.size() / 64);
#pragma omp parallel for
  for (int64_t i = 0; i < lines; ++i) junk[size_t(i) * 64] = round;
}

double best_seconds(const Options& o, const std::function<void()>& fn) {
  fn();
  double best = 1e30, total = 0;
  for (int r = 0; r < o.min_reps || total < o.min_time; ++r) {
    if (o.cold) evict_caches();
    const double t0 = now(o.cpu_time);
    fn();
    const double s = now(o.cpu_time) - t0;
    best = std::min(best, s);
    total += s;
    if (r >= 50) break;
  }
  return best;
}

struct Totals {
  double flops = 0, seconds = 0;
};

bool wanted(const Options& o, const char* what) { return o.only.find(what) != std::string::npos; }
bool model_wanted(const Options& o, const char* model) { return o.model.empty() || o.model == model; }
bool row_wanted(const Options& o, const std::string& what) {
  return o.filter.empty() || what.find(o.filter) != std::string::npos;
}

double matmul_rate(const Options& o, DType dt) {
  const int64_t n = 2048;
  ops::Linear lin(random({n, n}, dt, 1, 0.02f), Tensor());
  Tensor x = random({n, n}, dt, 2);
  const double s = best_seconds(o, [&] { lin.forward(x); });
  return 2.0 * n * n * n / s;
}

void print_row(const char* model, const std::string& what, int count, double s, double flops,
               double peak) {
  if (flops > 0)
    std::printf("  %-5s %-44s x%-3d %9.3f ms %8.1f GFLOP/s  %5.2f of matmul\n", model,
                what.c_str(), count, s * 1e3, flops / s * 1e-9, flops / s / peak);
  else
    std::printf("  %-5s %-44s x%-3d %9.3f ms\n", model, what.c_str(), count, s * 1e3);
}

void bench_convs(const Options& o, DType dt, double peak, Totals* unet, Totals* vae) {
  std::printf("conv2d (channels-last input, bias)\n");
  for (const ConvShape& c : sd15_convs()) {
    if (!model_wanted(o, c.model)) continue;
    char what[128];
    std::snprintf(what, sizeof what, "%lldx%lld %lld->%lld k%lld s%lld n%lld", (long long)c.hw,
                  (long long)c.hw, (long long)c.ci, (long long)c.co, (long long)c.k,
                  (long long)c.stride, (long long)c.n);
    if (!row_wanted(o, what)) continue;
    const int64_t pad = c.k / 2;
    ops::Conv2d conv(random({c.co, c.ci, c.k, c.k}, dt, 3, 0.05f), random({c.co}, DType::F32, 4),
                     ops::Conv2dOptions::same(int(pad), int(c.stride)));
    Tensor x = random({c.n, c.ci, c.hw, c.hw}, dt, 5, 1.f, MemoryFormat::ChannelsLast);
    const double s = best_seconds(o, [&] { conv.forward(x); });
    const int64_t ho = (c.hw + 2 * pad - c.k) / c.stride + 1;
    const double flops = 2.0 * c.n * ho * ho * c.co * c.ci * c.k * c.k;
    print_row(c.model, what, c.count, s, flops, peak);
    Totals* t = std::strcmp(c.model, "unet") == 0 ? unet : vae;
    t->flops += flops * c.count;
    t->seconds += s * c.count;
  }
}

void bench_linears(const Options& o, DType dt, double peak, Totals* unet, Totals* vae) {
  std::printf("linear (bias)\n");
  for (const LinearShape& l : sd15_linears()) {
    if (!model_wanted(o, l.model)) continue;
    char what[128];
    std::snprintf(what, sizeof what, "M%lld %lld->%lld", (long long)l.m, (long long)l.in,
                  (long long)l.out);
    if (!row_wanted(o, what)) continue;
    ops::Linear lin(random({l.out, l.in}, dt, 6, 0.05f), random({l.out}, DType::F32, 7));
    Tensor x = random({l.m, l.in}, dt, 8);
    const double s = best_seconds(o, [&] { lin.forward(x); });
    const double flops = 2.0 * l.m * l.in * l.out;
    print_row(l.model, what, l.count, s, flops, peak);
    Totals* t = std::strcmp(l.model, "unet") == 0 ? unet : vae;
    t->flops += flops * l.count;
    t->seconds += s * l.count;
  }
}

void bench_attention(const Options& o, DType dt, double peak, Totals* unet, Totals* vae) {
  std::printf("attention (q, k, v slices of a fused projection for self-attention)\n");
  for (const AttentionShape& a : sd15_attentions()) {
    if (!model_wanted(o, a.model)) continue;
    char what[128];
    std::snprintf(what, sizeof what, "b%lld Lq%lld Lk%lld heads%lld d%lld", (long long)a.b,
                  (long long)a.lq, (long long)a.lk, (long long)a.heads, (long long)a.d);
    if (!row_wanted(o, what)) continue;
    const int64_t hd = a.heads * a.d;
    Tensor q, k, v;
    if (a.lq == a.lk) {
      Tensor qkv = random({a.b, a.lq, 3 * hd}, dt, 9);
      q = qkv.narrow(2, 0, hd);
      k = qkv.narrow(2, hd, hd);
      v = qkv.narrow(2, 2 * hd, hd);
    } else {
      q = random({a.b, a.lq, hd}, dt, 10);
      k = random({a.b, a.lk, hd}, dt, 11);
      v = random({a.b, a.lk, hd}, dt, 12);
    }
    const double s = best_seconds(o, [&] { ops::attention(q, k, v, int(a.heads)); });
    const double flops = 4.0 * a.b * a.heads * a.lq * a.lk * a.d;
    print_row(a.model, what, a.count, s, flops, peak);
    Totals* t = std::strcmp(a.model, "unet") == 0 ? unet : std::strcmp(a.model, "vae") == 0 ? vae : nullptr;
    if (!t) continue;
    t->flops += flops * a.count;
    t->seconds += s * a.count;
  }
}

void bench_norms(const Options& o, DType dt, Totals* unet, Totals* vae) {
  std::printf("group norm + SiLU (channels-last)\n");
  for (const NormShape& n : sd15_group_norms()) {
    if (!model_wanted(o, n.model)) continue;
    char what[128];
    std::snprintf(what, sizeof what, "%lldx%lld c%lld n%lld", (long long)n.hw, (long long)n.hw,
                  (long long)n.c, (long long)n.n);
    if (!row_wanted(o, what)) continue;
    ops::GroupNorm gn(32, random({n.c}, DType::F32, 13), random({n.c}, DType::F32, 14), 1e-5f);
    Tensor x = random({n.n, n.c, n.hw, n.hw}, dt, 15, 1.f, MemoryFormat::ChannelsLast);
    const double s = best_seconds(o, [&] { gn.forward(x, true); });
    print_row(n.model, what, n.count, s, 0, 1);
    (std::strcmp(n.model, "unet") == 0 ? unet : vae)->seconds += s * n.count;
  }
}

void bench_misc(const Options& o, DType dt, Totals* unet) {
  if (!model_wanted(o, "unet")) return;
  std::printf("other UNet ops at 64x64 (per call)\n");
  Tensor h = random({2, 4096, 2560}, dt, 16);
  print_row("unet", "geglu [2,4096,2560]", 5, best_seconds(o, [&] { ops::geglu(h); }), 0, 1);
  Tensor t = random({2, 4096, 320}, dt, 17);
  ops::LayerNorm ln(random({320}, DType::F32, 18), random({320}, DType::F32, 19), 1e-5f);
  print_row("unet", "layer_norm [2,4096,320]", 15, best_seconds(o, [&] { ln.forward(t); }), 0, 1);
  Tensor a = random({2, 320, 64, 64}, dt, 20, 1.f, MemoryFormat::ChannelsLast);
  Tensor b = random({2, 640, 64, 64}, dt, 21, 1.f, MemoryFormat::ChannelsLast);
  print_row("unet", "concat 640+320 ch 64x64", 3, best_seconds(o, [&] { ops::concat({b, a}, 1); }), 0, 1);
  Tensor e = random({2, 320, 1, 1}, dt, 22);
  print_row("unet", "add [2,320,64,64] + [2,320,1,1]", 7, best_seconds(o, [&] { ops::add(a, e); }), 0, 1);
  Tensor u = random({2, 640, 32, 32}, dt, 23, 1.f, MemoryFormat::ChannelsLast);
  print_row("unet", "upsample_nearest2x 640 ch 32x32", 1,
            best_seconds(o, [&] { ops::upsample_nearest2x(u); }), 0, 1);
  // A residual should cost no more than a pass over the output (a ResNet's conv2).
  for (auto [c, hw] : {std::pair<int64_t, int64_t>{320, 64}, {1280, 16}}) {
    const Tensor xc = c == 320 ? a : random({2, c, hw, hw}, dt, 27, 1.f, MemoryFormat::ChannelsLast);
    ops::Conv2d conv(random({c, c, 3, 3}, dt, 25, 0.05f), random({c}, DType::F32, 26), ops::Conv2dOptions::same(1));
    const std::string what = "conv " + std::to_string(c) + " ch " + std::to_string(hw) + "x" + std::to_string(hw);
    print_row("unet", what + " + residual", 0, best_seconds(o, [&] { conv.forward(xc, &xc); }), 0, 1);
    print_row("unet", what + " alone", 0, best_seconds(o, [&] { conv.forward(xc); }), 0, 1);
  }
  // A 1x1 weight takes another layout below 8x8 inputs (SD1.5's deepest level at 256 px):
  // alternating image sizes moves it there and back, against the same pair at 8x8.
  {
    ops::Conv2d conv(random({1280, 2560, 1, 1}, dt, 28, 0.05f), random({1280}, DType::F32, 29), {});
    const Tensor x8 = random({2, 2560, 8, 8}, dt, 30, 1.f, MemoryFormat::ChannelsLast);
    const Tensor x4 = random({2, 2560, 4, 4}, dt, 31, 1.f, MemoryFormat::ChannelsLast);
    print_row("unet", "conv 1x1 2560->1280 8x8 twice", 0, best_seconds(o, [&] {
      conv.forward(x8);
      conv.forward(x8);
    }), 0, 1);
    print_row("unet", "conv 1x1 2560->1280 8x8, 4x4 (layout switch)", 0, best_seconds(o, [&] {
      conv.forward(x8);
      conv.forward(x4);
    }), 0, 1);
  }
  Tensor lat = random({2, 4, 64, 64}, DType::F32, 24);
  print_row("unet", "to_layout+to_dtype latents", 1, best_seconds(o, [&] {
    ops::to_dtype(ops::to_layout(lat, MemoryFormat::ChannelsLast), dt);
  }), 0, 1);
  (void)unet;
}

// The VAE decoder's Upsample2D: nearest 2x + 3x3 conv, as two steps and fused
// (ops::UpsampleConv2d). GFLOP/s counts the 3x3 conv's arithmetic for both.
void bench_upsample_convs(const Options& o, DType dt, double peak) {
  if (!model_wanted(o, "vae")) return;
  std::printf("VAE upsamplers: upsample 2x + conv 3x3\n");
  struct Case { int64_t c, hw; };
  for (const Case& c : {Case{512, 64}, Case{512, 128}, Case{256, 256}}) {
    Tensor w = random({c.c, c.c, 3, 3}, DType::F32, 30, 0.05f);
    Tensor b = random({c.c}, DType::F32, 31);
    ops::Conv2d conv(ops::to_dtype(w, dt), b, ops::Conv2dOptions::same(1));
    ops::UpsampleConv2d fused(w, b, dt);
    Tensor x = random({1, c.c, c.hw, c.hw}, dt, 32, 1.f, MemoryFormat::ChannelsLast);
    const double flops = 2.0 * double(4 * c.hw * c.hw) * double(c.c * c.c * 9);
    for (bool f : {false, true}) {
      char what[128];
      std::snprintf(what, sizeof what, "%s %lld ch %lldx%lld", f ? "fused    " : "two steps", (long long)c.c,
                    (long long)c.hw, (long long)c.hw);
      if (!row_wanted(o, what)) continue;
      const double s = best_seconds(o, [&] { f ? fused.forward(x) : conv.forward(ops::upsample_nearest2x(x)); });
      print_row("vae", what, 1, s, flops, peak);
    }
  }
}

void run(const Options& o, DType dt) {
  const char* name = dt == DType::BF16 ? "bf16" : "f32";
  std::printf("\n=== %s, %d threads ===\n", name, ops::num_threads());
  double peak = matmul_rate(o, dt);
  std::printf("matmul 2048^3: %.1f GFLOP/s\n", peak * 1e-9);
  Totals unet, vae;
  if (wanted(o, "conv")) bench_convs(o, dt, peak, &unet, &vae);
  if (wanted(o, "linear")) bench_linears(o, dt, peak, &unet, &vae);
  if (wanted(o, "attention")) bench_attention(o, dt, peak, &unet, &vae);
  if (wanted(o, "norm")) bench_norms(o, dt, &unet, &vae);
  if (wanted(o, "misc")) bench_misc(o, dt, &unet);
  if (wanted(o, "upsample")) bench_upsample_convs(o, dt, peak);
  const double peak2 = matmul_rate(o, dt);  // again: the machine is shared and noisy
  std::printf("matmul 2048^3 again: %.1f GFLOP/s\n", peak2 * 1e-9);
  peak = std::max(peak, peak2);
  for (auto [model, t] : {std::pair{"unet", unet}, std::pair{"vae", vae}}) {
    if (t.flops == 0) continue;
    std::printf(
        "%s %s: listed ops %.3f s for %.1f GFLOP = %.1f GFLOP/s; FLOP time at the matmul rate "
        "%.3f s; ratio %.2f\n",
        name, model, t.seconds, t.flops * 1e-9, t.flops / t.seconds * 1e-9, t.flops / peak,
        t.seconds / (t.flops / peak));
  }
}

}  // namespace
}  // namespace sd::bench

int main(int argc, char** argv) {
  sd::bench::Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dtype") {
      std::string d = next();
      if (d == "f32") o.dtypes = {sd::DType::F32};
      else if (d == "bf16") o.dtypes = {sd::DType::BF16};
      else o.dtypes = {sd::DType::BF16, sd::DType::F32};
    } else if (a == "--only") {
      o.only = next() + ",matmul";
    } else if (a == "--filter") {
      o.filter = next();
    } else if (a == "--model") {
      o.model = next();
    } else if (a == "--threads") {
      sd::ops::set_num_threads(std::stoi(next()));
    } else if (a == "--cpu-time") {
      o.cpu_time = true;
    } else if (a == "--cold") {
      o.cold = true;
    } else if (a == "--min-time") {
      o.min_time = std::stod(next());
    } else {
      std::fprintf(stderr, "usage: bench_ops [--dtype f32|bf16|both] [--only conv,linear,...] "
                           "[--model unet|vae] [--filter TEXT] [--threads N] [--min-time S] [--cpu-time] [--cold]\n");
      return 2;
    }
  }
  for (sd::DType dt : o.dtypes) sd::bench::run(o, dt);
  return 0;
}
