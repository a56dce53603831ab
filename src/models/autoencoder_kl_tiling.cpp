// AutoencoderKL's tiled encode and decode, following diffusers' _tiled_encode and
// tiled_decode step by step: the same tile grid (which may end in a sliver tile), the
// same in-place blends in the same order, the same crops.
#include <algorithm>
#include <cstring>
#include <functional>
#include <vector>

#include "core/error.h"
#include "models/autoencoder_kl.h"

namespace sd::models {

namespace {

constexpr double kTileOverlap = 0.25;  // diffusers' tile_overlap_factor

// b's first `extent` rows fade in over the last `extent` rows of a (diffusers blend_v);
// a and b: contiguous float32 [B, C, h, w] of the same width.
void blend_rows(const Tensor& a, Tensor& b, int64_t extent) {
  extent = std::min({a.size(2), b.size(2), extent});
  const int64_t planes = b.size(0) * b.size(1), w = b.size(3), ha = a.size(2), hb = b.size(2);
  const float* pa = a.data<float>();
  float* pb = b.data<float>();
  for (int64_t y = 0; y < extent; ++y) {
    const float t = float(double(y) / double(extent)), s = float(1.0 - double(y) / double(extent));
    for (int64_t p = 0; p < planes; ++p) {
      const float* ra = pa + (p * ha + ha - extent + y) * w;
      float* rb = pb + (p * hb + y) * w;
      for (int64_t x = 0; x < w; ++x) rb[x] = ra[x] * s + rb[x] * t;
    }
  }
}

// b's first `extent` columns fade in over a's last `extent` (diffusers blend_h); same height.
void blend_columns(const Tensor& a, Tensor& b, int64_t extent) {
  extent = std::min({a.size(3), b.size(3), extent});
  const int64_t rows = b.size(0) * b.size(1) * b.size(2), wa = a.size(3), wb = b.size(3);
  const float* pa = a.data<float>();
  float* pb = b.data<float>();
  for (int64_t x = 0; x < extent; ++x) {
    const float t = float(double(x) / double(extent)), s = float(1.0 - double(x) / double(extent));
    for (int64_t r = 0; r < rows; ++r) pb[r * wb + x] = pa[r * wa + wa - extent + x] * s + pb[r * wb + x] * t;
  }
}

// Copies tile[:, :, :limit, :limit] into out at pixel (y0, x0).
void place(const Tensor& tile, Tensor& out, int64_t y0, int64_t x0, int64_t limit) {
  const int64_t planes = out.size(0) * out.size(1);
  const int64_t h = std::min(limit, tile.size(2)), w = std::min(limit, tile.size(3));
  SD_CHECK(y0 + h <= out.size(2) && x0 + w <= out.size(3), "VAE tile placed outside the image");
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t y = 0; y < h; ++y)
      std::memcpy(out.data<float>() + (p * out.size(2) + y0 + y) * out.size(3) + x0,
                  tile.data<float>() + (p * tile.size(2) + y) * tile.size(3), size_t(w) * sizeof(float));
}

// `run` on tiles of x of edge `in_tile` every three quarters of it (the last ones cut by
// the border), each output (out_tile per in_tile pixels, contiguous float32 with
// out_channels) blended into its upper and left neighbours over a quarter of out_tile
// and cropped to three quarters: diffusers' _tiled_encode and tiled_decode. Only the
// previous row of outputs is kept.
Tensor run_tiled(const Tensor& x, int64_t in_tile, int64_t out_tile, int64_t out_channels,
                 const std::function<Tensor(const Tensor&)>& run) {
  const int64_t in_stride = int64_t(double(in_tile) * (1.0 - kTileOverlap));
  const int64_t blend = int64_t(double(out_tile) * kTileOverlap);
  const int64_t limit = out_tile - blend;  // = in_stride scaled: the crops tile the output exactly
  const int64_t h = x.size(2), w = x.size(3);
  Tensor out = Tensor::empty({x.size(0), out_channels, h * out_tile / in_tile, w * out_tile / in_tile}, DType::F32);
  std::vector<Tensor> above, row;
  for (int64_t i = 0; i < h; i += in_stride) {
    row.clear();
    for (int64_t j = 0; j < w; j += in_stride) {
      Tensor tile = run(x.narrow(2, i, std::min(in_tile, h - i)).narrow(3, j, std::min(in_tile, w - j)).contiguous());
      if (!above.empty()) blend_rows(above[row.size()], tile, blend);
      if (!row.empty()) blend_columns(row.back(), tile, blend);
      place(tile, out, i / in_stride * limit, j / in_stride * limit, limit);
      row.push_back(std::move(tile));
    }
    std::swap(above, row);
  }
  return out;
}

}  // namespace

int AutoencoderKL::resolve_tile_size(int tile_size) const {
  const int f = scale_factor();
  if (tile_size == 0) tile_size = config_.sample_size;
  if (tile_size < 8 * f || tile_size % (4 * f) != 0)
    throw Error("VAE tile size " + std::to_string(tile_size) + " must be a multiple of " + std::to_string(4 * f) +
                " and at least " + std::to_string(8 * f));
  return tile_size;
}

LatentDistribution AutoencoderKL::encode_tiled(const Tensor& image, int tile_size) const {
  tile_size = resolve_tile_size(tile_size);
  check_image(image);
  if (image.size(2) <= tile_size && image.size(3) <= tile_size) return encode(image);
  const int f = scale_factor();
  SD_CHECK(image.size(2) % f == 0 && image.size(3) % f == 0,
           "VAE encode: image sides must be multiples of " + std::to_string(f) + ", got " + image.desc());
  return distribution(run_tiled(image, tile_size, tile_size / f, 2 * config_.latent_channels,
                                [&](const Tensor& tile) { return moments(tile); }));
}

Tensor AutoencoderKL::decode_tiled(const Tensor& z, int tile_size) const {
  tile_size = resolve_tile_size(tile_size);
  check_latent(z);
  const int64_t tile_latent = tile_size / scale_factor();
  if (z.size(2) <= tile_latent && z.size(3) <= tile_latent) return decode(z);
  return run_tiled(z, tile_latent, tile_size, config_.out_channels, [&](const Tensor& tile) { return decode(tile); });
}

}  // namespace sd::models
