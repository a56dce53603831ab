// Numbers as messages and PNG parameters write them.
#include "core/number_text.h"

#include <gtest/gtest.h>

namespace sd {
namespace {

TEST(NumberText, SixSignificantDigits) {
  EXPECT_EQ(number_text(7.5), "7.5");
  EXPECT_EQ(number_text(0.0001), "0.0001");
  EXPECT_EQ(number_text(1e6), "1e+06");
}

TEST(NumberText, GibWithOneDecimal) {
  EXPECT_EQ(gib_text(0), "0.0 GiB");
  EXPECT_EQ(gib_text(uint64_t(3) << 29), "1.5 GiB");
  EXPECT_EQ(gib_text(uint64_t(16) << 30), "16.0 GiB");
  EXPECT_EQ(gib_text(14'495'514'624ull), "13.5 GiB");
}

}  // namespace
}  // namespace sd
