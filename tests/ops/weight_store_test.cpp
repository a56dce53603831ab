// The backend keeps one copy of each weight: the plain tensor is let go once the
// primitive's own layout exists, and rebuilt exactly on request.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "backend/cpu/convolution.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/weight_store.h"
#include "core/buffer_pool.h"
#include "core/weight_arena.h"
#include "ops/ops.h"
#include "ops/reference.h"

namespace sd {
namespace {

using test::random_tensor;

TEST(WeightStore, ConvolutionKeepsOneCopy) {
  for (DType dt : {DType::F32, DType::BF16}) {
    Tensor w = random_tensor({64, 32, 3, 3}, 1).to(dt);
    cpu::Convolution conv(w, Tensor(), cpu::ConvGeometry{1, 1, 1, 1, 1});
    conv.forward(random_tensor({1, 32, 8, 8}, 2), nullptr, cpu::Act::None);
    // One reordered copy: about the plain size (blocked layouts may pad), never two.
    EXPECT_GE(conv.weight_bytes(), w.nbytes());
    EXPECT_LT(conv.weight_bytes(), 2 * w.nbytes());
    Tensor back = conv.weight();
    EXPECT_FALSE(back.shares_storage(w));
    EXPECT_EQ(test::max_abs_diff(back, w), 0.0);
  }
}

TEST(WeightStore, MatmulKeepsOneCopy) {
  Tensor w = random_tensor({96, 64}, 3).to(DType::BF16);
  cpu::Matmul mm(w, Tensor());
  mm.forward(random_tensor({40, 64}, 4).to(DType::BF16), nullptr, cpu::Act::None);
  EXPECT_LT(mm.weight_bytes(), 2 * w.nbytes());
  EXPECT_EQ(test::max_abs_diff(mm.weight(), w), 0.0);
}

// The weights take the kernels' layout when the layer is built (at load), not in the
// first forward(): the plain tensor is let go at once and rebuilt exactly on request.
TEST(WeightStore, LayersTakeTheKernelsLayoutWhenBuilt) {
  for (DType dt : {DType::F32, DType::BF16}) {
    Tensor wm = random_tensor({96, 64}, 5).to(dt);
    cpu::Matmul mm(wm, Tensor());
    Tensor back = mm.weight();
    EXPECT_FALSE(back.shares_storage(wm)) << dtype_name(dt);
    EXPECT_EQ(test::max_abs_diff(back, wm), 0.0);

    Tensor wc = random_tensor({64, 32, 3, 3}, 6).to(dt);
    cpu::Convolution conv(wc, Tensor(), cpu::ConvGeometry{1, 1, 1, 1, 1});
    back = conv.weight();
    EXPECT_FALSE(back.shares_storage(wc)) << dtype_name(dt);
    EXPECT_EQ(test::max_abs_diff(back, wc), 0.0);
  }
}

// A WeightRows over `w` that records which rows were read, and in how many calls.
struct RecordedRows {
  explicit RecordedRows(const Tensor& w) : weight(w.contiguous()), read_count(size_t(w.size(0))) {
    rows.shape = weight.shape();
    rows.dtype = weight.dtype();
    rows.read = [this](int64_t row, int64_t count, void* dst) {
      const size_t row_bytes = weight.nbytes() / size_t(weight.size(0));
      std::memcpy(dst, static_cast<const char*>(weight.raw_data()) + size_t(row) * row_bytes, size_t(count) * row_bytes);
      for (int64_t r = row; r < row + count; ++r) read_count[size_t(r)] += 1;
      calls += 1;
    };
  }
  bool each_row_read_once() const {
    for (const auto& c : read_count)
      if (c != 1) return false;
    return true;
  }
  Tensor weight;
  WeightRows rows;
  std::vector<std::atomic<int>> read_count;
  std::atomic<int> calls{0};
};

// A layer built from a weight read in bands of rows holds exactly the weight a layer built
// from the whole tensor holds, and computes exactly the same: large weights in several
// bands (the last one shorter), small ones in one, and a layout the bands cannot cut (the
// output channels padded to the kernel's block) from the whole weight read at once.
TEST(WeightStore, LayersReadInBandsMatchLayersBuiltFromTheTensor) {
  for (DType dt : {DType::F32, DType::BF16}) {
    const std::string what(dtype_name(dt));
    for (const Shape& shape : {Shape{1280, 1280}, Shape{96, 64}}) {
      const Tensor w = random_tensor(shape, 9, -0.1f, 0.1f).to(dt), bias = random_tensor({shape[0]}, 10);
      RecordedRows src(w);
      cpu::Matmul banded(src.rows, bias), whole(w, bias);
      EXPECT_TRUE(src.each_row_read_once()) << what << shape.str();
      EXPECT_GT(src.calls.load(), shape[0] == 1280 ? 2 : 0) << what;
      EXPECT_EQ(test::max_abs_diff(banded.weight(), w), 0.0) << what << shape.str();
      EXPECT_EQ(banded.weight_bytes(), whole.weight_bytes()) << what << shape.str();
      const Tensor x = random_tensor({40, shape[1]}, 11).to(dt);
      EXPECT_EQ(test::max_abs_diff(banded.forward(x, nullptr, cpu::Act::None), whole.forward(x, nullptr, cpu::Act::None)),
                0.0)
          << what << shape.str();
    }
    for (const Shape& shape : {Shape{320, 320, 3, 3}, Shape{4, 320, 3, 3}}) {
      const Tensor w = random_tensor(shape, 12, -0.1f, 0.1f).to(dt), bias = random_tensor({shape[0]}, 13);
      RecordedRows src(w);
      const cpu::ConvGeometry g{1, 1, 1, 1, 1};
      cpu::Convolution banded(src.rows, bias, g), whole(w, bias, g);
      EXPECT_TRUE(src.each_row_read_once()) << what << shape.str();
      // Several bands for 320 output channels; 4 are padded to a block: one read.
      if (shape[0] == 320) {
        EXPECT_GT(src.calls.load(), 2) << what;
      } else {
        EXPECT_EQ(src.calls.load(), 1) << what;
      }
      EXPECT_EQ(test::max_abs_diff(banded.weight(), w), 0.0) << what << shape.str();
      const Tensor x = random_tensor({1, shape[1], 8, 8}, 14).to(dt);
      EXPECT_EQ(test::max_abs_diff(banded.forward(x, nullptr, cpu::Act::None), whole.forward(x, nullptr, cpu::Act::None)),
                0.0)
          << what << shape.str();
    }
  }
}

// A LoRA merge (set_weight on a prepared layer) writes the new weight where the layer keeps
// its weight, in the model's arena: no memory is taken for it and none is left unused, and
// the layer computes exactly what a layer built from the new weight does.
TEST(WeightStore, SetWeightOnAPreparedLayerKeepsItsMemory) {
  for (DType dt : {DType::F32, DType::BF16}) {
    const std::string what(dtype_name(dt));
    auto arena = std::make_shared<WeightArena>();
    const Tensor wm = random_tensor({1280, 640}, 16).to(dt), wm2 = random_tensor({1280, 640}, 17).to(dt);
    const Tensor wc = random_tensor({320, 64, 3, 3}, 18).to(dt), wc2 = random_tensor({320, 64, 3, 3}, 19).to(dt);
    const Tensor bm = random_tensor({1280}, 20), bc = random_tensor({320}, 21);
    RecordedRows mrows(wm), crows(wc);
    mrows.rows.arena = crows.rows.arena = arena;
    ops::Linear linear(mrows.rows, bm, Device::cpu());
    ops::Conv2d conv(crows.rows, bc, ops::Conv2dOptions::same(1), Device::cpu());
    const Tensor xm = random_tensor({8, 640}, 22).to(dt), xc = random_tensor({1, 64, 8, 8}, 23).to(dt);
    linear.forward(xm);
    conv.forward(xc);
    const size_t in_use = BufferPool::instance().stats().in_use;  // the outputs went back
    linear.set_weight(wm2);
    conv.set_weight(wc2);
    linear.forward(xm);
    conv.forward(xc);
    EXPECT_EQ(BufferPool::instance().stats().in_use, in_use) << what;
    const Tensor ym = linear.forward(xm), yc = conv.forward(xc);
    EXPECT_EQ(test::max_abs_diff(ym, ops::Linear(wm2, bm).forward(xm)), 0.0) << what;
    EXPECT_EQ(test::max_abs_diff(yc, ops::Conv2d(wc2, bc, ops::Conv2dOptions::same(1)).forward(xc)), 0.0) << what;
    EXPECT_EQ(test::max_abs_diff(linear.weight(), wm2), 0.0) << what;
    EXPECT_EQ(test::max_abs_diff(conv.weight(), wc2), 0.0) << what;
  }
}

// A weight laid out at load lives in its model's arena, where memory let go stays unused
// while the model is loaded: another layout of it (a primitive for another image size),
// or Winograd's plain one, takes the same memory where it fits.
TEST(WeightStore, AnotherLayoutTakesTheSameMemory) {
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  const Tensor w = random_tensor({64, 64, 1, 1}, 24);
  RecordedRows src(w);
  src.rows.arena = std::make_shared<WeightArena>();
  const dnnl::memory::desc plain_md({64, 64, 1, 1}, dt::f32, tag::oihw);
  cpu::WeightStore store(src.rows, plain_md, 0, dnnl::memory::desc({64, 64, 1, 1}, dt::f32, tag::OIhw16i16o));
  void* const home = store.get(dnnl::memory::desc({64, 64, 1, 1}, dt::f32, tag::OIhw16i16o)).get_data_handle();
  const size_t in_use = BufferPool::instance().stats().in_use;
  EXPECT_EQ(store.get(dnnl::memory::desc({64, 64, 1, 1}, dt::f32, tag::OIhw16o16i)).get_data_handle(), home);
  EXPECT_EQ(BufferPool::instance().stats().in_use, in_use);
  EXPECT_EQ(test::max_abs_diff(store.plain(), w), 0.0);
  store.keep_plain();
  EXPECT_EQ(store.plain().raw_data(), home);
  EXPECT_EQ(test::max_abs_diff(store.plain(), w), 0.0);
  EXPECT_EQ(BufferPool::instance().stats().in_use, in_use);
}

// A weight read in another dtype than the layer computes in (F16 computes as F32) is read
// whole and converted.
TEST(WeightStore, RowsInAnotherDtypeAreReadWholeAndConverted) {
  const Tensor w = random_tensor({64, 32}, 15).to(DType::F16);
  RecordedRows src(w);
  cpu::Matmul mm(src.rows, Tensor());
  EXPECT_EQ(mm.dtype(), DType::F32);
  EXPECT_EQ(src.calls.load(), 1);
  EXPECT_EQ(test::max_abs_diff(mm.weight(), w.to(DType::F32)), 0.0);
}

// A float32 convolution that takes the Winograd path goes back to its plain weight once,
// which the per-call transform reads, instead of rebuilding it on every call.
TEST(WeightStore, WinogradConvolutionKeepsThePlainWeight) {
  const int64_t ci = 128, co = 256, hw = 128;
  ASSERT_TRUE(cpu::winograd_pays(ci, co, hw, hw));
  Tensor w = random_tensor({co, ci, 3, 3}, 7, -0.05f, 0.05f);
  cpu::Convolution conv(w, Tensor(), cpu::ConvGeometry{1, 1, 1, 1, 1});
  EXPECT_FALSE(conv.weight().shares_storage(conv.weight()));  // blocked: rebuilt per call
  conv.forward(random_tensor({1, ci, hw, hw}, 8), nullptr, cpu::Act::None);
  const Tensor held = conv.weight();
  EXPECT_TRUE(held.shares_storage(conv.weight()));
  EXPECT_EQ(test::max_abs_diff(held, w), 0.0);
  EXPECT_LT(conv.weight_bytes(), 2 * w.nbytes());
}

}  // namespace
}  // namespace sd
