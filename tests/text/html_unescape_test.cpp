// html.unescape as Python does it (expected values taken from CPython 3.11's html.unescape).
#include <gtest/gtest.h>

#include <string>

#include "text/html_unescape.h"

namespace sd::text {
namespace {

struct Case {
  std::u32string in, expected;
};

TEST(HtmlUnescape, MatchesPython) {
  const Case cases[] = {
      {U"no entities", U"no entities"},
      {U"Tom &amp; Jerry", U"Tom & Jerry"},
      {U"&amp;lt;", U"&lt;"},  // one level per call
      {U"&lt", U"<"},          // legacy names work without ';'
      {U"&ltx", U"<x"},
      {U"&ampxyz", U"&xyz"},    // longest known prefix
      {U"&notit;", U"\u00ACit;"},
      {U"&notin;", U"\u2209"},
      {U"&AElig", U"\u00C6"},
      {U"&ThickSpace;", U"\u205F\u200A"},  // two code points
      {U"&NotEqualTilde;", U"\u2242\u0338"},
      {U"&bogus;", U"&bogus;"},
      {U"& amp;", U"& amp;"},
      {U"&&amp;", U"&&"},
      {U"&#65;", U"A"},
      {U"&#x41;", U"A"},
      {U"&#X41", U"A"},
      {U"&#65&#66;", U"AB"},
      {U"&#0;", U"\uFFFD"},
      {U"&#13;", U"\r"},
      {U"&#128;", U"\u20AC"},  // C1 range read as Windows-1252
      {U"&#x9f;", U"\u0178"},
      {U"&#xD800;", U"\uFFFD"},
      {U"&#1114112;", U"\uFFFD"},
      {U"&#99999999999999999999;", U"\uFFFD"},
      {U"&#1;", U""},  // forbidden code points vanish
      {U"&#xFFFE;", U""},
      {U"&#;", U"&#;"},
      {U"&#x;", U"&#x;"},
      {U"&abcdefghijklmnopqrstuvwxyzabcdefghij;", U"&abcdefghijklmnopqrstuvwxyzabcdefghij;"},
      {U"trailing &", U"trailing &"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(html_unescape(c.in), c.expected) << "input index " << (&c - cases);
  }
}

}  // namespace
}  // namespace sd::text
