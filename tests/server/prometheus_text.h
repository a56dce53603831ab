#pragma once
// /metrics answers read by a real Prometheus parser: the Prometheus client's
// text_string_to_metric_families (Debian's python3-prometheus-client, under Debian's
// python3), through tests/server/prometheus_parse.py. A text it refuses fails the test.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "support/process.h"
#include "support/test_support.h"

namespace sd::test {

struct PrometheusText {
  std::map<std::string, std::string> family_types;  // family name -> counter, gauge...
  nlohmann::json samples;                            // [{"name", "labels", "value"}]

  // The value of the sample `name` whose labels include `labels`; NaN when there is none.
  double value(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples) {
      if (s["name"] != name) continue;
      bool match = true;
      for (const auto& [k, v] : labels) match = match && s["labels"].value(k, std::string()) == v;
      if (match) return s["value"].is_string() ? HUGE_VAL : s["value"].get<double>();
    }
    return NAN;
  }
  const nlohmann::json* labels_of(const std::string& name) const {
    for (const auto& s : samples)
      if (s["name"] == name) return &s["labels"];
    return nullptr;
  }
};

inline PrometheusText parse_prometheus(const std::string& text) {
  const std::string path = temp_dir("metrics") + "/metrics.txt";
  std::ofstream(path, std::ios::binary) << text;
  auto r = run_process({"/usr/bin/python3", std::string(SD_SOURCE_DIR) + "/tests/server/prometheus_parse.py", path});
  PrometheusText out;
  EXPECT_EQ(r.exit_code, 0) << "the Prometheus parser refused the text (python3-prometheus-client is installed by "
                               "scripts/setup.sh):\n"
                            << r.err << "\n" << text;
  if (r.exit_code != 0) return out;
  auto j = nlohmann::json::parse(r.out);
  for (auto& [name, type] : j["families"].items()) out.family_types[name] = type;
  out.samples = j["samples"];
  return out;
}

}  // namespace sd::test
