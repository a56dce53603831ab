#include "text/builtin_clip_vocabulary.h"

namespace sd::text {

std::shared_ptr<const ClipBpe> builtin_clip_bpe() {
  static const std::shared_ptr<const ClipBpe> bpe =
      ClipBpe::from_merges(builtin_clip_merges_text(), "built-in CLIP merges");
  return bpe;
}

}  // namespace sd::text
