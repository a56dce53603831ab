#include "backend/cpu/rows.h"

namespace sd::cpu {

Rows as_rows(const Tensor& x) {
  SD_CHECK(x.ndim() >= 1, "row op on a scalar");
  Rows r;
  r.c = x.size(-1);
  r.m = r.c ? x.numel() / r.c : 0;
  bool even = x.stride(-1) == 1 || r.c == 1;
  // The leading axes must collapse into one (row index * row stride).
  int64_t expect = -1;
  for (int d = x.ndim() - 2; d >= 0 && even; --d) {
    if (x.size(d) == 1) continue;
    if (expect >= 0 && x.stride(d) != expect) even = false;
    if (r.row_stride == 0) r.row_stride = x.stride(d);
    expect = x.stride(d) * x.size(d);
  }
  if (!even) {
    r.t = x.contiguous();
    r.row_stride = r.c;
  } else {
    r.t = x;
    if (r.row_stride == 0) r.row_stride = r.c;
  }
  return r;
}

}  // namespace sd::cpu
