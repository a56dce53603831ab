#pragma once
// The CPU backend's shared runtime: the oneDNN engine and stream, the thread count that
// OpenMP and oneDNN share, and the mapping from core tensors to oneDNN memory.
#include <oneapi/dnnl/dnnl.hpp>

#include "core/tensor.h"

namespace sd::cpu {

// Threads used by every CPU op. OpenMP keeps the count per thread, so each entry point
// calls sync_threads() to apply the process-wide setting on the calling thread too.
void set_num_threads(int n);
int num_threads();
void sync_threads();

dnnl::engine& engine();
dnnl::stream& stream();

// oneDNN data type of an F32/BF16 tensor (errors for other dtypes).
dnnl::memory::data_type dnnl_type(DType t);
bool dnnl_supports(DType t);
// A memory descriptor with the tensor's exact dims and strides.
dnnl::memory::desc desc_of(const Tensor& t);
dnnl::memory::desc desc_of(const Shape& shape, const Strides& strides, DType dtype);
// A memory object over the tensor's data (no copy).
dnnl::memory memory_of(const Tensor& t);
dnnl::memory memory_of(const dnnl::memory::desc& md, const Tensor& t);

}  // namespace sd::cpu
