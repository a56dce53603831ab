#include "server/a1111_response.h"

#include <algorithm>
#include <ctime>

#include "pipeline/sampler_names.h"
#include "server/version.h"

namespace sd::server {

using nlohmann::json;
using nlohmann::ordered_json;

json a1111_generation_answer(const A1111Generation& gen, const std::vector<A1111Image>& images,
                             const std::string& model_name, const std::string& job_timestamp) {
  const auto& first = gen.jobs.front().request;
  json all_seeds = json::array(), all_prompts = json::array(), all_negative = json::array(), subseeds = json::array();
  for (const auto& job : gen.jobs)
    for (int k = 0; k < job.request.batch_size; ++k) {  // a job's batch: seeds seed, seed+1, ...
      all_seeds.push_back(job.request.seed + uint64_t(k));
      all_prompts.push_back(job.request.prompt);
      all_negative.push_back(job.request.negative_prompt);
      subseeds.push_back(-1);
    }
  json infotexts = json::array(), b64 = json::array();
  for (const auto& image : images) {
    infotexts.push_back(image.infotext);
    if (gen.send_images) b64.push_back(image.png_base64);
  }
  // Processed.js(), in its order.
  ordered_json info;
  info["prompt"] = first.prompt;
  info["all_prompts"] = all_prompts;
  info["negative_prompt"] = first.negative_prompt;
  info["all_negative_prompts"] = all_negative;
  info["seed"] = first.seed;
  info["all_seeds"] = all_seeds;
  info["subseed"] = -1;
  info["all_subseeds"] = subseeds;
  info["subseed_strength"] = 0;
  info["width"] = first.width;
  info["height"] = first.height;
  info["sampler_name"] = pipeline::sampler_display_name(first.sampler);
  info["cfg_scale"] = first.guidance_scale;
  info["steps"] = first.steps;
  info["batch_size"] = gen.batch_size;
  info["restore_faces"] = false;
  info["face_restoration_model"] = nullptr;
  info["sd_model_name"] = model_name;
  info["sd_model_hash"] = nullptr;
  info["sd_vae_name"] = nullptr;
  info["sd_vae_hash"] = nullptr;
  info["seed_resize_from_w"] = -1;
  info["seed_resize_from_h"] = -1;
  info["denoising_strength"] = gen.mode == A1111Mode::Img2Img ? json(first.strength) : json(nullptr);
  info["extra_generation_params"] = json::object();
  info["index_of_first_image"] = 0;
  info["infotexts"] = infotexts;
  info["styles"] = json::array();
  info["job_timestamp"] = job_timestamp;
  info["clip_skip"] = first.clip_skip;
  info["is_using_inpainting_conditioning"] = first.operation == pipeline::Operation::Inpaint;
  info["version"] = worker_version();
  return {{"images", b64},
          {"parameters", gen.parameters},
          {"info", info.dump(-1, ' ', false, json::error_handler_t::replace)}};
}

json a1111_progress_answer(const A1111ProgressState& s) {
  double progress = 0, eta = 0;
  if (s.active && s.job_count > 0) {
    // A1111's check_progress_call: 0.01 so that the ETA never divides by zero.
    progress = 0.01 + double(s.job_no) / s.job_count;
    if (s.sampling_steps > 0) progress += double(s.sampling_step) / s.sampling_steps / s.job_count;
    eta = s.seconds_running / progress - s.seconds_running;
    progress = std::min(progress, 1.0);
  }
  json state = {{"skipped", s.skipped},
                {"interrupted", s.interrupted},
                {"stopping_generation", false},
                {"job", s.job},
                {"job_count", s.active ? s.job_count : 0},
                {"job_timestamp", s.job_timestamp},
                {"job_no", s.job_no},
                {"sampling_step", s.sampling_step},
                {"sampling_steps", s.sampling_steps}};
  return {{"progress", progress},
          {"eta_relative", eta},
          {"state", state},
          {"current_image", s.current_image ? json(*s.current_image) : json(nullptr)},
          {"textinfo", nullptr}};
}

json a1111_error_body(int status, const std::string& detail) {
  return {{"error", "HTTPException"}, {"detail", detail}, {"body", ""}, {"errors", std::to_string(status) + ": " + detail}};
}

std::string a1111_timestamp(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  return buf;
}

}  // namespace sd::server
