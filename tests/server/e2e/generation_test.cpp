// Jobs end to end: the real sd-worker-cpu generating with the tiny SD1.5 fixture, its event
// streams read over HTTP, and its image compared with what sd-generate writes.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "server/e2e/worker_process.h"
#include "io/image.h"
#include "server/loopback.h"
#include "support/process.h"
#include "support/test_support.h"

namespace sd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::vector<SseMessage> events_only(const std::vector<SseMessage>& all) {
  std::vector<SseMessage> out;
  for (const auto& m : all)
    if (!m.comment) out.push_back(m);
  return out;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The tiny model, with a preview every second step.
std::vector<std::string> previewing_model_flags() {
  auto flags = tiny_model_flags();
  flags.insert(flags.end(), {"--preview-every", "2"});
  return flags;
}

json fox(int steps) {
  return {{"operation", "image_generation"}, {"prompt", "a red fox in the snow"}, {"steps", steps},
          {"width", 64},  {"height", 64}, {"seed", 42}};
}

// The steps of a stream's events named `event`, in order, told apart by their `data:`
// lines alone, as a client that ignores the SSE `event:` field does.
std::vector<int> steps_of(const std::vector<SseMessage>& msgs, const std::string& event) {
  std::vector<int> steps;
  for (const auto& m : msgs) {
    if (m.data.empty() || m.data.front() != '{') continue;
    json d = json::parse(m.data);
    EXPECT_EQ(d["event"], m.event);
    EXPECT_EQ(d["type"], m.event);
    if (d["event"] == event) steps.push_back(d["step"]);
  }
  return steps;
}
std::vector<int> progress_steps(const std::vector<SseMessage>& msgs) { return steps_of(msgs, "progress"); }

TEST(WorkerGeneration, StreamInOrderAndTheSameImageAsSdGenerate) {
  SD_SKIP_WITHOUT_DATA("clip");
  WorkerProcess worker(previewing_model_flags());
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  auto c = worker.client();
  json body = fox(4);
  body["hive_id"] = "hive-9";
  auto r = c.Post("/v1/jobs", body.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json accepted = json::parse(r->body);
  EXPECT_EQ(accepted["hive_id"], "hive-9");
  std::string id = accepted["job_id"];
  EXPECT_EQ(id.rfind("job-", 0), 0u);

  auto msgs = events_only(read_whole_sse(c, "/v1/jobs/" + id + "/stream"));
  ASSERT_GE(msgs.size(), 3u) << worker.log();
  // One event per step: a preview on steps 2 and 4 (the one of step 2 only if this client
  // read it before step 4's replaced it), progress on the others.
  EXPECT_EQ(progress_steps(msgs), (std::vector<int>{1, 3}));
  const std::vector<int> previews = steps_of(msgs, "preview");
  EXPECT_TRUE(previews == std::vector<int>({2, 4}) || previews == std::vector<int>({4})) << previews.size();
  for (const auto& m : msgs)
    if (m.event == "progress" || m.event == "preview") {
      json d = json::parse(m.data);
      EXPECT_EQ(d["total"], 4);
      EXPECT_EQ(d["percent"], d["step"].get<int>() * 25);
    }
  // Events come in order, one per step, then complete, then the marker.
  int last_step = 0;
  for (const auto& m : msgs) {
    if (m.event == "progress" || m.event == "preview") {
      int step = json::parse(m.data)["step"];
      EXPECT_GT(step, last_step) << m.event;
      last_step = step;
    }
  }
  ASSERT_EQ(msgs[msgs.size() - 2].event, "complete");
  EXPECT_EQ(msgs.back().event, "");
  EXPECT_EQ(msgs.back().data, "[DONE]");

  json done = json::parse(msgs[msgs.size() - 2].data);
  EXPECT_EQ(done["type"], "complete");
  EXPECT_EQ(done["format"], "png");
  EXPECT_EQ(done["seed"], 42);
  EXPECT_EQ(done["width"], 64);
  EXPECT_EQ(done["height"], 64);
  EXPECT_TRUE(done["timings"].contains("total")) << done["timings"];
  std::vector<uint8_t> png = io::base64_decode(done["image"].get<std::string>());
  io::Image img = io::decode_image(png.data(), png.size());
  EXPECT_EQ(img.width, 64);
  EXPECT_EQ(img.height, 64);

  const std::string out = temp_dir("worker-ref") + "/ref.png";
  auto gen = run_process({bin_dir() + "/sd-generate", "--model-path", fixtures_dir() + "/tiny-sd15", "--tokenizer-dir",
                          data_dir() + "/clip", "--prompt", "a red fox in the snow", "--steps", "4", "--width", "64",
                          "--height", "64", "--seed", "42", "--dtype", "f32", "--threads", "1", "--output", out});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  EXPECT_TRUE(png == read_file(out)) << "the worker's PNG differs from sd-generate's";

  json status = json::parse(c.Get("/v1/jobs/" + id)->body);
  EXPECT_EQ(status["status"], "completed");
  EXPECT_EQ(status["seed"], 42);
  EXPECT_EQ(status["hive_id"], "hive-9");
}

TEST(WorkerGeneration, EveryClientGetsEveryEventAndALeavingClientChangesNothing) {
  SD_SKIP_WITHOUT_DATA("clip");
  WorkerProcess worker(previewing_model_flags());
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  auto c = worker.client();
  std::string id = submit_job(c, fox(6));
  ASSERT_FALSE(id.empty());
  const std::string path = "/v1/jobs/" + id + "/stream";

  std::vector<SseMessage> got[2];
  std::thread clients[2];
  for (int i = 0; i < 2; ++i)
    clients[i] = std::thread([&, i] {
      auto own = worker.client();
      got[i] = events_only(read_whole_sse(own, path));
    });
  // A client that reads one event and leaves.
  std::thread leaver([&] {
    auto own = worker.client();
    read_sse(own, path, [](const SseMessage& m) { return m.comment; });
  });
  leaver.join();
  for (auto& t : clients) t.join();
  // A client that connects after the job finished.
  auto late = events_only(read_whole_sse(c, path));

  auto without_previews = [](const std::vector<SseMessage>& msgs) {
    std::vector<std::string> out;
    for (const auto& m : msgs)
      if (m.event != "preview") out.push_back(m.event + "|" + m.data);
    return out;
  };
  auto last_preview_step = [](const std::vector<SseMessage>& msgs) {
    int step = 0;
    for (const auto& m : msgs)
      if (m.event == "preview") step = json::parse(m.data)["step"];
    return step;
  };
  ASSERT_EQ(progress_steps(late), (std::vector<int>{1, 3, 5})) << worker.log();
  EXPECT_EQ(late.back().data, "[DONE]");
  for (const auto& g : got) {
    EXPECT_EQ(without_previews(g), without_previews(late));
    EXPECT_EQ(last_preview_step(g), 6);
  }
  int late_previews = 0;
  for (const auto& m : late) late_previews += m.event == "preview";
  EXPECT_EQ(late_previews, 1) << "a late client gets only the newest preview";
  EXPECT_EQ(last_preview_step(late), 6);
  EXPECT_EQ(json::parse(c.Get("/v1/jobs/" + id)->body)["status"], "completed");
}

TEST(WorkerGeneration, TransformAndInpaintJobsRun) {
  SD_SKIP_WITHOUT_DATA("clip");
  WorkerProcess worker(tiny_model_flags());
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  auto c = worker.client();
  io::Image src;
  src.width = src.height = 64;
  src.pixels.assign(64 * 64 * 3, 0);
  for (size_t i = 0; i < src.pixels.size(); ++i) src.pixels[i] = uint8_t(i * 7);
  io::Image mask;
  mask.width = mask.height = 64;
  mask.channels = 1;
  mask.pixels.assign(64 * 64, 0);
  std::fill(mask.pixels.begin(), mask.pixels.begin() + 64 * 32, 255);  // repaint the top half
  const std::string image = io::base64_encode(io::encode_png(src));

  json transform = {{"operation", "image_transform"}, {"prompt", "a fox"}, {"input_image", image},
                    {"strength", 0.5},                {"steps", 4},        {"seed", 1}};
  json inpaint = {{"operation", "image_inpaint"}, {"prompt", "a fox"},  {"input_image", image},
                  {"mask_image", io::base64_encode(io::encode_png(mask))}, {"steps", 2}, {"seed", 1}};
  for (const json& body : {transform, inpaint}) {
    std::string id = submit_job(c, body);
    ASSERT_FALSE(id.empty());
    auto msgs = events_only(read_whole_sse(c, "/v1/jobs/" + id + "/stream"));
    ASSERT_FALSE(msgs.empty());
    EXPECT_EQ(msgs.back().data, "[DONE]") << body["operation"] << ": " << msgs.back().data;
    if (msgs.size() >= 2 && msgs[msgs.size() - 2].event == "complete") {
      json done = json::parse(msgs[msgs.size() - 2].data);
      EXPECT_EQ(done["width"], 64);
      EXPECT_EQ(done["height"], 64);
    }
  }
}

}  // namespace
}  // namespace sd::test
