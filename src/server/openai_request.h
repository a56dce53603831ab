#pragma once
// The OpenAI images API's requests, POST /v1/images/generations (JSON) and
// /v1/images/edits (multipart/form-data), translated into a native job body (POST
// /v1/jobs), which parse_job_request then holds to the contract like any other job.
// OpenAI's own fields (n, size, response_format, model...) are read here; the extension
// fields (negative_prompt, seed, steps, guidance_scale, sampler, schedule, and strength
// for edits) pass through under their native names. Fields OpenAI does not have are
// refused, as OpenAI refuses them, so that a misspelt extension is not silently ignored.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/image_format.h"
#include "io/multipart_form.h"
#include "pipeline/pipeline.h"
#include "server/job_request.h"
#include "server/openai_error.h"

namespace sd::server {

enum class ImageResponseFormat { B64Json, Url };

struct OpenAiImageRequest {
  nlohmann::json job;  // the native job body: operation, prompt, sizes, images, extensions
  int n = 1;
  // b64_json by default: the GPT image models' answer, and the one that needs no second request.
  ImageResponseFormat response_format = ImageResponseFormat::B64Json;
  io::ImageFormat output_format = io::ImageFormat::Png;
  int output_compression = 100;  // JPEG/WebP quality, 0..100 (OpenAI's default 100)
};

// What the worker answers to for `model` besides "auto": the hive's --model when it is a
// name (a version or a Hugging Face repo id), else the model file's or folder's name.
std::string openai_model_id(const std::string& model, const std::string& model_path, const std::string& sd_version);

// Both throw OpenAiRequestError naming the field at fault; `n` is held to
// limits.max_images here, everything else to the contract by openai_job_spec.
OpenAiImageRequest parse_openai_generation(const nlohmann::json& body, const std::string& model_id,
                                           const pipeline::RequestLimits& limits);
OpenAiImageRequest parse_openai_edit(const std::vector<io::FormPart>& parts, const std::string& model_id,
                                     const pipeline::RequestLimits& limits);

// The native parse of `request.job`, its refusals reported with OpenAI's field names.
JobSpec openai_job_spec(const OpenAiImageRequest& request, const pipeline::ModelInfo& model,
                        const RequestPolicy& policy);

}  // namespace sd::server
