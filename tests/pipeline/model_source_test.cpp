// What the load options name: a local folder or single file, a version's repository or
// a repo id on the Hub; and the one-line errors for combinations that name nothing, or
// two things.
#include "loaders/model_source.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "support/test_support.h"

namespace sd::pipeline {
namespace {

using Kind = ModelSource::Kind;

std::string error_of(const LoadOptions& opt) {
  try {
    resolve_model_source(opt);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string touch(const std::string& name) {
  const std::string path = test::temp_dir("model_source") + "/" + name;
  std::ofstream(path) << "x";
  return path;
}

TEST(ModelSource, LocalPaths) {
  LoadOptions opt;
  opt.model_path = test::fixtures_dir() + "/tiny-sd15";
  ModelSource s = resolve_model_source(opt);
  EXPECT_EQ(s.kind, Kind::DiffusersFolder);
  EXPECT_EQ(s.location, opt.model_path);

  opt.model_path = test::fixtures_dir() + "/tiny-sd15-single-file.safetensors";
  opt.sd_version = "1.5";
  s = resolve_model_source(opt);
  EXPECT_EQ(s.kind, Kind::SingleFile);
  EXPECT_EQ(s.version, "v1-5");

  // --model with an existing path is that path.
  opt.model = opt.model_path;
  opt.model_path.clear();
  EXPECT_EQ(resolve_model_source(opt).kind, Kind::SingleFile);
}

TEST(ModelSource, VersionsAndRepoIds) {
  LoadOptions opt;
  opt.model = "v1.5";
  ModelSource s = resolve_model_source(opt);
  EXPECT_EQ(s.kind, Kind::HubRepo);
  EXPECT_EQ(s.location, "stable-diffusion-v1-5/stable-diffusion-v1-5");
  EXPECT_EQ(s.version, "v1-5");

  opt.model = "turbo";
  opt.sd_version = "TURBO";
  s = resolve_model_source(opt);
  EXPECT_EQ(s.location, "stabilityai/sdxl-turbo");
  EXPECT_EQ(s.version, "turbo");

  opt.model = "someone/my-fine-tune";
  opt.sd_version.clear();
  s = resolve_model_source(opt);
  EXPECT_EQ(s.kind, Kind::HubRepo);
  EXPECT_EQ(s.location, "someone/my-fine-tune");
  EXPECT_EQ(s.version, "");

  opt.model.clear();
  opt.sd_version = "sd-turbo";  // alone: that version's repository
  s = resolve_model_source(opt);
  EXPECT_EQ(s.kind, Kind::HubRepo);
  EXPECT_EQ(s.location, "stabilityai/sd-turbo");
}

TEST(ModelSource, BadCombinationsSayWhich) {
  const std::string folder = test::fixtures_dir() + "/tiny-sd15";
  const std::string file = test::fixtures_dir() + "/tiny-sd15-single-file.safetensors";
  struct Case {
    LoadOptions opt;
    const char* says;
  };
  auto opts = [](std::string model_path, std::string model, std::string version, std::string config) {
    LoadOptions o;
    o.model_path = std::move(model_path);
    o.model = std::move(model);
    o.sd_version = std::move(version);
    o.config_dir = std::move(config);
    return o;
  };
  const Case cases[] = {
      {opts("", "", "", ""), "no model given"},
      {opts(folder, "v1-5", "", ""), "--model-path and --model"},
      {opts("/nonexistent/model", "", "", ""), "no such file or directory"},
      {opts(touch("model.ckpt"), "", "", ""), "pickled .ckpt"},
      {opts(touch("model.txt"), "", "", ""), "neither a diffusers folder nor a .safetensors"},
      {opts("", "not a model", "", ""), "--model not a model: not an existing path"},
      {opts("", "../escape/x", "", ""), "not an existing path"},
      {opts("", "xl", "v1-5", ""), "name different versions"},
      {opts(folder, "", "v9", ""), "--sd-version v9: unknown version"},
      {opts(folder, "", "", folder), "--config"},
      {opts("", "v1-5", "", folder), "--config"},
      {opts(file, "", "", "/nonexistent/configs"), "not a directory"},
  };
  for (const auto& c : cases) {
    const std::string msg = error_of(c.opt);
    EXPECT_NE(msg.find(c.says), std::string::npos) << "expected \"" << c.says << "\", got: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace sd::pipeline
