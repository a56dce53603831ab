// The safetensors reader on arbitrary file bytes: header length, JSON header, dtypes,
// shapes, offsets, overlaps; then every tensor it accepted is viewed and converted to
// float32, which reads each byte range the header claims.
#include "core/error.h"
#include "fuzz_support.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sd::fuzz::MemoryFile file(data, size);
  try {
    const auto f = sd::io::SafetensorsFile::open(file.path());
    for (const auto& name : f.names()) {
      try {
        f.load(name, sd::DType::F32);
      } catch (const sd::Error&) {
        // dtypes the engine does not compute in are refused per tensor
      }
    }
  } catch (const sd::Error&) {
  }
  return 0;
}
