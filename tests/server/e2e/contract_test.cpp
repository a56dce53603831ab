// The request contract as a client of the real worker meets it: the names and limits /info
// publishes, A1111 sampler names in native jobs, random 32-bit seeds, and warnings for the
// fields a job ignored.
#include <gtest/gtest.h>

#include "io/image.h"
#include "server/e2e/worker_process.h"
#include "server/loopback.h"
#include "support/test_support.h"

namespace sd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json job(json extra = json::object()) {
  json body = {{"operation", "image_generation"}, {"prompt", "a fox"}, {"steps", 2}, {"width", 64}, {"height", 64}};
  body.update(extra);
  return body;
}

// The job's complete event, read from its stream.
json completed(httplib::Client& c, const std::string& id) {
  for (const auto& m : read_whole_sse(c, "/v1/jobs/" + id + "/stream"))
    if (m.event == "complete") return json::parse(m.data);
  ADD_FAILURE() << "no complete event for " << id;
  return json::object();
}

std::string parameters_of(const json& complete) {
  const auto png = io::base64_decode(complete["image"].get<std::string>());
  for (const auto& [key, value] : io::read_png_text(png))
    if (key == "parameters") return value;
  return "";
}

class WorkerContract : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!has_data("clip")) return;
    worker = new WorkerProcess(tiny_model_flags());
    ready = worker->wait_ready();
  }
  static void TearDownTestSuite() {
    delete worker;
    worker = nullptr;
  }
  void SetUp() override {
    SD_SKIP_WITHOUT_DATA("clip");
    ASSERT_TRUE(ready) << worker->log();
  }
  static WorkerProcess* worker;
  static bool ready;
};
WorkerProcess* WorkerContract::worker = nullptr;
bool WorkerContract::ready = false;

TEST_F(WorkerContract, InfoPublishesTheLimitsAndEveryName) {
  auto c = worker->client();
  const json info = json::parse(c.Get("/info")->body);
  EXPECT_EQ(info["limits"]["steps"], json({{"min", 1}, {"max", 150}}));
  EXPECT_EQ(info["limits"]["width"]["multiple_of"], 8);
  EXPECT_EQ(info["limits"]["images"]["max"], 8);
  EXPECT_LE(info["limits"]["clip_skip"]["max"].get<int>(), 12);
  EXPECT_EQ(info["samplers"][0], "ddim");
  EXPECT_EQ(info["defaults"]["sampler"], "ddim");
  EXPECT_EQ(info["defaults"]["schedule"], "default");
  bool found = false;
  for (const json& row : info["sampler_names"])
    if (row["id"] == "euler_a") {
      found = true;
      EXPECT_EQ(row["name"], "Euler a");
      EXPECT_NE(std::find(row["aliases"].begin(), row["aliases"].end(), "euler_ancestral"), row["aliases"].end());
      EXPECT_EQ(row["schedules"], json({"default", "karras", "exponential"}));
    }
  EXPECT_TRUE(found) << info["sampler_names"];
  EXPECT_EQ(info["schedule_names"][1], json({{"id", "karras"}, {"name", "Karras"}, {"aliases", json::array()}}));

  // What /info says is what a job is held to: one past the published clip_skip is refused.
  const int over = info["limits"]["clip_skip"]["max"].get<int>() + 1;
  auto r = c.Post("/v1/jobs", job({{"clip_skip", over}}).dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(json::parse(r->body)["error"]["field"], "clip_skip");
}

TEST_F(WorkerContract, A1111NamesRunAndThePngShowsTheirDisplayNames) {
  auto c = worker->client();
  const std::string id = submit_job(c, job({{"sampler", "dpm++ 2m KARRAS"}, {"seed", 7}}));
  ASSERT_FALSE(id.empty());
  const json done = completed(c, id);
  EXPECT_EQ(done["seed"], 7);
  const std::string params = parameters_of(done);
  EXPECT_NE(params.find("Steps: 2, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: "), std::string::npos)
      << params;

  const std::string comfy = submit_job(c, job({{"sampler", "euler_ancestral"}, {"schedule", "exponential"}, {"seed", 7}}));
  EXPECT_NE(parameters_of(completed(c, comfy)).find("Sampler: Euler a, Schedule type: Exponential,"), std::string::npos);
}

TEST_F(WorkerContract, SeedMinusOneIsARandom32BitSeedReportedInComplete) {
  auto c = worker->client();
  const std::string id = submit_job(c, job({{"seed", -1}}));
  ASSERT_FALSE(id.empty());
  const json done = completed(c, id);
  ASSERT_TRUE(done["seed"].is_number_unsigned()) << done["seed"];
  const uint64_t seed = done["seed"];
  EXPECT_LE(seed, 0xFFFFFFFFull);
  EXPECT_NE(parameters_of(done).find("Seed: " + std::to_string(seed) + ","), std::string::npos);
  // The reported seed gives the same image again.
  const json again = completed(c, submit_job(c, job({{"seed", seed}})));
  EXPECT_EQ(again["image"], done["image"]);
}

TEST_F(WorkerContract, IgnoredFieldsComeBackAsWarnings) {
  auto c = worker->client();
  json body = job({{"cfg_scale", 9},
                   {"sampler_name", "Euler a"},
                   {"batch_size", 2},
                   {"n_iter", 3},
                   {"denoising_strength", 0.5},
                   {"init_images", json::array({"abc"})},
                   {"mask_image", "xyz"},
                   {"strength", 0.3},
                   {"restore_faces", true},
                   {"loras", json::array()},
                   {"hive_id", "h1"},
                   {"model", "v1-5"},
                   {"worker_id", "w-e2e"}});
  auto r = c.Post("/v1/jobs", body.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json answer = json::parse(r->body);
  EXPECT_EQ(answer["hive_id"], "h1");
  EXPECT_EQ(answer["worker_id"], "w-e2e");
  const std::vector<std::string> want = {
      "batch_size is not a field of native jobs and was ignored; a native job makes one image; send one job per image",
      "cfg_scale is not a field of native jobs and was ignored; use guidance_scale",
      "denoising_strength is not a field of native jobs and was ignored; use strength",
      "init_images is not a field of native jobs and was ignored; use input_image (one base64 image)",
      "mask_image was ignored: image_generation does not use it",
      "n_iter is not a field of native jobs and was ignored; a native job makes one image; send one job per image",
      "unknown field restore_faces was ignored",
      "sampler_name is not a field of native jobs and was ignored; use sampler (A1111 names are accepted there)",
      "strength was ignored: image_generation does not use it",
  };
  EXPECT_EQ(answer["warnings"].get<std::vector<std::string>>(), want) << answer;
  // And the worker's log says so too.
  completed(c, answer["job_id"]);
  EXPECT_NE(worker->log().find("cfg_scale is not a field of native jobs"), std::string::npos) << worker->log();

  // A job with only known fields gets an empty list; a LoRA entry's unknown key is named.
  r = c.Post("/v1/jobs", job({{"hive_id", "h1"}}).dump(), "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["warnings"], json::array());
}

TEST_F(WorkerContract, ManyUnknownFieldsGiveABoundedAnswer) {
  auto c = worker->client();
  json body = job();
  for (int i = 0; i < 500; ++i) body["field_" + std::to_string(i) + std::string(200, 'x')] = i;
  auto r = c.Post("/v1/jobs", body.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body.substr(0, 200);
  const json warnings = json::parse(r->body)["warnings"];
  ASSERT_EQ(warnings.size(), 33u);
  EXPECT_EQ(warnings.back(), "and 468 more fields were ignored");
  EXPECT_LT(r->body.size(), 8000u);
}

}  // namespace
}  // namespace sd::test
