#include "sampling/numpy_compat.h"

#include <cmath>

#include "core/error.h"

namespace sd::sampling::np {

double round(double x) { return std::nearbyint(x); }  // default rounding mode: to nearest even

std::vector<double> linspace(double start, double stop, int64_t num, bool endpoint) {
  SD_CHECK(num >= 0, "negative count");
  std::vector<double> y(size_t(num), start);
  const int64_t div = endpoint ? num - 1 : num;
  if (div > 0) {
    const double step = (stop - start) / double(div);
    for (int64_t i = 0; i < num; ++i) y[size_t(i)] = double(i) * step + start;
  }
  if (endpoint && num > 1) y.back() = stop;
  return y;
}

std::vector<double> arange(double start, double stop, double step) {
  SD_CHECK(step != 0, "zero step");
  const double len = std::ceil((stop - start) / step);
  if (!(len > 0)) return {};
  std::vector<double> y(static_cast<size_t>(len));
  // numpy writes the first two values and extends with their difference.
  y[0] = start;
  if (y.size() > 1) {
    const double second = start + step;
    const double delta = second - start;
    for (size_t i = 1; i < y.size(); ++i) y[i] = start + double(i) * delta;
  }
  return y;
}

double interp(double x, const std::vector<float>& fp) {
  SD_CHECK(!fp.empty(), "empty table");
  const size_t n = fp.size();
  if (!(x > 0)) return fp[0];
  if (x >= double(n - 1)) return fp[n - 1];
  const size_t j = size_t(std::floor(x));
  if (double(j) == x) return fp[j];
  const double slope = double(fp[j + 1]) - double(fp[j]);  // the xp spacing is 1
  return slope * (x - double(j)) + double(fp[j]);
}

}  // namespace sd::sampling::np
