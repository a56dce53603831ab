#pragma once
// Builders of PNG and JPEG test files that go through the libraries' encoders directly
// (not through the code under test), and a PNG chunk editor for crafting broken files.
#include <spng.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <jpeglib.h>

namespace sd::test {

using Bytes = std::vector<uint8_t>;

// A PNG of any colour type / bit depth from samples already in PNG layout (SPNG_FMT_PNG:
// packed rows, 16-bit samples in host order).
struct PngSpec {
  uint32_t width = 0, height = 0;
  uint8_t bit_depth = 8, color_type = SPNG_COLOR_TYPE_TRUECOLOR, interlace = 0;
  Bytes samples;
  std::vector<spng_plte_entry> palette;
  std::vector<uint8_t> trns_indexed;  // alpha per palette entry
  std::vector<spng_text> text;        // e.g. zTXt chunks, compressed by spng
};

inline Bytes make_png(const PngSpec& s) {
  spng_ctx* ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  auto ck = [&](int err, const char* what) {
    if (err) {
      spng_ctx_free(ctx);
      throw std::runtime_error(std::string("make_png: ") + what + ": " + spng_strerror(err));
    }
  };
  ck(spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1), "option");
  spng_ihdr ihdr{s.width, s.height, s.bit_depth, s.color_type, 0, 0, s.interlace};
  ck(spng_set_ihdr(ctx, &ihdr), "ihdr");
  if (!s.palette.empty()) {
    spng_plte plte{};
    plte.n_entries = uint32_t(s.palette.size());
    for (size_t i = 0; i < s.palette.size(); ++i) plte.entries[i] = s.palette[i];
    ck(spng_set_plte(ctx, &plte), "plte");
  }
  if (!s.trns_indexed.empty()) {
    spng_trns trns{};
    trns.n_type3_entries = uint32_t(s.trns_indexed.size());
    for (size_t i = 0; i < s.trns_indexed.size(); ++i) trns.type3_alpha[i] = s.trns_indexed[i];
    ck(spng_set_trns(ctx, &trns), "trns");
  }
  if (!s.text.empty()) {
    auto text = s.text;
    ck(spng_set_text(ctx, text.data(), uint32_t(text.size())), "text");
  }
  ck(spng_encode_image(ctx, s.samples.data(), s.samples.size(), SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE), "encode");
  size_t len = 0;
  int err = 0;
  void* buf = spng_get_png_buffer(ctx, &len, &err);
  ck(err, "buffer");
  Bytes out(static_cast<uint8_t*>(buf), static_cast<uint8_t*>(buf) + len);
  std::free(buf);
  spng_ctx_free(ctx);
  return out;
}

inline uint32_t crc32_of(const uint8_t* p, size_t n, uint32_t crc = 0) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

struct PngChunk {
  std::string type;
  Bytes data;
};

inline uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
inline void put_be32(Bytes& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}

// Splits a well-formed PNG into its chunks (the CRCs are dropped).
inline std::vector<PngChunk> png_chunks(const Bytes& png) {
  std::vector<PngChunk> chunks;
  for (size_t at = 8; at + 12 <= png.size();) {
    const uint32_t len = be32(&png[at]);
    PngChunk c;
    c.type.assign(reinterpret_cast<const char*>(&png[at + 4]), 4);
    c.data.assign(png.begin() + long(at + 8), png.begin() + long(at + 8 + len));
    chunks.push_back(std::move(c));
    at += 12 + len;
  }
  return chunks;
}

// Reassembles chunks with correct CRCs.
inline Bytes png_from_chunks(const std::vector<PngChunk>& chunks) {
  Bytes out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  for (const auto& c : chunks) {
    put_be32(out, uint32_t(c.data.size()));
    const size_t type_at = out.size();
    out.insert(out.end(), c.type.begin(), c.type.end());
    out.insert(out.end(), c.data.begin(), c.data.end());
    put_be32(out, crc32_of(&out[type_at], 4 + c.data.size()));
  }
  return out;
}

// Byte offset of the first chunk of `type` (its length field) in a PNG.
inline size_t png_chunk_offset(const Bytes& png, const std::string& type) {
  for (size_t at = 8; at + 12 <= png.size(); at += 12 + be32(&png[at]))
    if (std::memcmp(&png[at + 4], type.data(), 4) == 0) return at;
  throw std::runtime_error("no " + type + " chunk");
}

// A JPEG through libjpeg's compressor: `components` interleaved samples per pixel in
// `in_space` (JCS_RGB, JCS_GRAYSCALE or JCS_CMYK).
inline Bytes make_jpeg(int width, int height, int components, J_COLOR_SPACE in_space, const Bytes& pixels,
                       int quality = 95, bool progressive = false) {
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr jerr{};
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* buf = nullptr;
  unsigned long len = 0;
  jpeg_mem_dest(&cinfo, &buf, &len);
  cinfo.image_width = JDIMENSION(width);
  cinfo.image_height = JDIMENSION(height);
  cinfo.input_components = components;
  cinfo.in_color_space = in_space;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(&pixels[size_t(cinfo.next_scanline) * size_t(width) * size_t(components)]);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  Bytes out(buf, buf + len);
  jpeg_destroy_compress(&cinfo);
  std::free(buf);
  return out;
}

// A smooth RGB test pattern (JPEG keeps it nearly exact).
inline Bytes gradient_rgb(int w, int h) {
  Bytes p(size_t(w) * size_t(h) * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* q = &p[(size_t(y) * size_t(w) + size_t(x)) * 3];
      q[0] = uint8_t(x * 255 / (w - 1));
      q[1] = uint8_t(y * 255 / (h - 1));
      q[2] = uint8_t(128 + (x - y) / 2);
    }
  return p;
}

}  // namespace sd::test
