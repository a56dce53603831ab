#pragma once
// Reader for the safetensors format: an 8-byte little-endian header length, a JSON header
// describing each tensor (dtype, shape, byte range), then the raw data. Tensors are read
// with pread into memory the process owns, never mapped: a file truncated or rewritten
// while the process runs then fails a read cleanly (sd::Error) instead of killing the
// process with SIGBUS, and tensors already read do not change. The file's pages stay in
// the page cache, the kernel's to reclaim (not counted in the process's RSS, as a mapped
// file's are): the next load of the model and layers streamed for every job read them
// from memory. Every structural problem of an untrusted file is reported as sd::Error
// naming the file and the problem.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sd::io {

struct TensorInfo {
  std::string name;
  std::string dtype_name;       // as written in the file ("F32", "I64", ...)
  std::optional<DType> dtype;   // empty for dtypes the engine does not compute in (F64, BOOL...)
  Shape shape;
  size_t begin = 0;  // byte offsets relative to the data section
  size_t end = 0;
};

class SafetensorsFile {
 public:
  // Opens and validates the whole header; throws sd::Error on any problem.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;
  // Names in the order of their data offsets.
  const std::vector<std::string>& names() const { return order_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The tensor in its stored dtype, read from the file now.
  Tensor view(const std::string& name) const;
  // Rows [begin, begin + count) of the tensor's first dimension in its stored dtype (one of
  // the q, k, v projections fused in one matrix), reading only their bytes.
  Tensor view_rows(const std::string& name, int64_t begin, int64_t count) const;
  // The tensor converted to `dtype`.
  Tensor load(const std::string& name, DType dtype) const;
  // Rows [row, row + count) of the tensor's first dimension converted to `dtype`, written
  // contiguous to `dst` (a layer laying its weight out band by band). Safe to call from
  // several threads at once.
  void read_rows(const std::string& name, int64_t row, int64_t count, DType dtype, void* dst) const;

 private:
  struct Handle;
  std::string path_;
  std::shared_ptr<const Handle> file_;  // open for the file's lifetime: renames do not matter
  uint64_t data_offset_ = 0;            // where the data section starts
  std::map<std::string, size_t> index_;
  std::vector<TensorInfo> tensors_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> metadata_;

  // `shape`'s worth of t's bytes from byte `from` of its data, in its stored dtype.
  Tensor read(const TensorInfo& t, const Shape& shape, size_t from) const;
  // Elements [first, first + n) of t converted to `dtype` into `dst`.
  void read_converted(const TensorInfo& t, size_t first, size_t n, DType dtype, void* dst) const;
};

// One tensor of a file written tensor by tensor.
struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
};

// Writes a safetensors file whose header is `specs`, asking produce(i) for the i-th
// tensor only when its bytes are due: one tensor is in memory at a time, so files larger
// than the memory can be written. produce(i) must return exactly specs[i]'s dtype and shape.
// The file appears under `path` only once it is whole (written beside it, then renamed).
void write_safetensors_streamed(const std::string& path, const std::vector<TensorSpec>& specs,
                                const std::function<Tensor(size_t)>& produce,
                                const std::map<std::string, std::string>& metadata = {});

// Writes tensors (any dtype the engine has) and string metadata to a safetensors file.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace sd::io
