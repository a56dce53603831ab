#pragma once
// Element-wise arithmetic on the f32 latents the schedulers update. Latents are small (a
// few hundred thousand values), so these are plain loops; each element is computed in
// double and stored once in float.
#include <initializer_list>
#include <span>

#include "core/tensor.h"

namespace sd::sampling {

// coeff * x. Holds a pointer: the tensor must outlive the Term (bind named tensors only
// when Terms are kept in a container).
struct Term {
  Term(double c, const Tensor& t) : coeff(c), x(&t) {}
  double coeff;
  const Tensor* x;
};

// sum of coeff_i * x_i over tensors of one shape; a new contiguous f32 tensor.
Tensor lincomb(std::span<const Term> terms);
inline Tensor lincomb(std::initializer_list<Term> terms) {
  return lincomb(std::span<const Term>(terms.begin(), terms.size()));
}
// x / divisor, with the division done in float as torch does for a float32 scalar.
Tensor divide(const Tensor& x, float divisor);
// x clamped to [-limit, limit].
Tensor clamp(const Tensor& x, double limit);

}  // namespace sd::sampling
