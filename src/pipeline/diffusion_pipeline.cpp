// The Pipeline implementation: text conditioning, the denoising loop with classifier-free
// guidance as one batch of 2 (uncond first), and the VAE decode, with diffusers'
// arithmetic at every step so a seed gives diffusers' image.
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/log.h"
#include "models/lora_merge.h"
#include "ops/ops.h"
#include "pipeline/image_convert.h"
#include "pipeline/model_set.h"
#include "pipeline/parameters_text.h"
#include "pipeline/pipeline.h"
#include "pipeline/preview_decoder.h"
#include "pipeline/text_conditioning.h"
#include "sampling/scheduler_factory.h"
#include "sampling/torch_cpu_generator.h"

namespace sd::pipeline {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// noise_pred = uncond + g * (cond - uncond), on the two rows of a batch-2 output.
Tensor guide(const Tensor& eps, float g) {
  const Tensor e = eps.contiguous();
  const int64_t n = e.numel() / 2;
  Shape s = e.shape();
  s[0] = 1;
  Tensor out = Tensor::empty(s, DType::F32);
  const float* u = e.data<float>();
  const float* c = u + n;
  float* o = out.data<float>();
  for (int64_t i = 0; i < n; ++i) o[i] = u[i] + g * (c[i] - u[i]);
  return out;
}

class DiffusionPipeline : public Pipeline {
 public:
  explicit DiffusionPipeline(ModelSet m, const LoadOptions& opt)
      : m_(std::move(m)),
        preview_(m_.version.family, opt.taesd_path, opt.dtype, m_.unet->config().out_channels,
                 m_.vae->scale_factor()) {
    const auto& uc = m_.unet->config();
    const int native = uc.sample_size * m_.vae->scale_factor();
    info_.version = m_.version.name;
    info_.model_path = m_.source;
    info_.dtype = opt.dtype;
    info_.native_width = info_.native_height = native;
    info_.default_steps = m_.version.steps;
    info_.default_guidance = m_.version.guidance;
    info_.default_sampler = m_.version.sampler;
    info_.max_clip_skip = m_.text_encoder->config().num_hidden_layers - (m_.version.family == Family::SDXL ? 1 : 0);
    info_.inpaint_model = uc.in_channels == 9;
    info_.samplers = sampling::sampler_names();
    info_.schedules = sampling::schedule_names();
    info_.preview_modes = preview_.preview_modes();
    info_.decoders = preview_.decoders();
  }

  const ModelInfo& info() const override { return info_; }

  GenerationResult generate(const GenerationRequest& req, const GenerationCallbacks& cb) override {
    const auto t_start = Clock::now();
    validate(req);
    if (req.operation != Operation::Txt2Img)
      throw Error("this model set runs text-to-image only; img2img and inpainting are not available yet");
    auto scheduler = sampling::make_scheduler(req.sampler, req.schedule, m_.scheduler);
    GenerationResult result;
    result.seed = req.seed;

    auto t = Clock::now();
    // Merged for this job only: the patch puts the original weights back when generate()
    // returns or throws.
    const models::LoraPatch loras = apply_loras(req.loras);
    if (!req.loras.empty()) result.timings["lora"] = seconds_since(t);

    const bool cfg = req.guidance_scale > 1.0f;
    t = Clock::now();
    Conditioning cond = encode_prompts(m_, req.prompt, req.negative_prompt, req.clip_skip, cfg);
    result.timings["text_encoder"] = seconds_since(t);

    const int f = m_.vae->scale_factor();
    const Shape latent_shape{1, m_.unet->config().out_channels, req.height / f, req.width / f};
    sampling::TorchCpuGenerator gen(req.seed);
    scheduler->set_timesteps(req.steps);
    Tensor latents = ops::scale(gen.randn(latent_shape), scheduler->init_noise_sigma());

    t = Clock::now();
    latents = denoise(*scheduler, latents, 0, cond, req, gen, cb);
    result.timings["denoise"] = seconds_since(t);

    t = Clock::now();
    if (req.decoder == FinalDecoder::Taesd) {
      result.image = preview_.decode(latents);
      result.timings["taesd_decode"] = seconds_since(t);
    } else {
      Tensor decoded = m_.vae->decode(ops::scale(latents, 1.0f / m_.vae->scaling_factor()));
      result.image = tensor_to_image(decoded);
      result.timings["vae_decode"] = seconds_since(t);
    }

    result.parameters = parameters_text(req, m_.version.name);
    if (req.keep_latents) {
      result.text_embeddings = cond.context;
      result.final_latents = latents;
    }
    result.timings["total"] = seconds_since(t_start);
    return result;
  }

 private:
  void validate(const GenerationRequest& req) const {
    const int f = m_.vae->scale_factor();
    for (auto [name, v] : {std::pair{"width", req.width}, std::pair{"height", req.height}})
      if (v < 8 || v % 8 != 0 || v % f != 0)
        throw Error(std::string(name) + " must be a positive multiple of 8, got " + std::to_string(v));
    if (req.steps < 1) throw Error("steps must be at least 1, got " + std::to_string(req.steps));
    if (req.prompt.empty()) throw Error("prompt must not be empty");
    if (req.decoder == FinalDecoder::Taesd && !preview_.has_taesd())
      throw Error("decoder \"taesd\" needs TAESD weights, and none were loaded (--taesd)");
    if (req.clip_skip < 1 || req.clip_skip > info_.max_clip_skip)
      throw Error("clip_skip must be 1.." + std::to_string(info_.max_clip_skip) + ", got " +
                  std::to_string(req.clip_skip));
  }

  // Runs steps [first, num_steps) from `latents`, reporting progress and previews and
  // stopping with sd::Cancelled between steps when asked.
  Tensor denoise(sampling::Scheduler& sched, Tensor latents, int first, const Conditioning& cond,
                 const GenerationRequest& req, sampling::NoiseGenerator& gen, const GenerationCallbacks& cb) {
    const bool cfg = cond.context.size(0) == 2;
    models::UNetAddedCond added;
    const bool xl = m_.unet->config().text_time_embedding;
    if (xl) {
      added.text_embeds = cond.pooled;
      const int64_t rows = cond.context.size(0);
      std::vector<float> ids;
      for (int64_t r = 0; r < rows; ++r)
        for (int v : {req.height, req.width, 0, 0, req.height, req.width}) ids.push_back(float(v));
      added.time_ids = Tensor::from_floats(ids, {rows, 6});
    }
    const int total = sched.num_steps() - first;
    for (int i = first; i < sched.num_steps(); ++i) {
      if (cb.should_cancel && cb.should_cancel()) throw Cancelled();
      Tensor x_in = sched.scale_model_input(latents, i);
      if (cfg) x_in = ops::concat({x_in, x_in}, 0);
      Tensor eps = m_.unet->forward(x_in, {sched.timesteps()[size_t(i)]}, cond.context, xl ? &added : nullptr);
      if (cfg) eps = guide(eps, req.guidance_scale);
      sampling::StepResult r = sched.step(eps, i, latents, gen);
      latents = r.prev_sample;
      const int step = i - first + 1;
      if (cb.on_progress) cb.on_progress(step, total);
      const bool preview_due =
          req.preview != PreviewMode::None && cb.on_preview &&
          (step == total || (req.preview_every > 0 && step % req.preview_every == 0));
      if (preview_due)
        cb.on_preview(step, total, preview_.preview(r.denoised.defined() ? r.denoised : latents, req.preview));
    }
    return latents;
  }

  models::LoraPatch apply_loras(const std::vector<LoraSpec>& specs) {
    if (specs.empty()) return {};
    if (!lora_targets_)
      lora_targets_ = std::make_unique<models::LoraTargets>(m_.unet.get(), m_.text_encoder.get(),
                                                            m_.text_encoder_2.get());
    std::vector<models::LoraUse> uses;
    for (const LoraSpec& s : specs) uses.push_back({lora_files_.get(s.path), s.strength});
    return models::LoraPatch(*lora_targets_, uses);
  }

  ModelSet m_;
  PreviewDecoder preview_;
  ModelInfo info_;
  models::LoraFileCache lora_files_;
  std::unique_ptr<models::LoraTargets> lora_targets_;  // built on the first job with LoRAs
};

}  // namespace

std::unique_ptr<Pipeline> Pipeline::load(const LoadOptions& opt) {
  if (opt.threads > 0) ops::set_num_threads(opt.threads);
  return std::make_unique<DiffusionPipeline>(load_model_set(opt), opt);
}

}  // namespace sd::pipeline
