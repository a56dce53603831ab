#pragma once
// How a masked request runs, as A1111 runs masked img2img: the request the networks see
// (the mask blurred by mask_blur; for "only masked", the box around it cut out of the
// input) and how each of its images becomes the answer (the original pasted back through
// the mask, into the box for "only masked").
#include <optional>

#include "io/image.h"
#include "pipeline/inpaint_area.h"
#include "pipeline/request.h"

namespace sd::pipeline {

struct InpaintPlan {
  GenerationRequest work;          // what the networks run
  std::optional<PixelBox> box;     // "only masked": where `work`'s images go in the input
  std::optional<io::Image> paste;  // the mask the original is pasted back through, if it is

  // The answer's image from one of `work`'s: unchanged, or with the original (`asked`'s
  // init image) pasted back.
  io::Image finish(io::Image generated, const GenerationRequest& asked) const;
};

// Requests other than a masked inpaint with mask_blur, paste_original or
// inpaint_only_masked run as they are. A blank mask with inpaint_only_masked is a plain
// img2img of the whole picture, as in A1111.
InpaintPlan plan_inpaint(const GenerationRequest& req);

}  // namespace sd::pipeline
