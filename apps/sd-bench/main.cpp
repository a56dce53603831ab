// sd-bench: full-size models built from real configs with seeded random weights (no
// weight files needed), timed phase by phase against this machine's own matmul rate.
// Prints readable lines on stderr and one JSON line last on stdout. --device cuda[:N] runs
// the models on a GPU and times them against the GPU's own matmul rate.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "backend/backend.h"
#include "core/buffer_pool.h"
#include "core/cancellation.h"
#include "core/error.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "loaders/random_weights.h"
#include "models/unet_2d_condition.h"
#include "ops/flop_count.h"
#include "ops/ops.h"
#include "pipeline/batch_rows.h"
#include "pipeline/cpu_dtype.h"
#include "e2e.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using sd::DType;
using sd::Tensor;

struct Phase {
  double seconds = 0;  // best of the timed repeats
  double tflop = 0;    // counted in one run
  double cancel_latency = 0;  // with --cancel-latency: worst_cancel_latency()
  // Each timed run's limit ratio against the matmul rate measured just before and just
  // after it, for the runs where those two agree within kSteadyRate (a shared machine's
  // rate can change severalfold from one minute to the next, and a ratio against a rate
  // measured in another state means nothing).
  std::vector<double> steady_ratios;
};

constexpr double kSteadyRate = 0.9;

// Runs fn once to warm up (primitive creation, weight reorders), then `repeat` times,
// keeping the best time and the FLOPs of one run. Each run ends when the device's queued
// work has (a GPU runs asynchronously). With rate: measured before the first run and
// after each, for steady_ratios.
Phase measure(int repeat, sd::backend::Backend& device, const std::function<void()>& fn,
              const std::function<double()>& rate = nullptr) {
  fn();
  device.synchronize();
  Phase p;
  p.seconds = 1e300;
  double before = rate ? rate() : 0;
  for (int i = 0; i < repeat; ++i) {
    sd::ops::reset_flop_count();
    auto t = Clock::now();
    fn();
    device.synchronize();
    const double seconds = std::chrono::duration<double>(Clock::now() - t).count();
    p.seconds = std::min(p.seconds, seconds);
    p.tflop = sd::ops::flops_counted() * 1e-12;
    if (!rate) continue;
    const double after = rate();
    if (std::min(before, after) >= kSteadyRate * std::max(before, after) && p.tflop > 0)
      p.steady_ratios.push_back(seconds / (p.tflop / (0.5 * (before + after))));
    before = after;
  }
  return p;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The worst time, over cancels requested at several points of a phase that takes
// `seconds`, from the request to sd::Cancelled reaching the caller: how long a cancelled
// job keeps computing (the networks check between their blocks, core/cancellation.h).
double worst_cancel_latency(double seconds, const std::function<void()>& fn) {
  double worst = 0;
  for (double at : {0.13, 0.37, 0.61, 0.89}) {
    std::atomic<bool> requested{false};
    Clock::time_point requested_at;
    std::thread timer([&] {
      std::this_thread::sleep_for(std::chrono::duration<double>(at * seconds));
      requested_at = Clock::now();
      requested = true;
    });
    const sd::CancellationScope scope([&] { return requested.load(); });
    try {
      fn();
    } catch (const sd::Cancelled&) {
      worst = std::max(worst, std::chrono::duration<double>(Clock::now() - requested_at).count());
    }
    timer.join();
  }
  return worst;
}

Tensor random_tensor(const sd::Shape& shape, float scale, uint32_t seed) {
  Tensor t = Tensor::empty(shape, DType::F32);
  float* p = t.data<float>();
  uint32_t s = seed * 2654435761u + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    p[i] = (float(s) / 4294967296.0f * 2.0f - 1.0f) * scale;
  }
  return t;
}

// What --dtype auto would take on this CPU for the model folder `model_path` (empty: a model
// of unknown size) within `max_memory`, and why (the probe's rates).
nlohmann::ordered_json auto_dtype_json(const std::string& model_path, uint64_t max_memory) {
  const auto& r = sd::backend::cpu_bf16_rates();
  sd::pipeline::LoadOptions opt;
  opt.model_path = model_path;
  opt.max_memory = max_memory;
  const sd::pipeline::CpuDtypeChoice c = sd::pipeline::auto_cpu_dtype(opt);
  return {{"dtype", std::string(sd::dtype_name(c.dtype))},
          {"reason", c.reason},
          {"model_parameters", sd::pipeline::model_parameters(opt)},
          {"bf16_dot_gflops_per_core", r.dot_gflops},
          {"f32_fma_gflops_per_core", r.fma_gflops}};
}

// The rate of a large square matmul through the same op layer the models use, on the
// device: 2048^3 on a CPU; 8192^3 on a GPU, where a smaller one measures launch overhead.
// Built for each measurement and freed after it, so that it never adds to the memory the
// phases report.
double matmul_tflops(DType dtype, sd::backend::Backend& device, int runs) {
  const int n = device.device().is_cpu() ? 2048 : 8192;
  sd::ops::Linear mm(random_tensor({n, n}, 0.02f, 1).to(dtype), Tensor());
  if (!device.device().is_cpu()) mm.to(device.device());
  const Tensor x = random_tensor({n, n}, 1.0f, 2).to(dtype).to(device.device());
  Phase p = measure(runs, device, [&] { mm.forward(x); });
  return 2.0 * n * n * double(n) / p.seconds * 1e-12;
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

// Where the memory is after a phase: peak RSS so far and the tensor pool's state.
void report_memory(const char* after) {
  const sd::PoolStats s = sd::BufferPool::instance().stats();
  std::fprintf(stderr, "after %-13s peak RSS %7.0f MB, pool: %6.0f MB in use, %6.0f MB cached, peak %6.0f MB\n",
               after, peak_rss_mb(), s.in_use / 1048576.0, s.cached / 1048576.0, s.peak_in_use / 1048576.0);
}

// 77 token ids: BOS, a short prompt's worth of ordinary ids, EOS, EOS padding.
Tensor prompt_ids() {
  std::vector<int32_t> ids(77, 49407);
  ids[0] = 49406;
  for (int i = 1; i < 12; ++i) ids[size_t(i)] = 320 + 17 * i;
  return Tensor::copy_of(ids.data(), {1, 77}, DType::I32);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark full-size Stable Diffusion models built from their configs."};
  std::string config_dir, dtype_name = "bf16";
  int width = 512, height = 512, repeat = 3, threads = 0, batch = 1;
  app.add_option("--config", config_dir, "folder with unet/, vae/, text_encoder/ config.json")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--width", width, "image width")->check(CLI::Range(64, 2048));
  app.add_option("--height", height, "image height")->check(CLI::Range(64, 2048));
  app.add_option("--dtype", dtype_name, "compute dtype (f16: GPUs only)")->check(CLI::IsMember({"f32", "bf16", "f16"}));
  std::string device_name = "cpu";
  app.add_option("--device", device_name, "where the models run: cpu, cuda or cuda:N");
  app.add_option("--repeat", repeat, "timed runs per phase (best is reported)")->check(CLI::Range(1, 100));
  app.add_option("--threads", threads, "CPU threads (default: all cores)")->check(CLI::Range(0, 1024));
  app.add_option("--batch", batch,
                 "images per batch, as a request's batch_size: the UNet step runs 2N rows (CFG), the VAE decodes N "
                 "latents; per-image times are reported beside the batch's")
      ->check(CLI::Range(1, 8));
  bool vae_tiling = false;
  int vae_tile_size = 0;
  auto* tiling = app.add_flag("--vae-tiling", vae_tiling, "VAE decode in overlapping tiles, as sd-generate --vae-tiling");
  bool cancel_latency = false;
  app.add_flag("--cancel-latency", cancel_latency,
               "also cancel each phase at four points of its run and report the worst delay until it stopped");
  app.add_option("--vae-tile-size", vae_tile_size, "tile edge in pixels (default: the VAE's sample_size)")
      ->needs(tiling);
  bool e2e = false;
  std::string e2e_variant = "f32", e2e_dir;
  int e2e_jobs = 2;
  auto* e2e_flag = app.add_flag("--e2e", e2e,
                                "end to end instead: write the --config model with random weights to a folder, load it "
                                "as sd-generate does, run jobs of 2 steps and the decode; reports load, first and second "
                                "step, decode and peak RSS");
  app.add_option("--e2e-variant", e2e_variant, "the folder's weight files: f32 or the Hub's fp16 variant")
      ->check(CLI::IsMember({"f32", "fp16"}))
      ->needs(e2e_flag);
  app.add_option("--e2e-dir", e2e_dir, "the folder, reused when it holds that variant (default: a temp folder, removed)")
      ->needs(e2e_flag);
  app.add_option("--e2e-jobs", e2e_jobs, "jobs run one after another on the loaded model")
      ->check(CLI::Range(1, 100))
      ->needs(e2e_flag);
  bool e2e_reload = false;
  app.add_flag("--e2e-reload", e2e_reload,
               "load the model a second time once the first is freed (reload_seconds), and run the jobs on it: the "
               "engine's own load work, without the machine's cost of fresh memory")
      ->needs(e2e_flag);
  bool no_warm_up = false;
  app.add_flag("--no-warm-up", no_warm_up, "with --e2e: no warm-up image after the load (the first job pays for it)")
      ->needs(e2e_flag);
  uint64_t max_memory = 0;
  app.add_option("--max-memory", max_memory,
                 "with --e2e: the memory the jobs are admitted within, as sd-generate --max-memory (VAE tiles when the "
                 "decode would not fit; default: the cgroup's limit or the system's available memory)")
      ->transform(CLI::AsSizeValue(false))
      ->needs(e2e_flag);
  e2e_flag->excludes(tiling)->excludes("--batch")->excludes("--cancel-latency")->excludes("--repeat");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "sd-bench: %s\n", e.what());
    return 2;
  }
  if (width % 8 || height % 8) {
    std::fprintf(stderr, "sd-bench: --width/--height must be multiples of 8\n");
    return 2;
  }
  const DType dtype = dtype_name == "bf16" ? DType::BF16 : dtype_name == "f16" ? DType::F16 : DType::F32;
  sd::Device device_id;
  try {
    device_id = sd::Device::parse(device_name);
  } catch (const sd::Error& e) {
    std::fprintf(stderr, "sd-bench: --device: %s\n", e.what());
    return 2;
  }
  if (device_id.is_cpu() && dtype == DType::F16) {
    std::fprintf(stderr, "sd-bench: --dtype f16: the CPU backend computes in f32 or bf16\n");
    return 2;
  }
  // The folder is written (in a child process) before this process starts any threads.
  sd::bench::E2eOptions e2e_opt;
  std::string e2e_folder;
  double e2e_written_seconds = 0;
  if (e2e) try {
      e2e_opt.config_dir = config_dir;
      e2e_opt.dir = e2e_dir;
      e2e_opt.precision = e2e_variant == "fp16" ? sd::pipeline::FolderPrecision::Fp16 : sd::pipeline::FolderPrecision::F32;
      e2e_opt.dtype = dtype;
      e2e_opt.device = device_id;
      e2e_opt.width = width;
      e2e_opt.height = height;
      e2e_opt.threads = threads;
      e2e_opt.jobs = e2e_jobs;
      e2e_opt.warm_up = !no_warm_up;
      e2e_opt.max_memory = max_memory;
      e2e_opt.reload = e2e_reload;
      e2e_folder = sd::bench::prepare_e2e_folder(e2e_opt, &e2e_written_seconds);
    } catch (const sd::Error& e) {
      std::fprintf(stderr, "sd-bench: %s\n", e.what());
      return 1;
    }
  // A temp folder (no --e2e-dir) is removed however the run ends.
  struct RemoveFolder {
    std::string path;
    ~RemoveFolder() {
      std::error_code ec;
      if (!path.empty()) fs::remove_all(path, ec);
    }
  } temp_folder{e2e && e2e_dir.empty() ? e2e_folder : ""};
  sd::backend::Backend* device_backend = nullptr;
  try {
    device_backend = &sd::backend::backend_for(device_id);
  } catch (const sd::Error& e) {
    std::fprintf(stderr, "sd-bench: %s\n", e.what());
    return 1;
  }
  sd::backend::Backend& device = *device_backend;
  if (threads == 0) threads = int(std::thread::hardware_concurrency());
  sd::ops::set_num_threads(threads);

  try {
    const fs::path root(config_dir);
    const double mm_tflops = matmul_tflops(dtype, device, 5);
    std::fprintf(stderr, "matmul %s: %.3f TFLOP/s\n", dtype_name.c_str(), mm_tflops);
    if (e2e) {
      nlohmann::ordered_json j;
      j["mode"] = "e2e";
      j["config"] = config_dir;
      j["width"] = width;
      j["height"] = height;
      j["dtype"] = dtype_name;
      j["device"] = device_id.str();
      j["device_name"] = device.name();
      if (device_id.is_cpu()) j["cpu_auto_dtype"] = auto_dtype_json(e2e_folder, max_memory);
      j["threads"] = threads;
      j["matmul_tflops"] = mm_tflops;
      if (e2e_written_seconds > 0) j["write_seconds"] = e2e_written_seconds;
      j.update(sd::bench::run_e2e(e2e_opt, e2e_folder));
      std::printf("%s\n", j.dump().c_str());
      return 0;
    }

    sd::models::RandomWeights weights(1234);
    auto te_cfg = sd::models::ClipTextConfig::load((root / "text_encoder" / "config.json").string());
    sd::models::ClipTextModel te(te_cfg, weights, dtype);
    std::unique_ptr<sd::models::ClipTextModel> te2;
    if (fs::exists(root / "text_encoder_2" / "config.json"))
      te2 = std::make_unique<sd::models::ClipTextModel>(
          sd::models::ClipTextConfig::load((root / "text_encoder_2" / "config.json").string()), weights, dtype);
    auto unet_cfg = sd::models::UNetConfig::load((root / "unet" / "config.json").string());
    sd::models::UNet2DConditionModel unet(unet_cfg, weights, dtype);
    sd::models::AutoencoderKL vae(sd::models::VaeConfig::load((root / "vae" / "config.json").string()), weights,
                                  dtype);
    // Weights uploaded once, as the pipeline's loading does (the VAE's at its first use;
    // on the CPU every layer prepares itself at its first use).
    if (!device_id.is_cpu()) {
      auto upload = [&](const sd::models::ModuleRegistry& reg) {
        for (const auto& [path, ref] : reg.modules()) ref.to(device_id);
      };
      upload(te.modules());
      upload(unet.modules());
      if (te2) upload(te2->modules());
    }
    const int f = vae.scale_factor();
    const int64_t h = height / f, w = width / f;
    report_memory("loading");

    const auto steady_rate = [&] { return matmul_tflops(dtype, device, 2); };

    // Text: uncond and cond prompts, one at a time, as the pipelines run them.
    const Tensor ids = prompt_ids();
    Tensor pooled;
    Tensor context;
    auto encode_text = [&] {
      std::vector<Tensor> rows;
      for (int r = 0; r < 2; ++r) {
        auto out = te.forward(ids);
        Tensor hs = te2 ? out.hidden_states[out.hidden_states.size() - 2] : out.last_hidden_state;
        if (te2) {
          auto out2 = te2->forward(ids);
          hs = sd::ops::concat({hs, out2.hidden_states[out2.hidden_states.size() - 2]}, 2);
          pooled = out2.text_embeds;
        }
        rows.push_back(hs);
      }
      context = sd::ops::concat(rows, 0);
    };
    Phase text = measure(repeat, device, encode_text, steady_rate);
    report_memory("text encoder");

    // One denoising step: the UNet on the CFG batch, every image's uncond row, then every
    // image's cond row, as the pipeline runs a batch.
    const int rows = 2 * batch;
    const Tensor sample = random_tensor({rows, unet_cfg.in_channels, h, w}, 1.0f, 3).to(device_id);
    const Tensor batch_context = sd::pipeline::repeat_each_row(context, batch);
    sd::models::UNetAddedCond added;
    if (unet_cfg.text_time_embedding) {
      added.text_embeds = sd::pipeline::repeat_each_row(sd::ops::concat({pooled, pooled}, 0), batch);
      std::vector<float> ids6;
      for (int r = 0; r < rows; ++r)
        for (int v : {height, width, 0, 0, height, width}) ids6.push_back(float(v));
      added.time_ids = Tensor::from_floats(ids6, {rows, 6});
    }
    auto unet_step = [&] {
      unet.forward(sample, {500.0f}, batch_context, unet_cfg.text_time_embedding ? &added : nullptr);
    };
    Phase step = measure(repeat, device, unet_step, steady_rate);
    report_memory("unet step");

    // Whether a batch changes an image: the first image's rows of the batched step against
    // the same rows run as a batch of one (0 when the kernels are batch-invariant).
    double batch_max_abs_diff = 0;
    if (batch > 1) {
      const Tensor batched = unet.forward(sample, {500.0f}, batch_context, unet_cfg.text_time_embedding ? &added : nullptr);
      sd::models::UNetAddedCond added_one;
      if (unet_cfg.text_time_embedding) {
        added_one.text_embeds = sd::ops::concat({sd::pipeline::row_of(added.text_embeds, 0),
                                                 sd::pipeline::row_of(added.text_embeds, batch)}, 0);
        added_one.time_ids = added.time_ids.narrow(0, 0, 2).contiguous();
      }
      const Tensor one = unet.forward(
          sd::ops::concat({sd::pipeline::row_of(sample, 0), sd::pipeline::row_of(sample, batch)}, 0), {500.0f},
          context, unet_cfg.text_time_embedding ? &added_one : nullptr);
      for (auto [one_row, batch_row] : {std::pair<int64_t, int64_t>{0, 0}, {1, batch}}) {
        const Tensor a = sd::pipeline::row_of(one, one_row).to(sd::Device::cpu());
        const Tensor b = sd::pipeline::row_of(batched, batch_row).to(sd::Device::cpu());
        for (int64_t i = 0; i < a.numel(); ++i)
          batch_max_abs_diff = std::max(batch_max_abs_diff, double(std::fabs(a.data<float>()[i] - b.data<float>()[i])));
      }
      std::fprintf(stderr, "unet step: image 0 in the batch of %d against alone: max |difference| %g\n", batch,
                   batch_max_abs_diff);
    }

    const Tensor z =
        random_tensor({batch, vae.config().latent_channels, h, w}, 1.0f / vae.scaling_factor(), 4).to(device_id);
    if (vae_tiling) vae_tile_size = vae.resolve_tile_size(vae_tile_size);
    // Tiles are decoded image by image, as the pipeline does.
    auto vae_decode = [&] {
      if (!vae_tiling) return void(vae.decode(z));
      for (int64_t k = 0; k < batch; ++k) vae.decode_tiled(sd::pipeline::row_of(z, k), vae_tile_size);
    };
    Phase decode = measure(repeat, device, vae_decode, steady_rate);
    report_memory("vae decode");
    if (cancel_latency) {
      text.cancel_latency = worst_cancel_latency(text.seconds, encode_text);
      step.cancel_latency = worst_cancel_latency(step.seconds, unet_step);
      decode.cancel_latency = worst_cancel_latency(decode.seconds, vae_decode);
    }

    // Measured again after the phases, the better rate kept: on a shared machine the first
    // measurement can fall in a busy moment, and every ratio would then read too low.
    const double rate = std::max(mm_tflops, matmul_tflops(dtype, device, 5));

    nlohmann::ordered_json j;
    j["config"] = config_dir;
    j["width"] = width;
    j["height"] = height;
    j["dtype"] = dtype_name;
    j["device"] = device_id.str();
    j["device_name"] = device.name();  // on the CPU, the kernels it runs: "cpu (avx512_bf16, amx)"
    if (device_id.is_cpu()) j["cpu_auto_dtype"] = auto_dtype_json("", 0);
    j["threads"] = threads;
    j["batch"] = batch;
    if (vae_tiling) j["vae_tile_size"] = vae_tile_size;
    j["matmul_tflops"] = rate;
    nlohmann::ordered_json phases;
    for (auto& [name, p] : {std::pair<const char*, Phase&>{"text_encoder", text}, {"unet_step", step},
                            {"vae_decode", decode}}) {
      const double limit = p.tflop / rate;
      // The text encoder runs once for the whole batch, so its per-image share shrinks too.
      phases[name] = {{"seconds", p.seconds},
                      {"per_image_seconds", p.seconds / batch},
                      {"tflop", p.tflop},
                      {"limit_ratio", limit > 0 ? p.seconds / limit : 0},
                      {"steady_runs", p.steady_ratios.size()},
                      {"steady_limit_ratio", median(p.steady_ratios)}};
      std::fprintf(stderr,
                   "%-13s %8.3f s (%.3f s per image)  %7.3f TFLOP  %5.2fx the matmul-rate time"
                   " (%zu of %d runs at a steady rate: median %.2fx)\n",
                   name, p.seconds, p.seconds / batch, p.tflop, limit > 0 ? p.seconds / limit : 0.0,
                   p.steady_ratios.size(), repeat, median(p.steady_ratios));
    }
    j["phases"] = phases;
    if (batch > 1) j["unet_batch_max_abs_diff"] = batch_max_abs_diff;
    j["peak_rss_mb"] = peak_rss_mb();
    if (!device_id.is_cpu()) j["peak_vram_mb"] = double(device.peak_memory_used()) / 1048576.0;
    std::printf("%s\n", j.dump().c_str());
  } catch (const sd::Error& e) {
    std::fprintf(stderr, "sd-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
