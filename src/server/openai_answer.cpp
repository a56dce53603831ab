#include "server/openai_answer.h"

#include "core/log.h"
#include "io/image.h"
#include "server/api_error.h"
#include "server/job_registry.h"
#include "server/openai_error.h"

namespace sd::server {

namespace {
int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

const char* openai_format_name(io::ImageFormat format) {
  switch (format) {
    case io::ImageFormat::Jpeg: return "jpeg";
    case io::ImageFormat::Webp: return "webp";
    case io::ImageFormat::Png: break;
  }
  return "png";
}

std::string openai_image_path(const std::string& job_id, io::ImageFormat format, int quality) {
  std::string path = "/v1/images/files/" + job_id + "." + openai_format_name(format);
  if (format != io::ImageFormat::Png) path += "?quality=" + std::to_string(quality);
  return path;
}

std::vector<uint8_t> openai_image_bytes(const std::vector<uint8_t>& png, io::ImageFormat format, int quality) {
  if (format == io::ImageFormat::Png) return png;
  return io::encode_image(io::decode_image(png), format, quality, io::read_parameters(png).value_or(""));
}

OpenAiImagesAnswer::OpenAiImagesAnswer(JobRegistry& registry, std::vector<std::shared_ptr<Job>> jobs,
                                       const OpenAiImageRequest& request, std::string base_url)
    : registry_(registry),
      jobs_(std::move(jobs)),
      format_(request.response_format),
      output_format_(request.output_format),
      quality_(request.output_compression),
      base_url_(std::move(base_url)),
      created_(unix_seconds()),
      finished_(jobs_.size()) {}

OpenAiImagesAnswer::~OpenAiImagesAnswer() {
  for (size_t i = 0; i < watch_ids_.size(); ++i) registry_.unwatch(*jobs_[i], watch_ids_[i]);
  if (answered_) return;
  for (const auto& job : jobs_)
    if (registry_.cancel(*job) != JobRegistry::CancelOutcome::AlreadyFinished)
      log_info("job " + job->id + " cancelled: its OpenAI client left");
}

void OpenAiImagesAnswer::start(std::function<void()> wake) {
  for (const auto& job : jobs_) watch_ids_.push_back(registry_.watch(*job, wake));
  wake();  // jobs may have ended before the watch
}

std::optional<http::Response> OpenAiImagesAnswer::ready() {
  for (size_t i = 0; i < jobs_.size(); ++i) {
    if (finished_[i]) continue;
    nlohmann::json status = registry_.status_json(*jobs_[i]);
    const std::string state = status.value("status", "");
    if (state == "queued" || state == "running") return std::nullopt;
    finished_[i] = std::move(status);
  }
  answered_ = true;
  http::Response res;
  nlohmann::json data = nlohmann::json::array();
  int width = 0, height = 0;
  for (size_t i = 0; i < jobs_.size(); ++i) {
    const nlohmann::json& status = *finished_[i];
    const std::string state = status.value("status", "");
    if (state == "failed") {
      send_openai_error(res, {500, "image generation failed: " + status.value("error", std::string("unknown error")),
                              "server_error", "", "generation_failed"});
      return res;
    }
    if (state != "completed") {
      send_openai_error(res, {503, "the job was cancelled before it finished (the worker may be shutting down)",
                              "server_error", "", "cancelled", 5});
      return res;
    }
    width = status.value("width", 0);
    height = status.value("height", 0);
    if (format_ == ImageResponseFormat::Url)
      data.push_back({{"url", base_url_ + openai_image_path(jobs_[i]->id, output_format_, quality_)}});
    else if (output_format_ == io::ImageFormat::Png)
      data.push_back({{"b64_json", status["image"]}});
    else
      data.push_back({{"b64_json", io::base64_encode(openai_image_bytes(
                                       io::base64_decode(status["image"].get<std::string>()), output_format_, quality_))}});
  }
  send_json(res, 200,
            {{"created", created_},
             {"data", std::move(data)},
             {"output_format", openai_format_name(output_format_)},
             {"size", std::to_string(width) + "x" + std::to_string(height)}});
  return res;
}

}  // namespace sd::server
