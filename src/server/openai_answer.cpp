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

std::string openai_image_path(const std::string& job_id, int index, io::ImageFormat format, int quality) {
  std::string path = "/v1/images/files/" + job_id + "-" + std::to_string(index) + "." + openai_format_name(format);
  if (format != io::ImageFormat::Png) path += "?quality=" + std::to_string(quality);
  return path;
}

std::optional<std::pair<std::string, int>> openai_image_name(std::string_view stem) {
  const size_t dash = stem.rfind('-');
  if (dash == std::string_view::npos || dash + 1 == stem.size() || stem.size() - dash > 2) return std::nullopt;
  const char digit = stem[dash + 1];  // a batch holds at most 8 images: one digit
  if (digit < '0' || digit > '9') return std::nullopt;
  return std::make_pair(std::string(stem.substr(0, dash)), digit - '0');
}

std::vector<uint8_t> openai_image_bytes(const std::vector<uint8_t>& png, io::ImageFormat format, int quality) {
  if (format == io::ImageFormat::Png) return png;
  return io::encode_image(io::decode_image(png), format, quality, io::read_parameters(png).value_or(""));
}

OpenAiImagesAnswer::OpenAiImagesAnswer(JobRegistry& registry, std::shared_ptr<Job> job,
                                       const OpenAiImageRequest& request, std::string base_url)
    : registry_(registry),
      job_(std::move(job)),
      format_(request.response_format),
      output_format_(request.output_format),
      quality_(request.output_compression),
      base_url_(std::move(base_url)),
      created_(unix_seconds()) {}

OpenAiImagesAnswer::~OpenAiImagesAnswer() {
  if (watch_id_) registry_.unwatch(*job_, *watch_id_);
  if (answered_) return;
  if (registry_.cancel(*job_) != JobRegistry::CancelOutcome::AlreadyFinished)
    log_info("job " + job_->id + " cancelled: its OpenAI client left");
}

void OpenAiImagesAnswer::start(std::function<void()> wake) {
  watch_id_ = registry_.watch(*job_, wake);
  wake();  // the job may have ended before the watch
}

std::optional<http::Response> OpenAiImagesAnswer::ready() {
  nlohmann::json status = registry_.status_json(*job_);
  const std::string state = status.value("status", "");
  if (state == "queued" || state == "running") return std::nullopt;
  answered_ = true;
  http::Response res;
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
  nlohmann::json data = nlohmann::json::array();
  for (const nlohmann::json& image : status["images"]) {
    if (format_ == ImageResponseFormat::Url)
      data.push_back(
          {{"url", base_url_ + openai_image_path(job_->id, image.value("index", 0), output_format_, quality_)}});
    else if (output_format_ == io::ImageFormat::Png)
      data.push_back({{"b64_json", image["image"]}});
    else
      data.push_back({{"b64_json", io::base64_encode(openai_image_bytes(
                                       io::base64_decode(image["image"].get<std::string>()), output_format_, quality_))}});
  }
  send_json(res, 200,
            {{"created", created_},
             {"data", std::move(data)},
             {"output_format", openai_format_name(output_format_)},
             {"size", std::to_string(status.value("width", 0)) + "x" + std::to_string(status.value("height", 0))}});
  return res;
}

}  // namespace sd::server
