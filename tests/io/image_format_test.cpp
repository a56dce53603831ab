// Saving images as PNG, JPEG and WebP with A1111's parameters metadata, reading the
// parameters back, and hostile metadata refused without a crash.
#include <gtest/gtest.h>
#include <webp/decode.h>

#include <cstring>

#include "core/error.h"
#include "io/image.h"
#include "io/image_format.h"

namespace sd::io {
namespace {

using Bytes = std::vector<uint8_t>;

// A smooth gradient: lossy codecs keep it within a few levels at quality 95.
Image gradient(int w, int h) {
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels.resize(size_t(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      img.at(x, y, 0) = uint8_t(x * 255 / (w - 1));
      img.at(x, y, 1) = uint8_t(y * 255 / (h - 1));
      img.at(x, y, 2) = 96;
    }
  return img;
}

double mean_abs_diff(const Bytes& a, const Bytes& b) {
  EXPECT_EQ(a.size(), b.size());
  double sum = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) sum += std::abs(int(a[i]) - int(b[i]));
  return sum / double(a.size());
}

const std::string kParameters =
    "a castle on a hill, \u00e9t\u00e9, \u5bcc\u58eb\u5c71, \U0001F3F0\n"
    "Negative prompt: blurry\n"
    "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 64x48";

TEST(ImageFormat, NamesAndExtensions) {
  EXPECT_EQ(image_format_from_name("PNG"), ImageFormat::Png);
  EXPECT_EQ(image_format_from_name("jpg"), ImageFormat::Jpeg);
  EXPECT_EQ(image_format_from_name("Jpeg"), ImageFormat::Jpeg);
  EXPECT_EQ(image_format_from_name("webp"), ImageFormat::Webp);
  EXPECT_EQ(image_format_from_name("gif"), std::nullopt);
  EXPECT_EQ(image_format_from_path("out/cat.JPG"), ImageFormat::Jpeg);
  EXPECT_EQ(image_format_from_path("cat.webp"), ImageFormat::Webp);
  EXPECT_EQ(image_format_from_path("dir.png/cat"), std::nullopt);
  EXPECT_EQ(image_format_from_path("cat.tiff"), std::nullopt);
}

TEST(ImageFormat, PngKeepsPixelsAndTheParametersChunk) {
  const Image img = gradient(64, 48);
  const Bytes png = encode_image(img, ImageFormat::Png, 80, kParameters);
  EXPECT_EQ(decode_image(png).pixels, img.pixels);
  EXPECT_EQ(read_parameters(png), kParameters);
  EXPECT_EQ(read_parameters(encode_image(img, ImageFormat::Png, 80, "")), std::nullopt);
}

TEST(ImageFormat, JpegCarriesTheParametersAsA1111sExifUserComment) {
  const Image img = gradient(64, 48);
  const Bytes jpeg = encode_image(img, ImageFormat::Jpeg, 95, kParameters);
  const Image back = decode_image(jpeg);
  ASSERT_EQ(back.width, 64);
  ASSERT_EQ(back.height, 48);
  EXPECT_LT(mean_abs_diff(back.pixels, img.pixels), 3.0);
  EXPECT_EQ(read_parameters(jpeg), kParameters);

  // As piexif.insert leaves it: SOI, then the Exif APP1 segment (no JFIF APP0), a
  // big-endian TIFF block, and the comment as "UNICODE\0" + UTF-16BE.
  ASSERT_GT(jpeg.size(), 64u);
  EXPECT_EQ(jpeg[2], 0xFF);
  EXPECT_EQ(jpeg[3], 0xE1);
  EXPECT_EQ(std::memcmp(&jpeg[6], "Exif\0\0MM\0\x2a", 10), 0);
  const Bytes unicode_a = {'U', 'N', 'I', 'C', 'O', 'D', 'E', 0, 0, 'a'};
  EXPECT_NE(std::search(jpeg.begin(), jpeg.end(), unicode_a.begin(), unicode_a.end()), jpeg.end());

  EXPECT_EQ(read_parameters(encode_image(img, ImageFormat::Jpeg, 80, "")), std::nullopt);
}

TEST(ImageFormat, WebpCarriesTheParametersInItsExifChunk) {
  const Image img = gradient(64, 48);
  const Bytes webp = encode_image(img, ImageFormat::Webp, 95, kParameters);
  int w = 0, h = 0;
  uint8_t* rgb = WebPDecodeRGB(webp.data(), webp.size(), &w, &h);
  ASSERT_NE(rgb, nullptr);
  const Bytes pixels(rgb, rgb + size_t(w) * h * 3);
  WebPFree(rgb);
  ASSERT_EQ(w, 64);
  ASSERT_EQ(h, 48);
  EXPECT_LT(mean_abs_diff(pixels, img.pixels), 3.0);
  EXPECT_EQ(read_parameters(webp), kParameters);
  // The chunk holds the TIFF block alone, as the WebP container specifies.
  const Bytes chunk = {'E', 'X', 'I', 'F'};
  auto at = std::search(webp.begin(), webp.end(), chunk.begin(), chunk.end());
  ASSERT_NE(at, webp.end());
  EXPECT_EQ(std::memcmp(&*(at + 8), "MM\0\x2a", 4), 0);

  EXPECT_EQ(read_parameters(encode_image(img, ImageFormat::Webp, 80, "")), std::nullopt);
}

TEST(ImageFormat, QualityChangesTheLossyFiles) {
  const Image img = gradient(64, 48);
  for (ImageFormat f : {ImageFormat::Jpeg, ImageFormat::Webp})
    EXPECT_LT(encode_image(img, f, 10, "").size(), encode_image(img, f, 100, "").size()) << image_format_name(f);
}

TEST(ImageFormat, RefusesWhatItCannotWrite) {
  const Image img = gradient(16, 16);
  EXPECT_THROW(encode_image(img, ImageFormat::Jpeg, 0, ""), Error);
  EXPECT_THROW(encode_image(img, ImageFormat::Webp, 101, ""), Error);
  // One JPEG segment holds 64 KiB: 40,000 UTF-16 units do not fit.
  EXPECT_THROW(encode_image(img, ImageFormat::Jpeg, 80, std::string(40000, 'x')), Error);
  EXPECT_EQ(read_parameters(encode_image(img, ImageFormat::Webp, 80, std::string(40000, 'x')))->size(), 40000u);
}

TEST(ImageFormat, InvalidUtf8IsReplacedNotDropped) {
  const Bytes jpeg = encode_image(gradient(16, 16), ImageFormat::Jpeg, 80, "a\xff" "b\xe2\x82");
  EXPECT_EQ(read_parameters(jpeg), "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(ImageFormat, BrokenMetadataIsNoParametersAndNeverACrash) {
  const Bytes jpeg = encode_image(gradient(16, 16), ImageFormat::Jpeg, 80, kParameters);
  const Bytes webp = encode_image(gradient(16, 16), ImageFormat::Webp, 80, kParameters);
  for (const Bytes* file : {&jpeg, &webp}) {
    // Every truncation, and every single byte of the metadata flipped.
    for (size_t n = 0; n < std::min<size_t>(file->size(), 400); ++n) {
      Bytes cut(file->begin(), file->begin() + n);
      try {
        (void)read_parameters(cut);
      } catch (const Error&) {
      }
      Bytes flipped = *file;
      flipped[n] ^= 0xA5;
      try {
        (void)read_parameters(flipped);
      } catch (const Error&) {
      }
    }
  }
  // Offsets pointing outside the block.
  Bytes bad = jpeg;
  bad[6 + 6 + 4] = 0xFF;  // IFD0 offset
  EXPECT_EQ(read_parameters(bad), std::nullopt);
  EXPECT_THROW(read_parameters(Bytes{'G', 'I', 'F', '8', '9', 'a'}), Error);
}

}  // namespace
}  // namespace sd::io
