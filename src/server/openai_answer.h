#pragma once
// The answer of POST /v1/images/generations and /edits: OpenAI's API is synchronous, so
// the request waits for its jobs as a deferred answer (http::DeferredAnswer): no thread is
// held while they run, and a client that gives up (a timeout, a closed socket) cancels
// them, so that an SDK's retries do not pile up work nobody will read.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/http/message.h"
#include "server/openai_request.h"

namespace sd::server {

class JobRegistry;
struct Job;

// Where image `index` of a job, answered by URL, is served:
// GET <base>/v1/images/files/<job id>-<index>.png (.jpeg or .webp for those formats, with
// ?quality=Q).
std::string openai_image_path(const std::string& job_id, int index, io::ImageFormat format, int quality);
// The job id and image index of a file name's stem ("<job id>-<index>"); nullopt when the
// stem does not end in an index.
std::optional<std::pair<std::string, int>> openai_image_name(std::string_view stem);
// A job's PNG in `format` (JPEG/WebP at `quality`), its generation parameters kept.
std::vector<uint8_t> openai_image_bytes(const std::vector<uint8_t>& png, io::ImageFormat format, int quality);
// "png", "jpeg", "webp".
const char* openai_format_name(io::ImageFormat format);

class OpenAiImagesAnswer : public http::DeferredAnswer {
 public:
  // `job` makes the request's n images as one batch; `base_url` is "http://host:port" as
  // the client reached the worker.
  OpenAiImagesAnswer(JobRegistry& registry, std::shared_ptr<Job> job, const OpenAiImageRequest& request,
                     std::string base_url);
  ~OpenAiImagesAnswer() override;

  void start(std::function<void()> wake) override;
  std::optional<http::Response> ready() override;

 private:
  JobRegistry& registry_;
  const std::shared_ptr<Job> job_;
  const ImageResponseFormat format_;
  const io::ImageFormat output_format_;
  const int quality_;
  const std::string base_url_;
  const int64_t created_;                       // Unix seconds
  std::optional<uint64_t> watch_id_;
  bool answered_ = false;
};

}  // namespace sd::server
