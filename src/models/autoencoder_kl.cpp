#include "models/autoencoder_kl.h"

#include <algorithm>

#include "core/error.h"
#include "models/layers.h"

namespace sd::models {

namespace {

constexpr float kVaeEps = 1e-6f;

std::string child(const std::string& prefix, const char* list, int i) {
  return join(prefix, std::string(list) + "." + std::to_string(i));
}

Tensor to_f32_nchw(const Tensor& x) {
  return ops::to_layout(ops::to_dtype(x, DType::F32), MemoryFormat::Contiguous);
}

}  // namespace

VaeEncoder::VaeEncoder(const WeightSource& w, const std::string& prefix, const VaeConfig& c, DType dtype)
    : conv_in_(load_conv2d(w, join(prefix, "conv_in"), c.in_channels, c.block_out_channels[0], 3,
                           ops::Conv2dOptions::same(1), dtype)),
      mid_block_(w, join(prefix, "mid_block"), c.block_out_channels.back(), c.norm_num_groups,
                 c.mid_block_add_attention, dtype),
      conv_norm_out_(load_group_norm(w, join(prefix, "conv_norm_out"), c.norm_num_groups, c.block_out_channels.back(),
                                     kVaeEps)),
      conv_out_(load_conv2d(w, join(prefix, "conv_out"), c.block_out_channels.back(), 2 * c.latent_channels, 3,
                            ops::Conv2dOptions::same(1), dtype)) {
  int output_channel = c.block_out_channels[0];
  for (int i = 0; i < c.levels(); ++i) {
    const int input_channel = output_channel;
    output_channel = c.block_out_channels[i];
    down_blocks_.emplace_back(w, child(prefix, "down_blocks", i), input_channel, output_channel, c.layers_per_block,
                              c.norm_num_groups, i != c.levels() - 1, dtype);
  }
}

Tensor VaeEncoder::forward(const Tensor& x) const {
  Tensor h = conv_in_.forward(x);
  for (const auto& b : down_blocks_) h = b.forward(std::move(h));
  h = mid_block_.forward(h);
  return conv_out_.forward(conv_norm_out_.forward(h, /*silu=*/true));
}

VaeDecoder::VaeDecoder(const WeightSource& w, const std::string& prefix, const VaeConfig& c, DType dtype)
    : conv_in_(load_conv2d(w, join(prefix, "conv_in"), c.latent_channels, c.block_out_channels.back(), 3,
                           ops::Conv2dOptions::same(1), dtype)),
      mid_block_(w, join(prefix, "mid_block"), c.block_out_channels.back(), c.norm_num_groups,
                 c.mid_block_add_attention, dtype),
      conv_norm_out_(load_group_norm(w, join(prefix, "conv_norm_out"), c.norm_num_groups, c.block_out_channels[0],
                                     kVaeEps)),
      conv_out_(load_conv2d(w, join(prefix, "conv_out"), c.block_out_channels[0], c.out_channels, 3,
                            ops::Conv2dOptions::same(1), dtype)) {
  std::vector<int> reversed(c.block_out_channels.rbegin(), c.block_out_channels.rend());
  int output_channel = reversed[0];
  for (int i = 0; i < c.levels(); ++i) {
    const int prev_output_channel = output_channel;
    output_channel = reversed[i];
    up_blocks_.emplace_back(w, child(prefix, "up_blocks", i), prev_output_channel, output_channel,
                            c.layers_per_block + 1, c.norm_num_groups, i != c.levels() - 1, dtype);
  }
}

Tensor VaeDecoder::forward(const Tensor& z) const {
  Tensor h = conv_in_.forward(z);
  h = mid_block_.forward(h);
  for (const auto& b : up_blocks_) h = b.forward(std::move(h));
  conv_norm_out_.forward_(h, /*silu=*/true);
  return conv_out_.forward(h);
}

AutoencoderKL::AutoencoderKL(const VaeConfig& config, const WeightSource& w, DType dtype)
    : config_(config),
      dtype_((check_compute_dtype(dtype), dtype)),
      encoder_(w, "encoder", config_, dtype),
      decoder_(w, "decoder", config_, dtype) {
  const int lc = config_.latent_channels;
  if (config_.use_quant_conv)
    quant_conv_ = load_conv2d(w, "quant_conv", 2 * lc, 2 * lc, 1, ops::Conv2dOptions::same(0), dtype);
  if (config_.use_post_quant_conv)
    post_quant_conv_ = load_conv2d(w, "post_quant_conv", lc, lc, 1, ops::Conv2dOptions::same(0), dtype);
}

std::unique_ptr<AutoencoderKL> AutoencoderKL::load(const std::string& dir, DType dtype) {
  const VaeConfig config = VaeConfig::load(dir + "/config.json");
  const auto weights = SafetensorsWeights::open_component(dir);
  auto model = std::make_unique<AutoencoderKL>(config, *weights, dtype);
  weights->require_all_used();
  return model;
}

void AutoencoderKL::check_image(const Tensor& image) const {
  if (image.ndim() != 4 || image.size(1) != config_.in_channels)
    throw Error("VAE encode: image must be [B, " + std::to_string(config_.in_channels) + ", H, W], got " +
                image.desc());
}

void AutoencoderKL::check_latent(const Tensor& z) const {
  if (z.ndim() != 4 || z.size(1) != config_.latent_channels)
    throw Error("VAE decode: latent must be [B, " + std::to_string(config_.latent_channels) + ", h, w], got " +
                z.desc());
}

Tensor AutoencoderKL::moments(const Tensor& image) const {
  Tensor m = encoder_.forward(image);
  if (quant_conv_.defined()) m = quant_conv_.forward(m);
  return to_f32_nchw(m);
}

LatentDistribution AutoencoderKL::encode(const Tensor& image) const {
  check_image(image);
  return distribution(moments(image));
}

LatentDistribution AutoencoderKL::distribution(const Tensor& moments) const {
  const int64_t lc = config_.latent_channels;
  LatentDistribution d;
  // On the host, where the pipeline samples it with its noise generator.
  const Tensor m = moments.to(Device::cpu());
  d.mean = m.narrow(1, 0, lc).contiguous();
  d.logvar = m.narrow(1, lc, lc).contiguous();
  float* lv = d.logvar.data<float>();
  for (int64_t i = 0; i < d.logvar.numel(); ++i) lv[i] = std::clamp(lv[i], -30.f, 20.f);
  return d;
}

Tensor AutoencoderKL::decode(const Tensor& z) const {
  check_latent(z);
  Tensor h = post_quant_conv_.defined() ? post_quant_conv_.forward(z) : z;
  return to_f32_nchw(decoder_.forward(h));
}

}  // namespace sd::models
