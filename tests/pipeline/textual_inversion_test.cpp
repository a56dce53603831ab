// Textual-inversion embeddings from an operator's folder, checked against the loaded
// model: what fits is offered by name, everything else is skipped, and nothing outside
// the folder is read.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "io/safetensors.h"
#include "loaders/embedding_file.h"
#include "loaders/model_set.h"
#include "pipeline/text_conditioning.h"
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
  // name, vectors, width; an SDXL file's width is its two encoders' summed, as A1111 counts.
  const auto rows_of = [](const std::vector<EmbeddingInfo>& all) {
    std::vector<std::tuple<std::string, int64_t, int64_t>> out;
    for (const auto& e : all) out.emplace_back(e.name, e.vectors, e.width);
    return out;
  };
  using Row = std::tuple<std::string, int64_t, int64_t>;
  EXPECT_EQ(rows_of(ti.loaded()), (std::vector<Row>{{"oldstyle", 1, 32}, {"onevec", 1, 32}, {"twovec", 2, 32}}));
  // Read but made for another model; the unreadable ones (toomany, link, garbage) are in neither.
  EXPECT_EQ(rows_of(ti.skipped()), (std::vector<Row>{{"widevec", 1, 768}, {"xl", 1, 64}}));
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

// The token embedding of "cat" as an embedding "mycat" conditions the UNet exactly as the
// word does, in both SDXL encoders, pooled output included (added ids are never the EOS).
TEST(TextualInversion, SdxlEmbeddingConditionsAsItsWord) {
  LoadOptions opt;
  opt.model_path = test::fixtures_dir() + "/tiny-sdxl";
  const ModelSet m = load_model_set(opt);
  const int64_t cat_id = 2368;
  const auto row = [&](const std::string& encoder) {
    const auto te = io::SafetensorsFile::open(test::fixtures_dir() + "/tiny-sdxl/" + encoder + "/model.safetensors");
    return te.view("text_model.embeddings.token_embedding.weight").narrow(0, cat_id, 1).contiguous();
  };
  const std::string dir = test::temp_dir("ti-sdxl");
  io::write_safetensors(dir + "/mycat.safetensors", {{"clip_l", row("text_encoder")}, {"clip_g", row("text_encoder_2")}});
  io::write_safetensors(dir + "/sd1.safetensors", {{"emb_params", row("text_encoder")}});
  const TextualInversions ti = TextualInversions::load(dir, m);
  ASSERT_EQ(ti.loaded().size(), 1u);
  EXPECT_EQ(ti.loaded()[0].name, "mycat");
  ASSERT_EQ(ti.skipped().size(), 1u);
  EXPECT_EQ(ti.skipped()[0].name, "sd1");

  const Conditioning word = encode_prompts(m, "a photo of a cat", "blurry", 1, true);
  const Conditioning embedding = encode_prompts(m, "a photo of a mycat", "blurry", 1, true, ti);
  const Conditioning plain = encode_prompts(m, "a photo of a mycat", "blurry", 1, true);
  EXPECT_EQ(test::max_abs_diff(embedding.context, word.context), 0.0);
  EXPECT_EQ(test::max_abs_diff(embedding.pooled, word.pooled), 0.0);
  EXPECT_GT(test::max_abs_diff(plain.context, word.context), 1e-3);
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
