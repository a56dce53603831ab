#include "text/utf8.h"

namespace sd::text {

namespace {

// Allowed range of the second byte for each lead byte (Unicode Table 3-7); later
// continuation bytes are always 80..BF.
struct LeadInfo {
  int length;  // total sequence length, 0 = never a lead byte
  unsigned char lo, hi;
};

LeadInfo lead_info(unsigned char b) {
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  return {0, 0, 0};
}

}  // namespace

std::u32string decode_utf8_lossy(std::string_view bytes) {
  std::u32string out;
  out.reserve(bytes.size());
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char b = s[i];
    if (b < 0x80) {
      out.push_back(b);
      ++i;
      continue;
    }
    const LeadInfo lead = lead_info(b);
    if (lead.length == 0) {
      out.push_back(kReplacementChar);
      ++i;
      continue;
    }
    char32_t cp = b & (0xFF >> (lead.length + 1));
    size_t k = 1;
    for (; k < size_t(lead.length); ++k) {
      if (i + k >= n) break;
      const unsigned char c = s[i + k];
      const unsigned char lo = k == 1 ? lead.lo : 0x80;
      const unsigned char hi = k == 1 ? lead.hi : 0xBF;
      if (c < lo || c > hi) break;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (k == size_t(lead.length)) {
      out.push_back(cp);
    } else {
      // The lead byte and the continuation bytes accepted so far form one maximal ill-formed
      // subpart; decoding resumes at the byte that broke the sequence.
      out.push_back(kReplacementChar);
    }
    i += k;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) append_utf8(out, cp);
  return out;
}

}  // namespace sd::text
