#pragma once
// What a caller (CLI, HTTP worker, bench) asks the pipeline for, what it gets back, and
// the hooks it is called through while the job runs.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/image.h"
#include "pipeline/masked_content.h"
#include "pipeline/sampler_names.h"

namespace sd::pipeline {

enum class Operation { Txt2Img, Img2Img, Inpaint };

struct LoraSpec {
  std::string path;  // safetensors file
  float strength = 1.0f;
};

// Taesd previews need TAESD weights (LoadOptions::taesd_path); without them they fall
// back to LatentRgb. Names: preview_decoder.h.
enum class PreviewMode { None, LatentRgb, Taesd };

// What turns the final latents into the image: the model's VAE, or TAESD (fast, lower
// quality; needs LoadOptions::taesd_path, else the request is refused).
enum class FinalDecoder { Vae, Taesd };

// The random stream a seed selects (names: noise_source.h): torch's CPU generator, as
// diffusers, or the CUDA Philox stream of A1111's and ComfyUI's GPU seeds.
enum class NoiseSource { TorchCpu, Philox };

// How the images of a batch (batch_size > 1) go through the networks, chosen by memory
// admission (memory_admission.h): all phases as one batch; the UNet as one batch and the
// VAE image by image; or every phase image by image. Each image is the same either way.
enum class BatchLayout { Together, VaeOneByOne, OneByOne };

struct GenerationRequest {
  Operation operation = Operation::Txt2Img;
  std::string prompt;
  std::string negative_prompt;
  int steps = 20;
  float guidance_scale = 7.5f;
  uint64_t seed = 0;
  // Images of this request, from seeds seed, seed+1, ... (as A1111): each the image a
  // batch of one with its seed gives, its noise from its own generator.
  int batch_size = 1;
  BatchLayout batch_layout = BatchLayout::Together;
  NoiseSource rng = NoiseSource::TorchCpu;
  int width = 512;
  int height = 512;
  Sampler sampler = Sampler::Ddim;
  Schedule schedule = Schedule::Default;
  int clip_skip = 1;  // 1 = last layer (A1111 numbering)
  // img2img / inpaint. A double, as in diffusers: int(steps * strength) must round the
  // way Python does (10 * 0.7 is 7, but 10 * 0.7f is 6.99...).
  double strength = 0.8;
  std::optional<io::Image> init_image;    // img2img / inpaint
  std::optional<io::Image> mask_image;    // inpaint: white = repaint
  MaskedContent masked_content = MaskedContent::Original;  // inpaint: what the masked area starts from
  // Inpaint, as A1111 does: the original pasted back over each result outside the mask,
  // through the mask blurred by mask_blur_x/y (Gaussian sigma in pixels, 0..kMaxMaskBlur).
  bool paste_original = false;
  float mask_blur_x = 0.f, mask_blur_y = 0.f;
  // Inpaint, A1111's "only masked" (inpaint_area.h): the box around the mask plus
  // inpaint_padding pixels (of the init image, 0..kMaxInpaintPadding) is inpainted at
  // width x height and put back; the images keep the init image's size.
  bool inpaint_only_masked = false;
  int inpaint_padding = 0;
  std::vector<LoraSpec> loras;
  PreviewMode preview = PreviewMode::LatentRgb;
  int preview_every = 5;  // steps between previews; the last step always gets one
  FinalDecoder decoder = FinalDecoder::Vae;
  // VAE encode and decode in overlapping tiles (diffusers' enable_vae_tiling), bounding
  // their memory for large images; vae_tile_size in image pixels, 0 for the VAE's
  // sample_size.
  bool vae_tiling = false;
  int vae_tile_size = 0;
  bool keep_latents = false;  // fill GenerationResult's tensors (debugging, comparison)
};

struct GenerationResult {
  io::Image image;
  uint64_t seed = 0;
  int index = 0;                          // in the batch
  std::map<std::string, double> timings;  // seconds: "text_encoder", "denoise", "vae_decode" (or
                                          // "taesd_decode"), "total"; the images of a batch
                                          // share the times of the phases they ran in together
  std::string parameters;                 // the A1111-style "parameters" text
  // With keep_latents: the UNet context (uncond row first when CFG runs) and the final
  // latents in UNet space (diffusers' output_type="latent").
  Tensor text_embeddings;
  Tensor final_latents;
};

struct GenerationCallbacks {
  // step is 1-based; called after each denoising step (of the whole batch when it runs
  // together; counting through every image's steps when it runs image by image).
  std::function<void(int step, int total)> on_progress;
  // Called on the preview cadence with a small RGB image, before that step's on_progress
  // (so a front end can send the preview in the progress's place).
  std::function<void(int step, int total, const io::Image& preview)> on_preview;
  // Called with each image of a batch as soon as it is decoded, in index order.
  std::function<void(int index, const GenerationResult& result)> on_image;
  // Polled between steps and, through core/cancellation.h, between the networks' blocks;
  // returning true stops the job with sd::Cancelled.
  std::function<bool()> should_cancel;
};

}  // namespace sd::pipeline
