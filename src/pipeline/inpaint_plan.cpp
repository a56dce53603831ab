#include "pipeline/inpaint_plan.h"

#include "pipeline/masked_content.h"

namespace sd::pipeline {

io::Image InpaintPlan::finish(io::Image generated, const GenerationRequest& asked) const {
  if (!paste) return generated;
  // A1111 scales the whole picture's blurred mask by 2 (the inner half of its edge all
  // generated), the "only masked" one not.
  if (box) return paste_into_box(generated, *asked.init_image, *paste, *box);
  return paste_original(generated, *asked.init_image, *paste, 2.f);
}

InpaintPlan plan_inpaint(const GenerationRequest& req) {
  InpaintPlan plan{req, std::nullopt, std::nullopt};
  if (req.operation != Operation::Inpaint || !req.init_image || !req.mask_image) return plan;
  GenerationRequest& work = plan.work;
  const bool blur = req.mask_blur_x > 0 || req.mask_blur_y > 0;
  if (!req.inpaint_only_masked) {
    if (blur) work.mask_image = blur_mask(*req.mask_image, req.mask_blur_x, req.mask_blur_y);
    if (req.paste_original) plan.paste = *work.mask_image;
    return plan;
  }
  // The box is found on the blurred mask at the input's size: its faint edge is inside.
  const io::Image& init = *req.init_image;
  io::Image mask =
      blur_mask(mask_at_size(*req.mask_image, init.width, init.height), req.mask_blur_x, req.mask_blur_y);
  const std::optional<PixelBox> box = masked_box(mask, req.inpaint_padding);
  if (!box) {
    work.operation = Operation::Img2Img;
    work.mask_image.reset();
    return plan;
  }
  plan.box = widen_to_aspect(*box, req.width, req.height, init.width, init.height);
  work.init_image = crop(init, *plan.box);
  work.mask_image = crop(mask, *plan.box);
  work.mask_blur_x = work.mask_blur_y = 0.f;
  work.inpaint_only_masked = false;
  plan.paste = std::move(mask);
  return plan;
}

}  // namespace sd::pipeline
