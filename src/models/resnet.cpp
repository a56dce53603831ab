#include "models/resnet.h"

#include "core/cancellation.h"
#include "core/error.h"
#include "models/layers.h"

namespace sd::models {

ResnetBlock2D::ResnetBlock2D(const WeightSource& w, const std::string& prefix, int in_channels,
                             int out_channels, int temb_channels, int groups, float eps,
                             float output_scale_factor, DType dtype)
    : output_scale_factor_(output_scale_factor) {
  norm1_ = load_group_norm(w, join(prefix, "norm1"), groups, in_channels, eps);
  conv1_ = load_conv2d(w, join(prefix, "conv1"), in_channels, out_channels, 3, ops::Conv2dOptions::same(1), dtype);
  if (temb_channels > 0)
    time_emb_proj_ = load_linear(w, join(prefix, "time_emb_proj"), temb_channels, out_channels, true, dtype);
  norm2_ = load_group_norm(w, join(prefix, "norm2"), groups, out_channels, eps);
  conv2_ = load_conv2d(w, join(prefix, "conv2"), out_channels, out_channels, 3, ops::Conv2dOptions::same(1), dtype);
  if (in_channels != out_channels)
    conv_shortcut_ = load_conv2d(w, join(prefix, "conv_shortcut"), in_channels, out_channels, 1,
                                 ops::Conv2dOptions::same(0), dtype);
}

Tensor ResnetBlock2D::forward(Tensor x, const Tensor* temb_act) const {
  // The shortcut comes first: with a conv shortcut, x is then needed only by norm1, which
  // overwrites it when the caller gave it up, and x's memory is gone before conv2 runs.
  // At the VAE decoder's full resolution that is the decode's memory peak.
  // A cancel is honoured before each of the two convolutions: at the VAE's full
  // resolution one of them is the longest stretch without a check.
  check_cancelled();
  const Tensor shortcut = conv_shortcut_.defined() ? conv_shortcut_.forward(x) : x;
  Tensor h = std::move(x);
  norm1_.forward_(h, /*silu=*/true);
  h = conv1_.forward(h);
  check_cancelled();
  if (time_emb_proj_.defined()) {
    SD_CHECK(temb_act != nullptr, "ResnetBlock2D with time_emb_proj called without a time embedding");
    Tensor t = time_emb_proj_.forward(*temb_act);
    ops::add_(h, t.reshape(Shape{t.size(0), t.size(1), 1, 1}));
  }
  norm2_.forward_(h, /*silu=*/true);
  Tensor out = conv2_.forward(h, &shortcut);
  if (output_scale_factor_ != 1.f) out = ops::scale(out, 1.f / output_scale_factor_);
  return out;
}

void ResnetBlock2D::register_modules(ModuleRegistry& r, const std::string& prefix) {
  r.add(join(prefix, "conv1"), conv1_);
  r.add(join(prefix, "time_emb_proj"), time_emb_proj_);
  r.add(join(prefix, "conv2"), conv2_);
  r.add(join(prefix, "conv_shortcut"), conv_shortcut_);
}

static ops::Conv2dOptions downsample_options(int padding) {
  if (padding == 0) return ops::Conv2dOptions{2, 0, 0, 1, 1};  // F.pad (0,1,0,1), then pad 0
  return ops::Conv2dOptions::same(padding, 2);
}

Downsample2D::Downsample2D(const WeightSource& w, const std::string& prefix, int channels, int padding,
                           DType dtype)
    : conv_(load_conv2d(w, join(prefix, "conv"), channels, channels, 3, downsample_options(padding), dtype)) {}

Upsample2D::Upsample2D(const WeightSource& w, const std::string& prefix, int channels, DType dtype, bool fused) {
  if (!fused) {
    conv_ = load_conv2d(w, join(prefix, "conv"), channels, channels, 3, ops::Conv2dOptions::same(1), dtype);
    return;
  }
  fused_conv_ = ops::UpsampleConv2d(w.get(join(prefix, "conv.weight"), Shape{channels, channels, 3, 3}, DType::F32),
                                    w.get(join(prefix, "conv.bias"), Shape{channels}, DType::F32), dtype);
}

Tensor Upsample2D::forward(const Tensor& x, int64_t height, int64_t width) const {
  if (fused_conv_.defined()) {
    SD_CHECK((height == 0 || height == 2 * x.size(2)) && (width == 0 || width == 2 * x.size(3)),
             "fused Upsample2D only doubles the size of " + x.desc());
    return fused_conv_.forward(x);
  }
  Tensor up = ops::upsample_nearest2x(x);
  // Nearest interpolation to a size of 2n-1 picks the same source pixels as 2x followed by
  // dropping the last row/column, so a crop gives diffusers' interpolate(size=...).
  if (height > 0 && height != up.size(2)) {
    SD_CHECK(height == up.size(2) - 1, "upsample to height " + std::to_string(height) + " from " + x.desc());
    up = up.narrow(2, 0, height);
  }
  if (width > 0 && width != up.size(3)) {
    SD_CHECK(width == up.size(3) - 1, "upsample to width " + std::to_string(width) + " from " + x.desc());
    up = up.narrow(3, 0, width);
  }
  return conv_.forward(up);
}

}  // namespace sd::models
