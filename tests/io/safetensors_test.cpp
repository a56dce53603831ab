// The safetensors reader on the real fixture files, write/read round trips, and a set of
// hostile files: each must give sd::Error naming the file and the problem, never a crash
// (the same tests run under AddressSanitizer+UBSan as test_asan).
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "support/test_support.h"

namespace sd::io {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& rel) { return test::fixtures_dir() + "/" + rel; }

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = char((n >> (8 * i)) & 0xff);
  return s;
}

// A file made of the given header text and data bytes, with the header length as written
// unless `header_len` overrides it.
std::string raw_file(const std::string& dir, const std::string& header, const std::string& data,
                     std::optional<uint64_t> header_len = std::nullopt) {
  static int n = 0;
  std::string path = dir + "/f" + std::to_string(n++) + ".safetensors";
  write_bytes(path, le64(header_len.value_or(header.size())) + header + data);
  return path;
}

// Opens `path` (and views every tensor) expecting sd::Error; returns its message.
std::string open_error(const std::string& path) {
  try {
    auto f = SafetensorsFile::open(path);
    for (auto& n : f.names()) f.view(n);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << path << " opened without error";
  return {};
}

#define EXPECT_OPEN_FAILS(path, problem)                                   \
  do {                                                                     \
    std::string p_ = (path);                                               \
    std::string m_ = open_error(p_);                                       \
    EXPECT_NE(m_.find(p_), std::string::npos) << "message: " << m_;        \
    EXPECT_NE(m_.find(problem), std::string::npos) << "message: " << m_;   \
  } while (0)

TEST(Safetensors, ReadsFixtureUnet) {
  auto f = SafetensorsFile::open(fixture("tiny-sd15/unet/diffusion_pytorch_model.safetensors"));
  EXPECT_EQ(f.names().size(), 304u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  // names() is in data-offset order.
  EXPECT_EQ(f.names()[0], "conv_in.bias");
  EXPECT_EQ(f.names()[1], "conv_in.weight");
  const TensorInfo& info = f.info("conv_in.weight");
  EXPECT_EQ(info.dtype_name, "F32");
  EXPECT_EQ(info.shape, (Shape{32, 4, 3, 3}));
  EXPECT_EQ(info.begin, 128u);
  EXPECT_EQ(info.end, 4736u);
  // Values as read by Python's struct module from the same bytes.
  Tensor w = f.view("conv_in.weight");
  ASSERT_EQ(w.dtype(), DType::F32);
  EXPECT_FLOAT_EQ(w.data<float>()[0], -0.11698609590530396f);
  EXPECT_FLOAT_EQ(w.data<float>()[2], 0.16188716888427734f);
  EXPECT_FLOAT_EQ(w.data<float>()[w.numel() - 1], -0.03773212432861328f);
  EXPECT_FLOAT_EQ(f.view("conv_in.bias").data<float>()[1], -0.14520400762557983f);
  Tensor h = f.load("conv_in.weight", DType::F16);
  EXPECT_EQ(h.dtype(), DType::F16);
  EXPECT_TRUE(test::tensors_close(h, w, 1e-3));
}

TEST(Safetensors, ReadsFixtureReferenceIntegerTensorsAndMetadata) {
  auto f = SafetensorsFile::open(fixture("tiny-sd15/reference.safetensors"));
  EXPECT_GE(f.metadata().size(), 10u);
  EXPECT_NE(f.metadata().at("fixture").find("tiny-sd15"), std::string::npos);

  Tensor ids = f.view("te.input_ids");
  ASSERT_EQ(ids.dtype(), DType::I64);
  EXPECT_EQ(ids.shape(), (Shape{2, 77}));
  const int64_t* p = ids.data<int64_t>();
  const int64_t row1[] = {49406, 320, 1125, 539, 320, 2368, 49407, 49407};
  EXPECT_EQ(p[0], 49406);
  EXPECT_EQ(p[76], 49407);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(p[77 + i], row1[i]) << i;
  Tensor idf = f.load("te.input_ids", DType::F32);
  EXPECT_FLOAT_EQ(idf.data<float>()[77 + 5], 2368.0f);

  Tensor img = f.view("vae.encode.image_u8");
  ASSERT_EQ(img.dtype(), DType::U8);
  EXPECT_EQ(img.shape(), (Shape{1, 64, 64, 3}));
  const uint8_t first[] = {0, 0, 255, 4, 0, 255};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(img.data<uint8_t>()[i], first[i]);
  EXPECT_EQ(img.data<uint8_t>()[img.numel() - 1], 255);
}

TEST(Safetensors, RoundTripsEveryDtypeLayoutAndMetadata) {
  std::string dir = test::temp_dir("st-roundtrip");
  Tensor f32 = Tensor::from_floats({1.5f, -2.25f, 3.0f, 4.0f, 5.0f, 6.0f}, Shape{2, 3});
  Tensor transposed = f32.permute({1, 0});  // non-contiguous: written in logical order
  Tensor i64 = Tensor::empty(Shape{3}, DType::I64);
  i64.data<int64_t>()[0] = -1;
  i64.data<int64_t>()[1] = int64_t(1) << 40;
  i64.data<int64_t>()[2] = 7;
  Tensor u8 = Tensor::empty(Shape{1, 2, 2, 1}, DType::U8);
  for (int i = 0; i < 4; ++i) u8.data<uint8_t>()[i] = uint8_t(250 + i);
  std::vector<std::pair<std::string, Tensor>> tensors = {
      {"f32", f32},
      {"transposed", transposed},
      {"f16", f32.to(DType::F16)},
      {"bf16", f32.to(DType::BF16)},
      {"i32", f32.to(DType::I32)},
      {"i64", i64},
      {"u8", u8},
      {"scalar", Tensor::full(Shape{}, 42.0f)},
      {"empty", Tensor::empty(Shape{0, 5}, DType::F32)},
      {"name with spaces/and \xc3\xa9", Tensor::full(Shape{1}, 1.0f)},
  };
  std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "line\n\"quoted\""}};
  std::string path = dir + "/rt.safetensors";
  write_safetensors(path, tensors, meta);

  auto f = SafetensorsFile::open(path);
  EXPECT_EQ(f.metadata(), meta);
  ASSERT_EQ(f.names().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto& [name, t] = tensors[i];
    EXPECT_EQ(f.names()[i], name);  // written in order, so offsets keep it
    Tensor r = f.view(name);
    EXPECT_EQ(r.dtype(), t.dtype()) << name;
    EXPECT_EQ(r.shape(), t.shape()) << name;
    Tensor c = t.contiguous();
    ASSERT_EQ(r.nbytes(), c.nbytes()) << name;
    EXPECT_EQ(std::memcmp(r.raw_data(), c.raw_data(), c.nbytes()), 0) << name;
  }
  EXPECT_FLOAT_EQ(f.view("transposed").data<float>()[1], 4.0f);
  // Header padded so the data section is 8-aligned.
  std::ifstream in(path, std::ios::binary);
  uint64_t hlen = 0;
  in.read(reinterpret_cast<char*>(&hlen), 8);
  EXPECT_EQ((hlen + 8) % 8, 0u);
}

TEST(Safetensors, MisalignedDataIsCopiedCorrectly) {
  std::string dir = test::temp_dir("st-misaligned");
  float v[2] = {1.25f, -7.5f};
  std::string data(reinterpret_cast<const char*>(v), 8);
  // A 61-byte header puts the data at file offset 69: not 4-aligned.
  std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  header.resize(61, ' ');
  auto f = SafetensorsFile::open(raw_file(dir, header, data));
  Tensor x = f.view("x");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(x.raw_data()) % 4, 0u);
  EXPECT_EQ(x.data<float>()[0], 1.25f);
  EXPECT_EQ(x.data<float>()[1], -7.5f);
}

// Loading in another dtype converts through a small buffer, chunk by chunk: a tensor
// spanning several chunks (and ending inside one) gives what converting it whole gives.
TEST(Safetensors, LoadConvertsLargeTensorsChunkByChunk) {
  const std::string dir = test::temp_dir("st-chunks");
  const int64_t n = (int64_t(3) << 18) + 77;  // twelve 256 KB float32 chunks and a partial one
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = std::sin(float(i) * 0.001f) * float(1 + i % 1000);
  const Tensor f32 = Tensor::from_floats(v, Shape{n});
  const std::string path = dir + "/big.safetensors";
  write_safetensors(path, {{"a", f32}, {"h", f32.to(DType::F16)}});
  const SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_TRUE(test::tensors_close(f.load("a", DType::BF16), f32.to(DType::BF16), 0.0));
  EXPECT_TRUE(test::tensors_close(f.load("a", DType::F16), f32.to(DType::F16), 0.0));
  EXPECT_TRUE(test::tensors_close(f.load("h", DType::BF16), f32.to(DType::F16).to(DType::F32).to(DType::BF16), 0.0));
  EXPECT_TRUE(test::tensors_close(f.load("h", DType::F32), f32.to(DType::F16).to(DType::F32), 0.0));
}

// A large tensor is read in parts, one per core: it comes whole and exact, in its own dtype
// and converted, and a file cut short inside its last part fails the read.
TEST(Safetensors, LargeTensorsAreReadInPartsAndFailWhenCutShort) {
  namespace fs = std::filesystem;
  const std::string dir = test::temp_dir("st-parts");
  const int64_t n = (int64_t(5) << 18) + 33;  // 5 MB of float32 and a bit: parts of 2 MB
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = float(i % 65521) - 0.5f;
  const Tensor f32 = Tensor::from_floats(v, Shape{n});
  const std::string path = dir + "/big.safetensors";
  write_safetensors(path, {{"a", f32}});
  const SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_EQ(test::max_abs_diff(f.view("a"), f32), 0.0);
  EXPECT_EQ(test::max_abs_diff(f.load("a", DType::BF16), f32.to(DType::BF16)), 0.0);
  fs::resize_file(path, fs::file_size(path) - 4096);
  EXPECT_NE(test::error_of([&] { f.view("a"); }).find("the file ended before its data"), std::string::npos);
  EXPECT_NE(test::error_of([&] { f.load("a", DType::BF16); }).find("the file ended before its data"), std::string::npos);
}

// Rows of the first dimension (one of the q, k, v projections of a fused matrix) are read
// alone, as the whole tensor's rows would be; rows it does not have are refused.
TEST(Safetensors, ViewRowsReadsThoseRowsAndRefusesOthers) {
  const std::string dir = test::temp_dir("st-rows");
  std::vector<float> v(24);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i) * 0.5f - 3.0f;
  const Tensor m = Tensor::from_floats(v, Shape{6, 4}), b = Tensor::from_floats(v, Shape{24});
  const std::string path = dir + "/rows.safetensors";
  write_safetensors(path, {{"m", m.to(DType::F16)}, {"b", b}, {"s", Tensor::full({}, 2.0f)}});
  const SafetensorsFile f = SafetensorsFile::open(path);
  for (int64_t begin : {0, 2, 4}) {
    const Tensor rows = f.view_rows("m", begin, 2);
    EXPECT_EQ(rows.dtype(), DType::F16);
    EXPECT_TRUE(test::tensors_close(rows, m.to(DType::F16).narrow(0, begin, 2).contiguous(), 0.0)) << begin;
  }
  EXPECT_TRUE(test::tensors_close(f.view_rows("b", 8, 8), b.narrow(0, 8, 8).contiguous(), 0.0));
  EXPECT_EQ(f.view_rows("m", 6, 0).shape(), (Shape{0, 4}));
  for (auto [begin, count] : {std::pair<int64_t, int64_t>{5, 2}, {-1, 1}, {0, 7}, {2, -1}}) {
    const std::string msg = test::error_of([&, begin = begin, count = count] { f.view_rows("m", begin, count); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("\"m\" has shape [6,4], which has no rows"), std::string::npos) << msg;
  }
  EXPECT_NE(test::error_of([&] { f.view_rows("s", 0, 1); }).find("has shape [], which has no rows"), std::string::npos);
}

// read_rows: rows of the first dimension converted to the asked dtype, into the caller's
// memory, as load() gives them; rows the tensor does not have are refused.
TEST(Safetensors, ReadRowsConvertsThoseRowsAndRefusesOthers) {
  const std::string dir = test::temp_dir("st-read-rows");
  std::vector<float> v(6 * 5);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(float(i)) * 3.0f;
  const Tensor m = Tensor::from_floats(v, Shape{6, 5});
  const std::string path = dir + "/rows.safetensors";
  write_safetensors(path, {{"f", m}, {"h", m.to(DType::F16)}});
  const SafetensorsFile f = SafetensorsFile::open(path);
  for (const char* name : {"f", "h"})
    for (DType dt : {DType::F32, DType::BF16})
      for (auto [row, count] : {std::pair<int64_t, int64_t>{0, 6}, {2, 3}, {5, 1}}) {
        Tensor out = Tensor::empty({count, 5}, dt);
        f.read_rows(name, row, count, dt, out.raw_data());
        EXPECT_TRUE(test::tensors_close(out, f.load(name, dt).narrow(0, row, count).contiguous(), 0.0))
            << name << " " << dtype_name(dt) << " " << row;
      }
  Tensor out = Tensor::empty({2, 5}, DType::F32);
  for (auto [row, count] : {std::pair<int64_t, int64_t>{5, 2}, {-1, 1}, {0, 7}}) {
    const std::string msg =
        test::error_of([&, row = row, count = count] { f.read_rows("f", row, count, DType::F32, out.raw_data()); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("\"f\" has shape [6,5], which has no rows"), std::string::npos) << msg;
  }
}

// The streamed writer asks for each tensor in turn and refuses one that does not match
// the header it already wrote.
TEST(Safetensors, StreamedWriterChecksWhatItIsGiven) {
  const std::string dir = test::temp_dir("st-stream");
  const std::vector<TensorSpec> specs = {{"x", DType::F32, Shape{2, 3}}, {"y", DType::F16, Shape{4}}};
  std::vector<size_t> asked;
  write_safetensors_streamed(dir + "/ok.safetensors", specs, [&](size_t i) {
    asked.push_back(i);
    return Tensor::full(specs[i].shape, float(i + 1)).to(specs[i].dtype);
  });
  EXPECT_EQ(asked, (std::vector<size_t>{0, 1}));
  const SafetensorsFile f = SafetensorsFile::open(dir + "/ok.safetensors");
  EXPECT_EQ(f.info("y").dtype_name, "F16");
  EXPECT_EQ(f.load("y", DType::F32).to_floats(), (std::vector<float>{2, 2, 2, 2}));
  const std::string msg = test::error_of([&] {
    write_safetensors_streamed(dir + "/bad.safetensors", specs, [&](size_t i) { return Tensor::full(specs[i].shape, 1.f); });
  });
  EXPECT_NE(msg.find("\"y\" came as f32[4]"), std::string::npos) << msg;
}

// A write that fails part way (here the producer throws at the second tensor; sd-bench's
// folder writer killed does the same) leaves no file under the name: a file it was
// replacing stays whole, and nothing else is left in the folder.
TEST(Safetensors, AFailedWriteLeavesTheFileItWasReplacingWhole) {
  const std::string dir = test::temp_dir("st-partial");
  const std::string path = dir + "/w.safetensors";
  const std::vector<TensorSpec> specs = {{"x", DType::F32, Shape{1024}}, {"y", DType::F32, Shape{4}}};
  write_safetensors_streamed(path, specs, [&](size_t i) { return Tensor::full(specs[i].shape, 7.f); });
  const std::string msg = test::error_of([&] {
    write_safetensors_streamed(path, specs, [&](size_t i) {
      if (i == 1) throw Error("the producer failed");
      return Tensor::full(specs[i].shape, 9.f);
    });
  });
  EXPECT_NE(msg.find("the producer failed"), std::string::npos) << msg;
  const SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_EQ(f.load("y", DType::F32).to_floats(), (std::vector<float>(4, 7.f)));
  EXPECT_EQ(f.load("x", DType::F32).to_floats(), (std::vector<float>(1024, 7.f)));
  const std::string fresh = dir + "/fresh.safetensors";
  EXPECT_NE(test::error_of([&] {
              write_safetensors_streamed(fresh, specs, [&](size_t) -> Tensor { throw Error("no data"); });
            }).find("no data"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(fresh));
  EXPECT_EQ(test::files_in(dir), (std::vector<std::string>{"w.safetensors"}));
}

TEST(Safetensors, WriteRefusesBadInput) {
  std::string dir = test::temp_dir("st-write");
  Tensor t = Tensor::full(Shape{2}, 1.0f);
  auto msg = [&](const std::string& path, const std::vector<std::pair<std::string, Tensor>>& ts,
                 const std::map<std::string, std::string>& meta = {}) -> std::string {
    try {
      write_safetensors(path, ts, meta);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(msg(dir + "/a", {{"x", t}, {"x", t}}).find("used twice"), std::string::npos);
  EXPECT_NE(msg(dir + "/b", {{"__metadata__", t}}).find("reserved"), std::string::npos);
  EXPECT_NE(msg(dir + "/c", {{"u", Tensor()}}).find("undefined"), std::string::npos);
  EXPECT_NE(msg(dir + "/d", {{"bad\xff", t}}).find("UTF-8"), std::string::npos);
  EXPECT_NE(msg(dir + "/e", {{"x", t}}, {{"k", "bad\xfe"}}).find("UTF-8"), std::string::npos);
  EXPECT_NE(msg(dir + "/no/such/dir/f", {{"x", t}}).find("cannot open"), std::string::npos);
}

TEST(Safetensors, MissingTensorLookupNamesFileAndTensor) {
  std::string path = fixture("tiny-sd15/unet/diffusion_pytorch_model.safetensors");
  auto f = SafetensorsFile::open(path);
  EXPECT_FALSE(f.contains("no.such.weight"));
  try {
    f.view("no.such.weight");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("missing tensor \"no.such.weight\""), std::string::npos);
  }
  EXPECT_THROW(f.info("no.such.weight"), Error);
  EXPECT_THROW(f.load("no.such.weight", DType::F32), Error);
}

TEST(SafetensorsHostile, FileProblems) {
  std::string dir = test::temp_dir("st-file");
  EXPECT_OPEN_FAILS(dir + "/absent.safetensors", "No such file");
  EXPECT_OPEN_FAILS(dir, "is a directory");
  write_bytes(dir + "/empty", "");
  EXPECT_OPEN_FAILS(dir + "/empty", "shorter than the 8-byte header length");
  write_bytes(dir + "/seven", std::string("\x02\0\0\0\0\0\0", 7));
  EXPECT_OPEN_FAILS(dir + "/seven", "7 bytes, shorter");
  const std::string fifo = test::make_fifo(dir + "/pipe.safetensors");
  EXPECT_EQ(test::error_of_without_waiting_on(fifo, [&] { SafetensorsFile::open(fifo); }),
            fifo + ": not a regular file");
}

TEST(SafetensorsHostile, HeaderLength) {
  std::string dir = test::temp_dir("st-hlen");
  const std::string h = "{}";
  EXPECT_OPEN_FAILS(raw_file(dir, h, "", uint64_t(1) << 63), "exceeds the 100 MB limit");
  EXPECT_OPEN_FAILS(raw_file(dir, h, "", ~uint64_t(0)), "exceeds the 100 MB limit");
  EXPECT_OPEN_FAILS(raw_file(dir, h, "", (uint64_t(100) << 20) + 1), "exceeds the 100 MB limit");
  EXPECT_OPEN_FAILS(raw_file(dir, h, "", 3), "runs past the end of the 10-byte file");
  EXPECT_OPEN_FAILS(raw_file(dir, h, "", 0), "too short");
  EXPECT_OPEN_FAILS(raw_file(dir, h, "", 1), "too short");
  // An empty header object is a valid file with no tensors.
  auto f = SafetensorsFile::open(raw_file(dir, h, ""));
  EXPECT_TRUE(f.names().empty());
}

TEST(SafetensorsHostile, HeaderNotJsonObject) {
  std::string dir = test::temp_dir("st-json");
  EXPECT_OPEN_FAILS(raw_file(dir, "{\"a\":", ""), "not valid JSON");
  EXPECT_OPEN_FAILS(raw_file(dir, "not json at all", ""), "not valid JSON");
  EXPECT_OPEN_FAILS(raw_file(dir, "{\"a\":1,}", ""), "not valid JSON at byte");
  // Found by fuzz_safetensors: nlohmann's out_of_range escaped instead of sd::Error.
  EXPECT_OPEN_FAILS(raw_file(dir, "{\"a\":1e400}", ""), "number too large for a double");
  EXPECT_OPEN_FAILS(raw_file(dir, "[1, 2, 3]", ""), "not a JSON object");
  EXPECT_OPEN_FAILS(raw_file(dir, "\"text\"", ""), "not a JSON object");
  EXPECT_OPEN_FAILS(raw_file(dir, "{} trailing", ""), "not valid JSON");
  // Padding after the object, spaces or NULs, is tolerated as nlohmann reads NUL as the end.
  EXPECT_NO_THROW(SafetensorsFile::open(raw_file(dir, std::string("{}  \0\0", 6), "")));
  // A non-UTF-8 byte in a tensor name; the message must not repeat the raw byte.
  std::string path = raw_file(dir, "{\"bad\xff\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
                              std::string(4, '\0'));
  std::string m = open_error(path);
  EXPECT_NE(m.find("invalid UTF-8"), std::string::npos) << m;
  EXPECT_EQ(m.find('\xff'), std::string::npos) << m;
  // Lone surrogate escape.
  EXPECT_OPEN_FAILS(raw_file(dir, R"({"\udc80":1})", ""), "not valid JSON");
  // Very deep nesting is parsed without recursion and refused as a structure.
  std::string deep = "{\"__metadata__\":{\"k\":" + std::string(100000, '[') + std::string(100000, ']') + "}}";
  EXPECT_OPEN_FAILS(raw_file(dir, deep, ""), "is not a string");
}

TEST(SafetensorsHostile, DuplicateNames) {
  std::string dir = test::temp_dir("st-dup");
  const std::string e = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  EXPECT_OPEN_FAILS(raw_file(dir, "{\"a\":" + e + ",\"a\":" + e + "}", std::string(4, '\0')),
                    "tensor name \"a\" appears twice");
  EXPECT_OPEN_FAILS(raw_file(dir, R"({"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}})",
                             std::string(4, '\0')),
                    "key \"dtype\" appears twice");
  EXPECT_OPEN_FAILS(raw_file(dir, R"({"__metadata__":{"k":"1","k":"2"}})", ""), "key \"k\" appears twice");
}

TEST(SafetensorsHostile, MalformedEntries) {
  std::string dir = test::temp_dir("st-entry");
  const std::string d4(4, '\0');
  auto one = [&](const std::string& entry, const std::string& data) {
    return raw_file(dir, "{\"t\":" + entry + "}", data);
  };
  EXPECT_OPEN_FAILS(one("[1]", d4), "tensor \"t\": entry is not an object");
  EXPECT_OPEN_FAILS(one(R"({"shape":[1],"data_offsets":[0,4]})", d4), "missing or non-string dtype");
  EXPECT_OPEN_FAILS(one(R"({"dtype":5,"shape":[1],"data_offsets":[0,4]})", d4), "missing or non-string dtype");
  EXPECT_OPEN_FAILS(one(R"({"dtype":"F32","data_offsets":[0,4]})", d4), "missing or non-array shape");
  EXPECT_OPEN_FAILS(one(R"({"dtype":"F32","shape":4,"data_offsets":[0,4]})", d4), "missing or non-array shape");
  EXPECT_OPEN_FAILS(one(R"({"dtype":"F32","shape":[1]})", d4), "data_offsets is not a pair");
  EXPECT_OPEN_FAILS(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4,8]})", d4), "data_offsets is not a pair");
  EXPECT_OPEN_FAILS(one(R"({"dtype":"F128","shape":[1],"data_offsets":[0,4]})", d4), "unknown dtype \"F128\"");
  EXPECT_OPEN_FAILS(one(R"({"dtype":"f32","shape":[1],"data_offsets":[0,4]})", d4), "unknown dtype \"f32\"");
  EXPECT_OPEN_FAILS(one(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})", d4),
                    "shape entry 0 is not a non-negative integer");
  EXPECT_OPEN_FAILS(one(R"({"dtype":"F32","shape":[1,1.5],"data_offsets":[0,4]})", d4),
                    "shape entry 1 is not a non-negative integer");
  EXPECT_OPEN_FAILS(one(R"({"dtype":"F32","shape":[1.0],"data_offsets":[0,4]})", d4),
                    "shape entry 0 is not a non-negative integer");
  EXPECT_OPEN_FAILS(one(R"({"dtype":"F32","shape":["1"],"data_offsets":[0,4]})", d4),
                    "shape entry 0 is not a non-negative integer");
  EXPECT_OPEN_FAILS(one(R"({"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]})", d4),
                    "shape entry 0 is not a non-negative integer");
  EXPECT_OPEN_FAILS(one(R"({"dtype":"F32","shape":[1,1,1,1,1,1,1],"data_offsets":[0,4]})", d4),
                    "7 dimensions");
  EXPECT_OPEN_FAILS(one(R"({"dtype":"F32","shape":[1],"data_offsets":[-1,4]})", d4),
                    "data_offsets are not non-negative integers");
  EXPECT_OPEN_FAILS(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,"4"]})", d4),
                    "data_offsets are not non-negative integers");
}

TEST(SafetensorsHostile, ShapeOverflow) {
  std::string dir = test::temp_dir("st-overflow");
  const std::string d4(4, '\0');
  auto one = [&](const std::string& shape) {
    return raw_file(dir, "{\"t\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[0,4]}}", d4);
  };
  // Product above 2^64.
  EXPECT_OPEN_FAILS(one("[4294967296,4294967296,2]"), "shape overflows");
  // Product above 2^63 but below 2^64.
  EXPECT_OPEN_FAILS(one("[4294967296,3221225472]"), "shape overflows");
  EXPECT_OPEN_FAILS(one("[18446744073709551615]"), "shape overflows");
  // Empty tensors with huge other dimensions would overflow their strides.
  EXPECT_OPEN_FAILS(one("[0,4294967296,4294967296]"), "shape overflows");
  // Elements fit in int64 but the byte count would not.
  EXPECT_OPEN_FAILS(one("[4611686018427387904]"), "byte size overflows");
  // A large element count that does fit must still match the data.
  EXPECT_OPEN_FAILS(one("[1000000000000]"), "needs 4000000000000 bytes, data_offsets give 4");
}

TEST(SafetensorsHostile, Offsets) {
  std::string dir = test::temp_dir("st-offsets");
  const std::string d8(8, '\0');
  auto two = [&](const std::string& a, const std::string& b) {
    return raw_file(dir, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":)" + a +
                             R"(},"b":{"dtype":"F32","shape":[1],"data_offsets":)" + b + "}}",
                    d8);
  };
  EXPECT_OPEN_FAILS(two("[0,4]", "[8,12]"), "data_offsets end 12 is outside the 8-byte data section");
  EXPECT_OPEN_FAILS(two("[0,4]", "[18446744073709551612,18446744073709551615]"), "is outside");
  EXPECT_OPEN_FAILS(two("[4,0]", "[4,8]"), "data_offsets begin 4 > end 0");
  EXPECT_OPEN_FAILS(two("[0,4]", "[2,6]"), "tensors \"a\" and \"b\" overlap");
  EXPECT_OPEN_FAILS(two("[0,4]", "[0,4]"), "overlap");
  EXPECT_OPEN_FAILS(two("[0,4]", "[4,6]"), "needs 4 bytes, data_offsets give 2");
  // Gaps between tensors are tolerated; an empty tensor may sit anywhere.
  EXPECT_NO_THROW(SafetensorsFile::open(two("[4,8]", "[0,4]")));
  auto f = SafetensorsFile::open(raw_file(
      dir, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
      d8));
  EXPECT_EQ(f.view("e").numel(), 0);
}

TEST(SafetensorsHostile, TruncatedData) {
  std::string dir = test::temp_dir("st-trunc");
  std::string src = fixture("tiny-sd15/unet/diffusion_pytorch_model.safetensors");
  std::ifstream in(src, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 1000u);
  write_bytes(dir + "/cut.safetensors", bytes.substr(0, bytes.size() - 1));
  EXPECT_OPEN_FAILS(dir + "/cut.safetensors", "is outside the");
  // Cut inside the header.
  write_bytes(dir + "/cut-header.safetensors", bytes.substr(0, 500));
  EXPECT_OPEN_FAILS(dir + "/cut-header.safetensors", "runs past the end of the 500-byte file");
}

// Tensors are the process's own memory: a file cut short or rewritten after opening
// fails the reads that need the missing bytes with an error (a mapped file would raise
// SIGBUS) and leaves tensors already read as they were.
TEST(SafetensorsHostile, FileTruncatedOrRewrittenAfterOpening) {
  namespace fs = std::filesystem;
  std::string dir = test::temp_dir("st-shrink");
  const std::string path = dir + "/unet.safetensors";
  fs::copy_file(fixture("tiny-sd15/unet/diffusion_pytorch_model.safetensors"), path);
  auto f = SafetensorsFile::open(path);
  const Tensor before = f.view("conv_in.weight");
  const float first = before.data<float>()[0];
  const std::string last = f.names().back();
  {
    std::ofstream rewrite(path, std::ios::binary | std::ios::in);
    rewrite.seekp(std::streamoff(8 + 120));
    rewrite << std::string(64, '\x7f');
  }
  EXPECT_EQ(before.data<float>()[0], first);
  fs::resize_file(path, 200);
  EXPECT_EQ(before.data<float>()[0], first);
  EXPECT_NE(test::error_of([&] { f.view(last); }).find("the file ended before its data"), std::string::npos);
  fs::resize_file(path, 0);
  EXPECT_NE(test::error_of([&] { f.load(last, DType::BF16); }).find("the file ended before its data"), std::string::npos);
  Tensor row = Tensor::empty({f.info(last).shape.product() / f.info(last).shape[0]}, DType::BF16);
  const std::string ended = test::error_of([&] { f.read_rows(last, 0, 1, DType::BF16, row.raw_data()); });
  EXPECT_NE(ended.find("the file ended before its data"), std::string::npos) << ended;
}

// What the first 8 bytes of a file that is not safetensors say is not echoed.
TEST(SafetensorsHostile, OtherFilesAreNotQuoted) {
  std::string dir = test::temp_dir("st-text");
  write_bytes(dir + "/passwd", "root:x:0:0:root:/root:/bin/bash\n");
  const std::string m = test::error_of([&] { SafetensorsFile::open(dir + "/passwd"); });
  EXPECT_NE(m.find("not a safetensors file"), std::string::npos) << m;
  EXPECT_EQ(m.find("root:x"), std::string::npos) << m;
  uint64_t as_length = 0;
  for (int i = 7; i >= 0; --i) as_length = (as_length << 8) | uint8_t("root:x:0"[i]);
  EXPECT_EQ(m.find(std::to_string(as_length)), std::string::npos) << m;
}

TEST(SafetensorsHostile, Metadata) {
  std::string dir = test::temp_dir("st-meta");
  EXPECT_OPEN_FAILS(raw_file(dir, R"({"__metadata__":{"n":1}})", ""), "__metadata__ value of \"n\" is not a string");
  EXPECT_OPEN_FAILS(raw_file(dir, R"({"__metadata__":{"n":null}})", ""), "is not a string");
  EXPECT_OPEN_FAILS(raw_file(dir, R"({"__metadata__":{"n":{"x":"y"}}})", ""), "is not a string");
  EXPECT_OPEN_FAILS(raw_file(dir, R"({"__metadata__":["a"]})", ""), "__metadata__ is not an object");
}

TEST(SafetensorsHostile, UnsupportedDtypeOpensButRefusesView) {
  std::string dir = test::temp_dir("st-f64");
  std::string path = raw_file(dir, R"({"d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0'));
  auto f = SafetensorsFile::open(path);
  EXPECT_EQ(f.info("d").dtype_name, "F64");
  EXPECT_FALSE(f.info("d").dtype.has_value());
  EXPECT_OPEN_FAILS(path, "has dtype F64, which the engine does not support");
}

}  // namespace
}  // namespace sd::io
