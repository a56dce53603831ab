#pragma once
// The few numpy routines diffusers builds its timestep and sigma tables with, computed the
// way numpy computes them, so integer timesteps come out identical (round half to even,
// linspace's end point, arange's length and fill).
#include <cstdint>
#include <vector>

namespace sd::sampling::np {

// numpy.round: half to even.
double round(double x);
// numpy.linspace(start, stop, num, endpoint): start + i*step, the last value exactly stop.
std::vector<double> linspace(double start, double stop, int64_t num, bool endpoint = true);
// numpy.arange(start, stop, step) with a float step.
std::vector<double> arange(double start, double stop, double step);
// numpy.interp(x, [0, 1, ..., n-1], fp) for x inside or outside the table.
double interp(double x, const std::vector<float>& fp);

}  // namespace sd::sampling::np
