// CLIP text encoders against transformers' outputs in the fixtures (SD1 quick_gelu,
// SD2 gelu, SDXL's two encoders including the projected text_embeds).
#include "models/clip_text_model.h"

#include <gtest/gtest.h>

#include <map>

#include "core/error.h"
#include "reference.h"

namespace sd::models {
namespace {

using test::fixture_path;
using test::open_reference;

// Compares every output of one encoder with the reference keys under `prefix`.
void expect_encoder_matches(const std::string& encoder_dir, const io::SafetensorsFile& ref, const std::string& prefix) {
  const auto model = ClipTextModel::load(fixture_path(encoder_dir));
  const ClipTextOutput out = model->forward(ref.view(prefix + ".input_ids"));

  EXPECT_MATCHES_REFERENCE(out.last_hidden_state, ref.view(prefix + ".last_hidden_state"));
  EXPECT_MATCHES_REFERENCE(out.pooled_output, ref.view(prefix + ".pooled_output"));
  const Tensor all = ref.view(prefix + ".all_hidden_states");
  ASSERT_EQ(int64_t(out.hidden_states.size()), all.size(0));
  for (int64_t i = 0; i < all.size(0); ++i) {
    SCOPED_TRACE("hidden_states[" + std::to_string(i) + "]");
    EXPECT_MATCHES_REFERENCE(out.hidden_states[i], all.select(0, i));
  }
  EXPECT_MATCHES_REFERENCE(out.hidden_states[out.hidden_states.size() - 2],
                           ref.view(prefix + ".penultimate_hidden_state"));
  if (ref.contains(prefix + ".text_embeds")) {
    ASSERT_TRUE(out.text_embeds.defined());
    EXPECT_MATCHES_REFERENCE(out.text_embeds, ref.view(prefix + ".text_embeds"));
  } else {
    EXPECT_FALSE(out.text_embeds.defined());
  }
}

TEST(ClipTextModel, Sd15QuickGeluMatchesTransformers) {
  const auto ref = open_reference("tiny-sd15");
  expect_encoder_matches("tiny-sd15/text_encoder", ref, "te");
}

TEST(ClipTextModel, Sd15ClipSkipAppliesFinalLayerNormToPenultimate) {
  const auto ref = open_reference("tiny-sd15");
  const auto model = ClipTextModel::load(fixture_path("tiny-sd15/text_encoder"));
  const ClipTextOutput out = model->forward(ref.view("te.input_ids"));
  EXPECT_MATCHES_REFERENCE(model->final_layer_norm(out.hidden_states[out.hidden_states.size() - 2]),
                           ref.view("te.clip_skip_1_context"));
}

TEST(ClipTextModel, Sd21GeluMatchesTransformers) {
  const auto ref = open_reference("tiny-sd21v");
  expect_encoder_matches("tiny-sd21v/text_encoder", ref, "te");
}

TEST(ClipTextModel, SdxlTextEncoderMatchesTransformers) {
  const auto ref = open_reference("tiny-sdxl");
  expect_encoder_matches("tiny-sdxl/text_encoder", ref, "te1");
}

TEST(ClipTextModel, SdxlTextEncoderWithProjectionMatchesTransformers) {
  const auto ref = open_reference("tiny-sdxl");
  const auto model = ClipTextModel::load(fixture_path("tiny-sdxl/text_encoder_2"));
  EXPECT_TRUE(model->config().with_projection);
  expect_encoder_matches("tiny-sdxl/text_encoder_2", ref, "te2");
}

TEST(ClipTextModel, Int32IdsGiveTheSameResult) {
  const auto ref = open_reference("tiny-sd15");
  const auto model = ClipTextModel::load(fixture_path("tiny-sd15/text_encoder"));
  const Tensor ids64 = ref.view("te.input_ids");
  const Tensor ids32 = ids64.to(DType::I32);
  EXPECT_TRUE(test::tensors_close(model->forward(ids32).last_hidden_state,
                                  model->forward(ids64).last_hidden_state, 0.0));
}

TEST(ClipTextModel, RejectsIdsOutsideTheVocabulary) {
  const auto model = ClipTextModel::load(fixture_path("tiny-sd15/text_encoder"));
  Tensor ids = Tensor::zeros(Shape{1, 3}, DType::I64);
  ids.data<int64_t>()[1] = 49408;
  EXPECT_THROW(model->forward(ids), Error);
  EXPECT_THROW(model->forward(Tensor::zeros(Shape{1, 78}, DType::I64)), Error);
  EXPECT_THROW(model->forward(Tensor::zeros(Shape{1, 3}, DType::F32)), Error);
}

// A source that hides one tensor of another, to check the error a model reports.
class HidingSource : public WeightSource {
 public:
  HidingSource(const WeightSource& inner, std::string hidden) : inner_(inner), hidden_(std::move(hidden)) {}
  bool has(const std::string& n) const override { return n != hidden_ && inner_.has(n); }
  std::string describe() const override { return inner_.describe(); }

 protected:
  Tensor fetch(const std::string& n, const Shape& s, DType d) const override {
    return n == hidden_ ? Tensor() : inner_.get(n, s, d);
  }

 private:
  const WeightSource& inner_;
  std::string hidden_;
};

TEST(ClipTextModel, MissingTensorErrorNamesFileAndTensor) {
  const std::string dir = fixture_path("tiny-sd15/text_encoder");
  const auto weights = SafetensorsWeights::open_component(dir);
  const HidingSource hiding(*weights, "text_model.encoder.layers.3.mlp.fc2.bias");
  try {
    ClipTextModel model(ClipTextConfig::load(dir + "/config.json"), hiding);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(dir + "/model.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("text_model.encoder.layers.3.mlp.fc2.bias"), std::string::npos) << msg;
  }
}

// Counts the reads of one tensor of another source.
class CountingSource : public WeightSource {
 public:
  CountingSource(std::shared_ptr<const WeightSource> inner, std::string counted)
      : inner_(std::move(inner)), counted_(std::move(counted)) {}
  bool has(const std::string& n) const override { return inner_->has(n); }
  std::string describe() const override { return inner_->describe(); }
  int reads() const { return reads_; }

 protected:
  Tensor fetch(const std::string& n, const Shape& s, DType d) const override {
    if (n == counted_) ++reads_;
    return inner_->get(n, s, d);
  }

 private:
  std::shared_ptr<const WeightSource> inner_;
  std::string counted_;
  mutable int reads_ = 0;
};

TEST(ClipTextModel, StreamedLayersGiveTheResidentResultsAndAreReadOncePerCall) {
  const std::string dir = fixture_path("tiny-sdxl/text_encoder_2");
  const ClipTextConfig config = ClipTextConfig::load(dir + "/config.json");
  const auto ref = open_reference("tiny-sdxl");
  const Tensor ids = ref.view("te2.input_ids");
  Tensor other = ids.contiguous().clone();
  other.data<int64_t>()[1] = 400;
  for (DType dtype : {DType::F32, DType::BF16}) {
    SCOPED_TRACE(dtype_name(dtype));
    const auto resident = ClipTextModel::load(dir, dtype);
    const auto counting = std::make_shared<CountingSource>(SafetensorsWeights::open_component(dir),
                                                           "text_model.encoder.layers.1.mlp.fc2.weight");
    const ClipTextModel streamed(config, counting, dtype);
    EXPECT_EQ(streamed.layers(), ClipLayers::Streamed);
    EXPECT_EQ(counting->reads(), 1);  // checked at load
    const std::vector<ClipTextOutput> both = streamed.forward_each({ids, other});
    EXPECT_EQ(counting->reads(), 2);  // once for both inputs
    ASSERT_EQ(both.size(), 2u);
    for (size_t k = 0; k < 2; ++k) {
      const ClipTextOutput want = resident->forward(k == 0 ? ids : other);
      EXPECT_EQ(test::max_abs_diff(both[k].last_hidden_state, want.last_hidden_state), 0.0);
      EXPECT_EQ(test::max_abs_diff(both[k].hidden_states[1], want.hidden_states[1]), 0.0);
      EXPECT_EQ(test::max_abs_diff(both[k].text_embeds, want.text_embeds), 0.0);
    }
    EXPECT_GT(test::max_abs_diff(both[0].text_embeds, both[1].text_embeds), 0.0);
    streamed.forward(ids);
    EXPECT_EQ(counting->reads(), 3);
    // Only text_projection is in memory to change (LoRA); the streamed layers are listed
    // by the paths and shapes a resident encoder has for them.
    ClipTextModel& s = const_cast<ClipTextModel&>(streamed);
    EXPECT_EQ(s.modules().modules().size(), 1u);
    std::map<std::string, Shape> layers;
    const ModuleRegistry resident_modules = resident->modules();
    for (const auto& [path, ref] : resident_modules.modules())
      if (path != "text_projection") layers.emplace(path, ref.weight_shape());
    EXPECT_EQ(streamed.streamed_modules(), layers);
    EXPECT_EQ(layers.size(), size_t(6 * config.num_hidden_layers));
    EXPECT_TRUE(resident->streamed_modules().empty());
  }
}

TEST(ClipTextModel, StreamedLayersAreCheckedAtLoad) {
  const std::string dir = fixture_path("tiny-sd15/text_encoder");
  const auto weights = SafetensorsWeights::open_component(dir);
  const std::shared_ptr<const WeightSource> hiding =
      std::make_shared<HidingSource>(*weights, "text_model.encoder.layers.3.mlp.fc2.bias");
  try {
    ClipTextModel model(ClipTextConfig::load(dir + "/config.json"), hiding, DType::F32);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("text_model.encoder.layers.3.mlp.fc2.bias"), std::string::npos) << e.what();
  }
}

TEST(ClipTextModel, WeightBytesCountEveryTensorInTheComputeDtype) {
  for (const char* dir : {"tiny-sd15/text_encoder", "tiny-sdxl/text_encoder_2"}) {
    SCOPED_TRACE(dir);
    const auto weights = SafetensorsWeights::open_component(fixture_path(dir));
    uint64_t floats = 0;
    for (const auto& f : weights->files())
      for (const std::string& name : f.names())
        if (name != "text_model.embeddings.position_ids") floats += uint64_t(f.info(name).shape.product());
    const ClipTextConfig config = ClipTextConfig::load(fixture_path(dir) + "/config.json");
    // Layer norms stay float32 whatever the compute dtype.
    const uint64_t norms = uint64_t(2 * config.num_hidden_layers + 1) * 2 * uint64_t(config.hidden_size);
    EXPECT_EQ(ClipTextModel::weight_bytes(config, DType::F32), floats * 4);
    EXPECT_EQ(ClipTextModel::weight_bytes(config, DType::BF16), (floats - norms) * 2 + norms * 4);
  }
}

TEST(ClipTextModel, ConfigThatDisagreesWithTheWeightsIsAnError) {
  const std::string dir = fixture_path("tiny-sd15/text_encoder");
  ClipTextConfig config = ClipTextConfig::load(dir + "/config.json");
  config.intermediate_size = 64;
  const auto weights = SafetensorsWeights::open_component(dir);
  try {
    ClipTextModel model(config, *weights);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("text_model.encoder.layers.0.mlp.fc1.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[37,32]"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace sd::models
