#pragma once
// What sd-generate tells the person watching: a line per phase with its time, and the
// denoising steps with their rate and the time left. On a terminal the step line is
// redrawn in place; in a log (stderr not a terminal) it is a plain line every few steps.
#include <chrono>
#include <cstdio>
#include <map>
#include <string>

namespace sd::apps {

class Progress {
 public:
  Progress(std::FILE* out, bool terminal) : out_(out), terminal_(terminal) {}

  // "load          2.31 s  (detail)".
  void phase(const std::string& name, double seconds, const std::string& detail = "");
  // The phases of one finished image from the pipeline's timings, in the order they ran
  // (LoRA merge, text encode, VAE encode, sampling, decode).
  void image_phases(const std::map<std::string, double>& timings, int steps);

  // Call once before each image's first step; `label` names the image ("image 2/3").
  void start_steps(const std::string& label);
  // After step `step` (1-based) of `total`.
  void step(int step, int total);

 private:
  using Clock = std::chrono::steady_clock;
  std::FILE* out_;
  bool terminal_;
  std::string label_;
  Clock::time_point steps_start_;
  Clock::time_point first_step_;  // the rate counts from here: step 1 also holds text encoding
};

// "0.31 s/it" below one step a second, "3.20 it/s" above: the way tqdm (and so A1111 and
// ComfyUI) shows a rate.
std::string rate_text(double seconds_per_step);
// "12s", "3m05s", "1h02m".
std::string duration_text(double seconds);

}  // namespace sd::apps
