#pragma once
// Where sd-generate's images go and in which format, decided and checked before the model
// loads, so that a bad path costs no generation.
#include <cstdint>
#include <string>
#include <vector>

#include "io/image_format.h"
#include "options.h"

namespace sd::apps {

class OutputPlan {
 public:
  // Resolves the format (--format, else --output's extension, else PNG) and checks the
  // destination: the folder exists (or is created) and takes a new file. Throws sd::Error
  // with one line naming the flag at fault.
  static OutputPlan make(const Options& o, int image_count);

  io::ImageFormat format() const { return format_; }
  int quality() const { return quality_; }

  // Writes image `index` (0-based) of the run: --output as given (or <stem>-<index+1>.<ext>
  // when there are several), --output-dir as the next free <number>-<seed>.<ext>, never
  // replacing a file. Returns the path written; throws sd::Error naming it on failure.
  std::string write(int index, uint64_t seed, const std::vector<uint8_t>& bytes) const;

 private:
  io::ImageFormat format_ = io::ImageFormat::Png;
  int quality_ = 80;
  std::string output_;  // --output, or empty
  std::string dir_;     // --output-dir, or empty
  int image_count_ = 1;
};

}  // namespace sd::apps
