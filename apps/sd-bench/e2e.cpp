#include "e2e.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/error.h"
#include "pipeline/memory_admission.h"
#include "pipeline/pipeline.h"

namespace sd::bench {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// User and system CPU seconds of the whole process so far: on a shared machine, where
// waiting for a core stretches wall time, the work itself.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// A line of /proc/self/status in MB ("VmRSS", "VmHWM").
double status_mb(const std::string& field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0;
  return 0;
}

// VmHWM in MB, then reset to the RSS now (clear_refs 5), so that each phase of a job
// reports its own peak. Where the reset is not allowed the peaks add up, an upper bound.
double take_peak_mb() {
  const double peak = status_mb("VmHWM");
  std::ofstream("/proc/self/clear_refs") << "5";
  return peak;
}

const char* weight_suffix(pipeline::FolderPrecision p) {
  return p == pipeline::FolderPrecision::Fp16 ? ".fp16.safetensors" : ".safetensors";
}

bool folder_complete(const fs::path& dir, pipeline::FolderPrecision p) {
  return fs::exists(dir / "model_index.json") &&
         fs::exists(dir / "unet" / (std::string("diffusion_pytorch_model") + weight_suffix(p))) &&
         fs::exists(dir / "vae" / (std::string("diffusion_pytorch_model") + weight_suffix(p))) &&
         fs::exists(dir / "text_encoder" / (std::string("model") + weight_suffix(p)));
}

std::vector<fs::path> weight_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".safetensors") files.push_back(e.path());
  return files;
}

// Seconds to read every weight file of `dir` into one reused buffer, the second of two
// passes (the first warms the page cache): the floor a load from a warm cache cannot beat.
// *cpu: that pass's CPU seconds.
double warm_read_seconds(const fs::path& dir, uint64_t* bytes, double* cpu) {
  std::vector<char> buf(size_t(16) << 20);
  double seconds = 0;
  for (int pass = 0; pass < 2; ++pass) {
    *bytes = 0;
    const auto t = Clock::now();
    const double c = cpu_seconds();
    for (const auto& p : weight_files(dir)) {
      const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw Error(p.string() + ": cannot open");
      ssize_t n;
      while ((n = ::read(fd, buf.data(), buf.size())) > 0) *bytes += uint64_t(n);
      ::close(fd);
    }
    seconds = since(t);
    *cpu = cpu_seconds() - c;
  }
  return seconds;
}

}  // namespace

std::string prepare_e2e_folder(const E2eOptions& opt, double* written_seconds) {
  *written_seconds = 0;
  const fs::path dir = opt.dir.empty() ? fs::temp_directory_path() / ("sd-bench-e2e-" + std::to_string(getpid()))
                                       : fs::path(opt.dir);
  if (folder_complete(dir, opt.precision)) return dir.string();
  std::fprintf(stderr, "writing a random-weight model folder to %s\n", dir.c_str());
  const auto t = Clock::now();
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) throw Error("cannot fork the folder writer");
  if (child == 0) {
    try {
      pipeline::write_random_model_folder(opt.config_dir, dir.string(), 1234, opt.precision);
    } catch (const Error& e) {
      std::fprintf(stderr, "sd-bench: %s\n", e.what());
      _exit(1);
    }
    _exit(0);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::error_code ec;
    if (opt.dir.empty()) fs::remove_all(dir, ec);  // a temp folder is never left half written
    throw Error(dir.string() + ": writing the folder failed");
  }
  *written_seconds = since(t);
  return dir.string();
}

nlohmann::ordered_json run_e2e(const E2eOptions& opt, const std::string& folder) {
  nlohmann::ordered_json j;
  uint64_t bytes = 0;
  double read_cpu = 0;
  const double read_s = warm_read_seconds(folder, &bytes, &read_cpu);
  j["folder"] = folder;
  j["folder_precision"] = opt.precision == pipeline::FolderPrecision::Fp16 ? "fp16" : "f32";
  j["weight_bytes"] = bytes;
  j["warm_read_seconds"] = read_s;
  j["warm_read_cpu_seconds"] = read_cpu;

  pipeline::LoadOptions lo;
  lo.model_path = folder;
  lo.dtype = opt.dtype;
  lo.threads = opt.threads;
  lo.device = opt.device;
  lo.max_memory = opt.max_memory;
  lo.warm_up = false;  // timed on its own below
  const auto t_load = Clock::now();
  const double c_load = cpu_seconds();
  auto pipe = pipeline::Pipeline::load(lo);
  const double load_s = since(t_load), load_cpu = cpu_seconds() - c_load;
  j["load_seconds"] = load_s;
  j["load_over_read"] = read_s > 0 ? load_s / read_s : 0;
  j["load_cpu_seconds"] = load_cpu;
  if (opt.reload) {
    pipe.reset();
    const auto t = Clock::now();
    const double c = cpu_seconds();
    pipe = pipeline::Pipeline::load(lo);
    j["reload_seconds"] = since(t);
    j["reload_over_read"] = read_s > 0 ? since(t) / read_s : 0;
    j["reload_cpu_seconds"] = cpu_seconds() - c;
    std::fprintf(stderr, "reload %.2f s (%.2fx the warm read)\n", j["reload_seconds"].get<double>(),
                 j["reload_over_read"].get<double>());
  }
  j["rss_after_load_mb"] = status_mb("VmRSS");
  j["peak_rss_after_load_mb"] = status_mb("VmHWM");
  std::fprintf(stderr,
               "load %.2f s, %.2f CPU s (reading the %.2f GB warm: %.2f s, %.2f CPU s; %.2fx), RSS %.0f MB, peak %.0f MB\n",
               load_s, load_cpu, double(bytes) * 1e-9, read_s, read_cpu, load_s / read_s, status_mb("VmRSS"),
               status_mb("VmHWM"));
  if (opt.warm_up) {
    const auto t = Clock::now();
    pipe->warm_up();
    j["warm_up_seconds"] = since(t);
    std::fprintf(stderr, "warm-up %.2f s, RSS %.0f MB\n", since(t), status_mb("VmRSS"));
  }

  // A job as sd-generate makes it from its flags and the model's defaults.
  const pipeline::ModelInfo& info = pipe->info();
  pipeline::GenerationRequest req;
  req.prompt = "a photo of a cat";
  req.steps = 2;
  req.width = opt.width;
  req.height = opt.height;
  req.seed = 42;
  req.guidance_scale = info.default_guidance;
  req.sampler = info.default_sampler;
  req.preview = pipeline::PreviewMode::None;
  const uint64_t available = pipeline::memory_available_to_process(opt.max_memory);
  try {
    pipeline::admit_job_memory(req, info, available);
  } catch (const pipeline::MemoryRefused& e) {
    std::fprintf(stderr, "%s; running it in its leanest form, as sd-generate does\n", e.what());
    j["memory_refused"] = true;
  }
  const pipeline::MemoryEstimate estimate = pipeline::estimate_job_memory(info, req);
  j["available_mb"] = double(available) / (1 << 20);
  j["estimate_mb"] = double(estimate.total()) / (1 << 20);
  j["text_encoders_streamed"] = info.text_encoders_streamed;
  j["vae_tiling"] = req.vae_tiling;
  if (req.vae_tiling) j["vae_tile_size"] = req.vae_tile_size > 0 ? req.vae_tile_size : info.memory.vae_tile_pixels;
  std::fprintf(stderr, "job estimate %.0f MB of %.0f MB available: VAE %s\n", double(estimate.total()) / (1 << 20),
               double(available) / (1 << 20), req.vae_tiling ? "in tiles" : "whole");
  nlohmann::ordered_json jobs = nlohmann::ordered_json::array();
  double peak = take_peak_mb();  // the load's and warm-up's
  for (int k = 0; k < opt.jobs; ++k) {
    std::vector<Clock::time_point> step_end;
    std::vector<double> step_peak;  // [0]: the text encoder and step 1; [1]: step 2
    pipeline::GenerationCallbacks cb;
    cb.on_progress = [&](int, int) {
      step_end.push_back(Clock::now());
      step_peak.push_back(take_peak_mb());
    };
    const auto t = Clock::now();
    const pipeline::GenerationResult r = pipe->generate(req, cb);
    const double total = since(t);
    const double decode_peak = take_peak_mb();
    for (double p : step_peak) peak = std::max(peak, p);
    peak = std::max(peak, decode_peak);
    // The denoise phase is both steps (and the sampler's set-up, which is small).
    const double second = std::chrono::duration<double>(step_end.at(1) - step_end.at(0)).count();
    const double first = r.timings.at("denoise") - second;
    jobs.push_back({{"text_encoder_seconds", r.timings.at("text_encoder")},
                    {"first_step_seconds", first},
                    {"second_step_seconds", second},
                    {"first_over_second", first / second},
                    {"vae_decode_seconds", r.timings.at("vae_decode")},
                    {"seconds", total},
                    {"rss_mb", status_mb("VmRSS")},
                    {"peak_rss_text_and_step1_mb", step_peak.at(0)},
                    {"peak_rss_step2_mb", step_peak.at(1)},
                    {"peak_rss_decode_mb", decode_peak}});
    std::fprintf(stderr, "job %d: text %.2f s, step 1 %.2f s, step 2 %.2f s (%.2fx), decode %.2f s, all %.2f s, RSS %.0f MB; "
                 "peaks: text and step 1 %.0f MB, step 2 %.0f MB, decode %.0f MB\n",
                 k + 1, r.timings.at("text_encoder"), first, second, first / second, r.timings.at("vae_decode"), total,
                 status_mb("VmRSS"), step_peak.at(0), step_peak.at(1), decode_peak);
  }
  j["jobs"] = jobs;
  j["peak_rss_mb"] = peak;
  return j;
}

}  // namespace sd::bench
