// "rng" in native jobs: the noise a seed means, "cpu" (the default, torch-CPU as diffusers)
// or "gpu" (torch-CUDA Philox as A1111/ComfyUI GPU seeds).
#include <gtest/gtest.h>

#include "server/job_request.h"

namespace sd::server {
namespace {

using nlohmann::json;

pipeline::ModelInfo tiny_info() {
  pipeline::ModelInfo m;
  m.default_sampler = pipeline::Sampler::Ddim;
  return m;
}

json job(json extra = json::object()) {
  json body{{"operation", "image_generation"}, {"prompt", "a red fox"}};
  body.update(extra);
  return body;
}

TEST(JobRequestRng, DefaultsToTorchCpuAndTakesGpu) {
  EXPECT_EQ(parse_job_request(job(), tiny_info(), {}).request.rng, pipeline::NoiseSource::TorchCpu);
  EXPECT_EQ(parse_job_request(job({{"rng", "cpu"}}), tiny_info(), {}).request.rng, pipeline::NoiseSource::TorchCpu);
  EXPECT_EQ(parse_job_request(job({{"rng", "gpu"}}), tiny_info(), {}).request.rng, pipeline::NoiseSource::Philox);
  EXPECT_EQ(parse_job_request(job({{"rng", "GPU"}}), tiny_info(), {}).request.rng, pipeline::NoiseSource::Philox);
}

TEST(JobRequestRng, AnythingElseIsRefusedNamingTheField) {
  for (const json& bad : {json("nv"), json(""), json(1), json::array({"gpu"})}) {
    try {
      parse_job_request(job({{"rng", bad}}), tiny_info(), {});
      ADD_FAILURE() << bad.dump() << " accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.field(), "rng") << e.what();
    }
  }
}

}  // namespace
}  // namespace sd::server
