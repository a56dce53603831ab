// SHA-256 through OpenSSL's EVP interface (SHA-NI/AVX2 code paths where the CPU has them).
#include "io/file_sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "core/error.h"

namespace sd::io {

namespace {
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
struct DigestFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
}  // namespace

std::string sha256_file_hex(const std::string& path, uint64_t offset) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) throw Error(path + ": cannot open to hash");
  if (offset > 0) {
    if (std::fseek(f.get(), 0, SEEK_END) != 0 || uint64_t(std::ftell(f.get())) < offset ||
        std::fseek(f.get(), long(offset), SEEK_SET) != 0)
      throw Error(path + ": shorter than " + std::to_string(offset) + " bytes");
  }
  std::unique_ptr<EVP_MD_CTX, DigestFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw Error("sha256: cannot initialise");
  std::vector<unsigned char> buf(size_t(1) << 20);
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) EVP_DigestUpdate(ctx.get(), buf.data(), n);
  if (std::ferror(f.get())) throw Error(path + ": read failed while hashing");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  static const char* const kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

}  // namespace sd::io
