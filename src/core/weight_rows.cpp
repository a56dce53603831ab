#include "core/weight_rows.h"

namespace sd {

Tensor WeightRows::read_all() const {
  Tensor t = Tensor::empty(shape, dtype);
  if (rows() > 0) read(0, rows(), t.raw_data());
  return t;
}

}  // namespace sd
