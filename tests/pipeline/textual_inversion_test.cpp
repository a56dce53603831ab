// Textual-inversion embeddings from an operator's folder, checked against the loaded
// model: what fits is offered by name, everything else is skipped, and nothing outside
// the folder is read.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "io/safetensors.h"
#include "loaders/embedding_file.h"
#include "loaders/model_set.h"
#include "pipeline/textual_inversion.h"
#include "support/test_support.h"

namespace sd::pipeline {
namespace {

namespace fs = std::filesystem;

Tensor rows(int64_t n, int64_t hidden, float value) {
  return Tensor::from_floats(std::vector<float>(size_t(n * hidden), value), {n, hidden});
}

const ModelSet& tiny_sd15() {
  static const ModelSet m = [] {
    LoadOptions opt;
    opt.model_path = test::fixtures_dir() + "/tiny-sd15";
    return load_model_set(opt);
  }();
  return m;
}

TEST(TextualInversion, OffersWhatFitsTheModelAndSkipsTheRest) {
  const std::string dir = test::temp_dir("ti-folder");
  const std::string outside = test::temp_dir("ti-outside");
  io::write_safetensors(dir + "/twovec.safetensors", {{"emb_params", rows(2, 32, 0.5f)}});
  io::write_safetensors(dir + "/oldstyle.safetensors", {{"string_to_param.*", rows(1, 32, 0.25f)}});
  io::write_safetensors(dir + "/onevec.safetensors", {{"learned", Tensor::from_floats(std::vector<float>(32, 1.0f), {32})}});
  io::write_safetensors(dir + "/widevec.safetensors", {{"emb_params", rows(1, 768, 0.5f)}});
  io::write_safetensors(dir + "/xl.safetensors", {{"clip_l", rows(1, 32, 0.5f)}, {"clip_g", rows(1, 32, 0.5f)}});
  io::write_safetensors(dir + "/toomany.safetensors", {{"emb_params", rows(kMaxEmbeddingVectors + 1, 32, 0.5f)}});
  io::write_safetensors(outside + "/secret.safetensors", {{"emb_params", rows(1, 32, 0.5f)}});
  fs::create_symlink(outside + "/secret.safetensors", dir + "/link.safetensors");
  { std::ofstream(dir + "/garbage.safetensors") << "not a safetensors file"; }

  const TextualInversions ti = TextualInversions::load(dir, tiny_sd15());
  EXPECT_EQ(ti.names(), (std::vector<std::string>{"oldstyle", "onevec", "twovec"}));
  const auto& enc = ti.encoder(0);
  ASSERT_EQ(enc.substitutions.size(), 3u);
  ASSERT_TRUE(enc.added_tokens.defined());
  EXPECT_EQ(enc.added_tokens.shape().str(), Shape({4, 32}).str());
  // Added ids follow the vocabulary, in name order: oldstyle, onevec, twovec (two).
  EXPECT_EQ(enc.substitutions[0].replacement, (std::vector<int32_t>{49408}));
  EXPECT_EQ(enc.substitutions[2].replacement, (std::vector<int32_t>{49410, 49411}));
  EXPECT_EQ(enc.substitutions[2].match, tiny_sd15().tokenizer->encode("twovec"));
  EXPECT_EQ(enc.added_tokens.contiguous().data<float>()[32 * 3], 0.5f);
}

TEST(TextualInversion, RefusesWhatIsNoEmbedding) {
  const std::string dir = test::temp_dir("ti-bad");
  io::write_safetensors(dir + "/two.safetensors", {{"a", rows(1, 32, 0.f)}, {"b", rows(1, 32, 0.f)}});
  EXPECT_NE(test::error_of([&] { read_embedding_file(dir + "/two.safetensors"); }).find("no embedding in it"),
            std::string::npos);
  io::write_safetensors(dir + "/nan.safetensors", {{"emb_params", rows(1, 32, std::nanf(""))}});
  EXPECT_NE(test::error_of([&] { read_embedding_file(dir + "/nan.safetensors"); }).find("not finite"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { TextualInversions::load(dir + "/none", tiny_sd15()); }).find("not a folder"),
            std::string::npos);
}

}  // namespace
}  // namespace sd::pipeline
