// sd-generate: images from the command line, with the same engine the worker uses. The
// flags (options.cpp) are checked, and the outputs' destination with them, before the
// model loads; then every prompt (--prompt or each line of --prompt-file) runs
// --batch-count times on the one loaded model, seeds seed, seed+1, ...
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "core/error.h"
#include "core/log.h"
#include "io/image.h"
#include "io/image_format.h"
#include "io/safetensors.h"
#include "loaders/model_source.h"
#include "options.h"
#include "output_plan.h"
#include "pipeline/memory_admission.h"
#include "pipeline/device_description.h"
#include "pipeline/noise_source.h"
#include "pipeline/pipeline.h"
#include "pipeline/preview_decoder.h"
#include "pipeline/prompt_loras.h"
#include "pipeline/request_check.h"
#include "progress.h"
#include "pipeline/sampler_names.h"
#include "prompt_file.h"

namespace {

constexpr int kUsageError = 2;
constexpr int kRunError = 1;

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "sd-generate: %s\n", msg.c_str());
  return kUsageError;
}

// The flag a request field comes from, for the pipeline's refusals.
std::string flag_of(const std::string& field) {
  static const std::map<std::string, std::string> flags = {
      {"prompt", "--prompt"},           {"negative_prompt", "--negative-prompt"}, {"steps", "--steps"},
      {"guidance_scale", "--guidance"}, {"sampler", "--sampler"},                 {"schedule", "--schedule"},
      {"strength", "--strength"},       {"clip_skip", "--clip-skip"},             {"width", "--width"},
      {"height", "--height"},           {"input_image", "--init-image"},          {"mask_image", "--mask-image"},
      {"preview_every", "--preview-every"}, {"decoder", "--fast-decode"},         {"vae_tile_size", "--vae-tile-size"},
      {"num_images", "--batch-size"},
  };
  if (field.rfind("loras", 0) == 0) return "--lora";
  auto it = flags.find(field);
  return it == flags.end() ? field : it->second;
}

// A refusal as one line naming the flag: "--steps must be between 1 and 150, got 0".
std::string flag_message(const sd::pipeline::RequestError& e) {
  const std::string flag = flag_of(e.field());
  if (flag == "--lora") return "--lora: " + std::string(e.what());
  return flag + " " + e.detail();
}

// "-1" (random) or 0..2^64-1.
std::optional<uint64_t> parse_seed(const std::string& text) {
  if (text == "-1") return sd::pipeline::pick_random_seed();
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
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
  // Names and the seed are checked before the (slow) load; values against the model after it.
  std::optional<sd::pipeline::SamplerChoice> sampler_choice;
  if (o.sampler) {
    sampler_choice = sd::pipeline::parse_sampler(*o.sampler);
    if (!sampler_choice) return usage_error("--sampler: unknown sampler \"" + *o.sampler + "\" (see --help)");
  }
  std::optional<sd::pipeline::Schedule> schedule_choice;
  if (o.schedule) {
    schedule_choice = sd::pipeline::parse_schedule(*o.schedule);
    if (!schedule_choice) return usage_error("--schedule: unknown schedule \"" + *o.schedule + "\" (see --help)");
  }
  if (sampler_choice && !sd::pipeline::choose_schedule(*sampler_choice, schedule_choice))
    return usage_error("--schedule " + *o.schedule + " contradicts --sampler \"" + *o.sampler + "\"");
  const std::optional<uint64_t> seed_value = o.seed ? parse_seed(*o.seed) : sd::pipeline::pick_random_seed();
  if (!seed_value) return usage_error("--seed must be -1 (random) or an integer 0..18446744073709551615, got " + *o.seed);
  std::vector<std::string> prompts;
  try {
    prompts = o.prompt_file.empty() ? std::vector<std::string>{req.prompt} : sd::apps::read_prompt_file(o.prompt_file);
  } catch (const sd::Error& e) {
    return usage_error(e.what());
  }
  const int image_count = int(prompts.size()) * o.batch_count * req.batch_size;
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
  for (const auto& p : prompts) {
    try {
      sd::pipeline::loras_with_tags(req.loras, sd::pipeline::extract_lora_tags(p), o.load.lora_dirs);
    } catch (const sd::Error& e) {
      return usage_error(std::string(o.prompt_file.empty() ? "--prompt: " : "--prompt-file: ") + e.what());
    }
  }
  try {
    o.load.device = sd::Device::parse(o.device);
  } catch (const sd::Error& e) {
    return usage_error("--device: " + std::string(e.what()));
  }
  try {
    sd::pipeline::describe_device(o.load.device);
  } catch (const sd::Error& e) {
    std::fprintf(stderr, "sd-generate: %s\n", e.what());
    return kRunError;
  }
  // One run makes its images and ends: a warm-up image at load would cost a whole step and
  // a decode to save part of the first step (SD1.5 512 bf16: +5.4 s on a 12.6 s run).
  o.load.warm_up = false;
  o.load.max_memory = o.max_memory;
  if (o.dtype == "f16" && o.load.device.is_cpu())
    return usage_error("--dtype f16: the CPU backend computes in f32 or bf16 (f16 is for --device cuda)");
  if (o.dtype == "bf16") o.load.dtype = sd::DType::BF16;
  else if (o.dtype == "f32") o.load.dtype = sd::DType::F32;
  else if (o.dtype == "f16") o.load.dtype = sd::DType::F16;
  else o.load.dtype = sd::pipeline::default_dtype(o.load);

  if (!o.init_image.empty()) {
    try {
      req.init_image = sd::io::read_image_file(o.init_image);
      if (!o.mask_image.empty()) req.mask_image = sd::io::read_image_file(o.mask_image, 1);
    } catch (const sd::Error& e) {
      return usage_error(e.what());
    }
    req.operation = o.mask_image.empty() ? sd::pipeline::Operation::Img2Img : sd::pipeline::Operation::Inpaint;
    req.strength = o.strength.value_or(sd::pipeline::default_strength(req.operation));
  }

  // The request from the flags and a model's defaults and limits.
  auto fill_request = [&](const sd::pipeline::ModelInfo& info) {
    req.steps = o.steps.value_or(info.default_steps);
    req.guidance_scale = o.guidance.value_or(info.default_guidance);
    // img2img keeps the input's size unless told otherwise.
    req.width = o.width.value_or(
        req.init_image ? sd::pipeline::size_from_input_image(req.init_image->width, info.limits) : info.native_width);
    req.height = o.height.value_or(
        req.init_image ? sd::pipeline::size_from_input_image(req.init_image->height, info.limits) : info.native_height);
    const sd::pipeline::SamplerChoice chosen =
        sampler_choice.value_or(sd::pipeline::SamplerChoice{info.default_sampler, {}});
    req.sampler = chosen.sampler;
    req.schedule = *sd::pipeline::choose_schedule(chosen, schedule_choice);
  };
  req.clip_skip = o.clip_skip.value_or(1);
  req.rng = *sd::pipeline::parse_noise_source(o.rng);
  req.seed = *seed_value;
  std::string preview_name = o.preview_name;
  if (preview_name.empty()) preview_name = o.load.taesd_path.empty() ? "latent" : "taesd";
  req.preview = o.preview_dir.empty() ? sd::pipeline::PreviewMode::None : *sd::pipeline::parse_preview_mode(preview_name);
  req.decoder = o.fast_decode ? sd::pipeline::FinalDecoder::Taesd : sd::pipeline::FinalDecoder::Vae;
  req.keep_latents = !o.save_latents.empty();
  // Checked against the contract's own limits before the (slow) load, then against the
  // loaded model's (which may be narrower: clip_skip, the size multiple) after it.
  try {
    sd::pipeline::ModelInfo before_load;
    before_load.decoders = {"vae", "taesd"};  // --fast-decode already needs --taesd
    fill_request(before_load);
    for (const auto& p : prompts) {
      req.prompt = p;
      sd::pipeline::check_request(req, before_load);
    }
  } catch (const sd::pipeline::RequestError& e) {
    return usage_error(flag_message(e));
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
                 info.checkpoint_name + ", " + info.version + ", " +
                     std::string(sd::dtype_name(info.dtype)));
  fill_request(info);
  try {
    for (const auto& p : prompts) {
      req.prompt = p;
      pipe->validate(req);
    }
  } catch (const sd::pipeline::RequestError& e) {
    return usage_error(flag_message(e));
  } catch (const sd::Error& e) {
    return usage_error(e.what());
  }
  // Within the memory given, as the worker admits its jobs: a batch image by image, the
  // VAE in tiles. A job that fits in no way still runs in its leanest form: the estimate
  // is conservative, and the person asked for this one image.
  const bool tiles_asked = req.vae_tiling;
  const int tile_asked = req.vae_tile_size;
  try {
    sd::pipeline::admit_job_memory(req, info, sd::pipeline::memory_available_to_process(o.max_memory));
  } catch (const sd::pipeline::MemoryRefused& e) {
    std::fprintf(stderr, "sd-generate: warning: %s; running it in its leanest form\n", e.what());
  }
  if (req.vae_tiling && (!tiles_asked || req.vae_tile_size != tile_asked))
    std::fprintf(stderr, "sd-generate: the VAE runs in %d px tiles: the whole decode would not fit in the memory given\n",
                 req.vae_tile_size > 0 ? req.vae_tile_size : info.memory.vae_tile_pixels);
  if (info.text_encoders_streamed)
    std::fprintf(stderr, "sd-generate: the text encoders read their layers from the files as they run: the whole "
                         "model would not fit in the memory given\n");

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
      for (int k = 0; k < o.batch_count; ++k) {
        req.prompt = p;
        req.seed = *seed_value + uint64_t(k) * uint64_t(req.batch_size);
        progress.start_steps(image_count > 1 ? "[" + std::to_string(index + 1) + "/" + std::to_string(image_count) + "]"
                                             : "");
        cb.on_image = [&](int, const sd::pipeline::GenerationResult& result) {
          progress.image_phases(result.timings, req.steps);
          const auto t_save = Clock::now();
          const auto bytes = sd::io::encode_image(result.image, plan->format(), plan->quality(), result.parameters);
          const std::string path = plan->write(index++, result.seed, bytes);
          if (!o.save_latents.empty())
            sd::io::write_safetensors(o.save_latents, {{"text_embeddings", result.text_embeddings},
                                                       {"latents", result.final_latents}},
                                      {{"parameters", result.parameters}});
          progress.phase("save", seconds_since(t_save),
                         path + " (" + std::to_string(result.image.width) + "x" +
                             std::to_string(result.image.height) + ", seed " + std::to_string(result.seed) + ")");
        };
        pipe->generate_batch(req, cb);
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
