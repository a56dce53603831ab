#include <gtest/gtest.h>

#include "server/sse_format.h"

namespace sd::server {
namespace {

TEST(SseFormat, NamedEventWithOneJsonDataLine) {
  std::string m = sse_event("progress", {{"type", "progress"}, {"step", 1}});
  EXPECT_EQ(m, "event: progress\ndata: {\"step\":1,\"type\":\"progress\"}\n\n");
  EXPECT_EQ(sse_event_data(m), "{\"step\":1,\"type\":\"progress\"}");
}

TEST(SseFormat, LineBreaksNeverSplitAMessage) {
  std::string m = sse_event("error", {{"message", "a\nb"}});
  EXPECT_EQ(m, "event: error\ndata: {\"message\":\"a\\nb\"}\n\n");
  EXPECT_EQ(sse_data(error_marker("bad\r\nthing")), "data: [ERROR] bad  thing\n\n");
  EXPECT_EQ(sse_comment("keep-alive"), ": keep-alive\n\n");
}

TEST(SseFormat, Markers) {
  EXPECT_EQ(sse_data(kDoneMarker), "data: [DONE]\n\n");
  EXPECT_EQ(sse_data(kCancelledMarker), "data: [CANCELLED]\n\n");
  EXPECT_EQ(error_marker("oops"), "[ERROR] oops");
}

TEST(SseFormat, InvalidUtf8IsReplacedNotThrown) {
  std::string m = sse_event("error", {{"message", std::string("bad \xff byte")}});
  EXPECT_NE(m.find("bad "), std::string::npos);
}

}  // namespace
}  // namespace sd::server
