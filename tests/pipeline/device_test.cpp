// LoadOptions::device: where the networks are placed, reported by ModelInfo, and refused
// with one line on a build or machine without it.
#include <gtest/gtest.h>

#include "backend/backend.h"
#include "loaders/model_set.h"
#include "pipeline/pipeline.h"
#include "support/test_support.h"
#include "support/tiny_pipeline.h"

namespace sd {
namespace {

bool has_device(Device d) {
  for (Device a : backend::available_devices())
    if (a == d) return true;
  return false;
}

TEST(PipelineDevice, CpuIsTheDefaultAndIsReported) {
  SD_SKIP_WITHOUT_DATA("clip");
  const auto p = pipeline::Pipeline::load(test::tiny_load_options());
  EXPECT_EQ(p->info().device, "cpu");
}

// On the CPU too, the text encoder's and the UNet's layers are prepared at load (their
// weights reordered into the kernels' layout), so the first job's first step does not.
TEST(PipelineDevice, CpuLayersArePreparedAtLoad) {
  SD_SKIP_WITHOUT_DATA("clip");
  for (DType dt : {DType::F32, DType::BF16}) {
    pipeline::LoadOptions opt = test::tiny_load_options();
    opt.dtype = dt;
    const pipeline::ModelSet m = pipeline::load_model_set(opt);
    size_t layers = 0;
    for (const models::ModuleRegistry& r : {m.text_encoder->modules(), m.unet->modules()})
      for (const auto& [path, ref] : r.modules()) {
        EXPECT_TRUE(ref.prepared()) << path << " " << dtype_name(dt);
        ++layers;
      }
    EXPECT_GT(layers, 50u);
  }
}

TEST(PipelineDevice, AGpuIsUsedWhenPresentAndRefusedOtherwise) {
  SD_SKIP_WITHOUT_DATA("clip");
  pipeline::LoadOptions opt = test::tiny_load_options();
  opt.device = Device::cuda(0);
  if (has_device(opt.device)) {
    EXPECT_EQ(pipeline::Pipeline::load(opt)->info().device, "cuda:0");
    return;
  }
  const std::string err = test::error_of([&] { pipeline::Pipeline::load(opt); });
  EXPECT_NE(err.find("cuda:0"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
}

TEST(PipelineDevice, ADtypeTheDeviceDoesNotComputeInIsRefused) {
  SD_SKIP_WITHOUT_DATA("clip");
  pipeline::LoadOptions opt = test::tiny_load_options();
  opt.dtype = DType::F16;  // the CPU backend computes in f32 and bf16
  const std::string err = test::error_of([&] { pipeline::Pipeline::load(opt); });
  EXPECT_NE(err.find("cpu does not compute in f16"), std::string::npos) << err;
}

}  // namespace
}  // namespace sd
