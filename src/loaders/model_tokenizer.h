#pragma once
// A model's CLIP tokenizer from whatever the model ships: its tokenizer folder's config
// (or, without the folder, its version's built-in config), and the vocabulary from
// --tokenizer-dir, the folder, or the built-in CLIP vocabulary when neither has one.
#include <string>

#include "text/clip_tokenizer.h"
#include "text/tokenizer_config.h"

namespace sd::pipeline {

// `folder`: the model's tokenizer/ or tokenizer_2/ (may be absent); `vocab_dir`:
// LoadOptions::tokenizer_dir (may be empty); `builtin`: the version's own config
// (builtin_configs.h). Throws sd::Error naming a malformed file.
text::ClipTokenizer load_model_tokenizer(const std::string& folder, const std::string& vocab_dir,
                                         const text::TokenizerConfig& builtin);

}  // namespace sd::pipeline
