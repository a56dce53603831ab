#include "models/taesd.h"

#include <filesystem>

#include "core/cancellation.h"
#include "core/error.h"
#include "models/layers.h"
#include "models/taesd_weights.h"

namespace sd::models {

namespace fs = std::filesystem;

namespace {

constexpr float kPoolNormEps = 1e-5f;  // torch.nn.GroupNorm's default, as upstream builds it
constexpr int kPoolNormGroups = 4;
constexpr int kPoolWidth = 4;  // the pool branch's hidden channels per block channel

std::string layer(const std::string& prefix, int index) { return join(prefix, std::to_string(index)); }

ops::Conv2d load_conv_without_bias(const WeightSource& w, const std::string& prefix, int in, int out, int kernel,
                                   ops::Conv2dOptions opt, DType dtype) {
  return ops::Conv2d(w.get(join(prefix, "weight"), Shape{out, in, kernel, kernel}, dtype), Tensor(), opt);
}

Tensor to_f32_nchw(const Tensor& x) { return ops::to_layout(ops::to_dtype(x, DType::F32), MemoryFormat::Contiguous); }

// a*x + b element-wise, float32 contiguous (the [-1,1] <-> [0,1] image maps).
Tensor affine(const Tensor& x, float a, float b) {
  return ops::add(ops::scale(to_f32_nchw(x), a), Tensor::full(Shape{1}, b).to(x.device()));
}

// The taef2 branch sits in the blocks at latent resolution.
bool pool_at(const TaesdConfig& c, bool latent_resolution) { return c.use_midblock_gn && latent_resolution; }

}  // namespace

AutoencoderTinyBlock::AutoencoderTinyBlock(const WeightSource& w, const std::string& prefix, int channels, bool pool,
                                           DType dtype)
    : conv0_(load_conv2d(w, join(prefix, "conv.0"), channels, channels, 3, ops::Conv2dOptions::same(1), dtype)),
      conv2_(load_conv2d(w, join(prefix, "conv.2"), channels, channels, 3, ops::Conv2dOptions::same(1), dtype)),
      conv4_(load_conv2d(w, join(prefix, "conv.4"), channels, channels, 3, ops::Conv2dOptions::same(1), dtype)) {
  if (!pool) return;
  const int hidden = kPoolWidth * channels;
  pool0_ = load_conv_without_bias(w, join(prefix, "pool.0"), channels, hidden, 1, ops::Conv2dOptions::same(0), dtype);
  pool1_ = load_group_norm(w, join(prefix, "pool.1"), kPoolNormGroups, hidden, kPoolNormEps);
  pool3_ = load_conv_without_bias(w, join(prefix, "pool.3"), hidden, channels, 1, ops::Conv2dOptions::same(0), dtype);
}

Tensor AutoencoderTinyBlock::forward(const Tensor& input) const {
  check_cancelled();
  Tensor x = input;
  if (pool0_.defined()) {
    const Tensor hidden = ops::activation(pool1_.forward(pool0_.forward(x)), ops::Activation::ReLU);
    x = pool3_.forward(hidden, &x);
  }
  Tensor h = conv0_.forward(x, nullptr, ops::Activation::ReLU);
  h = conv2_.forward(h, nullptr, ops::Activation::ReLU);
  return ops::activation(conv4_.forward(h, &x), ops::Activation::ReLU);
}

TaesdEncoder::TaesdEncoder(const WeightSource& w, const std::string& prefix, const TaesdConfig& c, DType dtype) {
  const int stages = int(c.num_encoder_blocks.size());
  int index = 0;
  for (int s = 0; s < stages; ++s) {
    const int ch = c.encoder_block_out_channels[size_t(s)];
    Stage stage;
    stage.conv =
        s == 0 ? load_conv2d(w, layer(prefix, index), c.in_channels, ch, 3, ops::Conv2dOptions::same(1), dtype)
               : load_conv_without_bias(w, layer(prefix, index), ch, ch, 3, ops::Conv2dOptions::same(1, 2), dtype);
    ++index;
    for (int b = 0; b < c.num_encoder_blocks[size_t(s)]; ++b)
      stage.blocks.emplace_back(w, layer(prefix, index++), ch, pool_at(c, s == stages - 1), dtype);
    stages_.push_back(std::move(stage));
  }
  conv_out_ = load_conv2d(w, layer(prefix, index), c.encoder_block_out_channels.back(), c.latent_channels, 3,
                          ops::Conv2dOptions::same(1), dtype);
}

Tensor TaesdEncoder::forward(const Tensor& x) const {
  Tensor h = x;
  for (const auto& stage : stages_) {
    h = stage.conv.forward(h);
    for (const auto& b : stage.blocks) h = b.forward(h);
  }
  return to_f32_nchw(conv_out_.forward(h));
}

TaesdDecoder::TaesdDecoder(const WeightSource& w, const std::string& prefix, const TaesdConfig& c, DType dtype)
    : conv_in_(load_conv2d(w, layer(prefix, 0), c.latent_channels, c.decoder_block_out_channels.front(), 3,
                           ops::Conv2dOptions::same(1), dtype)) {
  const int stages = int(c.num_decoder_blocks.size());
  int index = 2;  // after conv_in and its ReLU
  for (int s = 0; s < stages; ++s) {
    const int ch = c.decoder_block_out_channels[size_t(s)];
    const bool last = s == stages - 1;
    Stage stage;
    for (int b = 0; b < c.num_decoder_blocks[size_t(s)]; ++b)
      stage.blocks.emplace_back(w, layer(prefix, index++), ch, pool_at(c, s == 0), dtype);
    if (last) {
      stage.conv = load_conv2d(w, layer(prefix, index), ch, c.out_channels, 3, ops::Conv2dOptions::same(1), dtype);
    } else {
      ++index;  // nn.Upsample
      stage.conv = load_conv_without_bias(w, layer(prefix, index++), ch, ch, 3, ops::Conv2dOptions::same(1), dtype);
    }
    stages_.push_back(std::move(stage));
  }
}

Tensor TaesdDecoder::forward(const Tensor& z) const {
  // Clamp: tanh(z / 3) * 3, a soft limit to [-3, 3].
  const Tensor clamped = ops::scale(ops::activation(ops::scale(z, 1.0f / 3.0f), ops::Activation::Tanh), 3.0f);
  Tensor h = conv_in_.forward(clamped, nullptr, ops::Activation::ReLU);
  for (size_t s = 0; s < stages_.size(); ++s) {
    for (const auto& b : stages_[s].blocks) h = b.forward(h);
    if (s + 1 < stages_.size()) h = ops::upsample_nearest2x(h);
    h = stages_[s].conv.forward(h);
  }
  return to_f32_nchw(h);
}

Taesd::Taesd(const TaesdConfig& config, const WeightSource& w, DType dtype, TaesdParts parts)
    : config_(config), dtype_((check_compute_dtype(dtype), dtype)) {
  if (parts.encoder) encoder_.emplace(w, "encoder.layers", config_, dtype);
  if (parts.decoder) decoder_.emplace(w, "decoder.layers", config_, dtype);
}

std::unique_ptr<Taesd> Taesd::load(const std::string& path, DType dtype) {
  if (fs::is_directory(path)) {
    const fs::path config_path = fs::path(path) / "config.json";
    if (!fs::exists(config_path))
      throw Error(config_path.string() + ": missing (not a diffusers AutoencoderTiny folder)");
    TaesdConfig config = TaesdConfig::load(config_path.string());
    const auto weights = SafetensorsWeights::open_component(path);
    for (const auto& f : weights->files())
      for (const auto& name : f.names())
        config.use_midblock_gn = config.use_midblock_gn || name.find(".pool.") != std::string::npos;
    auto model = std::make_unique<Taesd>(config, *weights, dtype);
    weights->require_all_used();
    return model;
  }
  if (!fs::is_regular_file(path)) throw Error(path + ": no such TAESD file or folder");
  const auto file = io::SafetensorsFile::open(path);
  if (file.contains("decoder.layers.0.weight") || file.contains("encoder.layers.0.weight"))
    throw Error(path + ": diffusers AutoencoderTiny weights; give the folder that holds them with its config.json");
  return file.contains("0.weight") ? load_bare(path, "", dtype) : load_bare("", path, dtype);
}

std::unique_ptr<Taesd> Taesd::load_bare(const std::string& encoder_path, const std::string& decoder_path, DType dtype) {
  const TaesdBareWeights weights(encoder_path, decoder_path);
  TaesdConfig config;
  if (const auto* f = weights.decoder_file()) config.infer_decoder(*f);
  if (const auto* f = weights.encoder_file()) {
    const int decoder_latents = config.latent_channels;
    config.infer_encoder(*f);
    if (weights.decoder_file() && config.latent_channels != decoder_latents)
      throw Error(weights.describe() + ": the encoder makes " + std::to_string(config.latent_channels) +
                  " latent channels, the decoder takes " + std::to_string(decoder_latents));
  }
  auto model = std::make_unique<Taesd>(
      config, weights, dtype, TaesdParts{weights.encoder_file() != nullptr, weights.decoder_file() != nullptr});
  weights.require_all_used();
  return model;
}

const TaesdEncoder& Taesd::encoder() const {
  if (!encoder_) throw Error("TAESD: no encoder weights were loaded");
  return *encoder_;
}

const TaesdDecoder& Taesd::decoder() const {
  if (!decoder_) throw Error("TAESD: no decoder weights were loaded");
  return *decoder_;
}

Tensor Taesd::encode(const Tensor& image) const {
  if (image.ndim() != 4 || image.size(1) != config_.in_channels)
    throw Error("TAESD encode: image must be [B, " + std::to_string(config_.in_channels) + ", H, W], got " +
                image.desc());
  return encoder().forward(affine(image, 0.5f, 0.5f));
}

Tensor Taesd::decode(const Tensor& latents) const {
  if (latents.ndim() != 4 || latents.size(1) != config_.latent_channels)
    throw Error("TAESD decode: latents must be [B, " + std::to_string(config_.latent_channels) + ", h, w], got " +
                latents.desc());
  return affine(decoder().forward(latents), 2.0f, -1.0f);
}

}  // namespace sd::models
