// The noise a seed means (GenerationRequest::rng): torch-CPU by default, the CUDA Philox
// stream of A1111/ComfyUI GPU seeds on request, for every draw of a job.
#include <gtest/gtest.h>

#include "pipeline/noise_source.h"
#include "sampling/philox_generator.h"
#include "support/tiny_pipeline.h"

namespace sd::pipeline {
namespace {

TEST(NoiseSources, NamesAndTheDefault) {
  EXPECT_EQ(GenerationRequest{}.rng, NoiseSource::TorchCpu);
  for (NoiseSource s : {NoiseSource::TorchCpu, NoiseSource::Philox})
    EXPECT_EQ(parse_noise_source(noise_source_name(s)), s);
  EXPECT_EQ(parse_noise_source("gpu"), NoiseSource::Philox);
  // A1111's override_settings.randn_source names: "CPU", "GPU", and "NV" (its CPU
  // emulation of the NVIDIA stream, the same numbers as "GPU").
  EXPECT_EQ(parse_noise_source("CPU"), NoiseSource::TorchCpu);
  EXPECT_EQ(parse_noise_source("GPU"), NoiseSource::Philox);
  EXPECT_EQ(parse_noise_source("NV"), NoiseSource::Philox);
  EXPECT_EQ(parse_noise_source("nv"), NoiseSource::Philox);
  EXPECT_FALSE(parse_noise_source("cuda").has_value());
  EXPECT_FALSE(parse_noise_source("").has_value());
  EXPECT_EQ(noise_source_names(), (std::vector<std::string>{"cpu", "gpu"}));
}

TEST(NoiseSources, EachMakesItsGenerator) {
  auto gpu = make_noise_generator(NoiseSource::Philox, 42);
  sampling::PhiloxGenerator philox(42);
  EXPECT_EQ(gpu->name(), "philox");
  EXPECT_EQ(gpu->randn({1, 4, 8, 8}).to_floats(), philox.randn({1, 4, 8, 8}).to_floats());
  EXPECT_EQ(make_noise_generator(NoiseSource::TorchCpu, 42)->name(), "torch_cpu");
}

// GPU seeds change the initial latents of txt2img and the VAE sample and add_noise of
// img2img: the results move off diffusers' (torch-CPU) references for the same seeds,
// and the parameters say which noise was used.
TEST(NoiseSources, GpuSeedsDriveTheWholeJob) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto pipe = Pipeline::load(test::tiny_load_options());
  auto ref = io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sd15/reference.safetensors");
  GenerationRequest req = test::tiny_ddim_request(42);
  req.rng = NoiseSource::Philox;
  const GenerationResult t2i = pipe->generate(req, {});
  const Tensor cpu_t2i = ref.load("t2i.ddim.latents", DType::F32).select(0, 3);
  EXPECT_GT(test::max_abs_diff(t2i.final_latents, cpu_t2i), 1.0);
  EXPECT_NE(t2i.parameters.find("RNG: GPU"), std::string::npos) << t2i.parameters;

  req = test::tiny_ddim_request(43);
  req.rng = NoiseSource::Philox;
  req.operation = Operation::Img2Img;
  const Tensor in = ref.view("i2i.input_image_u8");
  req.init_image = io::Image{int(in.size(2)), int(in.size(1)), int(in.size(3)),
                             std::vector<uint8_t>(in.data<uint8_t>(), in.data<uint8_t>() + in.numel())};
  req.strength = 0.5;
  const Tensor cpu_i2i = ref.load("i2i.latents", DType::F32).select(0, 1);
  EXPECT_GT(test::max_abs_diff(pipe->generate(req, {}).final_latents, cpu_i2i), 0.1);
}

}  // namespace
}  // namespace sd::pipeline
