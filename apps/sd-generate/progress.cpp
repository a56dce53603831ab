#include "progress.h"

#include <algorithm>
#include <cmath>

namespace sd::apps {

namespace {
// In a log, a step line every this many steps at most (and always the last), so a
// 150-step run writes about 15 lines, not 150.
constexpr int kLogLinesPerRun = 10;
constexpr int kBarWidth = 24;
}  // namespace

std::string rate_text(double seconds_per_step) {
  char buf[32];
  if (seconds_per_step >= 1.0 || seconds_per_step <= 0.0)
    std::snprintf(buf, sizeof buf, "%.2f s/it", seconds_per_step);
  else
    std::snprintf(buf, sizeof buf, "%.2f it/s", 1.0 / seconds_per_step);
  return buf;
}

std::string duration_text(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%lds", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  return buf;
}

void Progress::phase(const std::string& name, double seconds, const std::string& detail) {
  std::fprintf(out_, "%-12s %8.2f s%s%s\n", name.c_str(), seconds, detail.empty() ? "" : "  ", detail.c_str());
  std::fflush(out_);
}

void Progress::image_phases(const std::map<std::string, double>& timings, int steps) {
  auto at = [&](const char* key) { return timings.count(key) ? timings.at(key) : -1.0; };
  if (at("lora") >= 0) phase("lora merge", at("lora"));
  if (at("text_encoder") >= 0) phase("text encode", at("text_encoder"));
  if (at("vae_encode") >= 0) phase("image encode", at("vae_encode"));
  if (at("denoise") >= 0)
    phase("sampling", at("denoise"), std::to_string(steps) + " steps, " + rate_text(at("denoise") / std::max(1, steps)));
  if (at("vae_decode") >= 0) phase("decode", at("vae_decode"), "VAE");
  if (at("taesd_decode") >= 0) phase("decode", at("taesd_decode"), "TAESD");
}

void Progress::start_steps(const std::string& label) {
  label_ = label;
  steps_start_ = Clock::now();
}

void Progress::step(int step, int total) {
  const auto now = Clock::now();
  if (step <= 1) first_step_ = now;
  const double per_step = step <= 1 ? std::chrono::duration<double>(now - steps_start_).count()
                                    : std::chrono::duration<double>(now - first_step_).count() / (step - 1);
  const std::string rate = rate_text(per_step);
  const std::string eta = duration_text(per_step * (total - step));
  const char* sep = label_.empty() ? "" : " ";
  if (terminal_) {
    const int filled = total > 0 ? step * kBarWidth / total : kBarWidth;
    std::string bar(size_t(filled), '#');
    bar.resize(size_t(kBarWidth), ' ');
    // \033[K clears what a longer previous line left behind.
    std::fprintf(out_, "\r%s%s[%s] %d/%d  %s  ETA %s\033[K", label_.c_str(), sep, bar.c_str(), step, total,
                 rate.c_str(), eta.c_str());
    if (step == total) std::fputc('\n', out_);
  } else {
    const int every = std::max(1, (total + kLogLinesPerRun - 1) / kLogLinesPerRun);
    if (step % every != 0 && step != total) return;
    std::fprintf(out_, "%s%sstep %d/%d  %s  ETA %s\n", label_.c_str(), sep, step, total, rate.c_str(), eta.c_str());
  }
  std::fflush(out_);
}

}  // namespace sd::apps
