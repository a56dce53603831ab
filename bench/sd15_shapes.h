#pragma once
// The op shapes one SD1.5 512x512 generation runs: a UNet step with classifier-free
// guidance (batch 2, 64x64 latents, 77 text tokens) and a VAE decode (batch 1), each with
// how many times it occurs.
#include <cstdint>
#include <string>
#include <vector>

namespace sd::bench {

struct ConvShape {
  const char* model;
  int64_t n, ci, co, hw, k, stride;
  int count;
};

struct LinearShape {
  const char* model;
  int64_t m, in, out;
  int count;
};

struct AttentionShape {
  const char* model;
  int64_t b, lq, lk, heads, d;
  int count;
};

struct NormShape {
  const char* model;
  int64_t n, c, hw;
  int count;
};

std::vector<ConvShape> sd15_convs();
std::vector<LinearShape> sd15_linears();
std::vector<AttentionShape> sd15_attentions();
std::vector<NormShape> sd15_group_norms();

}  // namespace sd::bench
