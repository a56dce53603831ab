#include "backend/cpu/weight_store.h"

#include "backend/cpu/runtime.h"

namespace sd::cpu {

WeightStore::WeightStore(Tensor plain, dnnl::memory::desc plain_md)
    : plain_(std::move(plain)), plain_md_(std::move(plain_md)) {
  shape_ = plain_.shape();
  dtype_ = plain_.dtype();
}

dnnl::memory WeightStore::current() const {
  if (plain_.defined()) return memory_of(plain_md_, plain_);
  return dnnl::memory(blocked_md_, engine(), const_cast<void*>(blocked_.raw_data()));
}

void WeightStore::reorder_to(dnnl::memory dst) const {
  sync_threads();
  try {
    dnnl::memory src = current();
    dnnl::reorder(src, dst).execute(stream(), src, dst);
  } catch (const dnnl::error&) {
    // No direct reorder between the two blocked layouts: go through the plain one.
    Tensor p = plain();
    dnnl::memory src = memory_of(plain_md_, p);
    dnnl::reorder(src, dst).execute(stream(), src, dst);
  }
  stream().wait();
}

dnnl::memory WeightStore::get(const dnnl::memory::desc& want) {
  if (plain_.defined() && want == plain_md_) return current();
  if (!plain_.defined() && want == blocked_md_) return current();
  Tensor bytes = Tensor::empty({int64_t(want.get_size())}, DType::U8);
  dnnl::memory dst(want, engine(), bytes.raw_data());
  reorder_to(dst);
  blocked_ = std::move(bytes);
  blocked_md_ = want;
  plain_ = Tensor();  // the reordered copy is now the only one
  return dst;
}

dnnl::memory WeightStore::transient(const dnnl::memory::desc& want, Tensor* bytes) const {
  *bytes = Tensor::empty({int64_t(want.get_size())}, DType::U8);
  dnnl::memory dst(want, engine(), bytes->raw_data());
  reorder_to(dst);
  return dst;
}

Tensor WeightStore::plain() const {
  if (plain_.defined()) return plain_;
  Tensor out = Tensor::empty(shape_, dtype_);
  dnnl::memory src = current();
  dnnl::memory dst = memory_of(plain_md_, out);
  sync_threads();
  dnnl::reorder(src, dst).execute(stream(), src, dst);
  stream().wait();
  return out;
}

void WeightStore::keep_plain() {
  if (plain_.defined()) return;
  plain_ = plain();
  blocked_ = Tensor();
  blocked_md_ = dnnl::memory::desc();
}

size_t WeightStore::bytes() const { return plain_.defined() ? plain_.nbytes() : blocked_.nbytes(); }

}  // namespace sd::cpu
