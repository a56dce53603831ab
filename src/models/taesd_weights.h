#pragma once
// madebyollin's bare taesd_encoder / taesd_decoder files seen through the diffusers
// AutoencoderTiny names the model asks for. The decoder's nn.Sequential starts with the
// parameterless Clamp, which diffusers' DecoderTiny applies in forward() instead, so
// "decoder.layers.N.x" is "<N+1>.x" of the decoder file; "encoder.layers.N.x" is "N.x" of
// the encoder file. Block internals (conv.0/2/4, the taef2 pool.0/1/3) are named alike in
// both layouts.
#include <memory>
#include <string>

#include "models/weight_source.h"

namespace sd::models {

class TaesdBareWeights : public WeightSource {
 public:
  // Either path may be empty (a decoder without its encoder, the usual preview setup).
  TaesdBareWeights(const std::string& encoder_path, const std::string& decoder_path);

  bool has(const std::string& name) const override;
  std::string describe() const override;

  // nullptr for a half that was not given.
  const io::SafetensorsFile* encoder_file() const;
  const io::SafetensorsFile* decoder_file() const;

  // As SafetensorsWeights::require_all_used, for each file given.
  void require_all_used() const;

 protected:
  Tensor fetch(const std::string& name, const Shape& shape, DType dtype) const override;

 private:
  // The file holding a diffusers-named tensor and its bare name there; file is null
  // when the name belongs to neither half given.
  struct Location {
    const SafetensorsWeights* file = nullptr;
    std::string name;
  };
  Location locate(const std::string& name) const;

  std::unique_ptr<SafetensorsWeights> encoder_, decoder_;
};

}  // namespace sd::models
