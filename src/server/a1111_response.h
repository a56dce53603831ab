#pragma once
// The answers of AUTOMATIC1111's sdapi/v1 in its shapes: txt2img/img2img's
// {images, parameters, info} with `info` a JSON string (processing.py's Processed.js()),
// /progress, and the error body of its exception middleware.
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "server/a1111_request.h"

namespace sd::server {

struct A1111Image {
  std::string png_base64;  // with the "parameters" text chunk
  uint64_t seed = 0;
  std::string infotext;    // that chunk's text
};

// `images` in A1111's order; fewer than requested when the call was interrupted or
// images were skipped.
nlohmann::json a1111_generation_answer(const A1111Generation& gen, const std::vector<A1111Image>& images,
                                       const std::string& model_name, const std::string& job_timestamp);

// What /sdapi/v1/progress reports of the call in progress (A1111's shared.state).
struct A1111ProgressState {
  bool active = false;       // a txt2img/img2img call is in progress
  std::string job;           // "txt2img", "img2img"
  int job_count = 0;         // images of the call
  int job_no = 0;            // images finished (0-based index of the current one)
  int sampling_step = 0;
  int sampling_steps = 0;
  bool interrupted = false;
  bool skipped = false;
  std::string job_timestamp;
  double seconds_running = 0;
  std::optional<std::string> current_image;  // base64 PNG of the newest preview
};
nlohmann::json a1111_progress_answer(const A1111ProgressState& s);

// A1111's middleware answer for an HTTPException:
// {"error":"HTTPException","detail":...,"body":"","errors":"<status>: <detail>"}.
nlohmann::json a1111_error_body(int status, const std::string& detail);

// "20240101123045", the time a call started (A1111's job_timestamp).
std::string a1111_timestamp(std::chrono::system_clock::time_point t);

}  // namespace sd::server
