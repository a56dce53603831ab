#include "loaders/model_tokenizer.h"

#include <filesystem>

namespace sd::pipeline {

text::ClipTokenizer load_model_tokenizer(const std::string& folder, const std::string& vocab_dir,
                                         const text::TokenizerConfig& builtin) {
  std::error_code ec;
  const bool has_folder = std::filesystem::is_directory(folder, ec);
  return text::ClipTokenizer(text::ClipTokenizer::load_vocabulary(has_folder ? folder : "", vocab_dir),
                             has_folder ? text::read_tokenizer_config(folder) : builtin);
}

}  // namespace sd::pipeline
