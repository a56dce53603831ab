// CLIP text encoders against transformers' outputs in the fixtures (SD1 quick_gelu,
// SD2 gelu, SDXL's two encoders including the projected text_embeds).
#include "models/clip_text_model.h"

#include <gtest/gtest.h>

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
