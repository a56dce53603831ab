#include "pipeline/request_check.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "core/number_text.h"
#include "pipeline/pipeline.h"

namespace sd::pipeline {

namespace {

void check_range(const std::string& field, double v, double lo, double hi) {
  if (!(v >= lo && v <= hi))
    throw RequestError(field,
                       "must be between " + number_text(lo) + " and " + number_text(hi) + ", got " + number_text(v));
}

void check_size(const char* field, int v, const RequestLimits& l) {
  check_range(field, v, l.min_size, l.max_size);
  if (v % l.size_multiple != 0)
    throw RequestError(field, "must be a multiple of " + std::to_string(l.size_multiple) + ", got " + std::to_string(v));
}

void check_sampler_schedule(Sampler sampler, Schedule schedule) {
  const auto fits = schedules_for(sampler);
  if (std::find(fits.begin(), fits.end(), schedule) != fits.end()) return;
  std::string list;
  for (Schedule s : fits) list += std::string(list.empty() ? "" : ", ") + schedule_id(s);
  throw RequestError("schedule", std::string(schedule_id(schedule)) + " does not work with sampler " +
                                     sampler_id(sampler) + "; it takes " + list);
}

void check_images(const GenerationRequest& req) {
  if (req.operation == Operation::Txt2Img) return;
  if (!req.init_image) throw RequestError("input_image", "is required for img2img and inpainting");
  check_input_image_size("input_image", req.init_image->width, req.init_image->height);
  if (req.operation != Operation::Inpaint) return;
  if (!req.mask_image) throw RequestError("mask_image", "is required for inpainting");
  check_input_image_size("mask_image", req.mask_image->width, req.mask_image->height);
}

}  // namespace

void check_request(const GenerationRequest& req, const ModelInfo& model) {
  const RequestLimits& l = model.limits;
  check_prompt("prompt", req.prompt);
  check_prompt("negative_prompt", req.negative_prompt);
  check_range("steps", req.steps, l.min_steps, l.max_steps);
  check_range("guidance_scale", req.guidance_scale, l.min_guidance, l.max_guidance);
  check_sampler_schedule(req.sampler, req.schedule);
  check_range("strength", req.strength, 0.0, l.max_strength);
  // diffusers runs int(steps * strength) steps of an image job: none is an error.
  if (req.operation != Operation::Txt2Img && int(double(req.steps) * req.strength) < 1)
    throw RequestError("strength", number_text(req.strength) + " with " + std::to_string(req.steps) +
                                       " steps leaves no step to run");
  check_range("clip_skip", req.clip_skip, 1, l.max_clip_skip);
  check_lora_count(req.loras.size(), l);
  for (size_t i = 0; i < req.loras.size(); ++i) {
    const std::string at = "loras[" + std::to_string(i) + "]";
    if (req.loras[i].path.empty()) throw RequestError(at, "names no file");
    check_range(at + ".strength", req.loras[i].strength, -l.max_lora_strength, l.max_lora_strength);
  }
  check_size("width", req.width, l);
  check_size("height", req.height, l);
  check_range("num_images", req.batch_size, 1, l.max_images);
  check_images(req);
  check_range("mask_blur_x", req.mask_blur_x, 0, kMaxMaskBlur);
  check_range("mask_blur_y", req.mask_blur_y, 0, kMaxMaskBlur);
  check_range("inpaint_padding", req.inpaint_padding, 0, kMaxInpaintPadding);
  // 0: a preview of the last step only.
  if (req.preview != PreviewMode::None) check_range("preview_every", req.preview_every, 0, l.max_steps);
  if (req.decoder == FinalDecoder::Taesd &&
      std::find(model.decoders.begin(), model.decoders.end(), "taesd") == model.decoders.end())
    throw RequestError("decoder", "taesd needs TAESD weights, and none were loaded (--taesd)");
}

void check_lora_count(size_t count, const RequestLimits& limits) {
  if (count > size_t(limits.max_loras))
    throw RequestError("loras", "must hold at most " + std::to_string(limits.max_loras) + " entries, got " +
                                    std::to_string(count));
}

double default_strength(Operation operation) { return operation == Operation::Inpaint ? 1.0 : 0.8; }

int size_from_input_image(int image_side, const RequestLimits& limits) {
  return std::clamp(image_side / limits.size_multiple * limits.size_multiple, limits.min_size, limits.max_size);
}

uint64_t pick_random_seed() {
  std::random_device rd;
  return uint64_t(uint32_t(rd()));
}

}  // namespace sd::pipeline
