#pragma once
// A diffusers model folder on disk with seeded random weights: the configs of a real
// model (or any diffusers config folder) and, per component, one safetensors file holding
// exactly the tensors its model asks for, with RandomWeights' values. It lets the whole
// load path (files, conversion, reorders) be measured and tested at full size without
// downloading weights. Full size is large (SD1.5: 4 GB in float32), so every file is
// written tensor by tensor.
#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace sd::pipeline {

enum class FolderPrecision {
  F32,   // diffusion_pytorch_model.safetensors, model.safetensors: float32, as the Hub's main files
  Fp16,  // diffusion_pytorch_model.fp16.safetensors, model.fp16.safetensors: the Hub's "fp16" variant
};

// Writes into out_dir (created; existing weight files are replaced) the configs of
// config_dir (model_index.json; the .json and .txt files of unet/, vae/, text_encoder[_2]/,
// tokenizer[_2]/, scheduler/) and the weights of unet, vae and text_encoder[_2] made by
// RandomWeights(seed). Throws sd::Error naming the file that cannot be read or written.
void write_random_model_folder(const std::string& config_dir, const std::string& out_dir, uint64_t seed,
                               FolderPrecision precision);

}  // namespace sd::pipeline
