#include "sd15_shapes.h"

#include <map>
#include <tuple>

namespace sd::bench {

namespace {

// Adds one occurrence of a shape, merging repeats into a count.
template <class T, class K>
void add(std::vector<T>& v, std::map<K, size_t>& index, const K& key, const T& item) {
  auto it = index.find(key);
  if (it != index.end()) {
    v[it->second].count += item.count;
    return;
  }
  index.emplace(key, v.size());
  v.push_back(item);
}

}  // namespace

// UNet2DConditionModel (320, 640, 1280, 1280), 2 layers per block, and the VAE decoder
// (512, 512, 256, 128), 3 resnets per up block, written out as diffusers runs them.
namespace {

struct Walk {
  std::vector<ConvShape> convs;
  std::vector<NormShape> norms;
};

Walk walk_sd15() {
  Walk w;
  std::vector<ConvShape>& v = w.convs;
  std::map<std::tuple<std::string, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t>, size_t> idx;
  std::map<std::tuple<std::string, int64_t, int64_t, int64_t>, size_t> nidx;
  auto conv = [&](const char* model, int64_t n, int64_t ci, int64_t co, int64_t hw, int64_t k,
                  int64_t stride = 1) {
    add(v, idx, std::make_tuple(std::string(model), n, ci, co, hw, k, stride),
        ConvShape{model, n, ci, co, hw, k, stride, 1});
  };
  auto norm = [&](const char* model, int64_t n, int64_t c, int64_t hw) {
    add(w.norms, nidx, std::make_tuple(std::string(model), n, c, hw), NormShape{model, n, c, hw, 1});
  };
  const char* U = "unet";
  auto resnet = [&](const char* m, int64_t n, int64_t ci, int64_t co, int64_t hw) {
    norm(m, n, ci, hw);
    conv(m, n, ci, co, hw, 3);
    norm(m, n, co, hw);
    conv(m, n, co, co, hw, 3);
    if (ci != co) conv(m, n, ci, co, hw, 1);
  };
  auto transformer_proj = [&](int64_t c, int64_t hw) {  // norm, proj_in and proj_out (1x1)
    norm(U, 2, c, hw);
    conv(U, 2, c, c, hw, 1);
    conv(U, 2, c, c, hw, 1);
  };
  conv(U, 2, 4, 320, 64, 3);
  const int64_t ch[4] = {320, 640, 1280, 1280}, res[4] = {64, 32, 16, 8};
  int64_t prev = 320;
  std::vector<int64_t> skips = {320};
  for (int b = 0; b < 4; ++b) {
    for (int l = 0; l < 2; ++l) {
      resnet(U, 2, prev, ch[b], res[b]);
      if (b < 3) transformer_proj(ch[b], res[b]);
      prev = ch[b];
      skips.push_back(prev);
    }
    if (b < 3) {
      conv(U, 2, prev, prev, res[b], 3, 2);
      skips.push_back(prev);
    }
  }
  resnet(U, 2, 1280, 1280, 8);
  transformer_proj(1280, 8);
  resnet(U, 2, 1280, 1280, 8);
  for (int b = 3; b >= 0; --b) {
    for (int l = 0; l < 3; ++l) {
      const int64_t skip = skips.back();
      skips.pop_back();
      resnet(U, 2, prev + skip, ch[b], res[b]);
      if (b < 3) transformer_proj(ch[b], res[b]);
      prev = ch[b];
    }
    if (b > 0) conv(U, 2, prev, prev, res[b] * 2, 3);  // upsampler conv after 2x nearest
  }
  norm(U, 2, 320, 64);
  conv(U, 2, 320, 4, 64, 3);

  const char* V = "vae";
  conv(V, 1, 4, 4, 64, 1);  // post_quant_conv
  conv(V, 1, 4, 512, 64, 3);
  resnet(V, 1, 512, 512, 64);
  norm(V, 1, 512, 64);  // mid-block attention
  resnet(V, 1, 512, 512, 64);
  const int64_t vch[4] = {512, 512, 256, 128};
  int64_t vprev = 512, hw = 64;
  for (int b = 0; b < 4; ++b) {
    for (int l = 0; l < 3; ++l) {
      resnet(V, 1, vprev, vch[b], hw);
      vprev = vch[b];
    }
    if (b < 3) {
      hw *= 2;
      conv(V, 1, vprev, vprev, hw, 3);
    }
  }
  norm(V, 1, 128, 512);
  conv(V, 1, 128, 3, 512, 3);
  return w;
}

}  // namespace

std::vector<ConvShape> sd15_convs() { return walk_sd15().convs; }
std::vector<NormShape> sd15_group_norms() { return walk_sd15().norms; }

std::vector<LinearShape> sd15_linears() {
  std::vector<LinearShape> v;
  std::map<std::tuple<std::string, int64_t, int64_t, int64_t>, size_t> idx;
  auto lin = [&](const char* model, int64_t m, int64_t in, int64_t out, int count) {
    add(v, idx, std::make_tuple(std::string(model), m, in, out), LinearShape{model, m, in, out, count});
  };
  // Transformer blocks per resolution: (channels, tokens, blocks).
  const int64_t tc[4][3] = {{320, 4096, 5}, {640, 1024, 5}, {1280, 256, 5}, {1280, 64, 1}};
  for (const auto& t : tc) {
    const int64_t c = t[0], m = 2 * t[1];
    const int n = int(t[2]);
    lin("unet", m, c, c, 6 * n);        // attn1 q,k,v,out; attn2 q,out
    lin("unet", 2 * 77, 768, c, 2 * n);  // attn2 k,v from the text
    lin("unet", m, c, 8 * c, n);        // GEGLU projection
    lin("unet", m, 4 * c, c, n);        // feed-forward out
  }
  lin("vae", 4096, 512, 512, 4);  // mid-block attention q,k,v,out
  return v;
}

std::vector<AttentionShape> sd15_attentions() {
  return {
      {"unet", 2, 4096, 4096, 8, 40, 5}, {"unet", 2, 4096, 77, 8, 40, 5},
      {"unet", 2, 1024, 1024, 8, 80, 5}, {"unet", 2, 1024, 77, 8, 80, 5},
      {"unet", 2, 256, 256, 8, 160, 5},  {"unet", 2, 256, 77, 8, 160, 5},
      {"unet", 2, 64, 64, 8, 160, 1},    {"unet", 2, 64, 77, 8, 160, 1},
      {"vae", 1, 4096, 4096, 1, 512, 1},
      // Head dim 64 (SD2.x, SDXL) at 64x64 latents, outside the SD1.5 totals.
      {"d64", 2, 4096, 4096, 5, 64, 1},  {"d64", 2, 4096, 77, 5, 64, 1},
  };
}

}  // namespace sd::bench
