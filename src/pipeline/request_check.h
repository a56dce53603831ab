#pragma once
// The request contract: what a job may ask of the loaded model, checked in one place for
// every front end (CLI, native jobs, other APIs), before any work starts.
#include <cstddef>
#include <cstdint>

#include "pipeline/request.h"
#include "pipeline/request_error.h"
#include "pipeline/request_limits.h"

namespace sd::pipeline {

struct ModelInfo;

// Published as ModelInfo::limits and in /info. Ranges are inclusive unless noted.
struct RequestLimits {
  int min_steps = 1;
  int max_steps = 150;
  int min_size = 64;  // width and height, in pixels
  int max_size = 2048;
  int size_multiple = 8;  // the VAE's downscale factor (8 for every SD model)
  float min_guidance = 0.0f;
  float max_guidance = 30.0f;
  double max_strength = 1.0;  // img2img/inpaint: above 0, and leaving at least one step
  int max_clip_skip = 12;     // 1 = last layer; the text encoder's depth
  int max_loras = 16;
  float max_lora_strength = 10.0f;  // |strength|
  int max_images = 8;               // images per request, from 1
  size_t max_prompt_bytes = kMaxPromptBytes;  // each of prompt and negative_prompt
};

// Throws RequestError naming the first field `req` breaks the contract with, checked in
// the native API's field order: prompt, negative_prompt, steps, guidance_scale, sampler
// and schedule, strength, clip_skip, loras, size, images, preview_every (0..max_steps,
// 0 = the last step only), decoder.
void check_request(const GenerationRequest& req, const ModelInfo& model);

// Throws RequestError("loras") for more LoRAs than the limits allow: for a front end to
// call before it reads a list, so a long one costs nothing.
void check_lora_count(size_t count, const RequestLimits& limits);

// The strength a request that names none runs at: inpainting repaints the masked area
// from pure noise (1.0, as diffusers), img2img keeps some of the image (0.8).
double default_strength(Operation operation);

// The size an input image gives a job that names none: its side rounded down to the size
// multiple, then brought within the size limits.
int size_from_input_image(int image_side, const RequestLimits& limits);

// A seed for a request that asks for a random one (-1 or none): 32-bit, as A1111's, so
// that JSON clients and JavaScript carry it exactly.
uint64_t pick_random_seed();

}  // namespace sd::pipeline
