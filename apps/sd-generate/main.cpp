// sd-generate: images from the command line, with the same engine the worker uses. The
// flags (options.cpp) are checked, and the outputs' destination with them, before the
// model loads; then every prompt (--prompt or each line of --prompt-file) runs
// --batch-count times on the one loaded model, seeds seed, seed+1, ...
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "core/error.h"
#include "core/log.h"
#include "io/image.h"
#include "io/image_format.h"
#include "io/safetensors.h"
#include "loaders/model_source.h"
#include "options.h"
#include "output_plan.h"
#include "pipeline/noise_source.h"
#include "pipeline/pipeline.h"
#include "pipeline/preview_decoder.h"
#include "pipeline/request_limits.h"
#include "progress.h"
#include "prompt_file.h"
#include "sampling/scheduler_factory.h"

namespace {

constexpr int kUsageError = 2;
constexpr int kRunError = 1;

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "sd-generate: %s\n", msg.c_str());
  return kUsageError;
}

// Why --sampler/--schedule cannot run, if they cannot.
std::optional<std::string> sampler_problem(const std::string& sampler, const std::string& schedule) {
  try {
    auto schedules = sd::sampling::schedules_for(sampler);
    if (std::find(schedules.begin(), schedules.end(), schedule) == schedules.end())
      return "--schedule: " + sampler + " has no schedule \"" + schedule + "\"";
  } catch (const sd::Error& e) {
    return std::string("--sampler: ") + e.what();
  }
  return std::nullopt;
}

// --lora PATH[:STRENGTH] into `spec`; the strength is what follows the last ':' when that
// is a number. Returns why the argument cannot be used, if it cannot.
std::optional<std::string> parse_lora(const std::string& arg, sd::pipeline::LoraSpec& spec) {
  spec = {arg, 1.0f};
  const size_t colon = arg.rfind(':');
  if (colon != std::string::npos) {
    const std::string tail = arg.substr(colon + 1);
    char* end = nullptr;
    const float v = std::strtof(tail.c_str(), &end);
    if (!tail.empty() && end == tail.c_str() + tail.size()) spec = {arg.substr(0, colon), v};
  }
  if (!(spec.strength >= -10.0f && spec.strength <= 10.0f))
    return "--lora " + arg + ": the strength must be within -10..10";
  if (!std::filesystem::is_regular_file(spec.path)) return "--lora " + arg + ": no such file: " + spec.path;
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  using sd::pipeline::GenerationRequest;
  const auto t_start = Clock::now();
  CLI::App app{"Generate images with Stable Diffusion."};
  app.set_version_flag("--version", "sd-generate 0.1.0");
  sd::apps::Options o;
  sd::apps::add_options(app, o);
  GenerationRequest& req = o.req;

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(e.what());
  }
  sd::set_log_level(o.verbose ? sd::LogLevel::Info : sd::LogLevel::Warn);

  if (app.count("--prompt") == 0 && o.prompt_file.empty()) return usage_error("--prompt or --prompt-file is required");
  for (int v : {o.width.value_or(64), o.height.value_or(64)})
    if (v % 8 != 0) return usage_error("--width/--height must be multiples of 8, got " + std::to_string(v));
  // Names are checked before the (slow) load; the model's default sampler only after it.
  const auto& all_schedules = sd::sampling::schedule_names();
  if (std::find(all_schedules.begin(), all_schedules.end(), req.schedule) == all_schedules.end())
    return usage_error("--schedule: unknown schedule \"" + req.schedule + "\"");
  if (o.sampler)
    if (auto bad = sampler_problem(*o.sampler, req.schedule)) return usage_error(*bad);
  std::vector<std::string> prompts;
  try {
    sd::pipeline::check_prompt("--prompt", req.prompt);
    sd::pipeline::check_prompt("--negative-prompt", req.negative_prompt);
    prompts = o.prompt_file.empty() ? std::vector<std::string>{req.prompt} : sd::apps::read_prompt_file(o.prompt_file);
  } catch (const sd::Error& e) {
    return usage_error(e.what());
  }
  const int image_count = int(prompts.size()) * o.batch_count;
  if (!o.save_latents.empty() && image_count > 1)
    return usage_error("--save-latents keeps one image's latents; it cannot be used with " +
                       std::to_string(image_count) + " images (--batch-count, --prompt-file)");
  std::optional<sd::apps::OutputPlan> plan;
  try {
    plan = sd::apps::OutputPlan::make(o, image_count);
    sd::pipeline::resolve_model_source(o.load);
  } catch (const sd::Error& e) {
    return usage_error(e.what());
  }
  if (!o.preview_dir.empty() && !std::filesystem::is_directory(o.preview_dir))
    return usage_error("--preview-dir: directory does not exist: " + o.preview_dir);
  if (o.preview_name == "taesd" && o.load.taesd_path.empty()) return usage_error("--preview taesd needs --taesd");
  for (const auto& arg : o.lora_args) {
    sd::pipeline::LoraSpec spec;
    if (auto bad = parse_lora(arg, spec)) return usage_error(*bad);
    req.loras.push_back(spec);
  }
  if (o.dtype == "bf16") o.load.dtype = sd::DType::BF16;
  else if (o.dtype == "f32") o.load.dtype = sd::DType::F32;
  else o.load.dtype = sd::pipeline::default_cpu_dtype();

  if (!o.init_image.empty()) {
    try {
      req.init_image = sd::io::read_image_file(o.init_image);
      sd::pipeline::check_input_image_size("--init-image", req.init_image->width, req.init_image->height);
      if (!o.mask_image.empty()) {
        req.mask_image = sd::io::read_image_file(o.mask_image, 1);
        sd::pipeline::check_input_image_size("--mask-image", req.mask_image->width, req.mask_image->height);
      }
    } catch (const sd::Error& e) {
      return usage_error(e.what());
    }
    req.operation = o.mask_image.empty() ? sd::pipeline::Operation::Img2Img : sd::pipeline::Operation::Inpaint;
    if (app.count("--strength") == 0) req.strength = o.mask_image.empty() ? 0.8 : 1.0;
    if (req.strength <= 0.0) return usage_error("--strength must be above 0");
  }

  sd::apps::Progress progress(stderr, isatty(fileno(stderr)) != 0);
  std::unique_ptr<sd::pipeline::Pipeline> pipe;
  const auto t_load = Clock::now();
  try {
    pipe = sd::pipeline::Pipeline::load(o.load);
  } catch (const sd::Error& e) {
    return usage_error(e.what());
  }
  const auto& info = pipe->info();
  progress.phase("load", seconds_since(t_load),
                 info.checkpoint.name + " [" + info.checkpoint.hash + "], " + info.version + ", " +
                     std::string(sd::dtype_name(info.dtype)));
  req.steps = o.steps.value_or(info.default_steps);
  req.guidance_scale = o.guidance.value_or(info.default_guidance);
  // img2img keeps the input's size (rounded down to a multiple of 8) unless told otherwise.
  const int base_w = req.init_image ? req.init_image->width / 8 * 8 : info.native_width;
  const int base_h = req.init_image ? req.init_image->height / 8 * 8 : info.native_height;
  req.width = o.width.value_or(base_w);
  req.height = o.height.value_or(base_h);
  if (req.width < 64 || req.height < 64 || req.width > 2048 || req.height > 2048)
    return usage_error("--init-image: " + std::to_string(req.width) + "x" + std::to_string(req.height) +
                       " is outside 64..2048; pass --width/--height");
  req.sampler = o.sampler.value_or(info.default_sampler);
  if (auto bad = sampler_problem(req.sampler, req.schedule)) return usage_error(*bad);
  req.clip_skip = o.clip_skip.value_or(1);
  req.rng = *sd::pipeline::parse_noise_source(o.rng);
  const uint64_t base_seed = o.seed ? *o.seed : std::random_device{}() * 0x100000000ull + std::random_device{}();
  std::string preview_name = o.preview_name;
  if (preview_name.empty()) preview_name = o.load.taesd_path.empty() ? "latent" : "taesd";
  req.preview = o.preview_dir.empty() ? sd::pipeline::PreviewMode::None : *sd::pipeline::parse_preview_mode(preview_name);
  req.decoder = o.fast_decode ? sd::pipeline::FinalDecoder::Taesd : sd::pipeline::FinalDecoder::Vae;
  req.keep_latents = !o.save_latents.empty();
  try {
    for (const auto& p : prompts) {
      req.prompt = p;
      pipe->validate(req);
    }
  } catch (const sd::Error& e) {
    return usage_error(e.what());
  }

  sd::pipeline::GenerationCallbacks cb;
  cb.on_progress = [&](int step, int total) { progress.step(step, total); };
  cb.on_preview = [&](int step, int, const sd::io::Image& preview) {
    char name[32];
    std::snprintf(name, sizeof name, "preview-%03d.png", step);
    sd::io::write_png_file((std::filesystem::path(o.preview_dir) / name).string(), preview);
  };
  int index = 0;
  try {
    for (const auto& p : prompts) {
      for (int k = 0; k < o.batch_count; ++k, ++index) {
        req.prompt = p;
        req.seed = base_seed + uint64_t(k);
        progress.start_steps(image_count > 1 ? "[" + std::to_string(index + 1) + "/" + std::to_string(image_count) + "]"
                                             : "");
        auto result = pipe->generate(req, cb);
        progress.image_phases(result.timings, req.steps);
        const auto t_save = Clock::now();
        const auto bytes = sd::io::encode_image(result.image, plan->format(), plan->quality(), result.parameters);
        const std::string path = plan->write(index, result.seed, bytes);
        if (!o.save_latents.empty())
          sd::io::write_safetensors(o.save_latents, {{"text_embeddings", result.text_embeddings},
                                                     {"latents", result.final_latents}},
                                    {{"parameters", result.parameters}});
        progress.phase("save", seconds_since(t_save),
                       path + " (" + std::to_string(result.image.width) + "x" + std::to_string(result.image.height) +
                           ", seed " + std::to_string(result.seed) + ")");
      }
    }
  } catch (const sd::Error& e) {
    std::fprintf(stderr, "sd-generate: %s\n", e.what());
    return kRunError;
  }
  progress.phase("total", seconds_since(t_start),
                 std::to_string(image_count) + (image_count == 1 ? " image" : " images") + ", model load included");
  return 0;
}
