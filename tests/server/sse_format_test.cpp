#include <gtest/gtest.h>

#include "server/sse_format.h"

namespace sd::server {
namespace {

TEST(SseFormat, NamedEventWithOneJsonDataLine) {
  std::string m = sse_event("progress", {{"step", 1}});
  EXPECT_EQ(m, "event: progress\ndata: {\"event\":\"progress\",\"step\":1,\"type\":\"progress\"}\n\n");
  EXPECT_EQ(sse_event_data(m), "{\"event\":\"progress\",\"step\":1,\"type\":\"progress\"}");
}

TEST(SseFormat, TypeAndEventBothNameTheEvent) {
  // A wrong or missing "type" cannot disagree with the SSE event name.
  auto data = nlohmann::json::parse(sse_event_data(sse_event("complete", {{"type", "progress"}, {"seed", 3}})));
  EXPECT_EQ(data["type"], "complete");
  EXPECT_EQ(data["event"], "complete");
  EXPECT_EQ(data["seed"], 3);
}

TEST(SseFormat, LineBreaksNeverSplitAMessage) {
  std::string m = sse_event("error", {{"message", "a\nb"}});
  EXPECT_EQ(m, "event: error\ndata: {\"event\":\"error\",\"message\":\"a\\nb\",\"type\":\"error\"}\n\n");
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
