// The programs' OpenMP threads sleep when idle unless the user chose a wait policy
// (backend/cpu/startup_environment.cpp): libgomp prints the spin count it runs with when
// OMP_DISPLAY_ENV is verbose (0: passive; 300000 is its default when nothing is set).
#include <gtest/gtest.h>

#include <cstdlib>

#include "support/process.h"
#include "support/test_support.h"

namespace sd {
namespace {

std::string displayed_spin_count(const std::string& program, const std::vector<std::string>& env) {
  std::vector<std::string> all = {"OMP_DISPLAY_ENV=verbose"};
  all.insert(all.end(), env.begin(), env.end());
  const auto r = test::run_process({test::bin_dir() + "/" + program, "--help"}, all);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string key = "GOMP_SPINCOUNT = '";
  const size_t at = r.err.find(key);
  if (at == std::string::npos) return "not displayed: " + r.err;
  return r.err.substr(at + key.size(), r.err.find('\'', at + key.size()) - at - key.size());
}

TEST(OpenMpWaitPolicy, ProgramsArePassiveUnlessTheUserChoseAPolicy) {
  // This test program sets the policy for itself, and its children inherit the
  // environment: remove it so the children start as a user's shell would start them.
  unsetenv("OMP_WAIT_POLICY");
  unsetenv("GOMP_SPINCOUNT");
  for (const char* program : {"sd-generate", "sd-worker-cpu", "sd-bench"}) {
    EXPECT_EQ(displayed_spin_count(program, {}), "0") << program;
    EXPECT_EQ(displayed_spin_count(program, {"OMP_WAIT_POLICY=active"}), "30000000000") << program;
    EXPECT_EQ(displayed_spin_count(program, {"GOMP_SPINCOUNT=1000"}), "1000") << program;
  }
}

}  // namespace
}  // namespace sd
