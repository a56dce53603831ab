// Native jobs of several images (num_images) on the real worker over loopback: one
// `complete` per image with its index and seed, then one [DONE]; each image the one a
// single job with that seed gives; the limits; a cancel mid-batch.
#include <gtest/gtest.h>

#include "server/e2e/worker_process.h"
#include "io/image.h"
#include "server/loopback.h"
#include "support/test_support.h"

namespace sd::test {
namespace {

using nlohmann::json;

constexpr uint64_t kSeed = 4242;

json fox(json extra = json::object()) {
  json body = {{"operation", "image_generation"}, {"prompt", "a red fox in the snow"}, {"steps", 3},
               {"width", 64}, {"height", 64}, {"sampler", "euler_a"}, {"seed", kSeed}};
  body.update(extra);
  return body;
}

std::vector<SseMessage> events_only(const std::vector<SseMessage>& all) {
  std::vector<SseMessage> out;
  for (const auto& m : all)
    if (!m.comment) out.push_back(m);
  return out;
}

std::vector<json> completes(const std::vector<SseMessage>& msgs) {
  std::vector<json> out;
  for (const auto& m : msgs)
    if (m.event == "complete") out.push_back(json::parse(m.data));
  return out;
}

TEST(WorkerBatch, FourImagesEqualFourSingleJobsWithSeedsSToSPlus3) {
  SD_SKIP_WITHOUT_DATA("clip");
  WorkerProcess worker(tiny_model_flags());
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  auto c = worker.client();

  const std::string id = submit_job(c, fox({{"num_images", 4}}));
  const auto msgs = events_only(read_whole_sse(c, "/v1/jobs/" + id + "/stream"));
  ASSERT_FALSE(msgs.empty()) << worker.log();
  EXPECT_EQ(msgs.back().data, "[DONE]");
  int markers = 0;
  for (const auto& m : msgs) markers += m.event.empty();
  EXPECT_EQ(markers, 1);
  // One UNet batch: the steps (progress, or the preview in its place) count the batch's 3
  // steps once.
  std::vector<int> steps;
  for (const auto& m : msgs)
    if (m.event == "progress" || m.event == "preview") steps.push_back(json::parse(m.data)["step"]);
  EXPECT_EQ(steps, (std::vector<int>{1, 2, 3}));

  const std::vector<json> images = completes(msgs);
  ASSERT_EQ(images.size(), 4u);
  for (int k = 0; k < 4; ++k) {
    SCOPED_TRACE("image " + std::to_string(k));
    const json& image = images[size_t(k)];
    EXPECT_EQ(image["index"], k);
    EXPECT_EQ(image["seed"], kSeed + uint64_t(k));
    EXPECT_EQ(image["width"], 64);

    const std::string single = submit_job(c, fox({{"seed", kSeed + uint64_t(k)}}));
    const std::vector<json> one = completes(events_only(read_whole_sse(c, "/v1/jobs/" + single + "/stream")));
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(one[0]["index"], 0);
    const auto batch_png = io::base64_decode(image["image"].get<std::string>());
    const auto single_png = io::base64_decode(one[0]["image"].get<std::string>());
    EXPECT_EQ(io::decode_image(batch_png.data(), batch_png.size()).pixels,
              io::decode_image(single_png.data(), single_png.size()).pixels);
    // The same parameters chunk (seed included): the same file.
    EXPECT_TRUE(batch_png == single_png);
  }

  const json status = json::parse(c.Get("/v1/jobs/" + id)->body);
  EXPECT_EQ(status["status"], "completed");
  ASSERT_EQ(status["images"].size(), 4u);
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(status["images"][size_t(k)]["index"], k);
    EXPECT_EQ(status["images"][size_t(k)]["seed"], kSeed + uint64_t(k));
    EXPECT_EQ(status["images"][size_t(k)]["image"], images[size_t(k)]["image"]);
  }
  EXPECT_EQ(status["seed"], kSeed);  // the first image's fields, as for a job of one
}

TEST(WorkerBatch, NumImagesOutsideOneToEightOrNotAnIntegerIs400) {
  SD_SKIP_WITHOUT_DATA("clip");
  WorkerProcess worker(tiny_model_flags());
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  auto c = worker.client();
  const std::vector<std::pair<json, std::string>> bad = {
      {0, "num_images must be between 1 and 8, got 0"},
      {9, "num_images must be between 1 and 8, got 9"},
      {-1, "num_images must be between 1 and 8, got -1"},
      {"4", "num_images must be an integer, got \"4\""},
      {2.5, "num_images must be an integer, got 2.5"},
      {json::array({4}), "num_images must be an integer, got an array"}};
  for (const auto& [value, message] : bad) {
    auto r = c.Post("/v1/jobs", fox({{"num_images", value}}).dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << value << ": " << r->body;
    const json e = json::parse(r->body)["error"];
    EXPECT_EQ(e["code"], "invalid_argument");
    EXPECT_EQ(e["field"], "num_images");
    EXPECT_EQ(e["message"], message);
  }
  // null is the default (1), as for every optional field; 8 is accepted.
  for (const json& ok : {json(nullptr), json(8)}) {
    auto r = c.Post("/v1/jobs", fox({{"num_images", ok}, {"steps", 1}}).dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << ok << ": " << r->body;
    const std::string id = json::parse(r->body)["job_id"];
    EXPECT_EQ(completes(read_whole_sse(c, "/v1/jobs/" + id + "/stream")).size(), ok.is_null() ? 1u : 8u);
  }
}

TEST(WorkerBatch, CancelMidBatchEndsTheStreamWithOneCancelled) {
  SD_SKIP_WITHOUT_DATA("clip");
  WorkerProcess worker(tiny_model_flags());
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  auto c = worker.client();
  const std::string id = submit_job(c, fox({{"num_images", 8}, {"steps", 150}}));
  std::vector<SseMessage> msgs;
  bool cancel_sent = false;
  read_sse(c, "/v1/jobs/" + id + "/stream", [&](const SseMessage& m) {
    if (!m.comment) msgs.push_back(m);
    if (!cancel_sent && m.event == "progress") {
      auto d = worker.client().Delete("/v1/jobs/" + id);
      EXPECT_TRUE(d && d->status == 200);
      cancel_sent = true;
    }
    return true;
  });
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(msgs.back().data, "[CANCELLED]");
  int markers = 0;
  for (const auto& m : msgs) markers += m.event.empty();
  EXPECT_EQ(markers, 1);
  EXPECT_TRUE(completes(msgs).empty());
  EXPECT_EQ(json::parse(c.Get("/v1/jobs/" + id)->body)["status"], "cancelled");
}

}  // namespace
}  // namespace sd::test
