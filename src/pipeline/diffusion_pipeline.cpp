// The Pipeline implementation: text conditioning, the denoising loop with classifier-free
// guidance as one batch of 2 (uncond first), and the VAE decode, with diffusers'
// arithmetic at every step so a seed gives diffusers' image.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/log.h"
#include "loaders/lora_merge.h"
#include "ops/ops.h"
#include "pipeline/image_convert.h"
#include "pipeline/image_inputs.h"
#include "loaders/model_set.h"
#include "pipeline/memory_admission.h"
#include "pipeline/noise_source.h"
#include "pipeline/parameters_text.h"
#include "pipeline/pipeline.h"
#include "pipeline/preview_decoder.h"
#include "pipeline/request_check.h"
#include "pipeline/text_conditioning.h"
#include "sampling/scheduler_factory.h"

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

// Latent-space inputs of inpainting (all [1,*,h,w] float32, UNet space).
struct InpaintLatents {
  Tensor mask;                  // 1 = repaint
  Tensor masked_image_latents;  // 9-channel UNets
  Tensor image_latents;         // 4-channel UNets: the original, blended back each step
  Tensor noise;                 // 4-channel UNets: the initial noise, to re-noise the original
};

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
    info_.device = opt.device.str();
    info_.native_width = info_.native_height = native;
    info_.default_steps = m_.version.steps;
    info_.default_guidance = m_.version.guidance;
    const auto sampler = parse_sampler(m_.version.sampler);
    SD_CHECK(sampler, "model version " + m_.version.name + " names an unknown sampler " + m_.version.sampler);
    info_.default_sampler = sampler->sampler;
    info_.inpaint_model = uc.in_channels == 9;
    // The contract (worker-api.md) allows 1..12; a shallower text encoder allows less.
    info_.limits.max_clip_skip = std::min(
        info_.limits.max_clip_skip,
        m_.text_encoder->config().num_hidden_layers - (m_.version.family == Family::SDXL ? 1 : 0));
    info_.limits.size_multiple = std::lcm(info_.limits.size_multiple, m_.vae->scale_factor());
    info_.preview_modes = preview_.preview_modes();
    info_.decoders = preview_.decoders();
    info_.memory = memory_profile(opt.dtype);
  }

  const ModelInfo& info() const override { return info_; }

  GenerationResult generate(const GenerationRequest& req, const GenerationCallbacks& cb) override {
    const auto t_start = Clock::now();
    validate(req);
    auto scheduler = sampling::make_scheduler(sampler_id(req.sampler), schedule_id(req.schedule), m_.scheduler);
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

    t = Clock::now();
    const auto generator = make_noise_generator(req.rng, req.seed);
    sampling::NoiseGenerator& gen = *generator;
    scheduler->set_timesteps(req.steps);
    const int first = req.operation == Operation::Txt2Img ? 0 : scheduler->start_index(req.strength);
    InpaintLatents inpaint;
    Tensor latents = initial_latents(req, *scheduler, first, gen, inpaint);
    if (req.operation != Operation::Txt2Img) result.timings["vae_encode"] = seconds_since(t);

    t = Clock::now();
    latents = denoise(*scheduler, latents, first, cond, inpaint, req, gen, cb);
    result.timings["denoise"] = seconds_since(t);

    t = Clock::now();
    if (req.decoder == FinalDecoder::Taesd) {
      result.image = preview_.decode(latents);
      result.timings["taesd_decode"] = seconds_since(t);
    } else {
      const Tensor z = ops::scale(latents, 1.0f / m_.vae->scaling_factor());
      Tensor decoded = req.vae_tiling ? m_.vae->decode_tiled(z, req.vae_tile_size) : m_.vae->decode(z);
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

  void validate(const GenerationRequest& req) const override {
    check_request(req, info_);
    if (req.vae_tiling) {
      try {
        m_.vae->resolve_tile_size(req.vae_tile_size);
      } catch (const Error& e) {
        throw RequestError("vae_tile_size", std::string("does not fit this VAE: ") + e.what());
      }
    }
  }

 private:
  // The sizes a job's activations grow with (memory_admission.h); the resident part is
  // measured once the whole model set is loaded.
  MemoryProfile memory_profile(DType dtype) const {
    const auto& uc = m_.unet->config();
    const auto& vc = m_.vae->config();
    MemoryProfile p;
    p.resident_bytes = process_rss_bytes();
    p.activation_bytes = int(dtype_size(dtype));
    p.latent_factor = m_.vae->scale_factor();
    p.unet_channels = uc.block_out_channels.front();
    p.unet_skip_channels = uc.block_out_channels.front();
    for (size_t l = 0; l < uc.block_out_channels.size(); ++l)
      p.unet_skip_channels += int64_t(uc.layers_per_block[l] + 1) * uc.block_out_channels[l] >> (2 * l);
    p.vae_top_channels = vc.block_out_channels.front();
    p.vae_next_channels = vc.block_out_channels.size() > 1 ? vc.block_out_channels[1] : vc.block_out_channels[0];
    p.vae_tile_pixels = m_.vae->resolve_tile_size(0);
    return p;
  }

  // diffusers' retrieve_latents(vae.encode(image), generator): a sample of the latent
  // distribution (one generator draw), in UNet space.
  Tensor encode_latents(const Tensor& image, const GenerationRequest& req, sampling::NoiseGenerator& gen) const {
    models::LatentDistribution d =
        req.vae_tiling ? m_.vae->encode_tiled(image, req.vae_tile_size) : m_.vae->encode(image);
    Tensor noise = gen.randn(d.mean.shape());
    Tensor out = Tensor::empty(d.mean.shape(), DType::F32);
    const float *mean = d.mean.contiguous().data<float>(), *logvar = d.logvar.contiguous().data<float>();
    const float* n = noise.data<float>();
    float* o = out.data<float>();
    const float k = m_.vae->scaling_factor();
    for (int64_t i = 0; i < out.numel(); ++i) o[i] = (mean[i] + std::exp(0.5f * logvar[i]) * n[i]) * k;
    return out;
  }

  // The starting latents of each operation, drawing from the generator in diffusers'
  // order: img2img samples the encoded image, then the noise; inpainting draws the noise
  // first unless the original's latents are needed to start from or to blend with.
  Tensor initial_latents(const GenerationRequest& req, sampling::Scheduler& sched, int first,
                         sampling::NoiseGenerator& gen, InpaintLatents& inpaint) const {
    const int f = m_.vae->scale_factor();
    const int64_t h = req.height / f, w = req.width / f;
    const Shape shape{1, m_.unet->config().out_channels, h, w};
    const bool nine_channels = m_.unet->config().in_channels == 9;

    Tensor image, mask;
    if (req.init_image) image = prepare_image(*req.init_image, req.width, req.height);
    if (req.operation == Operation::Inpaint) mask = prepare_mask(*req.mask_image, req.width, req.height);
    if (nine_channels && !mask.defined()) {
      // An inpainting UNet asked for txt2img/img2img repaints everything.
      mask = Tensor::full({1, 1, req.height, req.width}, 1.0f);
      if (!image.defined()) image = Tensor::zeros({1, 3, req.height, req.width}, DType::F32);
    }
    const bool blend = mask.defined() && !nine_channels;
    // img2img always starts from the noised image; inpainting only below full strength.
    const bool from_image = req.operation == Operation::Img2Img ||
                            (req.operation == Operation::Inpaint && req.strength < 1.0);

    Tensor image_latents;
    if (from_image || blend) image_latents = encode_latents(image, req, gen);
    Tensor noise = gen.randn(shape);
    Tensor latents = from_image ? sched.add_noise(image_latents, noise, first)
                                : ops::scale(noise, sched.init_noise_sigma());
    if (mask.defined()) {
      inpaint.mask = mask_to_latent_size(mask, h, w);
      if (nine_channels) {
        inpaint.masked_image_latents = encode_latents(mask_out(image, mask), req, gen);
      } else {
        inpaint.image_latents = image_latents;
        inpaint.noise = noise;
      }
    }
    return latents;
  }

  // Runs steps [first, num_steps) from `latents`, reporting progress and previews and
  // stopping with sd::Cancelled between steps when asked.
  Tensor denoise(sampling::Scheduler& sched, Tensor latents, int first, const Conditioning& cond,
                 const InpaintLatents& inpaint, const GenerationRequest& req, sampling::NoiseGenerator& gen,
                 const GenerationCallbacks& cb) {
    const bool cfg = cond.context.size(0) == 2;
    // 9-channel UNets see [latents | mask | masked-image latents], per batch row.
    Tensor extra_channels;
    if (inpaint.masked_image_latents.defined()) {
      extra_channels = ops::concat({inpaint.mask, inpaint.masked_image_latents}, 1);
      if (cfg) extra_channels = ops::concat({extra_channels, extra_channels}, 0);
    }
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
      if (extra_channels.defined()) x_in = ops::concat({x_in, extra_channels}, 1);
      Tensor eps = m_.unet->forward(x_in, {sched.timesteps()[size_t(i)]}, cond.context, xl ? &added : nullptr);
      if (cfg) eps = guide(eps, req.guidance_scale);
      sampling::StepResult r = sched.step(eps, i, latents, gen);
      latents = r.prev_sample;
      if (inpaint.image_latents.defined()) latents = keep_unmasked(sched, latents, inpaint, i);
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

  // 4-channel inpainting: outside the mask, the latents are the original's, noised to the
  // level of the next step (clean after the last).
  static Tensor keep_unmasked(const sampling::Scheduler& sched, const Tensor& latents, const InpaintLatents& in,
                              int index) {
    const Tensor proper = index + 1 < sched.num_steps() ? sched.add_noise(in.image_latents, in.noise, index + 1)
                                                        : in.image_latents;
    const Tensor x = latents.contiguous(), p = proper.contiguous(), m = in.mask.contiguous();
    Tensor out = Tensor::empty(x.shape(), DType::F32);
    const int64_t plane = m.numel(), channels = x.size(1);
    const float *xs = x.data<float>(), *ps = p.data<float>(), *ms = m.data<float>();
    float* o = out.data<float>();
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < plane; ++i)
        o[c * plane + i] = (1.0f - ms[i]) * ps[c * plane + i] + ms[i] * xs[c * plane + i];
    return out;
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
