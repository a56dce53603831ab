#include "io/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <system_error>
#include <thread>

#include "core/error.h"
#include "core/half.h"
#include "io/read_file.h"
#include "io/replace_file.h"

namespace sd::io {

namespace {

using nlohmann::json;

// The reference implementation refuses headers over 100 MB; so do we, before reading it.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

std::optional<DType> parse_dtype(const std::string& s, size_t* elem_size) {
  static const std::map<std::string, std::pair<size_t, std::optional<DType>>> known = {
      {"F32", {4, DType::F32}},  {"F16", {2, DType::F16}}, {"BF16", {2, DType::BF16}},
      {"U8", {1, DType::U8}},    {"I32", {4, DType::I32}}, {"I64", {8, DType::I64}},
      {"F64", {8, std::nullopt}}, {"I8", {1, std::nullopt}}, {"I16", {2, std::nullopt}},
      {"U16", {2, std::nullopt}}, {"U32", {4, std::nullopt}}, {"U64", {8, std::nullopt}},
      {"BOOL", {1, std::nullopt}}, {"F8_E4M3", {1, std::nullopt}}, {"F8_E5M2", {1, std::nullopt}},
  };
  auto it = known.find(s);
  if (it == known.end()) {
    *elem_size = 0;
    return std::nullopt;
  }
  *elem_size = it->second.first;
  return it->second.second;
}

const char* file_dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::U8: return "U8";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
  }
  return "?";
}

}  // namespace

struct SafetensorsFile::Handle {
  int fd = -1;
  ~Handle() {
    if (fd >= 0) ::close(fd);
  }
};

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto fail = [&](const std::string& why) -> Error { return Error(path + ": " + why); };

  auto handle = std::make_shared<Handle>();
  const OpenedFile opened = open_regular_file(path);
  handle->fd = opened.fd;
  const uint64_t file_size = opened.size;
  if (file_size < 8)
    throw fail("not a safetensors file: " + std::to_string(file_size) +
               " bytes, shorter than the 8-byte header length");

  uint8_t len_bytes[8];
  if (!read_exactly_at(handle->fd, len_bytes, 8, 0)) throw fail("cannot read the header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  // The length is not quoted: in a file that is not safetensors it is 8 bytes of content.
  if (header_len > kMaxHeaderBytes) throw fail("not a safetensors file: its header length exceeds the 100 MB limit");
  if (header_len > file_size - 8)
    throw fail("not a safetensors file: its header length runs past the end of the " + std::to_string(file_size) +
               "-byte file");
  if (header_len < 2) throw fail("header of " + std::to_string(header_len) + " bytes is too short");
  std::string header_text(size_t(header_len), '\0');
  if (!read_exactly_at(handle->fd, header_text.data(), header_text.size(), 8)) throw fail("the file ended inside its header");

  const char* hbeg = header_text.data();
  const char* hend = hbeg + header_len;
  // A JSON object with a repeated key keeps only one of the values; a repeated tensor
  // name (or field) would silently shadow the other, so it is an error.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  int duplicate_depth = 0;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (ev == json::parse_event_t::object_end) {
      open_objects.pop_back();
    } else if (ev == json::parse_event_t::key && duplicate.empty()) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(k).second) {
        duplicate = k;
        duplicate_depth = depth;
      }
    }
    return true;
  };
  json header;
  try {
    header = json::parse(hbeg, hend, cb);
  } catch (const json::parse_error& e) {
    // nlohmann's own message quotes the offending bytes, which may not be UTF-8.
    const bool utf8 = std::string_view(e.what()).find("UTF-8") != std::string_view::npos;
    throw fail(std::string(utf8 ? "header has invalid UTF-8" : "header is not valid JSON") +
               " at byte " + std::to_string(e.byte) + " of the header");
  } catch (const json::out_of_range&) {
    // A number beyond double's range (1e400) is nlohmann's out_of_range, not a parse_error.
    throw fail("header has a number too large for a double");
  }
  if (!header.is_object()) throw fail("header is not a JSON object");
  if (!duplicate.empty()) {
    if (duplicate_depth == 1) throw fail("tensor name \"" + duplicate + "\" appears twice");
    throw fail("key \"" + duplicate + "\" appears twice in one object of the header");
  }

  SafetensorsFile f;
  f.path_ = path;
  f.file_ = handle;
  f.data_offset_ = 8 + header_len;
  const uint64_t data_size = file_size - 8 - header_len;

  // Not a structured binding: clang before 16 (the fuzz build) cannot capture one in `bad`.
  for (auto& item : header.items()) {
    const std::string& name = item.key();
    const json& entry = item.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) throw fail("__metadata__ is not an object");
      for (auto& [k, v] : entry.items()) {
        if (!v.is_string()) throw fail("__metadata__ value of \"" + k + "\" is not a string");
        f.metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& why) { return fail("tensor \"" + name + "\": " + why); };
    if (!entry.is_object()) throw bad("entry is not an object");
    auto dt = entry.find("dtype");
    auto sh = entry.find("shape");
    auto off = entry.find("data_offsets");
    if (dt == entry.end() || !dt->is_string()) throw bad("missing or non-string dtype");
    if (sh == entry.end() || !sh->is_array()) throw bad("missing or non-array shape");
    if (off == entry.end() || !off->is_array() || off->size() != 2)
      throw bad("data_offsets is not a pair");

    TensorInfo info;
    info.name = name;
    info.dtype_name = dt->get<std::string>();
    size_t elem = 0;
    info.dtype = parse_dtype(info.dtype_name, &elem);
    if (elem == 0) throw bad("unknown dtype \"" + info.dtype_name + "\"");
    if (sh->size() > size_t(kMaxDims))
      throw bad("shape has " + std::to_string(sh->size()) + " dimensions, more than " +
                std::to_string(kMaxDims));
    // The product of the non-zero dimensions must fit in int64, or the strides of even an
    // empty tensor would overflow.
    constexpr uint64_t kMaxExtent = uint64_t(std::numeric_limits<int64_t>::max());
    uint64_t nonzero_product = 1;
    bool empty = false;
    for (size_t i = 0; i < sh->size(); ++i) {
      const json& d = (*sh)[i];
      if (!d.is_number_unsigned())
        throw bad("shape entry " + std::to_string(i) + " is not a non-negative integer");
      uint64_t v = d.get<uint64_t>();
      if (v == 0) {
        empty = true;
      } else {
        if (v > kMaxExtent / nonzero_product) throw bad("shape overflows 64-bit element counts");
        nonzero_product *= v;
      }
      info.shape.push_back(int64_t(v));
    }
    const uint64_t numel = empty ? 0 : nonzero_product;
    for (auto& o : *off)
      if (!o.is_number_unsigned()) throw bad("data_offsets are not non-negative integers");
    uint64_t b = (*off)[0].get<uint64_t>(), e = (*off)[1].get<uint64_t>();
    if (b > e) throw bad("data_offsets begin " + std::to_string(b) + " > end " + std::to_string(e));
    if (e > data_size)
      throw bad("data_offsets end " + std::to_string(e) + " is outside the " +
                std::to_string(data_size) + "-byte data section");
    if (numel > std::numeric_limits<uint64_t>::max() / elem) throw bad("byte size overflows");
    if (numel * elem != e - b)
      throw bad("shape " + info.shape.str() + " of " + info.dtype_name + " needs " +
                std::to_string(numel * elem) + " bytes, data_offsets give " + std::to_string(e - b));
    info.begin = size_t(b);
    info.end = size_t(e);
    f.tensors_.push_back(std::move(info));
  }

  std::vector<size_t> by_offset(f.tensors_.size());
  for (size_t i = 0; i < by_offset.size(); ++i) by_offset[i] = i;
  std::sort(by_offset.begin(), by_offset.end(), [&](size_t a, size_t b) {
    const auto &x = f.tensors_[a], &y = f.tensors_[b];
    return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
  });
  size_t prev_end = 0;
  const TensorInfo* prev = nullptr;
  for (size_t i : by_offset) {
    const TensorInfo& t = f.tensors_[i];
    if (prev && t.begin < prev_end && t.end > t.begin)
      throw fail("tensors \"" + prev->name + "\" and \"" + t.name + "\" overlap");
    if (t.end > prev_end || !prev) {
      prev_end = std::max(prev_end, t.end);
      prev = &t;
    }
    f.order_.push_back(t.name);
    f.index_[t.name] = i;
  }
  return f;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw Error(path_ + ": missing tensor \"" + name + "\"");
  return tensors_[it->second];
}

Tensor SafetensorsFile::view(const std::string& name) const {
  const TensorInfo& t = info(name);
  return read(t, t.shape, 0);
}

Tensor SafetensorsFile::view_rows(const std::string& name, int64_t begin, int64_t count) const {
  const TensorInfo& t = info(name);
  if (t.shape.size() < 1 || begin < 0 || count < 0 || begin > t.shape[0] - count)
    throw Error(path_ + ": tensor \"" + name + "\" has shape " + t.shape.str() + ", which has no rows " +
                std::to_string(begin) + " to " + std::to_string(begin + count));
  Shape rows = t.shape;
  rows[0] = count;
  return read(t, rows, size_t(begin) * ((t.end - t.begin) / size_t(std::max<int64_t>(1, t.shape[0]))));
}

Tensor SafetensorsFile::read(const TensorInfo& t, const Shape& shape, size_t from) const {
  if (!t.dtype)
    throw Error(path_ + ": tensor \"" + t.name + "\" has dtype " + t.dtype_name +
                ", which the engine does not support");
  Tensor out = Tensor::empty(shape, *t.dtype);
  read_converted(t, from / dtype_size(*t.dtype), size_t(out.numel()), *t.dtype, out.raw_data());
  return out;
}

Tensor SafetensorsFile::load(const std::string& name, DType dtype) const {
  const TensorInfo& t = info(name);
  if (!t.dtype || *t.dtype == dtype) return view(name);
  Tensor out = Tensor::empty(t.shape, dtype);
  read_converted(t, 0, out.numel(), dtype, out.raw_data());
  return out;
}

void SafetensorsFile::read_rows(const std::string& name, int64_t row, int64_t count, DType dtype, void* dst) const {
  const TensorInfo& t = info(name);
  if (t.shape.size() < 1 || row < 0 || count < 0 || row > t.shape[0] - count)
    throw Error(path_ + ": tensor \"" + name + "\" has shape " + t.shape.str() + ", which has no rows " +
                std::to_string(row) + " to " + std::to_string(row + count));
  if (!t.dtype)
    throw Error(path_ + ": tensor \"" + t.name + "\" has dtype " + t.dtype_name +
                ", which the engine does not support");
  const int64_t per_row = t.shape[0] == 0 ? 0 : t.shape.product() / t.shape[0];
  read_converted(t, size_t(row * per_row), size_t(count * per_row), dtype, dst);
}

void SafetensorsFile::read_converted(const TensorInfo& t, size_t first, size_t n, DType dtype, void* out) const {
  // Converted a chunk at a time through one small buffer: the stored copy (twice the
  // size for float32 weights computed in bf16) never exists whole, no fresh pages are
  // touched for it, and each chunk is converted while it is still in the cache. A large
  // range is split between the cores, each reading (and converting) its own part: one
  // core copies from the page cache at half the rate two reach, and a first load pays
  // for each fresh page it writes.
  constexpr size_t kChunkBytes = size_t(256) << 10;
  constexpr size_t kPartBytes = size_t(2) << 20;
  const size_t in_size = dtype_size(*t.dtype), out_size = dtype_size(dtype);
  const uint64_t at = data_offset_ + t.begin + first * in_size;
  char* dst = static_cast<char*>(out);
  const size_t chunk = std::max<size_t>(1, kChunkBytes / in_size);
  const auto read_range = [&](size_t from, size_t to) {
    if (from >= to) return true;
    if (*t.dtype == dtype) return read_exactly_at(file_->fd, dst + from * out_size, (to - from) * in_size, at + from * in_size);
    const std::unique_ptr<char[]> buf(new char[std::min(to - from, chunk) * in_size]);  // not zeroed: read into
    for (size_t i = from; i < to; i += chunk) {
      const size_t m = std::min(chunk, to - i);
      if (!read_exactly_at(file_->fd, buf.get(), m * in_size, at + i * in_size)) return false;
      convert_elements(buf.get(), *t.dtype, dst + i * out_size, dtype, m);
    }
    return true;
  };
  const size_t parts = std::clamp<size_t>(n * in_size / kPartBytes, 1, std::max(1u, std::thread::hardware_concurrency()));
  const size_t per_part = (n + parts - 1) / parts;
  std::vector<std::future<bool>> others;
  bool complete = true;
  for (size_t p = 1; p < parts; ++p) {
    const size_t from = std::min(n, p * per_part), to = std::min(n, (p + 1) * per_part);
    try {
      others.push_back(std::async(std::launch::async, read_range, from, to));
    } catch (const std::system_error&) {
      complete = read_range(from, to) && complete;  // no thread to spare: this one reads it
    }
  }
  complete = read_range(0, std::min(n, per_part)) && complete;
  for (auto& f : others) complete = f.get() && complete;
  if (!complete)
    throw Error(path_ + ": tensor \"" + t.name + "\": the file ended before its data (it changed after it was opened)");
}

void write_safetensors_streamed(const std::string& path, const std::vector<TensorSpec>& specs,
                                const std::function<Tensor(size_t)>& produce,
                                const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (const TensorSpec& s : specs) {
    if (s.name == "__metadata__" || header.contains(s.name))
      throw Error(path + ": cannot write tensor \"" + s.name + "\": " +
                  (s.name == "__metadata__" ? "the name is reserved" : "the name is used twice"));
    const size_t bytes = size_t(s.shape.product()) * dtype_size(s.dtype);
    std::vector<int64_t> shape(s.shape.begin(), s.shape.end());
    header[s.name] = {{"dtype", file_dtype_name(s.dtype)}, {"shape", shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h;
  try {
    h = header.dump();
  } catch (const nlohmann::json::type_error&) {
    throw Error(path + ": cannot write: a tensor name or metadata string is not valid UTF-8");
  }
  while ((h.size() + 8) % 8 != 0) h.push_back(' ');  // keep the data section 8-aligned
  replace_file(path, [&](std::ofstream& out) {
    uint64_t n = h.size();
    char len[8];
    for (int i = 0; i < 8; ++i) len[i] = char((n >> (8 * i)) & 0xff);
    out.write(len, 8);
    out.write(h.data(), std::streamsize(h.size()));
    for (size_t i = 0; i < specs.size(); ++i) {
      const Tensor t = produce(i).contiguous();
      if (t.dtype() != specs[i].dtype || t.shape() != specs[i].shape)
        throw Error(path + ": tensor \"" + specs[i].name + "\" came as " + t.desc() + ", its header says " +
                    std::string(dtype_name(specs[i].dtype)) + " " + specs[i].shape.str());
      out.write(static_cast<const char*>(t.raw_data()), std::streamsize(t.nbytes()));
    }
  });
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<TensorSpec> specs;
  for (auto& [name, t] : tensors) {
    if (!t.defined()) throw Error(path + ": cannot write tensor \"" + name + "\": it is undefined");
    specs.push_back({name, t.dtype(), t.shape()});
  }
  write_safetensors_streamed(path, specs, [&](size_t i) { return tensors[i].second; }, metadata);
}

}  // namespace sd::io
