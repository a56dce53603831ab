// LoRA merging against the fixture's diffusers reference (tiny-lora-sd15, kohya-ss naming,
// strength 0.8): the merged matrices, the UNet and text encoder outputs, undoing the merge
// exactly, the same LoRA under diffusers/PEFT names, several LoRAs at once, conv (LoCon)
// layers and LDM names, and hostile files. Also checks that the module registry names
// exactly the weights the checkpoints hold.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/error.h"
#include "io/json_file.h"
#include "models/clip_text_model.h"
#include "loaders/lora_file.h"
#include "loaders/lora_merge.h"
#include "loaders/lora_targets.h"
#include "models/unet_2d_condition.h"
#include "models/reference.h"

namespace sd::models {
namespace {

using test::fixture_path;
using test::open_reference;
using Tensors = std::vector<std::pair<std::string, Tensor>>;

const char* const kUnetProbe = "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k";
const char* const kTeProbe = "text_model.encoder.layers.0.self_attn.q_proj";

std::string lora_path() { return fixture_path("tiny-lora-sd15.safetensors"); }
io::SafetensorsFile lora_reference() {
  return io::SafetensorsFile::open(fixture_path("tiny-lora-sd15.reference.safetensors"));
}

struct TinySd15 {
  explicit TinySd15(DType dtype = DType::F32)
      : unet(UNet2DConditionModel::load(fixture_path("tiny-sd15/unet"), dtype)),
        te(ClipTextModel::load(fixture_path("tiny-sd15/text_encoder"), dtype)),
        targets(unet.get(), te.get(), nullptr) {}

  Tensor unet_t981() const {
    const auto ref = open_reference("tiny-sd15");
    return unet->forward(ref.view("unet.sample"), {981.f}, ref.view("unet.encoder_hidden_states"));
  }
  Tensor te_last_hidden() const {
    return te->forward(open_reference("tiny-sd15").view("te.input_ids")).last_hidden_state;
  }
  Tensor unet_weight(const std::string& path) { return unet->modules().find(path)->weight().clone(); }
  Tensor te_weight(const std::string& path) { return te->modules().find(path)->weight().clone(); }

  // Copies of every Linear/Conv2d weight, to check that a model is exactly as before.
  std::map<std::string, Tensor> snapshot() {
    std::map<std::string, Tensor> out;
    const ModuleRegistry unet_modules = unet->modules(), te_modules = te->modules();
    for (const auto& [path, ref] : unet_modules.modules()) out["unet." + path] = ref.weight().clone();
    for (const auto& [path, ref] : te_modules.modules()) out["te." + path] = ref.weight().clone();
    return out;
  }

  std::unique_ptr<UNet2DConditionModel> unet;
  std::unique_ptr<ClipTextModel> te;
  LoraTargets targets;
};

::testing::AssertionResult identical(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << a.size() << " vs " << b.size() << " weights";
  for (const auto& [name, t] : a) {
    auto it = b.find(name);
    if (it == b.end()) return ::testing::AssertionFailure() << name << " missing";
    if (t.dtype() != it->second.dtype() || test::max_abs_diff(t.to(DType::F32), it->second.to(DType::F32)) != 0.0)
      return ::testing::AssertionFailure() << name << " differs";
  }
  return ::testing::AssertionSuccess();
}

std::string write_lora(const std::string& name, const Tensors& tensors,
                       const std::map<std::string, std::string>& metadata = {}) {
  const std::string path = test::temp_dir("lora") + "/" + name;
  io::write_safetensors(path, tensors, metadata);
  return path;
}

// The fixture LoRA's tensors with their names passed through `rename` (dropped when it
// returns "").
Tensors fixture_tensors(const std::function<std::string(const std::string&)>& rename) {
  const auto f = io::SafetensorsFile::open(lora_path());
  Tensors out;
  for (const auto& key : f.names()) {
    const std::string name = rename(key);
    if (!name.empty()) out.emplace_back(name, f.view(key).clone());
  }
  return out;
}

// "lora_unet_down_blocks_0_..._attn1_to_out_0" -> ("unet", "down_blocks.0....attn1.to_out.0"),
// written out for the module names the fixture uses.
std::pair<std::string, std::string> diffusers_name(const std::string& kohya_layer) {
  std::string component = kohya_layer.rfind("lora_unet_", 0) == 0 ? "unet" : "text_encoder";
  std::string s = kohya_layer.substr(component == "unet" ? 10 : 8);
  std::replace(s.begin(), s.end(), '_', '.');
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{{"down.blocks", "down_blocks"},
                                                        {"up.blocks", "up_blocks"},
                                                        {"mid.block", "mid_block"},
                                                        {"transformer.blocks", "transformer_blocks"},
                                                        {"to.q", "to_q"},
                                                        {"to.k", "to_k"},
                                                        {"to.v", "to_v"},
                                                        {"to.out", "to_out"},
                                                        {"text.model", "text_model"},
                                                        {"self.attn", "self_attn"},
                                                        {"q.proj", "q_proj"}})
    for (size_t at; (at = s.find(from)) != std::string::npos;) s.replace(at, from.size(), to);
  return {component, s};
}

// Splits "<layer>.<part>" of a kohya tensor name.
std::pair<std::string, std::string> layer_and_part(const std::string& key) {
  const size_t dot = key.find('.');
  return {key.substr(0, dot), key.substr(dot + 1)};
}

LoraPatch apply(TinySd15& m, const std::vector<std::pair<std::string, float>>& files) {
  std::vector<LoraUse> uses;
  for (const auto& [path, strength] : files) uses.push_back({LoraFile::open(path), strength});
  return LoraPatch(m.targets, uses);
}

// -- the module registry -----------------------------------------------------------------

// Every registered layer is a 2-D/4-D weight of the file with the same values, and every
// such weight (embeddings aside) is registered.
void expect_registry_matches_file(ModuleRegistry modules, const std::string& weights_file) {
  const auto f = io::SafetensorsFile::open(weights_file);
  std::set<std::string> in_file;
  for (const auto& key : f.names()) {
    const size_t nd = f.info(key).shape.size();
    if ((nd == 2 || nd == 4) && key.find("embeddings.") == std::string::npos) in_file.insert(key);
  }
  std::set<std::string> registered;
  for (const auto& [path, ref] : modules.modules()) {
    const std::string key = path + ".weight";
    registered.insert(key);
    ASSERT_TRUE(f.contains(key)) << key;
    EXPECT_EQ(test::max_abs_diff(ref.weight(), f.load(key, DType::F32)), 0.0) << key;
  }
  EXPECT_EQ(registered, in_file);
}

TEST(ModuleRegistry, NamesExactlyTheLinearAndConvWeightsOfEachCheckpoint) {
  for (const char* dir : {"tiny-sd15", "tiny-sd21v", "tiny-sdxl"}) {
    SCOPED_TRACE(dir);
    auto unet = UNet2DConditionModel::load(fixture_path(std::string(dir) + "/unet"));
    expect_registry_matches_file(unet->modules(),
                                 fixture_path(std::string(dir) + "/unet/diffusion_pytorch_model.safetensors"));
  }
  for (const char* dir : {"tiny-sd15/text_encoder", "tiny-sdxl/text_encoder_2"}) {
    SCOPED_TRACE(dir);
    auto te = ClipTextModel::load(fixture_path(dir));
    expect_registry_matches_file(te->modules(), fixture_path(std::string(dir) + "/model.safetensors"));
  }
}

TEST(ModuleRegistry, LdmPathsNameTheSameWeightsInTheSingleFileCheckpoint) {
  auto unet = UNet2DConditionModel::load(fixture_path("tiny-sd15/unet"));
  const ModuleRegistry modules = unet->modules();
  const auto ldm = ldm_unet_module_paths(modules, unet->config());
  const auto f = io::SafetensorsFile::open(fixture_path("tiny-sd15-single-file.safetensors"));
  EXPECT_EQ(ldm.size(), modules.modules().size());
  std::set<std::string> expected;
  for (const auto& key : f.names()) {
    const size_t nd = f.info(key).shape.size();
    if (key.rfind("model.diffusion_model.", 0) == 0 && (nd == 2 || nd == 4)) expected.insert(key);
  }
  std::set<std::string> named;
  for (const auto& [path, ldm_path] : ldm) {
    const std::string key = "model.diffusion_model." + ldm_path + ".weight";
    named.insert(key);
    ASSERT_TRUE(f.contains(key)) << path << " -> " << key;
    EXPECT_EQ(test::max_abs_diff(modules.find(path)->weight(), f.load(key, DType::F32)), 0.0) << key;
  }
  EXPECT_EQ(named, expected);
}

// -- the fixture LoRA against diffusers --------------------------------------------------

TEST(Lora, FixtureFileParses) {
  const auto lora = LoraFile::open(lora_path());
  ASSERT_EQ(lora->layers().size(), 49u);  // 147 tensors: 48 UNet + 1 text-encoder layers
  for (const auto& l : lora->layers()) {
    EXPECT_EQ(l.rank(), 4);
    EXPECT_FLOAT_EQ(l.scale, 0.5f);  // alpha 2 / rank 4
  }
}

TEST(Lora, MergedMatricesMatchDiffusers) {
  TinySd15 m;
  const auto ref = lora_reference();
  LoraPatch patch = apply(m, {{lora_path(), 0.8f}});
  EXPECT_EQ(patch.stats().layers_applied, 49);
  EXPECT_EQ(patch.stats().modules_changed, 49);
  EXPECT_EQ(patch.stats().layers_unmatched, 0);
  const Tensor unet_ref = ref.view(std::string("merged.") + kUnetProbe + ".weight");
  const Tensor te_ref = ref.view(std::string("merged.") + kTeProbe + ".weight");
  EXPECT_TRUE(test::tensors_close(m.unet_weight(kUnetProbe), unet_ref, 1e-6 * test::max_abs(unet_ref)));
  EXPECT_TRUE(test::tensors_close(m.te_weight(kTeProbe), te_ref, 1e-6 * test::max_abs(te_ref)));
}

TEST(Lora, UNetAndTextEncoderMatchDiffusersAndUndoExactly) {
  TinySd15 m;
  const auto ref = lora_reference();
  const auto before = m.snapshot();
  const Tensor plain_unet = m.unet_t981();  // also prepares the backend state the merge must drop
  const Tensor plain_te = m.te_last_hidden();
  {
    LoraPatch patch = apply(m, {{lora_path(), 0.8f}});
    const Tensor unet_out = m.unet_t981();
    EXPECT_MATCHES_REFERENCE(unet_out, ref.view("unet.t981.out"));
    EXPECT_GT(test::max_abs_diff(unet_out, plain_unet), 0.1 * test::max_abs(plain_unet));
    EXPECT_MATCHES_REFERENCE(m.te_last_hidden(), ref.view("te.last_hidden_state"));
  }
  EXPECT_TRUE(identical(m.snapshot(), before));
  EXPECT_EQ(test::max_abs_diff(m.unet_t981(), plain_unet), 0.0);
  EXPECT_EQ(test::max_abs_diff(m.te_last_hidden(), plain_te), 0.0);
}

// A text encoder that streams its layers (ClipLayers::Streamed) has them merged as each
// call reads them: the outputs are the resident encoder's bit for bit, in f32 and bf16,
// and the encoder is as loaded once the patch ends.
TEST(Lora, AStreamedTextEncoderMergesAsItReadsAndUndoesExactly) {
  for (DType dtype : {DType::F32, DType::BF16}) {
    SCOPED_TRACE(dtype_name(dtype));
    TinySd15 resident(dtype);
    const auto te = ClipTextModel::load(fixture_path("tiny-sd15/text_encoder"), dtype, ClipLayers::Streamed);
    const LoraTargets targets(resident.unet.get(), te.get(), nullptr);
    const Tensor ids = open_reference("tiny-sd15").view("te.input_ids");
    const Tensor plain = te->forward(ids).last_hidden_state;
    EXPECT_EQ(test::max_abs_diff(plain, resident.te_last_hidden()), 0.0);
    {
      LoraPatch streamed_patch(targets, {{LoraFile::open(lora_path()), 0.8f}});
      LoraPatch resident_patch = apply(resident, {{lora_path(), 0.8f}});
      EXPECT_EQ(streamed_patch.stats().modules_changed, 49);
      EXPECT_EQ(streamed_patch.stats().layers_unmatched, 0);
      const Tensor merged = te->forward(ids).last_hidden_state;
      EXPECT_EQ(test::max_abs_diff(merged, resident.te_last_hidden()), 0.0);
      EXPECT_GT(test::max_abs_diff(merged, plain), 0.0);
      if (dtype == DType::F32) {
        EXPECT_MATCHES_REFERENCE(merged, lora_reference().view("te.last_hidden_state"));
      }
      // Read again for the next call, and merged again.
      EXPECT_EQ(test::max_abs_diff(te->forward(ids).last_hidden_state, merged), 0.0);
    }
    EXPECT_EQ(test::max_abs_diff(te->forward(ids).last_hidden_state, plain), 0.0);
  }
}

// The shapes of a streamed encoder's layers are checked before anything changes, as a
// resident one's are.
TEST(Lora, AStreamedLayerThatDoesNotFitIsRefusedWithTheModelUntouched) {
  const auto unet = UNet2DConditionModel::load(fixture_path("tiny-sd15/unet"));
  const auto te = ClipTextModel::load(fixture_path("tiny-sd15/text_encoder"), DType::F32, ClipLayers::Streamed);
  const LoraTargets targets(unet.get(), te.get(), nullptr);
  const Tensor ids = open_reference("tiny-sd15").view("te.input_ids");
  const Tensor plain = te->forward(ids).last_hidden_state;
  const Tensor unet_before = unet->modules().find(kUnetProbe)->weight().clone();
  const int64_t d = te->config().hidden_size;
  const std::string name = "lora_te_text_model_encoder_layers_1_mlp_fc1";
  const std::string path = write_lora("streamed-misfit.safetensors",
                                      {{name + ".lora_down.weight", Tensor::full({4, d + 1}, 0.01f)},
                                       {name + ".lora_up.weight", Tensor::full({te->config().intermediate_size, 4}, 0.01f)}});
  try {
    LoraPatch patch(targets, {{LoraFile::open(path), 1.f}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("text_model.encoder.layers.1.mlp.fc1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("down has " + std::to_string(d + 1) + " inputs"), std::string::npos) << msg;
  }
  EXPECT_EQ(test::max_abs_diff(te->forward(ids).last_hidden_state, plain), 0.0);
  EXPECT_EQ(test::max_abs_diff(unet->modules().find(kUnetProbe)->weight(), unet_before), 0.0);
}

TEST(Lora, TheSameFileTwiceAtHalfStrengthEqualsOnceAtFull) {
  TinySd15 m;
  LoraPatch patch = apply(m, {{lora_path(), 0.4f}, {lora_path(), 0.4f}});
  EXPECT_EQ(patch.stats().layers_applied, 98);
  EXPECT_EQ(patch.stats().modules_changed, 49);
  EXPECT_MATCHES_REFERENCE(m.unet_t981(), lora_reference().view("unet.t981.out"));
}

TEST(Lora, NegativeStrengthThenRestoreLeavesTheModelAsLoaded) {
  TinySd15 m;
  const auto before = m.snapshot();
  LoraPatch patch = apply(m, {{lora_path(), -10.f}});
  EXPECT_FALSE(identical(m.snapshot(), before));
  patch.restore();
  EXPECT_TRUE(identical(m.snapshot(), before));
  patch.restore();  // a second restore does nothing
  EXPECT_TRUE(identical(m.snapshot(), before));
}

// bf16 weights live in the backend's blocked layout after a forward; the merge must read
// them back, and the undo must give the bf16 originals bit for bit.
TEST(Lora, Bf16MergeFollowsF32AndUndoesExactly) {
  TinySd15 bf16(DType::BF16);
  TinySd15 f32;
  const Tensor plain = bf16.unet_t981();
  const auto before = bf16.snapshot();
  {
    LoraPatch a = apply(bf16, {{lora_path(), 0.8f}});
    LoraPatch b = apply(f32, {{lora_path(), 0.8f}});
    EXPECT_EQ(bf16.unet_weight(kUnetProbe).dtype(), DType::BF16);
    const Tensor want = f32.unet_weight(kUnetProbe);
    EXPECT_TRUE(test::tensors_close(bf16.unet_weight(kUnetProbe).to(DType::F32), want, 1e-2 * test::max_abs(want)));
    const Tensor out = bf16.unet_t981(), out_f32 = f32.unet_t981();
    EXPECT_TRUE(test::tensors_close(out, out_f32, 3e-2 * test::max_abs(out_f32)));
  }
  EXPECT_TRUE(identical(bf16.snapshot(), before));
  EXPECT_EQ(test::max_abs_diff(bf16.unet_t981(), plain), 0.0);
}

// -- other namings of the same LoRA ------------------------------------------------------

// PEFT keys (lora_A/lora_B) carry no alpha; diffusers keeps lora_alpha in the metadata.
TEST(Lora, PeftNamesWithAdapterMetadataGiveTheSameResult) {
  const Tensors tensors = fixture_tensors([](const std::string& key) -> std::string {
    const auto [layer, part] = layer_and_part(key);
    const auto [component, path] = diffusers_name(layer);
    if (part == "alpha") return "";
    return component + "." + path + (part == "lora_down.weight" ? ".lora_A.weight" : ".lora_B.weight");
  });
  const io::Json meta = {{"unet.r", 4}, {"unet.lora_alpha", 2}, {"text_encoder.r", 4}, {"text_encoder.lora_alpha", 2}};
  const std::string path = write_lora("peft.safetensors", tensors, {{"lora_adapter_metadata", meta.dump()}});

  TinySd15 m;
  const auto ref = lora_reference();
  LoraPatch patch = apply(m, {{path, 0.8f}});
  EXPECT_EQ(patch.stats().modules_changed, 49);
  EXPECT_MATCHES_REFERENCE(m.unet_t981(), ref.view("unet.t981.out"));
  EXPECT_MATCHES_REFERENCE(m.te_last_hidden(), ref.view("te.last_hidden_state"));
}

// Without an alpha anywhere the scale is 1: strength 0.4 then equals the fixture at 0.8.
TEST(Lora, PeftBaseModelPrefixWithoutAlphaHasScaleOne) {
  const Tensors tensors = fixture_tensors([](const std::string& key) -> std::string {
    const auto [layer, part] = layer_and_part(key);
    const auto [component, path] = diffusers_name(layer);
    if (part == "alpha" || component != "unet") return "";
    return "base_model.model." + path + (part == "lora_down.weight" ? ".lora_A.weight" : ".lora_B.weight");
  });
  TinySd15 m;
  LoraPatch patch = apply(m, {{write_lora("base_model.safetensors", tensors), 0.4f}});
  EXPECT_EQ(patch.stats().modules_changed, 48);
  EXPECT_MATCHES_REFERENCE(m.unet_t981(), lora_reference().view("unet.t981.out"));
}

// Older diffusers files: attention processors (to_q_lora.down) for the UNet and
// lora_linear_layer for the text encoder, with kohya alphas kept as "<layer>.alpha".
TEST(Lora, OldDiffusersNamesGiveTheSameWeights) {
  const Tensors tensors = fixture_tensors([](const std::string& key) -> std::string {
    const auto [layer, part] = layer_and_part(key);
    auto [component, path] = diffusers_name(layer);
    const std::string kind = part == "lora_down.weight" ? "down" : "up";
    if (component == "text_encoder")
      return part == "alpha" ? "" : component + "." + path + ".lora_linear_layer." + kind + ".weight";
    const size_t dot = path.rfind(".to_");
    std::string proc = path.substr(0, dot) + ".processor." + path.substr(dot + 1);
    if (proc.size() > 2 && proc.compare(proc.size() - 2, 2, ".0") == 0) proc.resize(proc.size() - 2);  // to_out.0
    if (part == "alpha") return component + "." + proc + ".alpha";
    return component + "." + proc + "_lora." + kind + ".weight";
  });
  const std::string path = write_lora("old_diffusers.safetensors", tensors);
  TinySd15 a, b;
  const Tensor base = a.te_weight(kTeProbe);
  LoraPatch pa = apply(a, {{lora_path(), 0.8f}});
  LoraPatch pb = apply(b, {{path, 0.8f}});
  EXPECT_EQ(pb.stats().modules_changed, 49);
  const ModuleRegistry ma = a.unet->modules(), mb = b.unet->modules();
  for (const auto& [p, ref] : ma.modules()) EXPECT_EQ(test::max_abs_diff(ref.weight(), mb.find(p)->weight()), 0.0) << p;
  // text encoder: no alpha in this layout, so scale 1 instead of 0.5
  const Tensor delta_a = ops::axpby(a.te_weight(kTeProbe), 1.f, base, -1.f);
  const Tensor delta_b = ops::axpby(b.te_weight(kTeProbe), 1.f, base, -1.f);
  EXPECT_TRUE(test::tensors_close(delta_b, ops::scale(delta_a, 2.f), 1e-6 * test::max_abs(delta_b)));
}

// -- conv layers (LoCon) and LDM names ---------------------------------------------------

// W + s * reshape(up @ down), written out element by element.
Tensor expected_merge(const Tensor& w, const Tensor& down, const Tensor& up, float factor) {
  const auto wv = w.to_floats(), dv = down.to_floats(), uv = up.to_floats();
  const int64_t out = w.size(0), n = w.numel() / out, r = down.size(0);
  std::vector<float> res(wv);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < r; ++k) acc += double(uv[o * r + k]) * dv[k * n + j];
      res[o * n + j] += factor * float(acc);
    }
  return Tensor::from_floats(res, w.shape());
}

Tensor ramp(const Shape& s, float step) {
  std::vector<float> v(size_t(s.product()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = step * float(int(i % 7) - 3);
  return Tensor::from_floats(v, s);
}

TEST(Lora, ConvLayersUnderDiffusersAndLdmNames) {
  TinySd15 m;
  // down_blocks.0.resnets.0.conv1 is a 3x3 conv 32 -> 32 (LDM input_blocks.1.0.in_layers.2);
  // up_blocks.0.upsamplers.0.conv is output_blocks.2.1.conv; mid_block.attentions.0.proj_in
  // a 1x1 conv that takes a 2-D down.
  const Tensor conv1 = m.unet_weight("down_blocks.0.resnets.0.conv1");
  const Tensor upconv = m.unet_weight("up_blocks.0.upsamplers.0.conv");
  const Tensor proj_in = m.unet_weight("mid_block.attentions.0.proj_in");
  ASSERT_EQ(conv1.shape(), (Shape{32, 32, 3, 3}));
  const Tensor d1 = ramp({2, 32, 3, 3}, 0.01f), u1 = ramp({32, 2, 1, 1}, 0.02f);
  const Tensor d2 = ramp({2, 64, 3, 3}, 0.01f), u2 = ramp({64, 2, 1, 1}, 0.03f);
  const Tensor d3 = ramp({2, 64}, 0.01f), u3 = ramp({64, 2}, 0.02f);
  const std::string path =
      write_lora("locon.safetensors", {{"lora_unet_input_blocks_1_0_in_layers_2.lora_down.weight", d1},
                                       {"lora_unet_input_blocks_1_0_in_layers_2.lora_up.weight", u1},
                                       {"lora_unet_input_blocks_1_0_in_layers_2.alpha", Tensor::full(Shape{}, 1.f)},
                                       {"lora_unet_output_blocks_2_1_conv.lora_down.weight", d2},
                                       {"lora_unet_output_blocks_2_1_conv.lora_up.weight", u2},
                                       {"lora_unet_mid_block_attentions_0_proj_in.lora_down.weight", d3},
                                       {"lora_unet_mid_block_attentions_0_proj_in.lora_up.weight", u3}});
  LoraPatch patch = apply(m, {{path, 0.5f}});
  EXPECT_EQ(patch.stats().modules_changed, 3);
  const double tol = 1e-6;
  EXPECT_TRUE(
      test::tensors_close(m.unet_weight("down_blocks.0.resnets.0.conv1"), expected_merge(conv1, d1, u1, 0.25f), tol));
  EXPECT_TRUE(
      test::tensors_close(m.unet_weight("up_blocks.0.upsamplers.0.conv"), expected_merge(upconv, d2, u2, 0.5f), tol));
  EXPECT_TRUE(
      test::tensors_close(m.unet_weight("mid_block.attentions.0.proj_in"), expected_merge(proj_in, d3, u3, 0.5f), tol));
}

// SDXL kohya-ss LoRAs: lora_te1_/lora_te2_ for the two text encoders and the UNet under
// its SGM names (input_blocks/middle_block/output_blocks, label_emb).
TEST(Lora, SdxlKohyaNamesReachBothTextEncodersAndSgmUNetLayers) {
  auto unet = UNet2DConditionModel::load(fixture_path("tiny-sdxl/unet"));
  auto te1 = ClipTextModel::load(fixture_path("tiny-sdxl/text_encoder"));
  auto te2 = ClipTextModel::load(fixture_path("tiny-sdxl/text_encoder_2"));
  const LoraTargets targets(unet.get(), te1.get(), te2.get());
  const ModuleRegistry unet_modules = unet->modules(), te1_modules = te1->modules(), te2_modules = te2->modules();
  struct Case {
    std::string kohya;
    const ModuleRegistry* registry;
    std::string path;
  };
  const std::vector<Case> cases = {
      {"lora_te1_text_model_encoder_layers_0_self_attn_q_proj", &te1_modules, kTeProbe},
      {"lora_te2_text_model_encoder_layers_2_mlp_fc1", &te2_modules, "text_model.encoder.layers.2.mlp.fc1"},
      {"lora_te2_text_projection", &te2_modules, "text_projection"},
      {"lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q", &unet_modules,
       "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q"},
      {"lora_unet_middle_block_1_transformer_blocks_1_attn2_to_k", &unet_modules,
       "mid_block.attentions.0.transformer_blocks.1.attn2.to_k"},
      {"lora_unet_output_blocks_0_1_transformer_blocks_1_ff_net_2", &unet_modules,
       "up_blocks.0.attentions.0.transformer_blocks.1.ff.net.2"},
      {"lora_unet_output_blocks_2_0_emb_layers_1", &unet_modules, "up_blocks.0.resnets.2.time_emb_proj"},
      {"lora_unet_label_emb_0_0", &unet_modules, "add_embedding.linear_1"},
  };
  Tensors tensors;
  std::vector<Tensor> before, downs, ups;
  for (const auto& c : cases) {
    const ModuleRef* m = c.registry->find(c.path);
    ASSERT_NE(m, nullptr) << c.path;
    before.push_back(m->weight().clone());
    const Shape w = m->weight().shape();
    downs.push_back(ramp({3, w[1]}, 0.01f));
    ups.push_back(ramp({w[0], 3}, 0.02f));
    tensors.push_back({c.kohya + ".lora_down.weight", downs.back()});
    tensors.push_back({c.kohya + ".lora_up.weight", ups.back()});
  }
  LoraPatch patch(targets, {{LoraFile::open(write_lora("sdxl.safetensors", tensors)), 0.5f}});
  EXPECT_EQ(patch.stats().modules_changed, int(cases.size()));
  for (size_t i = 0; i < cases.size(); ++i)
    EXPECT_TRUE(test::tensors_close(cases[i].registry->find(cases[i].path)->weight(),
                                    expected_merge(before[i], downs[i], ups[i], 0.5f), 1e-6))
        << cases[i].kohya;

  // A diffusers name without its component fits both text encoders.
  const std::string ambiguous = write_lora(
      "ambiguous.safetensors", {{std::string(kTeProbe) + ".lora_A.weight", ramp({2, 32}, 0.1f)},
                                {std::string(kTeProbe) + ".lora_B.weight", ramp({32, 2}, 0.1f)}});
  try {
    LoraPatch p(targets, {{LoraFile::open(ambiguous), 1.f}});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("several layers"), std::string::npos) << e.what();
  }
}

// -- hostile files -----------------------------------------------------------------------

struct Hostile {
  std::string name;
  Tensors tensors;
  std::vector<std::string> message_parts;  // each must appear in the error
};

void expect_rejected(const Hostile& h) {
  SCOPED_TRACE(h.name);
  TinySd15 m;
  const auto before = m.snapshot();
  const std::string path = write_lora(h.name + ".safetensors", h.tensors);
  try {
    apply(m, {{path, 1.f}});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    for (const auto& part : h.message_parts) EXPECT_NE(msg.find(part), std::string::npos) << msg;
  }
  EXPECT_TRUE(identical(m.snapshot(), before));
}

Tensors fixture_plus(Tensors extra) {
  Tensors t = fixture_tensors([](const std::string& k) { return k; });
  for (auto& e : extra) t.push_back(std::move(e));
  return t;
}

const std::string kTo = "lora_unet_up_blocks_1_attentions_2_transformer_blocks_0_attn2_to_v";

TEST(LoraHostile, WrongShapeLeavesTheModelUntouched) {
  // The valid fixture layers sort before this one, so a merge that is not checked first
  // would already have changed them.
  Tensors t = fixture_tensors([](const std::string& k) { return k.find("lora_te_") == 0 ? "" : k; });
  t.push_back({"lora_unet_zz_bad.lora_down.weight", ramp({4, 32}, 0.1f)});  // unmatched name: skipped
  t.push_back({"lora_unet_zz_bad.lora_up.weight", ramp({32, 4}, 0.1f)});
  for (auto& [k, v] : t)
    if (k == kTo + ".lora_down.weight") v = ramp({4, 48}, 0.1f);  // to_v reads 32-wide context
  expect_rejected({"wrong_shape",
                   t,
                   {kTo + ".lora_down.weight", "up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_v", "48"}});
}

TEST(LoraHostile, ConvKernelMismatch) {
  expect_rejected({"kernel",
                   {{"lora_unet_conv_in.lora_down.weight", ramp({2, 4, 1, 1}, 0.1f)},
                    {"lora_unet_conv_in.lora_up.weight", ramp({32, 2, 1, 1}, 0.1f)}},
                   {"conv_in", "1x1", "3x3"}});
}

TEST(LoraHostile, MissingUp) {
  expect_rejected({"missing_up",
                   {{"lora_unet_conv_in.lora_down.weight", ramp({2, 4, 3, 3}, 0.1f)}},
                   {"lora_unet_conv_in", "incomplete"}});
}

TEST(LoraHostile, AlphaOnly) {
  expect_rejected(
      {"alpha_only", {{"lora_unet_conv_in.alpha", Tensor::full(Shape{}, 1.f)}}, {"lora_unet_conv_in.alpha"}});
}

TEST(LoraHostile, RankMismatch) {
  expect_rejected({"rank",
                   {{kTo + ".lora_down.weight", ramp({4, 32}, 0.1f)}, {kTo + ".lora_up.weight", ramp({32, 3}, 0.1f)}},
                   {kTo, "low-rank pair"}});
}

TEST(LoraHostile, AlphaNotAScalar) {
  Tensors t = fixture_tensors([](const std::string& k) { return k; });
  for (auto& [k, v] : t)
    if (k == kTo + ".alpha") v = Tensor::from_floats({2.f, 2.f}, Shape{2});
  expect_rejected({"alpha_vector", t, {kTo + ".alpha", "one finite number"}});
}

TEST(LoraHostile, IntegerTensor) {
  expect_rejected({"int",
                   {{kTo + ".lora_down.weight", Tensor::zeros({4, 32}, DType::I32)},
                    {kTo + ".lora_up.weight", ramp({32, 4}, 0.1f)}},
                   {kTo + ".lora_down.weight", "I32"}});
}

TEST(LoraHostile, NothingMatchesThisModel) {
  // An SDXL-style text-encoder-2 layer and a UNet layer tiny-sd15 does not have.
  expect_rejected({"foreign",
                   {{"lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", ramp({4, 64}, 0.1f)},
                    {"lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", ramp({64, 4}, 0.1f)},
                    {"lora_unet_down_blocks_2_attentions_0_proj_in.lora_down.weight", ramp({4, 64}, 0.1f)},
                    {"lora_unet_down_blocks_2_attentions_0_proj_in.lora_up.weight", ramp({64, 4}, 0.1f)}},
                   {"none of its 2 LoRA layers", "lora_te2_text_model_encoder_layers_0_self_attn_q_proj"}});
}

TEST(LoraHostile, LycorisTypesAreNamed) {
  expect_rejected(
      {"loha",
       {{"lora_unet_conv_in.hada_w1_a", ramp({4, 4}, 0.1f)}, {"lora_unet_conv_in.hada_w1_b", ramp({4, 4}, 0.1f)}},
       {"lora_unet_conv_in.hada_w1_a", "LoHa"}});
  expect_rejected(
      {"tucker", {{"lora_unet_conv_in.lora_mid.weight", ramp({2, 2, 3, 3}, 0.1f)}}, {"lora_mid", "Tucker"}});
}

TEST(LoraHostile, UnknownTensorName) {
  expect_rejected({"unknown",
                   fixture_plus({{"something_else", ramp({2}, 1.f)}}),
                   {"\"something_else\"", "not part of a LoRA layer"}});
}

TEST(LoraHostile, StrengthOutOfRange) {
  TinySd15 m;
  const auto lora = LoraFile::open(lora_path());
  for (float s : {10.5f, -11.f, std::nanf("")}) {
    SCOPED_TRACE(s);
    try {
      LoraPatch p(m.targets, {{lora, s}});
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("[-10, 10]"), std::string::npos) << e.what();
    }
  }
}

TEST(LoraHostile, NotASafetensorsFile) {
  const std::string path = test::temp_dir("lora") + "/garbage.safetensors";
  std::ofstream(path) << "this is not a safetensors file at all";
  EXPECT_THROW(LoraFile::open(path), Error);
  EXPECT_THROW(LoraFile::open(path + ".missing"), Error);
}

// Layers naming modules the model lacks are skipped when the rest of the file fits.
TEST(Lora, UnmatchedLayersAreSkippedWhenOthersMatch) {
  const std::string path =
      write_lora("partial.safetensors",
                 fixture_plus({{"lora_unet_down_blocks_5_attentions_0_proj_in.lora_down.weight", ramp({4, 64}, 0.1f)},
                               {"lora_unet_down_blocks_5_attentions_0_proj_in.lora_up.weight", ramp({64, 4}, 0.1f)}}));
  TinySd15 m;
  LoraPatch patch = apply(m, {{path, 0.8f}});
  EXPECT_EQ(patch.stats().layers_unmatched, 1);
  EXPECT_EQ(patch.stats().layers_applied, 49);
  EXPECT_MATCHES_REFERENCE(m.unet_t981(), lora_reference().view("unet.t981.out"));
}

TEST(LoraFileCache, ReusesAParsedFileUntilItChanges) {
  const std::string path = write_lora("cached.safetensors", fixture_tensors([](const std::string& k) { return k; }));
  LoraFileCache cache;
  const auto first = cache.get(path);
  EXPECT_EQ(cache.get(path), first);
  io::write_safetensors(path, fixture_tensors([](const std::string& k) { return k.find("lora_te_") == 0 ? "" : k; }));
  const auto second = cache.get(path);
  EXPECT_NE(second, first);
  EXPECT_EQ(second->layers().size(), 48u);
  EXPECT_THROW(cache.get(path + ".missing"), Error);
}

}  // namespace
}  // namespace sd::models
