// PNG encode/decode, text chunks, the PIL-compatible conversions of every PNG colour
// type, and hostile PNG bytes (also run under ASan+UBSan as test_asan).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "io/image.h"
#include "support/test_support.h"
#include "test_images.h"

namespace sd::io {
namespace {

using test::Bytes;

Image rgb_pattern(int w, int h) {
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels = test::gradient_rgb(w, h);
  return img;
}

std::string decode_error(const Bytes& bytes, int channels = 3, size_t max_pixels = size_t(4096) * 4096) {
  try {
    decode_image(bytes.data(), bytes.size(), channels, max_pixels);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

#define EXPECT_HAS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

TEST(Png, RoundTripsRgbGreyAndRgba) {
  Image rgb = rgb_pattern(37, 19);
  Image back = decode_image(encode_png(rgb));
  EXPECT_EQ(back.width, 37);
  EXPECT_EQ(back.height, 19);
  EXPECT_EQ(back.channels, 3);
  EXPECT_EQ(back.pixels, rgb.pixels);

  Image grey;
  grey.width = 5;
  grey.height = 3;
  grey.channels = 1;
  for (int i = 0; i < 15; ++i) grey.pixels.push_back(uint8_t(i * 17));
  Bytes png = encode_png(grey);
  Image g3 = decode_image(png);
  Image g1 = decode_image(png, 1);
  EXPECT_EQ(g1.channels, 1);
  EXPECT_EQ(g1.pixels, grey.pixels);
  for (int i = 0; i < 15; ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(g3.pixels[size_t(i) * 3 + c], grey.pixels[size_t(i)]);

  Image rgba;
  rgba.width = 2;
  rgba.height = 1;
  rgba.channels = 4;
  rgba.pixels = {10, 20, 30, 0, 200, 100, 50, 128};
  Image dropped = decode_image(encode_png(rgba));
  EXPECT_EQ(dropped.pixels, (Bytes{10, 20, 30, 200, 100, 50}));  // alpha dropped, not composited
}

TEST(Png, AlphaIsKeptWhenAskedFor) {
  Image rgba;
  rgba.width = 2;
  rgba.height = 1;
  rgba.channels = 4;
  rgba.pixels = {10, 20, 30, 0, 200, 100, 50, 128};
  Image kept = decode_image(encode_png(rgba), 4);
  EXPECT_EQ(kept.channels, 4);
  EXPECT_EQ(kept.pixels, rgba.pixels);

  // No alpha in the file: opaque.
  Image opaque = decode_image(encode_png(rgb_pattern(3, 2)), 4);
  ASSERT_EQ(opaque.pixels.size(), 24u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(opaque.pixels[size_t(i) * 4 + 3], 255);
  EXPECT_EQ(opaque.at(2, 1, 1), rgb_pattern(3, 2).at(2, 1, 1));

  {  // A palette whose tRNS makes entry 1 transparent.
    test::PngSpec s;
    s.width = 2;
    s.height = 1;
    s.color_type = SPNG_COLOR_TYPE_INDEXED;
    s.palette = {{255, 0, 0, 255}, {0, 255, 0, 255}};
    s.trns_indexed = {255, 0};
    s.samples = {0, 1};
    Bytes png = test::make_png(s);
    Image img = decode_image(png, 4);
    EXPECT_EQ(img.pixels, (Bytes{255, 0, 0, 255, 0, 255, 0, 0}));
  }
}

TEST(Png, LuminanceMatchesPil) {
  Image img;
  img.width = 5;
  img.height = 1;
  img.channels = 3;
  img.pixels = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 10, 200, 30};
  Image l = decode_image(encode_png(img), 1);
  // PIL: Image.new("RGB", ...).convert("L") gives 76, 150, 29, 255 and 124 for these.
  EXPECT_EQ(l.pixels, (Bytes{76, 150, 29, 255, 124}));
}

TEST(Png, TextChunksAreWrittenAndReadBack) {
  const std::string params =
      "a photo of a cat\nNegative prompt: blurry\nSteps: 20, Sampler: DDIM, CFG scale: 7.5, Seed: 42, Size: 64x64";
  TextChunks text = {{"parameters", params}, {"Software", "sd-worker"}, {"Comment", "chat \xe7\x8c\xab caf\xc3\xa9"}};
  Bytes png = encode_png(rgb_pattern(8, 8), text);
  EXPECT_EQ(read_png_text(png.data(), png.size()), text);
  // The "parameters" convention: a tEXt chunk whose keyword is "parameters"; non-ASCII
  // goes to iTXt.
  const std::string raw(png.begin(), png.end());
  EXPECT_NE(raw.find(std::string("tEXtparameters\0", 15) + params), std::string::npos);
  EXPECT_NE(raw.find("iTXtComment"), std::string::npos);
  // The image itself is unaffected.
  EXPECT_EQ(decode_image(png).pixels, rgb_pattern(8, 8).pixels);
  EXPECT_TRUE(read_png_text(encode_png(rgb_pattern(2, 2))).empty());
}

TEST(Png, ReadsTextAfterImageDataZtxtAndLatin1) {
  test::PngSpec spec;
  spec.width = 4;
  spec.height = 4;
  spec.samples = test::gradient_rgb(4, 4);
  std::string latin1 = "caf\xe9";  // Latin-1 in a tEXt chunk
  std::string long_text(5000, 'z');
  spec.text.resize(2);
  std::strcpy(spec.text[0].keyword, "Title");
  spec.text[0].type = SPNG_TEXT;
  spec.text[0].text = latin1.data();
  spec.text[0].length = latin1.size();
  std::strcpy(spec.text[1].keyword, "Big");
  spec.text[1].type = SPNG_ZTXT;
  spec.text[1].text = long_text.data();
  spec.text[1].length = long_text.size();
  Bytes png = test::make_png(spec);
  // Move a tEXt chunk after the image data, before IEND.
  auto chunks = test::png_chunks(png);
  std::string trailer_kw = "parameters";
  test::PngChunk trailer{"tEXt", {}};
  trailer.data.assign(trailer_kw.begin(), trailer_kw.end());
  trailer.data.push_back(0);
  for (char c : std::string("after the image")) trailer.data.push_back(uint8_t(c));
  chunks.insert(chunks.end() - 1, trailer);
  png = test::png_from_chunks(chunks);

  TextChunks got = read_png_text(png.data(), png.size());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], (std::pair<std::string, std::string>{"Title", "caf\xc3\xa9"}));
  EXPECT_EQ(got[1], (std::pair<std::string, std::string>{"Big", long_text}));
  EXPECT_EQ(got[2], (std::pair<std::string, std::string>{"parameters", "after the image"}));
}

TEST(Png, InvalidUtf8InItxtIsReplaced) {
  Bytes png = encode_png(rgb_pattern(2, 2), {{"k", "\xc3\xa9"}});
  auto chunks = test::png_chunks(png);
  for (auto& c : chunks)
    if (c.type == "iTXt") c.data.back() = 0xFF;  // the last byte of "é" becomes a stray 0xFF
  png = test::png_from_chunks(chunks);
  TextChunks got = read_png_text(png.data(), png.size());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].second, "\xef\xbf\xbd\xef\xbf\xbd");  // U+FFFD for each bad byte
}

TEST(Png, EncodeRefusesBadInput) {
  auto err = [](const Image& img, const TextChunks& t = {}) -> std::string {
    try {
      encode_png(img, t);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  Image ok = rgb_pattern(4, 4);
  Image two = ok;
  two.channels = 2;
  EXPECT_HAS(err(two), "2 channels");
  Image short_pixels = ok;
  short_pixels.pixels.pop_back();
  EXPECT_HAS(err(short_pixels), "47 bytes of pixels");
  Image empty;
  EXPECT_HAS(err(empty), "0x0");
  EXPECT_HAS(err(ok, {{"", "v"}}), "1-79 printable ASCII");
  EXPECT_HAS(err(ok, {{std::string(80, 'k'), "v"}}), "1-79 printable ASCII");
  EXPECT_HAS(err(ok, {{" lead", "v"}}), "leading");
  EXPECT_HAS(err(ok, {{"caf\xc3\xa9", "v"}}), "printable ASCII");
  EXPECT_HAS(err(ok, {{"k", std::string("a\0b", 3)}}), "NUL");
  EXPECT_HAS(err(ok, {{"k", "bad \xff"}}), "not valid UTF-8");
}

// Every PNG colour type and bit depth, converted as PIL's convert("RGB").
TEST(Png, ConvertsEveryColourTypeToRgb8) {
  auto decode = [](const test::PngSpec& s) {
    Bytes png = test::make_png(s);
    return decode_image(png.data(), png.size());
  };
  {  // 1-bit grey: 0 -> 0, 1 -> 255
    test::PngSpec s;
    s.width = 8;
    s.height = 1;
    s.bit_depth = 1;
    s.color_type = SPNG_COLOR_TYPE_GRAYSCALE;
    s.samples = {0b10100000};
    Image img = decode(s);
    EXPECT_EQ(img.at(0, 0, 0), 255);
    EXPECT_EQ(img.at(1, 0, 1), 0);
    EXPECT_EQ(img.at(2, 0, 2), 255);
  }
  {  // 4-bit grey: v -> v * 17
    test::PngSpec s;
    s.width = 2;
    s.height = 1;
    s.bit_depth = 4;
    s.color_type = SPNG_COLOR_TYPE_GRAYSCALE;
    s.samples = {0x3F};
    Image img = decode(s);
    EXPECT_EQ(img.at(0, 0, 0), 51);
    EXPECT_EQ(img.at(1, 0, 0), 255);
  }
  {  // 16-bit grey: the high byte
    test::PngSpec s;
    s.width = 2;
    s.height = 1;
    s.bit_depth = 16;
    s.color_type = SPNG_COLOR_TYPE_GRAYSCALE;
    uint16_t v[2] = {0x12AB, 0xFF00};
    s.samples.resize(4);
    std::memcpy(s.samples.data(), v, 4);
    Image img = decode(s);
    EXPECT_EQ(img.pixels, (Bytes{0x12, 0x12, 0x12, 0xFF, 0xFF, 0xFF}));
  }
  {  // 16-bit RGBA: high bytes, alpha dropped
    test::PngSpec s;
    s.width = 1;
    s.height = 1;
    s.bit_depth = 16;
    s.color_type = SPNG_COLOR_TYPE_TRUECOLOR_ALPHA;
    uint16_t v[4] = {0x8001, 0x40FF, 0x0102, 0x0000};
    s.samples.resize(8);
    std::memcpy(s.samples.data(), v, 8);
    EXPECT_EQ(decode(s).pixels, (Bytes{0x80, 0x40, 0x01}));
  }
  {  // grey + alpha, 8-bit: alpha dropped
    test::PngSpec s;
    s.width = 2;
    s.height = 1;
    s.color_type = SPNG_COLOR_TYPE_GRAYSCALE_ALPHA;
    s.samples = {90, 0, 200, 255};
    EXPECT_EQ(decode(s).pixels, (Bytes{90, 90, 90, 200, 200, 200}));
  }
  {  // 2-bit palette with tRNS: palette colours, transparency ignored
    test::PngSpec s;
    s.width = 4;
    s.height = 1;
    s.bit_depth = 2;
    s.color_type = SPNG_COLOR_TYPE_INDEXED;
    s.palette = {{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {7, 8, 9, 255}};
    s.trns_indexed = {0, 128};
    s.samples = {0b00011011};
    EXPECT_EQ(decode(s).pixels, (Bytes{255, 0, 0, 0, 255, 0, 0, 0, 255, 7, 8, 9}));
  }
  {  // Adam7 interlaced RGB
    test::PngSpec s;
    s.width = 13;
    s.height = 11;
    s.interlace = 1;
    s.samples = test::gradient_rgb(13, 11);
    EXPECT_EQ(decode(s).pixels, s.samples);
  }
}

TEST(PngHostile, EveryTruncationIsAnError) {
  Bytes png = encode_png(rgb_pattern(16, 16), {{"parameters", "x"}});
  // Every cut but inside IEND's own checksum (spng does not verify it; IEND holds no data).
  for (size_t n = 0; n + 4 < png.size(); ++n) {
    Bytes cut(png.begin(), png.begin() + long(n));
    std::string m = decode_error(cut);
    EXPECT_NE(m, "no error") << "prefix of " << n << " of " << png.size() << " bytes decoded";
    EXPECT_THROW(read_png_text(cut.data(), cut.size()), Error) << n;
  }
  Bytes head(png.begin(), png.begin() + 40);
  EXPECT_HAS(decode_error(head), "PNG image");
}

TEST(PngHostile, CorruptedCrc) {
  Bytes png = encode_png(rgb_pattern(8, 8), {{"parameters", "kept?"}});
  Bytes bad_ihdr = png;
  bad_ihdr[test::png_chunk_offset(png, "IHDR") + 8 + 13] ^= 0x01;  // first CRC byte
  EXPECT_HAS(decode_error(bad_ihdr), "invalid chunk checksum");
  Bytes bad_idat = png;
  const size_t idat = test::png_chunk_offset(png, "IDAT");
  bad_idat[idat + 8 + test::be32(&png[idat])] ^= 0x80;
  EXPECT_HAS(decode_error(bad_idat), "invalid chunk checksum");
  // A damaged ancillary chunk is dropped; the image still decodes.
  Bytes bad_text = png;
  const size_t text = test::png_chunk_offset(png, "tEXt");
  bad_text[text + 8 + test::be32(&png[text])] ^= 0x80;
  EXPECT_EQ(decode_image(bad_text).pixels, rgb_pattern(8, 8).pixels);
  EXPECT_TRUE(read_png_text(bad_text.data(), bad_text.size()).empty());
  // Corrupted compressed data with a valid CRC: the zlib checksum catches it.
  auto chunks = test::png_chunks(png);
  for (auto& c : chunks)
    if (c.type == "IDAT") c.data[c.data.size() / 2] ^= 0x55;
  EXPECT_HAS(decode_error(test::png_from_chunks(chunks)), "PNG image");
}

// A header announcing a huge image, followed by no image data at all: refused from the
// header alone, before anything of that size is allocated or decoded.
TEST(PngHostile, AbsurdDimensionsRefusedFromTheHeader) {
  auto chunks = test::png_chunks(encode_png(rgb_pattern(2, 2)));
  auto with_size = [&](uint32_t w, uint32_t h) {
    auto c = chunks;
    Bytes ihdr;
    test::put_be32(ihdr, w);
    test::put_be32(ihdr, h);
    std::copy(c[0].data.begin() + 8, c[0].data.end(), std::back_inserter(ihdr));
    c[0].data = ihdr;
    c.erase(c.begin() + 1, c.end() - 1);  // drop IDAT
    return test::png_from_chunks(c);
  };
  EXPECT_HAS(decode_error(with_size(100000, 100000)), "PNG image of 100000x100000 exceeds the limit of 16777216 pixels");
  EXPECT_HAS(decode_error(with_size(30000, 30000)), "exceeds the limit");
  EXPECT_HAS(decode_error(with_size(0x7FFFFFFF, 0x7FFFFFFF)), "PNG image");  // spng: overflow
  Bytes huge = with_size(100000, 100000);
  EXPECT_THROW(read_png_text(huge.data(), huge.size(), 1 << 20), Error);
  // Zero width: the PNG rules forbid it.
  EXPECT_HAS(decode_error(with_size(0, 10)), "width");
  // The limit is the caller's.
  Bytes png = encode_png(rgb_pattern(64, 64));
  EXPECT_NO_THROW(decode_image(png.data(), png.size(), 3, 4096));
  EXPECT_HAS(decode_error(png, 3, 4095), "64x64 exceeds the limit of 4095 pixels");
}

// A small zTXt chunk that inflates to 32 MiB: refused (PIL refuses such text too).
TEST(PngHostile, CompressedTextBombIsRefused) {
  test::PngSpec spec;
  spec.width = 2;
  spec.height = 2;
  spec.samples = test::gradient_rgb(2, 2);
  std::string bomb(size_t(32) << 20, 'a');
  spec.text.resize(1);
  std::strcpy(spec.text[0].keyword, "bomb");
  spec.text[0].type = SPNG_ZTXT;
  spec.text[0].text = bomb.data();
  spec.text[0].length = bomb.size();
  Bytes png = test::make_png(spec);
  ASSERT_LT(png.size(), size_t(100) << 10);
  EXPECT_HAS(decode_error(png), "limits");
  EXPECT_THROW(read_png_text(png), Error);
}

TEST(PngHostile, GarbageEmptyAndUnknownFormats) {
  EXPECT_HAS(decode_error({}), "empty");
  EXPECT_HAS(decode_error({1, 2, 3}), "not PNG or JPEG: bytes starting 01 02 03");
  Bytes gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0};
  EXPECT_HAS(decode_error(gif), "a GIF image");
  Bytes webp = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P'};
  EXPECT_HAS(decode_error(webp), "a WebP image");
  // The PNG signature followed by garbage.
  Bytes sig_garbage = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::mt19937 rng(1);
  for (int i = 0; i < 200; ++i) sig_garbage.push_back(uint8_t(rng()));
  EXPECT_HAS(decode_error(sig_garbage), "PNG image");
  EXPECT_HAS(decode_error(encode_png(rgb_pattern(2, 2)), 2), "2 channels asked for");
}

TEST(PngHostile, TrailingJunkAfterIendIsIgnored) {
  Image img = rgb_pattern(9, 7);
  Bytes png = encode_png(img);
  for (int i = 0; i < 100; ++i) png.push_back(uint8_t(i * 37));
  EXPECT_EQ(decode_image(png).pixels, img.pixels);
}

// Random byte flips: each must give a well-formed image or sd::Error, never a crash
// (ASan checks the memory accesses in test_asan).
TEST(PngHostile, RandomCorruptionNeverCrashes) {
  Bytes png = encode_png(rgb_pattern(24, 24), {{"parameters", "fuzz"}});
  std::mt19937 rng(7);
  int errors = 0;
  for (int round = 0; round < 300; ++round) {
    Bytes b = png;
    const int flips = 1 + int(rng() % 4);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] ^= uint8_t(1 + rng() % 255);
    try {
      Image img = decode_image(b);
      EXPECT_EQ(img.pixels.size(), size_t(img.width) * size_t(img.height) * 3);
    } catch (const Error&) {
      ++errors;
    }
    try {
      read_png_text(b.data(), b.size());
    } catch (const Error&) {
    }
  }
  EXPECT_GT(errors, 250);  // CRCs catch nearly every flip
}

TEST(ImageFile, WriteAndReadBackWithErrorsNamingTheFile) {
  std::string dir = test::temp_dir("image-file");
  Image img = rgb_pattern(10, 6);
  write_png_file(dir + "/a.png", img, {{"parameters", "p"}});
  EXPECT_EQ(read_image_file(dir + "/a.png").pixels, img.pixels);
  EXPECT_EQ(read_image_file(dir + "/a.png", 1).channels, 1);
  auto err = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_HAS(err([&] { read_image_file(dir + "/absent.png"); }), dir + "/absent.png: No such file or directory");
  EXPECT_HAS(err([&] { read_image_file(dir); }), dir + ": is a directory");
  const std::string fifo = test::make_fifo(dir + "/pipe.png");
  EXPECT_EQ(test::error_of_without_waiting_on(fifo, [&] { read_image_file(fifo); }), fifo + ": not a regular file");
  // A file over the bound (a model passed by mistake) is refused before it is read whole.
  std::ofstream(dir + "/huge.png", std::ios::binary) << "\x89PNG";
  std::filesystem::resize_file(dir + "/huge.png", kMaxImageFileBytes + 1);  // sparse
  EXPECT_EQ(err([&] { read_image_file(dir + "/huge.png"); }),
            dir + "/huge.png: 268435457 bytes; an image file has at most 256 MB");
  write_png_file(dir + "/b.png", img);
  {
    std::ofstream f(dir + "/b.png", std::ios::binary | std::ios::trunc);
    f << "not an image";
  }
  EXPECT_HAS(err([&] { read_image_file(dir + "/b.png"); }), dir + "/b.png: image data is not PNG or JPEG");
  EXPECT_HAS(err([&] { write_png_file(dir + "/no/such/dir.png", img); }), "cannot open for writing");
  Image bad = img;
  bad.channels = 7;
  EXPECT_HAS(err([&] { write_png_file(dir + "/c.png", bad); }), dir + "/c.png: encode_png: 7 channels");
}

}  // namespace
}  // namespace sd::io
