#include "pipeline/parameters_text.h"

#include <cstdio>

namespace sd::pipeline {

namespace {
std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
}  // namespace

std::string parameters_text(const GenerationRequest& req, const std::string& model_version) {
  std::string s = req.prompt;
  if (!req.negative_prompt.empty()) s += "\nNegative prompt: " + req.negative_prompt;
  s += "\nSteps: " + std::to_string(req.steps);
  s += std::string(", Sampler: ") + sampler_display_name(req.sampler);
  if (req.schedule != Schedule::Default) s += std::string(", Schedule type: ") + schedule_display_name(req.schedule);
  s += ", CFG scale: " + number(req.guidance_scale);
  s += ", Seed: " + std::to_string(req.seed);
  // A1111's infotext key; its default is GPU, so the CPU stream must be named too.
  s += std::string(", RNG: ") + (req.rng == NoiseSource::Philox ? "GPU" : "CPU");
  s += ", Size: " + std::to_string(req.width) + "x" + std::to_string(req.height);
  s += ", Model: " + model_version;
  if (req.clip_skip > 1) s += ", Clip skip: " + std::to_string(req.clip_skip);
  if (req.operation != Operation::Txt2Img) s += ", Denoising strength: " + number(req.strength);
  for (const auto& l : req.loras) s += ", Lora: " + l.path + ":" + number(l.strength);
  return s;
}

}  // namespace sd::pipeline
