#pragma once
// Which files of a diffusers pipeline repository the engine needs, from the repository's
// file list: model_index.json, and for the components the engine runs (unet, vae,
// text_encoder[_2], tokenizer[_2], scheduler) their *.json / *.txt files and one set of
// .safetensors weights each (a single file or the shards of one index). Never .bin,
// .ckpt, .onnx, Flax/TF/OpenVINO files, single-file checkpoints at the root, or other
// components (safety_checker, feature_extractor, ...).
#include <string>
#include <vector>

namespace sd::io {

// prefer_fp16: take the "fp16" variant (name.fp16.safetensors) of a component where the
// repository has one, else the plain weights; without it, the plain weights, else fp16.
// Throws sd::Error naming `repo` when model_index.json, unet, vae, scheduler or a text
// encoder is missing, or a model component has no .safetensors weights.
std::vector<std::string> diffusers_files_needed(const std::vector<std::string>& repo_files, bool prefer_fp16,
                                                const std::string& repo);

}  // namespace sd::io
