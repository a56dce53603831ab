#include "options.h"

#include "pipeline/noise_source.h"
#include "pipeline/sampler_names.h"

namespace sd::apps {

namespace {

// The names --sampler and --schedule take, from the pipeline's one name table.
std::string sampler_help() {
  std::string s = "sampler (default: the model's): ";
  bool first = true;
  for (const auto& row : pipeline::sampler_names_table()) {
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
  for (const auto& row : pipeline::schedule_names_table()) {
    s += std::string(first ? "" : ", ") + row.id + " (\"" + row.display_name + "\")";
    first = false;
  }
  return s + "; default keeps the model's scheduler config";
}

void add_model_options(CLI::App& app, Options& o) {
  const char* g = "Model";
  app.add_option("--model-path", o.load.model_path,
                 "local diffusers folder or single-file .safetensors checkpoint (never downloaded)")
      ->group(g);
  app.add_option("--model", o.load.model,
                 "a local path, a version (v1-5, xl, ...) or a Hugging Face repo id; fetched into the Hub cache")
      ->group(g);
  app.add_option("--sd-version", o.load.sd_version,
                 "v1-5, v1-5-inpaint, v2-1, v2-inpaint, sd-turbo, xl, xl-inpaint or turbo (default: detected); "
                 "alone, downloads that version")
      ->group(g);
  app.add_option("--config,--config-dir", o.load.config_dir,
                 "diffusers folder whose configs, tokenizer and scheduler a single-file checkpoint uses "
                 "(default: built in for its version)")
      ->group(g);
  app.add_option("--vae", o.load.vae_path,
                 "VAE replacing the model's own: a diffusers VAE folder or a .safetensors file (LDM or diffusers "
                 "names, e.g. vae-ft-mse-840000-ema-pruned.safetensors)")
      ->check(CLI::ExistingPath)
      ->group(g);
  app.add_option("--tokenizer-dir", o.load.tokenizer_dir,
                 "folder with the CLIP vocab.json and merges.txt (default: the model's tokenizer/, "
                 "else the vocabulary built in)")
      ->group(g);
  app.add_option("--embeddings-dir", o.load.embeddings_dir,
                 "folder of textual-inversion embeddings (.safetensors) the prompts may use by file name")
      ->check(CLI::ExistingDirectory)
      ->group(g);
  app.add_option("--lora-dir", o.load.lora_dirs,
                 "folder the prompt's <lora:NAME:WEIGHT> tags name LoRA files in (repeatable)")
      ->check(CLI::ExistingDirectory)
      ->group(g);
  app.add_option("--lora", o.lora_args,
                 "LoRA to merge for these images: PATH or PATH:STRENGTH (-10..10, default 1); repeatable")
      ->allow_extra_args(false)
      ->group(g);
  app.add_option("--taesd", o.load.taesd_path,
                 "TAESD for previews and --fast-decode: a diffusers AutoencoderTiny folder or a "
                 "taesd_decoder .safetensors")
      ->check(CLI::ExistingPath)
      ->group(g);
}

void add_prompt_options(CLI::App& app, Options& o) {
  const char* g = "Prompt";
  auto* prompt = app.add_option("--prompt", o.req.prompt, "what to draw")->group(g);
  auto* file = app.add_option("--prompt-file", o.prompt_file,
                              "a text file with one prompt per line (empty lines skipped): one job per line, "
                              "after one model load")
                   ->check(CLI::ExistingFile)
                   ->group(g);
  prompt->excludes(file);
  app.add_option("--negative-prompt", o.req.negative_prompt, "what to avoid")->group(g);
  app.add_option("--init-image", o.init_image, "PNG/JPEG to start from (img2img; inpainting with --mask-image)")
      ->check(CLI::ExistingFile)
      ->group(g);
  app.add_option("--mask-image", o.mask_image, "PNG/JPEG mask for inpainting: white = repaint")
      ->check(CLI::ExistingFile)
      ->needs("--init-image")
      ->group(g);
  app.add_option("--strength", o.strength, "img2img/inpainting denoising strength (default 0.8; inpaint 1)")
      ->needs("--init-image")
      ->group(g);
}

void add_sampling_options(CLI::App& app, Options& o) {
  const char* g = "Sampling";
  app.add_option("--steps", o.steps, "denoising steps (default: the model's)")->group(g);
  app.add_option("--guidance", o.guidance, "classifier-free guidance scale (default: the model's)")->group(g);
  app.add_option("--seed", o.seed,
                 "seed, 0..18446744073709551615; -1 or none: a random 32-bit seed (printed and saved)")->group(g);
  app.add_option("--batch-count", o.batch_count,
                 "images per prompt, one after another on the loaded model, with seeds seed, seed+1, ...")
      ->check(CLI::Range(1, 100))
      ->capture_default_str()
      ->group(g);
  app.add_option("--batch-size", o.req.batch_size,
                 "images in one batch through the networks, from seeds seed, seed+1, ... (a batch too large for "
                 "memory runs image by image); --batch-count batches follow with the next seeds")
      ->capture_default_str()
      ->group(g);
  o.rng = pipeline::noise_source_name(o.req.rng);
  app.add_option("--rng", o.rng, "noise the seed selects: cpu (torch CPU, diffusers) or gpu (torch CUDA, A1111/ComfyUI)")
      ->check(CLI::IsMember(pipeline::noise_source_names()))
      ->capture_default_str()
      ->group(g);
  app.add_option("--width", o.width, "image width, a multiple of 8 (default: the model's native size)")
      ->group(g);
  app.add_option("--height", o.height, "image height, a multiple of 8 (default: the model's native size)")
      ->group(g);
  app.add_option("--sampler", o.sampler, sampler_help())->group(g);
  app.add_option("--schedule", o.schedule, schedule_help())->group(g);
  app.add_option("--clip-skip", o.clip_skip, "text encoder layers to skip from the end, 1 = none (default 1)")
      ->group(g);
}

void add_output_options(CLI::App& app, Options& o) {
  const char* g = "Output";
  auto* output = app.add_option("--output,-o", o.output,
                                "image file to write (.png, .jpg/.jpeg or .webp); several images are named "
                                "<stem>-1.<ext>, <stem>-2.<ext>, ...")
                     ->group(g);
  auto* dir = app.add_option("--output-dir", o.output_dir,
                             "folder to write numbered images into, as A1111 does: 00001-<seed>.png, ...; "
                             "never overwrites (created when missing)")
                  ->group(g);
  output->excludes(dir);
  app.add_option("--format", o.format, "png, jpeg or webp (default: from --output's extension, else png)")
      ->check(CLI::IsMember({"png", "jpeg", "jpg", "webp"}, CLI::ignore_case))
      ->group(g);
  app.add_option("--quality", o.quality, "JPEG/WebP quality, 1..100 (default 80, A1111's)")
      ->check(CLI::Range(1, 100))
      ->group(g);
  app.add_option("--save-latents", o.save_latents,
                 "also write the text embeddings and final latents to this .safetensors file (one image only)")
      ->group(g);
  auto* preview_to = app.add_option("--preview-dir", o.preview_dir,
                                    "write previews of the denoising here as preview-<step>.png (no previews without)")
                         ->group(g);
  app.add_option("--preview", o.preview_name, "preview kind: none, latent, taesd (default: taesd with --taesd, else latent)")
      ->check(CLI::IsMember({"none", "latent", "taesd"}))
      ->needs(preview_to)
      ->group(g);
  app.add_option("--preview-every", o.req.preview_every, "steps between previews (0: the last step only, which always gets one)")
      ->needs(preview_to)
      ->capture_default_str()
      ->group(g);
  app.add_flag("--verbose,-v", o.verbose, "also print the engine's log (loading details, memory)")->group(g);
}

void add_performance_options(CLI::App& app, Options& o) {
  const char* g = "Performance";
  app.add_option("--dtype", o.dtype, "compute dtype: auto (f16 on a GPU; on the CPU bf16 where it computes bf16 faster than f32 or the model would not fit in memory in f32, else f32), f32, bf16, f16 (GPU)")
      ->check(CLI::IsMember({"auto", "f32", "bf16", "f16"}))
      ->capture_default_str()
      ->group(g);
  app.add_option("--device", o.device, "where the model runs: cpu, cuda or cuda:N (auto dtype there: f16)")
      ->capture_default_str()
      ->group(g);
  app.add_option("--threads", o.load.threads, "CPU threads (default: all cores)")->check(CLI::Range(0, 1024))->group(g);
  auto* taesd = app.get_option("--taesd");
  app.add_flag("--fast-decode", o.fast_decode, "decode the final image with TAESD instead of the VAE (faster, rougher)")
      ->needs(taesd)
      ->group(g);
  auto* tiling = app.add_flag("--vae-tiling", o.req.vae_tiling,
                              "VAE decode and encode in overlapping tiles (diffusers' enable_vae_tiling): "
                              "bounded memory for large images")
                     ->group(g);
  app.add_option("--vae-tile-size", o.req.vae_tile_size,
                 "tile edge in image pixels for --vae-tiling (default: the VAE's sample_size, 512 for SD1.5)")
      ->needs(tiling)
      ->group(g);
  app.add_option("--max-memory", o.max_memory,
                 "memory the process may grow to (bytes, or with a unit: 6GB, 512MiB); a job that would need more "
                 "runs image by image or with the VAE in tiles, as the worker's, and a model that would not fit with "
                 "its text encoders kept reads their layers from its files as they run. Default: the cgroup's limit "
                 "or the system's available memory")
      ->transform(CLI::AsSizeValue(false))
      ->group(g);
}

}  // namespace

void add_options(CLI::App& app, Options& o) {
  add_model_options(app, o);
  add_prompt_options(app, o);
  add_sampling_options(app, o);
  add_output_options(app, o);
  add_performance_options(app, o);
}

}  // namespace sd::apps
