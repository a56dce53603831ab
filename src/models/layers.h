#pragma once
// Building the op modules from a WeightSource by diffusers module path ("conv_in",
// "down_blocks.0.resnets.1.norm1"), with the shapes the config implies. Conv and linear
// weights take the model's compute dtype; norm parameters and biases stay float32
// (accumulation is float32 everywhere).
#include <string>

#include "models/weight_source.h"
#include "ops/ops.h"

namespace sd::models {

// "a.b" from a module prefix and a child name; an empty prefix gives the name alone.
std::string join(const std::string& prefix, const std::string& name);

ops::Linear load_linear(const WeightSource& w, const std::string& prefix, int in, int out, bool bias,
                        DType dtype);
ops::Conv2d load_conv2d(const WeightSource& w, const std::string& prefix, int in, int out, int kernel,
                        ops::Conv2dOptions opt, DType dtype);
ops::GroupNorm load_group_norm(const WeightSource& w, const std::string& prefix, int groups, int channels,
                               float eps);
ops::LayerNorm load_layer_norm(const WeightSource& w, const std::string& prefix, int dim, float eps);

// Throws unless dtype is one the models compute in (F32, BF16; F16 on a GPU).
void check_compute_dtype(DType dtype);

// A 4-D activation as tokens [B, H*W, C] without copying when it is channels-last (what
// the ops return); other layouts are reordered once.
Tensor image_tokens(const Tensor& x);

}  // namespace sd::models
