#pragma once
// The answer of POST /v1/images/generations and /edits: OpenAI's API is synchronous, so
// the request waits for its jobs as a deferred answer (http::DeferredAnswer): no thread is
// held while they run, and a client that gives up (a timeout, a closed socket) cancels
// them, so that an SDK's retries do not pile up work nobody will read.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/http/message.h"
#include "server/openai_request.h"

namespace sd::server {

class JobRegistry;
struct Job;

// Where an image answered by URL is served: GET <base>/v1/images/files/<job id>.png.
// (.jpeg or .webp for those formats, with ?quality=Q).
std::string openai_image_path(const std::string& job_id, io::ImageFormat format, int quality);
// A job's PNG in `format` (JPEG/WebP at `quality`), its generation parameters kept.
std::vector<uint8_t> openai_image_bytes(const std::vector<uint8_t>& png, io::ImageFormat format, int quality);
// "png", "jpeg", "webp".
const char* openai_format_name(io::ImageFormat format);

class OpenAiImagesAnswer : public http::DeferredAnswer {
 public:
  // `jobs` in image order; `base_url` is "http://host:port" as the client reached the worker.
  OpenAiImagesAnswer(JobRegistry& registry, std::vector<std::shared_ptr<Job>> jobs, const OpenAiImageRequest& request,
                     std::string base_url);
  ~OpenAiImagesAnswer() override;

  void start(std::function<void()> wake) override;
  std::optional<http::Response> ready() override;

 private:
  JobRegistry& registry_;
  const std::vector<std::shared_ptr<Job>> jobs_;
  const ImageResponseFormat format_;
  const io::ImageFormat output_format_;
  const int quality_;
  const std::string base_url_;
  const int64_t created_;                       // Unix seconds
  std::vector<uint64_t> watch_ids_;
  std::vector<std::optional<nlohmann::json>> finished_;  // each job's status once it ended
  bool answered_ = false;
};

}  // namespace sd::server
