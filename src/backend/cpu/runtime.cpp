#include "backend/cpu/runtime.h"

#include <omp.h>

#include <atomic>

namespace sd::cpu {

namespace {
std::atomic<int> g_threads{0};  // 0: not set, use OpenMP's default
}

void set_num_threads(int n) {
  SD_CHECK(n >= 1, "thread count must be >= 1, got " + std::to_string(n));
  g_threads = n;
  omp_set_num_threads(n);
}

int num_threads() {
  int n = g_threads.load();
  return n > 0 ? n : omp_get_max_threads();
}

void sync_threads() {
  int n = g_threads.load();
  if (n > 0 && omp_get_max_threads() != n) omp_set_num_threads(n);
}

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  // One stream per calling thread: a stream is not meant to be shared between threads.
  thread_local dnnl::stream s(engine());
  return s;
}

bool dnnl_supports(DType t) { return t == DType::F32 || t == DType::BF16; }

dnnl::memory::data_type dnnl_type(DType t) {
  switch (t) {
    case DType::F32: return dnnl::memory::data_type::f32;
    case DType::BF16: return dnnl::memory::data_type::bf16;
    default: break;
  }
  throw Error("CPU backend: dtype " + std::string(dtype_name(t)) + " is not supported here");
}

dnnl::memory::desc desc_of(const Shape& shape, const Strides& strides, DType dtype) {
  dnnl::memory::dims dims(shape.begin(), shape.end());
  dnnl::memory::dims st(strides.begin(), strides.end());
  if (dims.empty()) {  // a scalar is a one-element vector to oneDNN
    dims = {1};
    st = {1};
  }
  return dnnl::memory::desc(dims, dnnl_type(dtype), st);
}

dnnl::memory::desc desc_of(const Tensor& t) { return desc_of(t.shape(), t.strides(), t.dtype()); }

dnnl::memory memory_of(const dnnl::memory::desc& md, const Tensor& t) {
  return dnnl::memory(md, engine(), const_cast<void*>(t.raw_data()));
}

dnnl::memory memory_of(const Tensor& t) { return memory_of(desc_of(t), t); }

}  // namespace sd::cpu
