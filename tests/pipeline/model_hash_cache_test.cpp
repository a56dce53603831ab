// A1111's "Model hash" of a folder's UNet weights comes from the user's hash cache
// ($XDG_CACHE_HOME/sd-worker) while the file is unchanged, so a load does not stream
// gigabytes to hash them again; a changed file is hashed again.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "io/file_sha256.h"
#include "pipeline/model_hashes.h"
#include "support/test_support.h"

namespace sd::pipeline {
namespace {

namespace fs = std::filesystem;

TEST(ModelHashCache, UnchangedUnetIsNotHashedAgainAndAChangedOneIs) {
  const std::string dir = test::temp_dir("model-hash-cache");
  const std::string model = dir + "/my-model";
  fs::create_directories(model);
  fs::copy(test::fixtures_dir() + "/tiny-sd15/unet", model + "/unet");
  const std::string unet = model + "/unet/diffusion_pytorch_model.safetensors";
  test::ScopedEnv xdg("XDG_CACHE_HOME", dir + "/xdg");
  LoadOptions opt;
  opt.model_path = model;

  EXPECT_EQ(checkpoint_name(opt), "my-model");
  const std::string first = checkpoint_hash(model);
  EXPECT_EQ(first, io::sha256_file_hex(unet).substr(0, 10));
  EXPECT_TRUE(fs::is_regular_file(dir + "/xdg/sd-worker/file-hashes.json"));

  // Other bytes, same size and modification time: only the cache still knows the old hash.
  const auto mtime = fs::last_write_time(unet);
  std::string bytes = test::read_file(unet);
  bytes.back() ^= 1;
  std::ofstream(unet, std::ios::binary | std::ios::trunc) << bytes;
  fs::last_write_time(unet, mtime);
  ASSERT_NE(io::sha256_file_hex(unet).substr(0, 10), first);
  EXPECT_EQ(checkpoint_hash(model), first) << "the file was hashed again, not found in the cache";

  fs::last_write_time(unet, mtime + std::chrono::seconds(1));
  EXPECT_EQ(checkpoint_hash(model), io::sha256_file_hex(unet).substr(0, 10));
}

}  // namespace
}  // namespace sd::pipeline
