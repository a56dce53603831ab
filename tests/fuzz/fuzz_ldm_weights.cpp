// LDM single-file checkpoints: the layout detected from tensor names and shapes, then a
// text encoder loaded through the name mapping, both as HF CLIP (SD1.x) and as OpenCLIP
// (SD2.x: fused q/k/v split, text_projection transposed, layers past the config ignored),
// then the check that nothing under the prefix was left unused. The encoder is tiny
// (hidden 8, 2 layers; OpenCLIP uses 1 of them), so a seed file is a few kB.
#include "core/error.h"
#include "fuzz_support.h"
#include "models/clip_text_model.h"
#include "loaders/ldm_weights.h"

namespace {

sd::models::ClipTextConfig tiny_clip(bool open_clip) {
  sd::models::ClipTextConfig c;
  c.vocab_size = 16;
  c.hidden_size = 8;
  c.intermediate_size = 16;
  c.num_hidden_layers = open_clip ? 1 : 2;
  c.num_attention_heads = 2;
  c.max_position_embeddings = 4;
  c.projection_dim = 8;
  c.with_projection = open_clip;
  return c;
}

void load(const std::shared_ptr<const sd::io::SafetensorsFile>& file, bool open_clip) {
  try {
    const auto c = tiny_clip(open_clip);
    const auto weights = open_clip ? sd::models::ldm_open_clip_weights(file, sd::models::kLdmSd2OpenClipPrefix, c)
                                   : sd::models::ldm_clip_weights(file, sd::models::kLdmSd1ClipPrefix);
    const sd::models::ClipTextModel model(c, *weights);
    weights->require_all_used();
  } catch (const sd::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sd::fuzz::MemoryFile file(data, size);
  std::shared_ptr<const sd::io::SafetensorsFile> st;
  try {
    st = std::make_shared<const sd::io::SafetensorsFile>(sd::io::SafetensorsFile::open(file.path()));
    sd::models::detect_ldm_layout(*st);
  } catch (const sd::Error&) {
    if (!st) return 0;
  }
  load(st, false);
  load(st, true);
  return 0;
}
