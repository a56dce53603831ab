// The device runtime: a clear error without a GPU, device facts with one, and the pool
// serving a warm loop without going back to the driver.
#include <gtest/gtest.h>

#include "backend/cuda/runtime.h"
#include "cuda/cuda_test_util.h"

namespace sd::test {
namespace {

TEST(CudaRuntime, WithoutUsableGpuOpeningFailsWithOneLine) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a GPU is present; this checks the machine without one";
  const std::string reason = cuda::unavailable_reason();
  EXPECT_NE(reason.find("no usable CUDA GPU"), std::string::npos) << reason;
  EXPECT_EQ(reason.find('\n'), std::string::npos) << reason;
  EXPECT_THROW(cuda::Context(0), Error);
}

TEST(CudaRuntime, DescribesTheDeviceAndRefusesMissingIndices) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  const cuda::DeviceInfo& info = ctx.info();
  EXPECT_FALSE(info.name.empty());
  EXPECT_GT(info.total_bytes, size_t(1) << 30);
  EXPECT_LE(info.free_bytes, info.total_bytes);
  EXPECT_GE(info.cc_major, 8);
  EXPECT_GT(info.multiprocessors, 0);
  const std::string missing = error_of([] { cuda::open_device(cuda::device_count()); });
  EXPECT_NE(missing.find("does not exist"), std::string::npos) << missing;
  EXPECT_NE(error_of([] { cuda::open_device(-1); }).find("does not exist"), std::string::npos);
}

TEST(CudaRuntime, PoolServesARepeatedLoopWithoutGrowing) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  cuda::DevicePool pool(ctx.device());
  const size_t sizes[] = {size_t(3) << 20, size_t(17) << 20, 4096, size_t(64) << 20};
  auto step = [&] {
    std::vector<cuda::DeviceBuffer> live;
    for (size_t s : sizes) live.emplace_back(pool, s, ctx.stream());
  };
  step();
  ctx.synchronize();
  const size_t warm = pool.usage().reserved;
  for (int i = 0; i < 20; ++i) step();
  ctx.synchronize();
  const cuda::PoolUsage u = pool.usage();
  EXPECT_EQ(u.reserved, warm) << "the pool went back to the driver in a warm loop";
  EXPECT_EQ(u.used, 0u);
  EXPECT_GE(u.peak_used, (size_t(84) << 20) + 4096);
  pool.trim();
  EXPECT_LT(pool.usage().reserved, warm);
}

TEST(CudaRuntime, CopiesRoundTrip) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  const std::vector<float> v = random_floats(1001, 7);
  DeviceArray a(ctx, v, DType::F32);
  DeviceArray b(ctx, v.size(), DType::F32);
  cuda::copy_on_device(ctx, b.get(), a.get(), v.size() * 4);
  EXPECT_EQ(b.download(), v);
}

TEST(CudaRuntime, OutOfMemoryIsAnErrorWithNumbers) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  const std::string msg = error_of([&] { ctx.buffer(ctx.info().total_bytes * 2); });
  EXPECT_NE(msg.find("out of memory"), std::string::npos) << msg;
}

}  // namespace
}  // namespace sd::test
