// Writes and reads the EXIF UserComment that A1111 keeps generation parameters in.
#include "io/exif_user_comment.h"

#include <cstring>

namespace sd::io::detail {

namespace {

constexpr uint16_t kExifIfdPointer = 0x8769;
constexpr uint16_t kUserComment = 0x9286;
constexpr uint16_t kTypeLong = 4;
constexpr uint16_t kTypeUndefined = 7;
constexpr char kExifHeader[6] = {'E', 'x', 'i', 'f', 0, 0};
constexpr char kUnicodePrefix[8] = {'U', 'N', 'I', 'C', 'O', 'D', 'E', 0};
constexpr char kAsciiPrefix[8] = {'A', 'S', 'C', 'I', 'I', 0, 0, 0};
constexpr uint32_t kReplacement = 0xFFFD;

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// UTF-8 to UTF-16 code units; each byte of a malformed sequence becomes U+FFFD.
std::vector<uint16_t> utf16_of(const std::string& s) {
  std::vector<uint16_t> out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b = uint8_t(s[i]);
    int extra = b < 0x80 ? 0 : (b >> 5) == 0x6 ? 1 : (b >> 4) == 0xE ? 2 : (b >> 3) == 0x1E ? 3 : -1;
    uint32_t cp = extra == 0 ? b : extra == 1 ? b & 0x1F : extra == 2 ? b & 0x0F : b & 0x07;
    bool ok = extra >= 0 && s.size() - i > size_t(extra);
    for (int k = 1; ok && k <= extra; ++k) {
      const auto c = uint8_t(s[i + size_t(k)]);
      ok = (c & 0xC0) == 0x80;
      cp = cp << 6 | (c & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (ok) ok = cp >= kMin[extra] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp < 0xE000);
    if (!ok) {
      out.push_back(uint16_t(kReplacement));
      ++i;
      continue;
    }
    i += size_t(extra) + 1;
    if (cp < 0x10000) {
      out.push_back(uint16_t(cp));
    } else {
      cp -= 0x10000;
      out.push_back(uint16_t(0xD800 | (cp >> 10)));
      out.push_back(uint16_t(0xDC00 | (cp & 0x3FF)));
    }
  }
  return out;
}

// A bounded view of a TIFF block in its byte order.
struct Tiff {
  const uint8_t* data;
  size_t size;
  bool big_endian;

  bool has(uint64_t at, uint64_t n) const { return at <= size && n <= size - at; }
  uint16_t u16(size_t at) const {
    return big_endian ? uint16_t(data[at] << 8 | data[at + 1]) : uint16_t(data[at + 1] << 8 | data[at]);
  }
  uint32_t u32(size_t at) const {
    return big_endian ? uint32_t(u16(at)) << 16 | u16(at + 2) : uint32_t(u16(at + 2)) << 16 | u16(at);
  }

  // The entry `tag` of the IFD at `ifd`: its type, count and value/offset field position.
  struct Entry {
    uint16_t type;
    uint32_t count;
    size_t value_at;
  };
  std::optional<Entry> find(uint32_t ifd, uint16_t tag) const {
    if (!has(ifd, 2)) return std::nullopt;
    const uint16_t n = u16(ifd);
    if (!has(uint64_t(ifd) + 2, uint64_t(n) * 12)) return std::nullopt;
    for (uint16_t i = 0; i < n; ++i) {
      const size_t e = size_t(ifd) + 2 + size_t(i) * 12;
      if (u16(e) == tag) return Entry{u16(e + 2), u32(e + 4), e + 8};
    }
    return std::nullopt;
  }
};

std::string utf16_to_utf8(const uint8_t* p, size_t bytes, bool big_endian) {
  std::string out;
  const size_t n = bytes / 2;
  auto unit = [&](size_t i) {
    return big_endian ? uint16_t(p[2 * i] << 8 | p[2 * i + 1]) : uint16_t(p[2 * i + 1] << 8 | p[2 * i]);
  };
  for (size_t i = 0; i < n; ++i) {
    const uint32_t u = unit(i);
    if (u >= 0xD800 && u < 0xDC00 && i + 1 < n && unit(i + 1) >= 0xDC00 && unit(i + 1) < 0xE000) {
      append_utf8(out, 0x10000 + ((u - 0xD800) << 10) + (unit(i + 1) - 0xDC00));
      ++i;
    } else {
      append_utf8(out, u >= 0xD800 && u < 0xE000 ? kReplacement : u);
    }
  }
  return out;
}

void put16(std::vector<uint8_t>& v, uint32_t x) {
  v.push_back(uint8_t(x >> 8));
  v.push_back(uint8_t(x));
}
void put32(std::vector<uint8_t>& v, uint32_t x) {
  put16(v, x >> 16);
  put16(v, x & 0xFFFF);
}

}  // namespace

std::vector<uint8_t> exif_with_user_comment(const std::string& utf8) {
  const std::vector<uint16_t> units = utf16_of(utf8);
  const uint32_t comment_bytes = uint32_t(sizeof kUnicodePrefix + units.size() * 2);
  // Offsets count from the TIFF header: header (8), IFD0 with one entry (2 + 12 + 4),
  // then the Exif IFD with one entry, then the comment.
  constexpr uint32_t kExifIfd = 8 + 18;
  constexpr uint32_t kCommentAt = kExifIfd + 18;
  std::vector<uint8_t> v;
  v.reserve(sizeof kExifHeader + kCommentAt + comment_bytes);
  for (char c : kExifHeader) v.push_back(uint8_t(c));
  for (char c : {'M', 'M'}) v.push_back(uint8_t(c));
  put16(v, 42);
  put32(v, 8);
  put16(v, 1);
  put16(v, kExifIfdPointer);
  put16(v, kTypeLong);
  put32(v, 1);
  put32(v, kExifIfd);
  put32(v, 0);  // no IFD1
  put16(v, 1);
  put16(v, kUserComment);
  put16(v, kTypeUndefined);
  put32(v, comment_bytes);
  put32(v, kCommentAt);
  put32(v, 0);
  for (char c : kUnicodePrefix) v.push_back(uint8_t(c));
  for (uint16_t u : units) put16(v, u);
  return v;
}

std::optional<std::string> user_comment_of_exif(const uint8_t* data, size_t size) {
  if (size >= sizeof kExifHeader && std::memcmp(data, kExifHeader, sizeof kExifHeader) == 0) {
    data += sizeof kExifHeader;
    size -= sizeof kExifHeader;
  }
  if (size < 8) return std::nullopt;
  Tiff t{data, size, data[0] == 'M'};
  if (!((data[0] == 'M' && data[1] == 'M') || (data[0] == 'I' && data[1] == 'I')) || t.u16(2) != 42)
    return std::nullopt;
  const auto pointer = t.find(t.u32(4), kExifIfdPointer);
  if (!pointer || pointer->count != 1) return std::nullopt;
  const auto comment = t.find(t.u32(pointer->value_at), kUserComment);
  if (!comment || comment->type != kTypeUndefined || comment->count < 8) return std::nullopt;
  const size_t at = comment->count <= 4 ? comment->value_at : t.u32(comment->value_at);
  if (!t.has(at, comment->count)) return std::nullopt;
  const uint8_t* p = data + at;
  const size_t n = comment->count - 8;
  // The 8-byte prefix names the encoding; UTF-16 follows the block's byte order, which is
  // big-endian in what piexif writes.
  if (std::memcmp(p, kUnicodePrefix, 8) == 0) return utf16_to_utf8(p + 8, n, t.big_endian);
  if (std::memcmp(p, kAsciiPrefix, 8) == 0) return std::string(reinterpret_cast<const char*>(p + 8), n);
  // Undefined encoding: read as UTF-8, as A1111 falls back to.
  return std::string(reinterpret_cast<const char*>(p + 8), n);
}

}  // namespace sd::io::detail
