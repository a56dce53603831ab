// The Pipeline implementation: text conditioning, the denoising loop with classifier-free
// guidance in one UNet batch (every image's uncond row, then every image's cond row), and
// the VAE decode, with diffusers' arithmetic at every step so a seed gives diffusers'
// image, alone or in a batch.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <future>
#include <memory>
#include <mutex>
#include <numeric>

#include "core/cancellation.h"
#include "core/error.h"
#include "core/log.h"
#include "loaders/lora_merge.h"
#include "ops/ops.h"
#include "pipeline/batch_rows.h"
#include "pipeline/image_convert.h"
#include "pipeline/image_inputs.h"
#include "pipeline/inpaint_plan.h"
#include "loaders/model_set.h"
#include "loaders/model_source.h"
#include "pipeline/masked_content.h"
#include "pipeline/memory_admission.h"
#include "pipeline/noise_source.h"
#include "pipeline/parameters_text.h"
#include "pipeline/pipeline.h"
#include "pipeline/preview_decoder.h"
#include "pipeline/request_check.h"
#include "pipeline/prompt_loras.h"
#include "pipeline/text_conditioning.h"
#include "sampling/scheduler_factory.h"

namespace sd::pipeline {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// noise_pred = uncond + g * (cond - uncond) for each image of a CFG batch output
// [2n, ...] (every uncond row, then every cond row) -> [n, ...].
Tensor guide(const Tensor& eps, float g) {
  const Tensor e = eps.contiguous();
  const int64_t n = e.numel() / 2;
  Shape s = e.shape();
  s[0] /= 2;
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

// The sizes a job's activations grow with (memory_admission.h); the resident part is the
// process's RSS now, measured once the whole model set is loaded.
MemoryProfile memory_profile(const ModelSet& m, DType dtype) {
  const auto& uc = m.unet->config();
  const auto& vc = m.vae->config();
  MemoryProfile p;
  p.resident_bytes = process_rss_bytes();
  p.activation_bytes = int(dtype_size(dtype));
  p.latent_factor = m.vae->scale_factor();
  p.unet_channels = uc.block_out_channels.front();
  p.unet_skip_channels = uc.block_out_channels.front();
  for (size_t l = 0; l < uc.block_out_channels.size(); ++l)
    p.unet_skip_channels += int64_t(uc.layers_per_block[l] + 1) * uc.block_out_channels[l] >> (2 * l);
  p.vae_top_channels = vc.block_out_channels.front();
  p.vae_next_channels = vc.block_out_channels.size() > 1 ? vc.block_out_channels[1] : vc.block_out_channels[0];
  p.vae_tile_pixels = m.vae->resolve_tile_size(0);
  return p;
}

// A one-step image at the model's native size with its default guidance, as the warm-up
// runs it and as the text encoders' placement is judged by.
GenerationRequest native_request(const ModelSet& m) {
  GenerationRequest req;
  req.steps = 1;
  req.width = req.height = m.unet->config().sample_size * m.vae->scale_factor();
  req.guidance_scale = m.version.guidance;
  req.preview = PreviewMode::None;
  return req;
}

// Whether the text encoders should stream their layers (model_set.h): a native-size image,
// in its leanest form, would not fit in `max_memory` with them kept in memory.
bool stream_text_encoders(const ModelSet& without_text_encoders, uint64_t text_encoder_bytes, DType dtype,
                          uint64_t max_memory) {
  ModelInfo kept;
  kept.memory = memory_profile(without_text_encoders, dtype);
  kept.memory.resident_bytes += text_encoder_bytes;
  GenerationRequest req = native_request(without_text_encoders);
  const uint64_t available = memory_available_to_process(max_memory);
  try {
    admit_job_memory(req, kept, available);
    return false;
  } catch (const MemoryRefused&) {
    const auto mib = [](uint64_t b) { return std::to_string(b >> 20) + " MiB"; };
    log_info("text encoders: layers read from the files for each job, since the model with them kept (" +
             mib(kept.memory.resident_bytes) + ") and a native-size image would need " +
             mib(estimate_job_memory(kept, req).total()) + " of the " + mib(available) + " available");
    return true;
  }
}

class DiffusionPipeline : public Pipeline {
 public:
  DiffusionPipeline(ModelSet m, const LoadOptions& opt, std::shared_future<std::string> model_hash)
      : m_(std::move(m)),
        lora_dirs_(opt.lora_dirs),
        max_memory_(opt.max_memory),
        embeddings_(TextualInversions::load(opt.embeddings_dir, m_)),
        preview_(m_.version.family, opt.taesd_path, opt.dtype, m_.unet->config().out_channels,
                 m_.vae->scale_factor()) {
    const auto& uc = m_.unet->config();
    const int native = uc.sample_size * m_.vae->scale_factor();
    info_.version = m_.version.name;
    info_.model_path = m_.source;
    checkpoint_.name = info_.checkpoint_name = checkpoint_name(opt);
    model_hash_ = std::move(model_hash);
    if (!m_.vae_source.empty()) {
      const std::filesystem::path vae = std::filesystem::path(m_.vae_source).lexically_normal();
      checkpoint_.vae = (vae.has_filename() ? vae : vae.parent_path()).filename().string();
    }
    info_.vae_path = m_.vae_source;
    info_.embeddings = embeddings_.loaded();
    info_.skipped_embeddings = embeddings_.skipped();
    info_.dtype = opt.dtype;
    info_.device = opt.device.str();
    device_ = opt.device;
    info_.native_width = info_.native_height = native;
    info_.default_steps = m_.version.steps;
    info_.default_guidance = m_.version.guidance;
    const auto sampler = parse_sampler(m_.version.sampler);
    SD_CHECK(sampler, "model version " + m_.version.name + " names an unknown sampler " + m_.version.sampler);
    info_.default_sampler = sampler->sampler;
    info_.inpaint_model = uc.in_channels == 9;
    info_.text_encoders_streamed = m_.text_encoder->layers() == models::ClipLayers::Streamed;
    // The contract (worker-api.md) allows 1..12; a shallower text encoder allows less.
    info_.limits.max_clip_skip = std::min(
        info_.limits.max_clip_skip,
        m_.text_encoder->config().num_hidden_layers - (m_.version.family == Family::SDXL ? 1 : 0));
    info_.limits.size_multiple = std::lcm(info_.limits.size_multiple, m_.vae->scale_factor());
    info_.preview_modes = preview_.preview_modes();
    info_.decoders = preview_.decoders();
    info_.memory = memory_profile(m_, opt.dtype);
  }

  const ModelInfo& info() const override { return info_; }

  void warm_up() override {
    GenerationRequest req = native_request(m_);
    req.prompt = "warm-up";
    req.sampler = info_.default_sampler;
    // Within the memory jobs are admitted to: a whole decode the jobs will tile would
    // leave its larger blocks cached in the pool.
    try {
      admit_job_memory(req, info_, memory_available_to_process(max_memory_));
    } catch (const MemoryRefused&) {
      // It runs in its leanest form, as sd-generate runs a job that does not fit.
    }
    // Undescribed: its parameters would wait for the model's hash, which the worker's
    // readiness need not.
    run(req, {}, false);
  }

  std::vector<GenerationResult> generate_batch(const GenerationRequest& asked, const GenerationCallbacks& cb) override {
    return run(asked, cb, true);
  }

  void validate(const GenerationRequest& req) const override {
    check_request(req, info_);
    try {
      loras_with_tags(req.loras, extract_lora_tags(req.prompt), lora_dirs_);
    } catch (const RequestError&) {
      throw;
    } catch (const Error& e) {
      throw RequestError("prompt", std::string("has a LoRA tag that cannot be used: ") + e.what());
    }
    // The tiles are blended on the host, where the VAE's layers would then have to live.
    if (req.vae_tiling && !device_.is_cpu())
      throw RequestError("vae_tiling", "runs on the CPU only; on " + device_.str() + " decode without it");
    if (req.vae_tiling) {
      try {
        m_.vae->resolve_tile_size(req.vae_tile_size);
      } catch (const Error& e) {
        throw RequestError("vae_tile_size", std::string("does not fit this VAE: ") + e.what());
      }
    }
  }

 private:
  // describe: each image gets its parameters text (which waits for the model's hash).
  std::vector<GenerationResult> run(const GenerationRequest& asked, const GenerationCallbacks& cb, bool describe) {
    const auto t_start = Clock::now();
    // The networks poll should_cancel between their blocks too (core/cancellation.h).
    const CancellationScope cancellation(cb.should_cancel);
    validate(asked);
    const InpaintPlan plan = plan_inpaint(asked);
    const GenerationRequest& req = plan.work;
    const int n = req.batch_size;
    if (n > 1) log_info(batch_layout_text(req));
    std::map<std::string, double> timings;

    auto t = Clock::now();
    // The prompt's <lora:...> tags join the job's loras; the text encoder never sees them.
    const PromptLoraTags tags = extract_lora_tags(req.prompt);
    const std::vector<LoraSpec> lora_specs = loras_with_tags(req.loras, tags, lora_dirs_);
    // Merged for this job only: the patch puts the original weights back when generate()
    // returns or throws.
    const models::LoraPatch loras = apply_loras(lora_specs);
    if (!lora_specs.empty()) timings["lora"] = seconds_since(t);

    // One prompt for every image: encoded once, its rows repeated per UNet call.
    const bool cfg = req.guidance_scale > 1.0f;
    t = Clock::now();
    Conditioning cond = encode_prompts(m_, tags.text, req.negative_prompt, req.clip_skip, cfg, embeddings_);
    timings["text_encoder"] = seconds_since(t);

    t = Clock::now();
    const ImageInputs inputs = encode_inputs(req);
    std::vector<ImageRun> runs(static_cast<size_t>(n));
    for (int k = 0; k < n; ++k) start_image(runs[size_t(k)], req, k, inputs);
    if (req.operation != Operation::Txt2Img) timings["vae_encode"] = seconds_since(t);

    GenerationRequest described = asked;  // parameters_text's view of each image
    described.init_image.reset();
    described.mask_image.reset();
    described.batch_size = 1;
    if (asked.inpaint_only_masked && !plan.box) {  // a blank mask: img2img of the whole picture
      described.inpaint_only_masked = false;
      described.masked_content = MaskedContent::Original;
    }
    std::vector<std::string> lora_hashes;
    for (const LoraSpec& l : req.loras) lora_hashes.push_back(lora_hashes_.get(l.path));
    std::vector<GenerationResult> results;
    auto finish = [&](ImageRun& run, int index, const std::map<std::string, double>& phase_times) {
      GenerationResult r;
      r.image = plan.finish(std::move(run.image), asked);
      r.seed = run.seed;
      r.index = index;
      r.timings = phase_times;
      r.timings["total"] = seconds_since(t_start);
      described.seed = run.seed;
      if (describe) r.parameters = parameters_text(described, checkpoint(), lora_hashes);
      if (req.keep_latents) {
        r.text_embeddings = cond.context;
        r.final_latents = run.latents;
      }
      if (cb.on_image) cb.on_image(index, r);
      results.push_back(std::move(r));
    };

    const int steps_each = runs.front().sched->num_steps() - runs.front().first;
    if (req.batch_layout == BatchLayout::OneByOne) {
      for (int k = 0; k < n; ++k) {
        std::map<std::string, double> own = timings;
        t = Clock::now();
        denoise({&runs[size_t(k)]}, cond, req, cb, k * steps_each, n * steps_each);
        own["denoise"] = seconds_since(t);
        decode({&runs[size_t(k)]}, req, own);
        finish(runs[size_t(k)], k, own);
      }
      return results;
    }
    std::vector<ImageRun*> all;
    for (ImageRun& run : runs) all.push_back(&run);
    t = Clock::now();
    denoise(all, cond, req, cb, 0, steps_each);
    timings["denoise"] = seconds_since(t);
    if (req.batch_layout == BatchLayout::Together) {
      decode(all, req, timings);
      for (int k = 0; k < n; ++k) finish(runs[size_t(k)], k, timings);
    } else {
      for (int k = 0; k < n; ++k) {
        std::map<std::string, double> own = timings;
        decode({&runs[size_t(k)]}, req, own);
        finish(runs[size_t(k)], k, own);
      }
    }
    return results;
  }

  // The input image and mask of img2img/inpainting, prepared and VAE-encoded once for
  // every image of the batch (the encode is deterministic; each image samples its own
  // latents from the distribution with its own generator).
  struct ImageInputs {
    Tensor mask;                            // [1,1,H,W] 0/1; undefined without one
    bool from_image = false;                // start from the noised image, not pure noise
    bool blend = false;                     // 4-channel inpainting: keep the unmasked latents
    models::LatentDistribution image;       // of the input image, when from_image or blend
    models::LatentDistribution masked;      // of the masked image, 9-channel UNets
  };

  ImageInputs encode_inputs(const GenerationRequest& req) const {
    const bool nine_channels = m_.unet->config().in_channels == 9;
    ImageInputs in;
    Tensor image;
    if (req.init_image) image = prepare_image(*req.init_image, req.width, req.height);
    if (req.operation == Operation::Inpaint) in.mask = prepare_mask(*req.mask_image, req.width, req.height);
    if (nine_channels && !in.mask.defined()) {
      // An inpainting UNet asked for txt2img/img2img repaints everything.
      in.mask = Tensor::full({1, 1, req.height, req.width}, 1.0f);
      if (!image.defined()) image = Tensor::zeros({1, 3, req.height, req.width}, DType::F32);
    }
    in.blend = in.mask.defined() && !nine_channels;
    // img2img always starts from the noised image; inpainting only below full strength.
    in.from_image = req.operation == Operation::Img2Img ||
                    (req.operation == Operation::Inpaint && req.strength < 1.0);
    if (in.from_image || in.blend)
      in.image = encode_distribution(
          // A1111 fills the area for the latent modes too: the VAE sees no old content there.
          in.mask.defined() && req.masked_content != MaskedContent::Original ? fill_masked_area(image, in.mask) : image,
          req);
    if (in.mask.defined() && nine_channels) in.masked = encode_distribution(mask_out(image, in.mask), req);
    return in;
  }

  models::LatentDistribution encode_distribution(const Tensor& image, const GenerationRequest& req) const {
    models::LatentDistribution d =
        req.vae_tiling ? m_.vae->encode_tiled(image, req.vae_tile_size) : m_.vae->encode(image.to(device_));
    // The sampling from it is host code (one generator draw, diffusers' order).
    d.mean = d.mean.to(Device::cpu());
    d.logvar = d.logvar.to(Device::cpu());
    return d;
  }

  // diffusers' retrieve_latents(vae.encode(image), generator): a sample of the latent
  // distribution (one generator draw), in UNet space.
  Tensor sample_latents(const models::LatentDistribution& d, sampling::NoiseGenerator& gen) const {
    Tensor noise = gen.randn(d.mean.shape());
    Tensor out = Tensor::empty(d.mean.shape(), DType::F32);
    const Tensor mean_c = d.mean.contiguous(), logvar_c = d.logvar.contiguous();
    const float *mean = mean_c.data<float>(), *logvar = logvar_c.data<float>();
    const float* n = noise.data<float>();
    float* o = out.data<float>();
    const float k = m_.vae->scaling_factor();
    for (int64_t i = 0; i < out.numel(); ++i) o[i] = (mean[i] + std::exp(0.5f * logvar[i]) * n[i]) * k;
    return out;
  }

  // One image of a batch: its seed, generator, scheduler (multistep samplers keep a
  // history per image) and latents.
  struct ImageRun {
    uint64_t seed = 0;
    std::unique_ptr<sampling::NoiseGenerator> gen;
    std::unique_ptr<sampling::Scheduler> sched;
    int first = 0;  // index of the first step (img2img starts later)
    Tensor latents;
    InpaintLatents inpaint;
    io::Image image;
  };

  // Image `index`'s starting latents, drawing from its own generator in diffusers' order:
  // img2img samples the encoded image, then the noise; inpainting draws the noise first
  // unless the original's latents are needed to start from or to blend with.
  void start_image(ImageRun& run, const GenerationRequest& req, int index, const ImageInputs& in) const {
    run.seed = req.seed + uint64_t(index);
    run.gen = make_noise_generator(req.rng, run.seed);
    run.sched = sampling::make_scheduler(sampler_id(req.sampler), schedule_id(req.schedule), m_.scheduler);
    run.sched->set_timesteps(req.steps);
    run.first = req.operation == Operation::Txt2Img ? 0 : run.sched->start_index(req.strength);
    sampling::NoiseGenerator& gen = *run.gen;
    const int f = m_.vae->scale_factor();
    const int64_t h = req.height / f, w = req.width / f;
    const Shape shape{1, m_.unet->config().out_channels, h, w};

    Tensor image_latents;
    if (in.from_image || in.blend) image_latents = sample_latents(in.image, gen);
    Tensor noise = gen.randn(shape);
    if (in.mask.defined() && image_latents.defined())
      image_latents = apply_latent_content(req.masked_content, image_latents, mask_to_latent_size(in.mask, h, w), noise);
    run.latents = in.from_image ? run.sched->add_noise(image_latents, noise, run.first)
                                : ops::scale(noise, run.sched->init_noise_sigma());
    if (in.mask.defined()) {
      run.inpaint.mask = mask_to_latent_size(in.mask, h, w);
      if (in.masked.mean.defined()) {
        run.inpaint.masked_image_latents = sample_latents(in.masked, gen);
      } else {
        run.inpaint.image_latents = image_latents;
        run.inpaint.noise = noise;
      }
    }
  }

  // Runs the remaining steps of `group` (images at the same step) as one UNet batch of
  // their rows (every uncond row, then every cond row, with CFG), each image stepped by its
  // own scheduler and generator. Progress counts from `steps_before` of `steps_total`;
  // previews show the group's first image. Stops with sd::Cancelled between steps when asked.
  void denoise(const std::vector<ImageRun*>& group, const Conditioning& cond, const GenerationRequest& req,
               const GenerationCallbacks& cb, int steps_before, int steps_total) {
    const int n = int(group.size());
    const bool cfg = cond.context.size(0) == 2;
    const Tensor context = repeat_each_row(cond.context, n);
    // 9-channel UNets see [latents | mask | masked-image latents], per batch row.
    Tensor extra_channels;
    if (group.front()->inpaint.masked_image_latents.defined()) {
      std::vector<Tensor> rows;
      for (const ImageRun* run : group)
        rows.push_back(ops::concat({run->inpaint.mask, run->inpaint.masked_image_latents}, 1));
      extra_channels = stack_rows(rows);
      if (cfg) extra_channels = ops::concat({extra_channels, extra_channels}, 0);
    }
    models::UNetAddedCond added;
    const bool xl = m_.unet->config().text_time_embedding;
    if (xl) {
      added.text_embeds = repeat_each_row(cond.pooled, n);
      const int64_t rows = context.size(0);
      std::vector<float> ids;
      for (int64_t r = 0; r < rows; ++r)
        for (int v : {req.height, req.width, 0, 0, req.height, req.width}) ids.push_back(float(v));
      added.time_ids = Tensor::from_floats(ids, {rows, 6});
    }
    sampling::Scheduler& lead = *group.front()->sched;
    for (int i = group.front()->first; i < lead.num_steps(); ++i) {
      if (cb.should_cancel && cb.should_cancel()) throw Cancelled();
      std::vector<Tensor> inputs;
      for (const ImageRun* run : group) inputs.push_back(run->sched->scale_model_input(run->latents, i));
      Tensor x_in = stack_rows(inputs);
      if (cfg) x_in = ops::concat({x_in, x_in}, 0);
      if (extra_channels.defined()) x_in = ops::concat({x_in, extra_channels}, 1);
      // The latents and the sampler's math stay on the host (diffusers parity, small); the
      // UNet runs where its weights are.
      Tensor eps = m_.unet->forward(x_in.to(device_), {lead.timesteps()[size_t(i)]}, context, xl ? &added : nullptr)
                       .to(Device::cpu());
      if (cfg) eps = guide(eps, req.guidance_scale);
      Tensor preview_latents;
      for (int k = 0; k < n; ++k) {
        ImageRun& run = *group[size_t(k)];
        sampling::StepResult r = run.sched->step(n == 1 ? eps : row_of(eps, k), i, run.latents, *run.gen);
        run.latents = r.prev_sample;
        if (run.inpaint.image_latents.defined()) run.latents = keep_unmasked(*run.sched, run.latents, run.inpaint, i);
        if (k == 0) preview_latents = r.denoised.defined() ? r.denoised : run.latents;
      }
      const int step = i - group.front()->first + 1;
      const bool preview_due =
          req.preview != PreviewMode::None && cb.on_preview &&
          (steps_before + step == steps_total || (req.preview_every > 0 && step % req.preview_every == 0));
      if (preview_due) cb.on_preview(steps_before + step, steps_total, preview_.preview(preview_latents, req.preview));
      if (cb.on_progress) cb.on_progress(steps_before + step, steps_total);
    }
  }

  // The final images of `group`: one VAE call for the group when its layout is Together
  // and the VAE runs whole, else image by image. Adds the decode time to `timings`.
  void decode(const std::vector<ImageRun*>& group, const GenerationRequest& req,
              std::map<std::string, double>& timings) const {
    const auto t = Clock::now();
    if (req.decoder == FinalDecoder::Taesd) {
      for (ImageRun* run : group) run->image = preview_.decode(run->latents);
      timings["taesd_decode"] = seconds_since(t);
      return;
    }
    const float unscale = 1.0f / m_.vae->scaling_factor();
    if (req.vae_tiling || group.size() == 1) {
      for (ImageRun* run : group) {
        const Tensor z = ops::scale(run->latents, unscale);
        run->image = tensor_to_image(
            (req.vae_tiling ? m_.vae->decode_tiled(z, req.vae_tile_size) : m_.vae->decode(z.to(device_))).to(Device::cpu()));
      }
    } else {
      std::vector<Tensor> rows;
      for (const ImageRun* run : group) rows.push_back(run->latents);
      const Tensor decoded = m_.vae->decode(ops::scale(stack_rows(rows), unscale).to(device_)).to(Device::cpu());
      for (size_t k = 0; k < group.size(); ++k) group[k]->image = tensor_to_image(row_of(decoded, int64_t(k)));
    }
    timings["vae_decode"] = seconds_since(t);
  }

  static std::string batch_layout_text(const GenerationRequest& req) {
    const std::string n = std::to_string(req.batch_size);
    switch (req.batch_layout) {
      case BatchLayout::Together: return "batch of " + n + " images: UNet and VAE as one batch";
      case BatchLayout::VaeOneByOne: return "batch of " + n + " images: UNet as one batch, VAE image by image";
      case BatchLayout::OneByOne: return "batch of " + n + " images: image by image (memory)";
    }
    return "";
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

  // The checkpoint as the images' parameters name it: waits for the hash while it is
  // being computed (only for a model the hash cache does not know). A file the hash could
  // not read leaves the hash out, with a warning; the load had read the weights.
  const CheckpointIdentity& checkpoint() {
    std::call_once(hash_known_, [this] {
      try {
        checkpoint_.hash = model_hash_.get();
      } catch (const std::exception& e) {
        log_warn(std::string(e.what()) + ": the images' parameters go without a model hash");
      }
    });
    return checkpoint_;
  }

  ModelSet m_;
  Device device_;  // where the networks run (LoadOptions::device)
  std::vector<std::string> lora_dirs_;
  uint64_t max_memory_;
  TextualInversions embeddings_;
  PreviewDecoder preview_;
  ModelInfo info_;
  CheckpointIdentity checkpoint_;               // its name, its VAE's, and the hash once known:
  std::shared_future<std::string> model_hash_;  // from the thread Pipeline::load started
  std::once_flag hash_known_;
  models::LoraFileCache lora_files_;
  LoraHashCache lora_hashes_;
  std::unique_ptr<models::LoraTargets> lora_targets_;  // built on the first job with LoRAs
};

}  // namespace

GenerationResult Pipeline::generate(const GenerationRequest& req, const GenerationCallbacks& cb) {
  if (req.batch_size != 1)
    throw Error("generate() makes one image; a batch of " + std::to_string(req.batch_size) + " needs generate_batch()");
  return std::move(generate_batch(req, cb).front());
}

std::unique_ptr<Pipeline> Pipeline::load(const LoadOptions& opt) {
  if (opt.threads > 0) ops::set_num_threads(opt.threads);
  // The model hash streams the whole checkpoint (seconds for a few GB) unless the hash
  // cache knows the file. Only the images' parameters need it, so it is computed on its own
  // thread, from the start for a local model and after the download for one from the Hub,
  // and the load does not wait for it: the first image's parameters do, if it is not done.
  const auto hash_in_background = [](std::string loaded_from) {
    return std::async(std::launch::async, [loaded_from] {
      const auto t = Clock::now();
      std::string hash = checkpoint_hash(loaded_from);
      log_info("model hash " + hash + " in " + std::to_string(seconds_since(t)) + " s");
      return hash;
    }).share();
  };
  const ModelSource src = resolve_model_source(opt);
  std::shared_future<std::string> model_hash;
  if (src.kind != ModelSource::Kind::HubRepo) model_hash = hash_in_background(src.location);
  ModelSet m = load_model_set(opt, [&opt](const ModelSet& without, uint64_t text_encoder_bytes) {
    return stream_text_encoders(without, text_encoder_bytes, opt.dtype, opt.max_memory);
  });
  if (!model_hash.valid()) model_hash = hash_in_background(m.source);
  auto pipe = std::make_unique<DiffusionPipeline>(std::move(m), opt, std::move(model_hash));
  if (opt.warm_up) {
    const auto t = Clock::now();
    pipe->warm_up();
    log_info("warmed up (one " + std::to_string(pipe->info().native_width) + "x" +
             std::to_string(pipe->info().native_height) + " image of one step) in " +
             std::to_string(seconds_since(t)) + " s");
  }
  return pipe;
}

}  // namespace sd::pipeline
