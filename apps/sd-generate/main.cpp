// sd-generate: one image from the command line, with the same engine the worker uses.
#include <CLI/CLI.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "core/error.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "loaders/model_source.h"
#include "pipeline/pipeline.h"
#include "pipeline/noise_source.h"
#include "pipeline/preview_decoder.h"
#include "pipeline/request_check.h"
#include "pipeline/sampler_names.h"

namespace {

constexpr int kUsageError = 2;

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "sd-generate: %s\n", msg.c_str());
  return kUsageError;
}

// A one-line progress bar redrawn in place on stderr.
void draw_progress(int step, int total, double seconds) {
  const int width = 30;
  int filled = total > 0 ? step * width / total : width;
  std::string bar(size_t(filled), '#');
  bar.resize(size_t(width), ' ');
  std::fprintf(stderr, "\r[%s] %d/%d  %.1fs", bar.c_str(), step, total, seconds);
  if (step == total) std::fputc('\n', stderr);
  std::fflush(stderr);
}

// The flag a request field comes from, for the pipeline's refusals.
std::string flag_of(const std::string& field) {
  static const std::map<std::string, std::string> flags = {
      {"prompt", "--prompt"},           {"negative_prompt", "--negative-prompt"}, {"steps", "--steps"},
      {"guidance_scale", "--guidance"}, {"sampler", "--sampler"},                 {"schedule", "--schedule"},
      {"strength", "--strength"},       {"clip_skip", "--clip-skip"},             {"width", "--width"},
      {"height", "--height"},           {"input_image", "--init-image"},          {"mask_image", "--mask-image"},
      {"preview_every", "--preview-every"}, {"decoder", "--fast-decode"},         {"vae_tile_size", "--vae-tile-size"},
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

// The names --sampler and --schedule take, for --help.
std::string sampler_help() {
  std::string s = "sampler (default: the model's): ";
  bool first = true;
  for (const auto& row : sd::pipeline::sampler_names_table()) {
    s += std::string(first ? "" : ", ") + row.id + " (\"" + row.display_name + "\"";
    for (const char* a : row.aliases) s += std::string(", ") + a;
    s += ")";
    first = false;
  }
  return s + "; any case; A1111's \"<name> Karras\"/\"<name> Exponential\" set the schedule too";
}

std::string schedule_help() {
  std::string s = "noise schedule: ";
  bool first = true;
  for (const auto& row : sd::pipeline::schedule_names_table()) {
    s += std::string(first ? "" : ", ") + row.id + " (\"" + row.display_name + "\")";
    first = false;
  }
  return s + "; default keeps the model's scheduler config";
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
  CLI::App app{"Generate one image with Stable Diffusion."};
  app.set_version_flag("--version", "sd-generate 0.1.0");

  sd::pipeline::LoadOptions load;
  std::string dtype = "auto";
  std::string output, save_latents;
  GenerationRequest req;
  std::optional<int> steps, width, height, clip_skip;
  std::optional<float> guidance;
  std::optional<std::string> seed, sampler, schedule;

  app.add_option("--model-path", load.model_path,
                 "local diffusers folder or single-file .safetensors checkpoint (never downloaded)");
  app.add_option("--model", load.model,
                 "a local path, a version (v1-5, xl, ...) or a Hugging Face repo id; fetched into the Hub cache");
  app.add_option("--sd-version", load.sd_version,
                 "v1-5, v1-5-inpaint, v2-1, v2-inpaint, sd-turbo, xl, xl-inpaint or turbo (default: detected); "
                 "alone, downloads that version");
  app.add_option("--config,--config-dir", load.config_dir,
                 "diffusers folder whose configs, tokenizer and scheduler a single-file checkpoint uses "
                 "(default: built in for its version)");
  app.add_option("--tokenizer-dir", load.tokenizer_dir,
                 "folder with the CLIP vocab.json and merges.txt (default: the model's tokenizer/; "
                 "required for a single-file checkpoint without --config)");
  app.add_option("--prompt", req.prompt, "what to draw")->required();
  app.add_option("--negative-prompt", req.negative_prompt, "what to avoid");
  app.add_option("--steps", steps, "denoising steps (model default)");
  app.add_option("--guidance", guidance, "classifier-free guidance scale (model default)");
  app.add_option("--seed", seed, "seed, 0..18446744073709551615; -1 or none: a random 32-bit seed, printed");
  std::string rng = sd::pipeline::noise_source_name(req.rng);
  app.add_option("--rng", rng, "noise the seed selects: cpu (torch CPU, diffusers) or gpu (torch CUDA, A1111/ComfyUI)")
      ->check(CLI::IsMember(sd::pipeline::noise_source_names()));
  app.add_option("--width", width, "image width, a multiple of 8 (model native size)");
  app.add_option("--height", height, "image height, a multiple of 8 (model native size)");
  app.add_option("--sampler", sampler, sampler_help());
  app.add_option("--schedule", schedule, schedule_help());
  app.add_option("--clip-skip", clip_skip, "text encoder layers to skip from the end, 1 = none");
  app.add_option("--dtype", dtype, "compute dtype: auto, f32, bf16")
      ->check(CLI::IsMember({"auto", "f32", "bf16"}));
  app.add_option("--threads", load.threads, "CPU threads (default: all cores)")->check(CLI::Range(0, 1024));
  std::string init_image, mask_image;
  app.add_option("--init-image", init_image, "PNG/JPEG to start from (img2img; inpainting with --mask-image)")
      ->check(CLI::ExistingFile);
  app.add_option("--mask-image", mask_image, "PNG/JPEG mask for inpainting: white = repaint")
      ->check(CLI::ExistingFile)
      ->needs("--init-image");
  std::optional<double> strength;
  app.add_option("--strength", strength, "img2img/inpainting denoising strength (default 0.8; inpaint 1)")
      ->needs("--init-image");
  std::vector<std::string> lora_args;
  app.add_option("--lora", lora_args,
                 "LoRA to merge for this image: PATH or PATH:STRENGTH (-10..10, default 1); repeatable")
      ->allow_extra_args(false);
  app.add_option("--save-latents", save_latents,
                 "also write the text embeddings and final latents to this .safetensors file");
  std::string preview_name, preview_dir;
  bool fast_decode = false;
  auto* taesd = app.add_option("--taesd", load.taesd_path,
                               "TAESD for previews and --fast-decode: a diffusers AutoencoderTiny folder or a "
                               "taesd_decoder .safetensors")
                    ->check(CLI::ExistingPath);
  auto* preview_to = app.add_option("--preview-dir", preview_dir,
                                    "write previews of the denoising here as preview-<step>.png (no previews without)");
  app.add_option("--preview", preview_name,
                 "preview kind: none, latent, taesd (default: taesd with --taesd, else latent)")
      ->check(CLI::IsMember({"none", "latent", "taesd"}))
      ->needs(preview_to);
  app.add_option("--preview-every", req.preview_every,
                 "steps between previews (default 5; 0: the last step only, which always gets one)")
      ->needs(preview_to);
  app.add_flag("--fast-decode", fast_decode, "decode the final image with TAESD instead of the VAE (faster, rougher)")
      ->needs(taesd);
  auto* tiling = app.add_flag("--vae-tiling", req.vae_tiling,
                              "VAE decode and encode in overlapping tiles (diffusers' enable_vae_tiling): "
                              "bounded memory for large images");
  app.add_option("--vae-tile-size", req.vae_tile_size,
                 "tile edge in image pixels for --vae-tiling (default: the VAE's sample_size, 512 for SD1.5)")
      ->needs(tiling);
  app.add_option("--output", output, "PNG file to write")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(e.what());
  }

  // Names and the seed are checked before the (slow) load; values against the model after it.
  std::optional<sd::pipeline::SamplerChoice> sampler_choice;
  if (sampler) {
    sampler_choice = sd::pipeline::parse_sampler(*sampler);
    if (!sampler_choice) return usage_error("--sampler: unknown sampler \"" + *sampler + "\" (see --help)");
  }
  std::optional<sd::pipeline::Schedule> schedule_choice;
  if (schedule) {
    schedule_choice = sd::pipeline::parse_schedule(*schedule);
    if (!schedule_choice) return usage_error("--schedule: unknown schedule \"" + *schedule + "\" (see --help)");
  }
  if (sampler_choice && !sd::pipeline::choose_schedule(*sampler_choice, schedule_choice))
    return usage_error("--schedule " + *schedule + " contradicts --sampler \"" + *sampler + "\"");
  const std::optional<uint64_t> seed_value = seed ? parse_seed(*seed) : sd::pipeline::pick_random_seed();
  if (!seed_value) return usage_error("--seed must be -1 (random) or an integer 0..18446744073709551615, got " + *seed);
  try {
    sd::pipeline::resolve_model_source(load);
  } catch (const sd::Error& e) {
    return usage_error(e.what());
  }
  const auto out_dir = std::filesystem::path(output).parent_path();
  if (!out_dir.empty() && !std::filesystem::is_directory(out_dir))
    return usage_error("--output: directory does not exist: " + out_dir.string());
  if (!preview_dir.empty() && !std::filesystem::is_directory(preview_dir))
    return usage_error("--preview-dir: directory does not exist: " + preview_dir);
  if (preview_name == "taesd" && load.taesd_path.empty()) return usage_error("--preview taesd needs --taesd");
  for (const auto& arg : lora_args) {
    sd::pipeline::LoraSpec spec;
    if (auto bad = parse_lora(arg, spec)) return usage_error(*bad);
    req.loras.push_back(spec);
  }
  if (dtype == "bf16") load.dtype = sd::DType::BF16;
  else if (dtype == "f32") load.dtype = sd::DType::F32;
  else load.dtype = sd::pipeline::default_cpu_dtype();

  if (!init_image.empty()) {
    try {
      req.init_image = sd::io::read_image_file(init_image);
      if (!mask_image.empty()) req.mask_image = sd::io::read_image_file(mask_image, 1);
    } catch (const sd::Error& e) {
      return usage_error(e.what());
    }
    req.operation = mask_image.empty() ? sd::pipeline::Operation::Img2Img : sd::pipeline::Operation::Inpaint;
    req.strength = strength.value_or(sd::pipeline::default_strength(req.operation));
  }

  // The request from the flags and a model's defaults and limits.
  auto fill_request = [&](const sd::pipeline::ModelInfo& info) {
    req.steps = steps.value_or(info.default_steps);
    req.guidance_scale = guidance.value_or(info.default_guidance);
    // img2img keeps the input's size unless told otherwise.
    req.width = width.value_or(req.init_image ? sd::pipeline::size_from_input_image(req.init_image->width, info.limits)
                                              : info.native_width);
    req.height = height.value_or(
        req.init_image ? sd::pipeline::size_from_input_image(req.init_image->height, info.limits) : info.native_height);
    const sd::pipeline::SamplerChoice chosen =
        sampler_choice.value_or(sd::pipeline::SamplerChoice{info.default_sampler, {}});
    req.sampler = chosen.sampler;
    req.schedule = *sd::pipeline::choose_schedule(chosen, schedule_choice);
  };
  req.clip_skip = clip_skip.value_or(1);
  req.rng = *sd::pipeline::parse_noise_source(rng);
  req.seed = *seed_value;
  if (preview_name.empty()) preview_name = load.taesd_path.empty() ? "latent" : "taesd";
  req.preview = preview_dir.empty() ? sd::pipeline::PreviewMode::None : *sd::pipeline::parse_preview_mode(preview_name);
  req.decoder = fast_decode ? sd::pipeline::FinalDecoder::Taesd : sd::pipeline::FinalDecoder::Vae;
  req.keep_latents = !save_latents.empty();
  // Checked against the contract's own limits before the (slow) load, then against the
  // loaded model's (which may be narrower: clip_skip, the size multiple) after it.
  try {
    sd::pipeline::ModelInfo before_load;
    before_load.decoders = {"vae", "taesd"};  // --fast-decode already needs --taesd
    fill_request(before_load);
    sd::pipeline::check_request(req, before_load);
  } catch (const sd::pipeline::RequestError& e) {
    return usage_error(flag_message(e));
  }

  std::unique_ptr<sd::pipeline::Pipeline> pipe;
  try {
    pipe = sd::pipeline::Pipeline::load(load);
  } catch (const sd::Error& e) {
    return usage_error(e.what());
  }
  fill_request(pipe->info());
  try {
    pipe->validate(req);
  } catch (const sd::pipeline::RequestError& e) {
    return usage_error(flag_message(e));
  }

  const auto t0 = std::chrono::steady_clock::now();
  sd::pipeline::GenerationCallbacks cb;
  cb.on_progress = [&](int step, int total) {
    draw_progress(step, total, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  };
  cb.on_preview = [&](int step, int, const sd::io::Image& preview) {
    char name[32];
    std::snprintf(name, sizeof name, "preview-%03d.png", step);
    sd::io::write_png_file((std::filesystem::path(preview_dir) / name).string(), preview);
  };
  try {
    auto result = pipe->generate(req, cb);
    sd::io::write_png_file(output, result.image, {{"parameters", result.parameters}});
    if (!save_latents.empty())
      sd::io::write_safetensors(save_latents, {{"text_embeddings", result.text_embeddings},
                                               {"latents", result.final_latents}},
                                {{"parameters", result.parameters}});
    std::fprintf(stderr, "wrote %s (%dx%d, seed %llu, %.1fs)\n", output.c_str(), result.image.width,
                 result.image.height, static_cast<unsigned long long>(result.seed),
                 result.timings.count("total") ? result.timings.at("total") : 0.0);
  } catch (const sd::Error& e) {
    std::fprintf(stderr, "sd-generate: %s\n", e.what());
    return 1;
  }
  return 0;
}
