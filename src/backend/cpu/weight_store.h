#pragma once
// One weight tensor in the layout oneDNN primitives ask for, kept as a single copy: the
// plain tensor is released once a primitive wants another layout, and rebuilt on request.
// Reordered copies live in BufferPool memory, so a layer's freed plain weight can be
// reused for the next layer's reordered one while a model warms up. A weight loaded from
// a file is laid out band by band as it is read, into its model's arena (weight_arena.h)
// when the source names one, and has no plain copy until asked; a new layout of it takes
// the same memory where it fits.
#include <oneapi/dnnl/dnnl.hpp>

#include <optional>

#include "core/tensor.h"
#include "core/weight_rows.h"

namespace sd::cpu {

class WeightStore {
 public:
  WeightStore() = default;
  // plain: the weight in the dtype it computes in; plain_md: how a primitive sees it
  // (may reorder the dims, e.g. a [O,I] matrix as an I x O "ba" matrix).
  WeightStore(Tensor plain, dnnl::memory::desc plain_md);
  // The weight read from `rows` (in the dtype it computes in) and laid out as `want` band
  // by band, when that layout can be cut along the rows (dimension `row_dim` of
  // `plain_md`); else read whole and reordered as above. No `want`: kept plain.
  WeightStore(const WeightRows& rows, dnnl::memory::desc plain_md, int row_dim,
              const std::optional<dnnl::memory::desc>& want);

  // The weight laid out as `want`, reordered if needed, and kept as the only copy. Only the
  // latest layout is kept: primitives that disagree on the layout (rare) cost a reorder
  // each time they alternate.
  dnnl::memory get(const dnnl::memory::desc& want);
  // The weight reordered to `want` into `*bytes` (BufferPool memory), without keeping it:
  // for layouts that are cheap to rebuild per call but costly to keep (Winograd's 4x).
  dnnl::memory transient(const dnnl::memory::desc& want, Tensor* bytes) const;
  // The weight as a plain tensor of its original shape: shared while still held, else a
  // fresh copy reordered back.
  Tensor plain() const;
  // Makes the plain tensor the one copy again, reordered back once: for a weight that
  // transient() transforms on every call from the plain layout (Winograd's).
  void keep_plain();
  // Puts `plain` (this weight's shape and dtype) in place of the weight, in the layout and
  // the memory it has now.
  void replace(const Tensor& plain);
  size_t bytes() const;

 private:
  dnnl::memory current() const;
  void reorder_to(dnnl::memory dst) const;
  void read_in_bands(const WeightRows& rows, int row_dim, int64_t block);

  Tensor plain_;  // defined until some primitive needs another layout
  Shape shape_;
  DType dtype_ = DType::F32;
  dnnl::memory::desc plain_md_;
  Tensor blocked_;  // bytes of the reordered copy
  dnnl::memory::desc blocked_md_;
};

}  // namespace sd::cpu
