// JPEG decoding: colour spaces converted as PIL does, and hostile JPEG bytes (also run
// under ASan+UBSan as test_asan). libjpeg's default error handler would exit() the
// process; every error test here passing shows it is replaced.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "core/error.h"
#include "io/image.h"
#include "test_images.h"

namespace sd::io {
namespace {

using test::Bytes;

std::string decode_error(const Bytes& bytes, size_t max_pixels = size_t(4096) * 4096) {
  try {
    decode_image(bytes.data(), bytes.size(), 3, max_pixels);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

#define EXPECT_HAS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

int max_diff(const Bytes& a, const Bytes& b) {
  EXPECT_EQ(a.size(), b.size());
  int m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(int(a[i]) - int(b[i])));
  return m;
}

// Offset of the first marker FF <code> in a JPEG.
size_t marker_offset(const Bytes& jpeg, uint8_t code) {
  for (size_t i = 0; i + 1 < jpeg.size(); ++i)
    if (jpeg[i] == 0xFF && jpeg[i + 1] == code) return i;
  throw std::runtime_error("marker not found");
}

TEST(Jpeg, DecodesRgb) {
  const int w = 40, h = 24;
  Bytes src = test::gradient_rgb(w, h);
  Image img = decode_image(test::make_jpeg(w, h, 3, JCS_RGB, src));
  EXPECT_EQ(img.width, w);
  EXPECT_EQ(img.height, h);
  EXPECT_EQ(img.channels, 3);
  EXPECT_LE(max_diff(img.pixels, src), 12);  // lossy, quality 95
  Image prog = decode_image(test::make_jpeg(w, h, 3, JCS_RGB, src, 95, /*progressive=*/true));
  EXPECT_LE(max_diff(prog.pixels, src), 12);
}

TEST(Jpeg, GreyBecomesRgbAndLuminanceIsTheGrey) {
  const int w = 16, h = 16;
  Bytes grey(size_t(w) * h);
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = uint8_t(i % 16 * 16);
  Bytes jpeg = test::make_jpeg(w, h, 1, JCS_GRAYSCALE, grey);
  Image rgb = decode_image(jpeg);
  Image lum = decode_image(jpeg.data(), jpeg.size(), 1);
  ASSERT_EQ(lum.channels, 1);
  for (size_t i = 0; i < grey.size(); ++i) {
    EXPECT_EQ(rgb.pixels[i * 3], rgb.pixels[i * 3 + 1]);
    EXPECT_EQ(rgb.pixels[i * 3], rgb.pixels[i * 3 + 2]);
    EXPECT_EQ(lum.pixels[i], rgb.pixels[i * 3]);  // L of a grey pixel is the grey
  }
  EXPECT_LE(max_diff(lum.pixels, grey), 12);
}

TEST(Jpeg, CmykIsConvertedAsPilDoes) {
  // Flat 16x16 blocks of stored CMYK samples, as Photoshop writes them (inverted).
  const int w = 32, h = 16;
  const uint8_t stored[2][4] = {{255, 128, 0, 255}, {200, 200, 200, 100}};
  Bytes cmyk(size_t(w) * h * 4);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) std::memcpy(&cmyk[(size_t(y) * w + x) * 4], stored[x / 16], 4);
  Image img = decode_image(test::make_jpeg(w, h, 4, JCS_CMYK, cmyk, 100));
  // PIL: ink = 255 - stored; R = (255-K) - (C*(255-K))/255. Stored (255,128,0,255) is
  // ink (0,127,255,0): RGB (255,128,0). Stored (200,200,200,100): RGB (78,78,78).
  const int expect[2][3] = {{255, 128, 0}, {78, 78, 78}};
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(img.at(b * 16 + 8, 8, c), expect[b][c], 3) << b << " " << c;
}

TEST(JpegHostile, TruncationIsAnError) {
  Bytes jpeg = test::make_jpeg(32, 32, 3, JCS_RGB, test::gradient_rgb(32, 32));
  const size_t sos = marker_offset(jpeg, 0xDA);
  for (size_t n = 0; n < jpeg.size(); ++n) {
    Bytes cut(jpeg.begin(), jpeg.begin() + long(n));
    std::string m = decode_error(cut);
    EXPECT_NE(m, "no error") << "prefix of " << n << " of " << jpeg.size() << " bytes decoded";
    if (n > sos + 20) {
      EXPECT_HAS(m, "truncated");
    }
  }
  // Truncated progressive JPEG (its scans are read in full before any row comes out).
  Bytes prog = test::make_jpeg(32, 32, 3, JCS_RGB, test::gradient_rgb(32, 32), 90, true);
  EXPECT_HAS(decode_error(Bytes(prog.begin(), prog.begin() + long(prog.size() * 2 / 3))), "truncated");
}

TEST(JpegHostile, AbsurdAndZeroDimensions) {
  Bytes jpeg = test::make_jpeg(16, 16, 3, JCS_RGB, test::gradient_rgb(16, 16));
  const size_t sof = marker_offset(jpeg, 0xC0);  // FF C0, length(2), precision(1), height(2), width(2)
  auto with_size = [&](uint16_t w, uint16_t h) {
    Bytes b = jpeg;
    b[sof + 5] = uint8_t(h >> 8);
    b[sof + 6] = uint8_t(h);
    b[sof + 7] = uint8_t(w >> 8);
    b[sof + 8] = uint8_t(w);
    return b;
  };
  EXPECT_HAS(decode_error(with_size(65000, 65000)), "JPEG image of 65000x65000 exceeds the limit of 16777216 pixels");
  EXPECT_HAS(decode_error(with_size(16, 16), 255), "16x16 exceeds the limit of 255 pixels");
  EXPECT_HAS(decode_error(with_size(0, 16)), "JPEG image");
  EXPECT_HAS(decode_error(with_size(16, 0)), "JPEG image");
  // Declared larger than the data holds: the missing rows are a truncation.
  EXPECT_HAS(decode_error(with_size(16, 4000)), "truncated");
}

TEST(JpegHostile, GarbageAfterTheMagic) {
  Bytes b = {0xFF, 0xD8, 0xFF};
  EXPECT_HAS(decode_error(b), "JPEG image");
  std::mt19937 rng(3);
  for (int i = 0; i < 300; ++i) b.push_back(uint8_t(rng()));
  EXPECT_HAS(decode_error(b), "JPEG image");
  // Only tables, no image.
  Bytes jpeg = test::make_jpeg(8, 8, 3, JCS_RGB, test::gradient_rgb(8, 8));
  Bytes tables_only(jpeg.begin(), jpeg.begin() + long(marker_offset(jpeg, 0xC0)));
  tables_only.push_back(0xFF);
  tables_only.push_back(0xD9);
  EXPECT_HAS(decode_error(tables_only), "JPEG image");
}

TEST(JpegHostile, TrailingJunkIsIgnored) {
  Bytes src = test::gradient_rgb(16, 16);
  Bytes jpeg = test::make_jpeg(16, 16, 3, JCS_RGB, src);
  Image clean = decode_image(jpeg);
  for (int i = 0; i < 64; ++i) jpeg.push_back(uint8_t(i));
  EXPECT_EQ(decode_image(jpeg).pixels, clean.pixels);
}

TEST(JpegHostile, RandomCorruptionNeverCrashes) {
  Bytes jpeg = test::make_jpeg(24, 24, 3, JCS_RGB, test::gradient_rgb(24, 24), 80, true);
  std::mt19937 rng(11);
  for (int round = 0; round < 300; ++round) {
    Bytes b = jpeg;
    const int flips = 1 + int(rng() % 4);
    for (int f = 0; f < flips; ++f) b[3 + rng() % (b.size() - 3)] ^= uint8_t(1 + rng() % 255);
    try {
      Image img = decode_image(b);
      EXPECT_EQ(img.pixels.size(), size_t(img.width) * size_t(img.height) * 3);
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace sd::io
