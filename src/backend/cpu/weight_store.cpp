#include "backend/cpu/weight_store.h"

#include "backend/cpu/runtime.h"

namespace sd::cpu {

WeightStore::WeightStore(Tensor plain, dnnl::memory::desc plain_md)
    : plain_(std::move(plain)), plain_md_(std::move(plain_md)) {
  shape_ = plain_.shape();
  dtype_ = plain_.dtype();
}

dnnl::memory WeightStore::get(const dnnl::memory::desc& want) {
  if (plain_.defined() && want == plain_md_) return memory_of(plain_md_, plain_);
  for (const dnnl::memory& m : reordered_)
    if (m.get_desc() == want) return m;
  sync_threads();
  dnnl::memory src = plain_.defined() ? memory_of(plain_md_, plain_) : reordered_.front();
  dnnl::memory dst(want, engine());
  dnnl::reorder(src, dst).execute(stream(), src, dst);
  stream().wait();
  reordered_.push_back(dst);
  plain_ = Tensor();  // the reordered copy is now the one we keep
  return dst;
}

Tensor WeightStore::plain() const {
  if (plain_.defined()) return plain_;
  Tensor out = Tensor::empty(shape_, dtype_);
  dnnl::memory src = reordered_.front();
  dnnl::memory dst = memory_of(plain_md_, out);
  sync_threads();
  dnnl::reorder(src, dst).execute(stream(), src, dst);
  stream().wait();
  return out;
}

size_t WeightStore::bytes() const {
  size_t n = plain_.defined() ? plain_.nbytes() : 0;
  for (const dnnl::memory& m : reordered_) n += m.get_desc().get_size();
  return n;
}

}  // namespace sd::cpu
