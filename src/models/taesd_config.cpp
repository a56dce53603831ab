#include "models/taesd_config.h"

#include "core/error.h"
#include "models/config_checks.h"

namespace sd::models {

using io::Json;
using io::json_get;

namespace {

std::vector<int> stage_list(const Json& j, const std::string& key, const std::vector<int>& fallback,
                            const std::string& what) {
  std::vector<int> v = json_get(j, key, fallback, what);
  if (v.empty()) throw Error(what + ": \"" + key + "\" is empty");
  for (int x : v) require_positive(x, key, what);
  return v;
}

void require_equal_entries(const std::vector<int>& v, const std::string& key, const std::string& what) {
  for (int x : v)
    if (x != v.front())
      throw Error(what + ": \"" + key + "\" entries differ; AutoencoderTiny keeps one channel count across stages");
}

// Shape of a tensor the Sequential layout requires to be a 3x3 convolution kernel.
const Shape& conv_shape(const io::SafetensorsFile& f, const std::string& name) {
  const Shape& s = f.info(name).shape;
  if (s.size() != 4 || s[2] != 3 || s[3] != 3)
    throw Error(f.path() + ": \"" + name + "\" has shape " + s.str() + ", a TAESD 3x3 convolution was expected");
  return s;
}

std::string at(int index, const char* rest) { return std::to_string(index) + "." + rest; }

// Sequential indices walked before giving up: far more than any TAESD has, and a bound
// on the work a hostile file can cause.
constexpr int kMaxLayers = 256;

}  // namespace

TaesdConfig TaesdConfig::parse(const Json& j, const std::string& what) {
  if (!j.is_object()) throw Error(what + ": not a JSON object");
  require_supported(j, "_class_name", {"AutoencoderTiny"}, what);
  require_supported(j, "act_fn", {"relu"}, what);
  require_supported(j, "upsample_fn", {"nearest"}, what);
  require_supported(j, "upsampling_scaling_factor", {2}, what);
  require_supported(j, "shift_factor", {0}, what);

  TaesdConfig c;
  c.in_channels = require_positive(json_get(j, "in_channels", c.in_channels, what), "in_channels", what);
  c.out_channels = require_positive(json_get(j, "out_channels", c.out_channels, what), "out_channels", what);
  c.latent_channels =
      require_positive(json_get(j, "latent_channels", c.latent_channels, what), "latent_channels", what);
  c.encoder_block_out_channels = stage_list(j, "encoder_block_out_channels", c.encoder_block_out_channels, what);
  c.decoder_block_out_channels = stage_list(j, "decoder_block_out_channels", c.decoder_block_out_channels, what);
  c.num_encoder_blocks = stage_list(j, "num_encoder_blocks", c.num_encoder_blocks, what);
  c.num_decoder_blocks = stage_list(j, "num_decoder_blocks", c.num_decoder_blocks, what);
  if (c.encoder_block_out_channels.size() != c.num_encoder_blocks.size())
    throw Error(what + ": \"encoder_block_out_channels\" and \"num_encoder_blocks\" must have the same length");
  if (c.decoder_block_out_channels.size() != c.num_decoder_blocks.size())
    throw Error(what + ": \"decoder_block_out_channels\" and \"num_decoder_blocks\" must have the same length");
  if (c.num_decoder_blocks.size() > 8 || c.num_encoder_blocks.size() > 8) throw Error(what + ": more than 8 stages");
  require_equal_entries(c.encoder_block_out_channels, "encoder_block_out_channels", what);
  require_equal_entries(c.decoder_block_out_channels, "decoder_block_out_channels", what);
  c.scaling_factor = json_get(j, "scaling_factor", c.scaling_factor, what);
  if (!(c.scaling_factor > 0)) throw Error(what + ": \"scaling_factor\" must be positive");
  c.use_midblock_gn = json_get(j, "use_midblock_gn", c.use_midblock_gn, what);
  // latent_magnitude / latent_shift only map latents to bytes for storing them as
  // images (scale_latents); decoding never uses them.
  return c;
}

TaesdConfig TaesdConfig::load(const std::string& path) { return parse(io::read_json_file(path), path); }

// Decoder Sequential: 0 Clamp, 1 conv(latent->C), 2 ReLU, then per stage its Blocks
// followed by Upsample + conv without bias, or, for the last stage, by conv(C->out).
void TaesdConfig::infer_decoder(const io::SafetensorsFile& f) {
  if (f.contains("0.weight") || !f.contains("1.weight") || !f.contains("1.bias"))
    throw Error(f.path() +
                ": not a taesd_decoder file (expected \"1.weight\" and \"1.bias\" of the first convolution)");
  const Shape& first = conv_shape(f, "1.weight");
  const int channels = int(first[0]);
  latent_channels = int(first[1]);
  num_decoder_blocks.clear();
  use_midblock_gn = false;
  int blocks = 0;
  for (int i = 3; i < kMaxLayers;) {
    if (f.contains(at(i, "conv.0.weight"))) {
      use_midblock_gn = use_midblock_gn || f.contains(at(i, "pool.0.weight"));
      ++blocks, ++i;
    } else if (!f.contains(at(i, "weight")) && f.contains(at(i + 1, "weight")) && !f.contains(at(i + 1, "bias"))) {
      if (blocks == 0) throw Error(f.path() + ": decoder stage without blocks before layer " + std::to_string(i));
      num_decoder_blocks.push_back(blocks);
      blocks = 0, i += 2;  // Upsample (no weights), then its convolution
    } else if (f.contains(at(i, "weight")) && f.contains(at(i, "bias"))) {
      if (blocks == 0) throw Error(f.path() + ": decoder stage without blocks before layer " + std::to_string(i));
      num_decoder_blocks.push_back(blocks);
      out_channels = int(conv_shape(f, at(i, "weight"))[0]);
      decoder_block_out_channels.assign(num_decoder_blocks.size(), channels);
      return;
    } else {
      throw Error(f.path() + ": layer " + std::to_string(i) +
                  " is neither a TAESD block, an upsampling convolution nor the output convolution");
    }
  }
  throw Error(f.path() + ": no output convolution within " + std::to_string(kMaxLayers) + " layers");
}

// Encoder Sequential: 0 conv(in->C), the first stage's Blocks, then per further stage a
// stride-2 conv without bias and its Blocks, and last conv(C->latent) with bias.
void TaesdConfig::infer_encoder(const io::SafetensorsFile& f) {
  if (!f.contains("0.weight") || !f.contains("0.bias"))
    throw Error(f.path() +
                ": not a taesd_encoder file (expected \"0.weight\" and \"0.bias\" of the first convolution)");
  const Shape& first = conv_shape(f, "0.weight");
  const int channels = int(first[0]);
  in_channels = int(first[1]);
  num_encoder_blocks.clear();
  int blocks = 0;
  for (int i = 1; i < kMaxLayers; ++i) {
    if (f.contains(at(i, "conv.0.weight"))) {
      use_midblock_gn = use_midblock_gn || f.contains(at(i, "pool.0.weight"));
      ++blocks;
    } else if (f.contains(at(i, "weight"))) {
      if (blocks == 0) throw Error(f.path() + ": encoder stage without blocks before layer " + std::to_string(i));
      num_encoder_blocks.push_back(blocks);
      blocks = 0;
      if (f.contains(at(i, "bias"))) {  // the output convolution
        latent_channels = int(conv_shape(f, at(i, "weight"))[0]);
        encoder_block_out_channels.assign(num_encoder_blocks.size(), channels);
        return;
      }
    } else {
      throw Error(f.path() + ": layer " + std::to_string(i) + " is neither a TAESD block nor a convolution");
    }
  }
  throw Error(f.path() + ": no output convolution within " + std::to_string(kMaxLayers) + " layers");
}

}  // namespace sd::models
