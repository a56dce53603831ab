// RFC 4648 base64 with padding. Written here rather than taken from OpenSSL's
// EVP_DecodeBlock, which sd_io does not link and which neither rejects misplaced '='
// nor reports the padded length correctly.
#include <array>

#include "core/error.h"
#include "io/image.h"

namespace sd::io {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr int8_t kInvalid = -1, kPad = -2, kSpace = -3;

constexpr std::array<int8_t, 256> make_table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  for (int i = 0; i < 64; ++i) t[uint8_t(kAlphabet[i])] = int8_t(i);
  t[uint8_t('=')] = kPad;
  for (char c : {' ', '\t', '\n', '\r', '\f', '\v'}) t[uint8_t(c)] = kSpace;
  return t;
}
constexpr std::array<int8_t, 256> kTable = make_table();

std::string_view strip_data_url(std::string_view text) {
  size_t start = text.find_first_not_of(" \t\r\n\f\v");
  if (start == std::string_view::npos || text.substr(start, 5) != "data:") return text;
  size_t comma = text.find(',', start);
  if (comma == std::string_view::npos) throw Error("base64: data URL without a ','");
  std::string_view params = text.substr(start, comma - start);
  if (params.size() < 7 || params.substr(params.size() - 7) != ";base64")
    throw Error("base64: data URL is not base64-encoded (no ';base64' before the ',')");
  return text.substr(comma + 1);
}

}  // namespace

std::string base64_encode(const uint8_t* data, size_t size) {
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const uint32_t v = uint32_t(data[i]) << 16 | uint32_t(data[i + 1]) << 8 | data[i + 2];
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (size - i == 1) {
    const uint32_t v = uint32_t(data[i]) << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (size - i == 2) {
    const uint32_t v = uint32_t(data[i]) << 16 | uint32_t(data[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::vector<uint8_t> base64_decode(std::string_view text, size_t max_bytes) {
  text = strip_data_url(text);
  // First pass: validate and count, so nothing is allocated for bad or oversized input.
  size_t symbols = 0, pads = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const int8_t v = kTable[uint8_t(text[i])];
    if (v == kSpace) continue;
    if (v == kInvalid)
      throw Error("base64: invalid character (byte " + std::to_string(uint8_t(text[i])) + ") at offset " +
                  std::to_string(i));
    if (v == kPad) {
      ++pads;
    } else if (pads) {
      throw Error("base64: data after '=' padding at offset " + std::to_string(i));
    } else {
      ++symbols;
    }
  }
  const size_t total = symbols + pads;
  if (total % 4 != 0)
    throw Error("base64: length " + std::to_string(total) + " is not a multiple of 4 (missing padding?)");
  if (pads > 2 || (pads == 2 && symbols % 4 != 2) || (pads == 1 && symbols % 4 != 3))
    throw Error("base64: bad '=' padding");
  const size_t out_size = symbols / 4 * 3 + (symbols % 4 == 0 ? 0 : symbols % 4 - 1);
  if (out_size > max_bytes)
    throw Error("base64: decodes to " + std::to_string(out_size) + " bytes, more than the limit of " +
                std::to_string(max_bytes));

  std::vector<uint8_t> out;
  out.reserve(out_size);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int8_t v = kTable[uint8_t(c)];
    if (v < 0) continue;  // whitespace or padding, validated above
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(uint8_t((acc >> bits) & 0xFF));
    }
  }
  return out;
}

}  // namespace sd::io
