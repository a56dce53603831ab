#include "backend/cpu/weight_store.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <string>

#include "backend/cpu/runtime.h"

namespace sd::cpu {

WeightStore::WeightStore(Tensor plain, dnnl::memory::desc plain_md)
    : plain_(std::move(plain)), plain_md_(std::move(plain_md)) {
  shape_ = plain_.shape();
  dtype_ = plain_.dtype();
}

namespace {

// Bands this large, read through SafetensorsFile's 256 KB buffer, stay in the core's L2
// cache between their read and their reorder (measured: a fifth less CPU time to load
// SD1.5 than with 1 MB bands and buffers).
constexpr int64_t kBandBytes = int64_t(512) << 10;

// How many rows a band of layout `md` must start at a multiple of: the product of the
// layout's inner blocks along `row_dim`. 0 when it cannot be cut in bands: not a blocked
// layout, or padded (a band would have to write the padding too).
int64_t row_block(const dnnl::memory::desc& md, int row_dim) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked) return 0;
  for (int i = 0; i < d.ndims; ++i)
    if (d.padded_dims[i] != d.dims[i]) return 0;
  int64_t block = 1;
  const dnnl_blocking_desc_t& b = d.format_desc.blocking;
  for (int i = 0; i < b.inner_nblks; ++i)
    if (b.inner_idxs[i] == row_dim) block *= b.inner_blks[i];
  return d.dims[row_dim] % block == 0 ? block : 0;
}

}  // namespace

WeightStore::WeightStore(const WeightRows& rows, dnnl::memory::desc plain_md, int row_dim,
                         const std::optional<dnnl::memory::desc>& want)
    : shape_(rows.shape), dtype_(rows.dtype), plain_md_(std::move(plain_md)) {
  const int64_t block = want && *want != plain_md_ ? row_block(*want, row_dim) : 0;
  if (block == 0 || rows.rows() == 0) {
    plain_ = rows.read_all();
    if (want) get(*want);
    return;
  }
  blocked_md_ = *want;
  read_in_bands(rows, row_dim, block);
}

// Each thread reads its own bands into its own buffer and reorders them while they are in
// its cache: oneDNN runs a primitive on the calling thread alone inside a parallel region.
void WeightStore::read_in_bands(const WeightRows& rows, int row_dim, int64_t block) {
  const int64_t n = rows.rows();
  const int64_t row_bytes = rows.row_elements() * int64_t(dtype_size(dtype_));
  const int64_t band = std::min(n, std::max<int64_t>(1, kBandBytes / std::max<int64_t>(1, row_bytes * block)) * block);
  const auto bytes = blocked_md_.get_size();
  blocked_ = rows.arena ? rows.arena->allocate(bytes) : Tensor::empty({int64_t(bytes)}, DType::U8);
  char* base = static_cast<char*>(blocked_.raw_data());
  const dnnl::memory::dims dims = plain_md_.dims();
  const dnnl::memory::dims strides(plain_md_.data.format_desc.blocking.strides,
                                   plain_md_.data.format_desc.blocking.strides + dims.size());
  // A band's source and destination descriptions depend only on its row count; where it
  // starts moves the destination pointer (the layout repeats every `block` rows).
  struct BandReorder {
    dnnl::memory::desc src, dst;
    dnnl::reorder prim;
  };
  const auto band_reorder = [&](int64_t count) {
    dnnl::memory::dims d = dims;
    d[size_t(row_dim)] = count;
    BandReorder r;
    r.src = dnnl::memory::desc(d, plain_md_.data_type(), strides);
    r.dst = blocked_md_.submemory_desc(d, dnnl::memory::dims(dims.size(), 0));
    r.prim = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), r.src, engine(), r.dst));
    return r;
  };
  const int64_t bands = (n + band - 1) / band;
  const BandReorder full = band_reorder(band);
  const std::optional<BandReorder> last = n % band ? std::optional<BandReorder>(band_reorder(n % band)) : std::nullopt;
  const size_t elem = dtype_size(dtype_);
  std::exception_ptr failure;
  sync_threads();
#pragma omp parallel num_threads(int(std::min<int64_t>(bands, num_threads())))
  {
    try {
      Tensor staging = Tensor::empty({band * rows.row_elements()}, dtype_);
      dnnl::stream s(engine());
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      for (int64_t b = t; b < bands; b += nt) {
        const int64_t row = b * band, count = std::min(band, n - row);
        const BandReorder& r = count == band ? full : *last;
        dnnl::memory::dims offsets(dims.size(), 0);
        offsets[size_t(row_dim)] = row;
        const int64_t shift = blocked_md_.submemory_desc(r.dst.dims(), offsets).data.offset0;
        rows.read(row, count, staging.raw_data());
        dnnl::memory src(r.src, engine(), staging.raw_data());
        dnnl::memory dst(r.dst, engine(), base + shift * int64_t(elem));
        r.prim.execute(s, src, dst);
        s.wait();
      }
    } catch (...) {
#pragma omp critical
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

dnnl::memory WeightStore::current() const {
  if (plain_.defined()) return memory_of(plain_md_, plain_);
  return dnnl::memory(blocked_md_, engine(), const_cast<void*>(blocked_.raw_data()));
}

void WeightStore::reorder_to(dnnl::memory dst) const {
  sync_threads();
  dnnl::memory src = current();
  // Between two blocked layouts oneDNN 2.6 may offer only its reference reorder, which took
  // 0.12-0.25 s for a 1x1 convolution's 1280x2560 weight (its AMX to its AVX-512 layout,
  // at each switch between image sizes): through the plain layout it is two jit reorders
  // of 1-3 ms. No direct reorder at all goes through the plain layout as well.
  std::optional<dnnl::reorder::primitive_desc> direct;
  try {
    direct = dnnl::reorder::primitive_desc(engine(), src.get_desc(), engine(), dst.get_desc());
  } catch (const dnnl::error&) {
  }
  if (direct && (plain_.defined() || std::string(direct->impl_info_str()).rfind("jit", 0) == 0)) {
    dnnl::reorder(*direct).execute(stream(), src, dst);
  } else {
    Tensor p = plain();
    dnnl::memory from_plain = memory_of(plain_md_, p);
    dnnl::reorder(from_plain, dst).execute(stream(), from_plain, dst);
  }
  stream().wait();
}

dnnl::memory WeightStore::get(const dnnl::memory::desc& want) {
  if (plain_.defined() && want == plain_md_) return current();
  if (!plain_.defined() && want == blocked_md_) return current();
  Tensor bytes = Tensor::empty({int64_t(want.get_size())}, DType::U8);
  dnnl::memory dst(want, engine(), bytes.raw_data());
  reorder_to(dst);
  // Into the memory of the old layout, where it fits (a primitive for another image size
  // may want another layout of a 1x1 convolution): a weight laid out at load lives in its
  // model's arena, where memory let go stays unused while the model is loaded.
  if (blocked_.defined() && blocked_.nbytes() >= bytes.nbytes()) {
    std::memcpy(blocked_.raw_data(), bytes.raw_data(), bytes.nbytes());
    bytes = std::move(blocked_);
  }
  blocked_ = std::move(bytes);
  blocked_md_ = want;
  plain_ = Tensor();  // the reordered copy is now the only one
  return current();
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
  Tensor p = plain();
  if (blocked_.nbytes() >= p.nbytes()) {  // in the blocked layout's memory, as get() does
    std::memcpy(blocked_.raw_data(), p.raw_data(), p.nbytes());
    p = Tensor::wrap(blocked_.raw_data(), shape_, dtype_, std::make_shared<Tensor>(blocked_));
  }
  plain_ = std::move(p);
  blocked_ = Tensor();
  blocked_md_ = dnnl::memory::desc();
}

void WeightStore::replace(const Tensor& plain) {
  const Tensor p = plain.contiguous();
  if (plain_.defined()) {  // which weight() may have handed out: not written into
    plain_ = p;
    return;
  }
  dnnl::memory src = memory_of(plain_md_, p);
  dnnl::memory dst = current();
  sync_threads();
  dnnl::reorder(src, dst).execute(stream(), src, dst);
  stream().wait();
}

size_t WeightStore::bytes() const { return plain_.defined() ? plain_.nbytes() : blocked_.nbytes(); }

}  // namespace sd::cpu
