#include "loaders/builtin_configs.h"

#include "core/error.h"

namespace sd::pipeline {

namespace {

using io::Json;

// `base` with `own`'s keys added or replacing its own.
Json merged(Json base, const Json& own) {
  base.update(own);
  return base;
}

// Text encoders: CLIP's 77-token, 49408-word text towers with their own widths and depths.
// CLIP ViT-L/14 (SD1.x, SDXL's first), the OpenCLIP ViT-H/14 text tower without its last
// layer (SD2.x), OpenCLIP ViT-bigG/14 with its projection (SDXL's second).
Json clip_text(const Json& own) {
  return merged({{"architectures", {"CLIPTextModel"}},
                 {"model_type", "clip_text_model"},
                 {"max_position_embeddings", 77},
                 {"vocab_size", 49408},
                 {"layer_norm_eps", 1e-05},
                 {"eos_token_id", 2}},
                own);
}

Json clip_vit_l() {
  return clip_text({{"hidden_act", "quick_gelu"},
                    {"hidden_size", 768},
                    {"intermediate_size", 3072},
                    {"num_hidden_layers", 12},
                    {"num_attention_heads", 12},
                    {"projection_dim", 768}});
}

Json open_clip_vit_h() {
  return clip_text({{"hidden_act", "gelu"},
                    {"hidden_size", 1024},
                    {"intermediate_size", 4096},
                    {"num_hidden_layers", 23},
                    {"num_attention_heads", 16},
                    {"projection_dim", 512}});
}

Json open_clip_vit_bigg() {
  return clip_text({{"architectures", {"CLIPTextModelWithProjection"}},
                    {"hidden_act", "gelu"},
                    {"hidden_size", 1280},
                    {"intermediate_size", 5120},
                    {"num_hidden_layers", 32},
                    {"num_attention_heads", 20},
                    {"projection_dim", 1280}});
}

// What the SD1.x/SD2.x and SDXL UNets share: two resnets a level, 32 norm groups, the
// sinusoidal time embedding, 4 output channels.
Json unet(const Json& own) {
  return merged({{"_class_name", "UNet2DConditionModel"},
                 {"act_fn", "silu"},
                 {"center_input_sample", false},
                 {"downsample_padding", 1},
                 {"flip_sin_to_cos", true},
                 {"freq_shift", 0},
                 {"layers_per_block", 2},
                 {"mid_block_scale_factor", 1},
                 {"norm_eps", 1e-05},
                 {"norm_num_groups", 32},
                 {"out_channels", 4}},
                own);
}

// The SD1.x/SD2.x UNet: four levels, cross-attention in the first three.
Json sd_unet(int in_channels, Json heads, int cross_attention_dim, bool linear_projection, int sample_size,
             bool upcast_attention) {
  return unet({{"attention_head_dim", std::move(heads)},
               {"block_out_channels", {320, 640, 1280, 1280}},
               {"cross_attention_dim", cross_attention_dim},
               {"down_block_types",
                {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}},
               {"in_channels", in_channels},
               {"sample_size", sample_size},
               {"up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"}},
               {"use_linear_projection", linear_projection},
               {"upcast_attention", upcast_attention}});
}

// The SDXL UNet: three levels, 1/2/10 transformer layers, text_time added conditioning.
Json sdxl_unet(int in_channels, int sample_size) {
  return unet({{"addition_embed_type", "text_time"},
               {"addition_time_embed_dim", 256},
               {"attention_head_dim", {5, 10, 20}},
               {"block_out_channels", {320, 640, 1280}},
               {"cross_attention_dim", 2048},
               {"down_block_types", {"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"}},
               {"in_channels", in_channels},
               {"projection_class_embeddings_input_dim", 2816},
               {"sample_size", sample_size},
               {"transformer_layers_per_block", {1, 2, 10}},
               {"up_block_types", {"CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"}},
               {"use_linear_projection", true}});
}

// The KL-f8 autoencoder every version shares; they differ in scaling and defaults.
Json kl_f8_vae(int sample_size, double scaling_factor, bool force_upcast) {
  return {
      {"_class_name", "AutoencoderKL"},
      {"act_fn", "silu"},
      {"block_out_channels", {128, 256, 512, 512}},
      {"down_block_types", {"DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"}},
      {"force_upcast", force_upcast},
      {"in_channels", 3},
      {"latent_channels", 4},
      {"layers_per_block", 2},
      {"norm_num_groups", 32},
      {"out_channels", 3},
      {"sample_size", sample_size},
      {"scaling_factor", scaling_factor},
      {"up_block_types", {"UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"}}};
}

// Every version trains on the same scaled-linear schedule; the samplers' settings differ.
Json scheduler(const std::string& class_name, const std::string& prediction_type, const std::string& timestep_spacing) {
  Json j = {{"_class_name", class_name},
            {"beta_end", 0.012},
            {"beta_schedule", "scaled_linear"},
            {"beta_start", 0.00085},
            {"clip_sample", false},
            {"num_train_timesteps", 1000},
            {"prediction_type", prediction_type},
            {"set_alpha_to_one", false},
            {"skip_prk_steps", true},
            {"steps_offset", 1},
            {"trained_betas", nullptr}};
  if (!timestep_spacing.empty()) j["timestep_spacing"] = timestep_spacing;
  return j;
}

text::TokenizerConfig pad_with(const std::string& pad_token) {
  text::TokenizerConfig t;
  t.pad_token = pad_token;
  return t;
}

// stable-diffusion-v1-5/stable-diffusion-v1-5 and stable-diffusion-inpainting.
BuiltinConfigs sd1(bool inpaint) {
  BuiltinConfigs b;
  b.unet = sd_unet(inpaint ? 9 : 4, 8, 768, false, 64, false);
  b.vae = kl_f8_vae(256, 0.18215, true);
  b.text_encoder = clip_vit_l();
  b.scheduler = scheduler("DDIMScheduler", "epsilon", "");
  b.tokenizer = pad_with("<|endoftext|>");
  return b;
}

// stabilityai/stable-diffusion-2-1 (768 px, v-prediction), stable-diffusion-2-inpainting, sd-turbo.
BuiltinConfigs sd2(const std::string& version) {
  const Json heads = {5, 10, 20, 20};
  BuiltinConfigs b;
  if (version == "v2-1") {
    b.unet = sd_unet(4, heads, 1024, true, 96, true);
    b.vae = kl_f8_vae(768, 0.18215, true);
    b.scheduler = scheduler("DDIMScheduler", "v_prediction", "");
  } else if (version == "v2-inpaint") {
    b.unet = sd_unet(9, heads, 1024, true, 64, false);
    b.vae = kl_f8_vae(512, 0.18215, true);
    b.scheduler = scheduler("PNDMScheduler", "epsilon", "");
  } else {
    b.unet = sd_unet(4, heads, 1024, true, 64, false);
    b.vae = kl_f8_vae(768, 0.18215, true);
    b.scheduler = scheduler("EulerDiscreteScheduler", "epsilon", "trailing");
    b.scheduler["use_karras_sigmas"] = false;
  }
  b.text_encoder = open_clip_vit_h();
  b.tokenizer = pad_with("!");
  return b;
}

// stabilityai/stable-diffusion-xl-base-1.0, sdxl-turbo, diffusers/stable-diffusion-xl-1.0-inpainting-0.1.
BuiltinConfigs sdxl(const std::string& version) {
  BuiltinConfigs b;
  if (version == "xl") {
    b.unet = sdxl_unet(4, 128);
    b.vae = kl_f8_vae(1024, 0.13025, true);
    b.scheduler = scheduler("EulerDiscreteScheduler", "epsilon", "leading");
    b.scheduler["use_karras_sigmas"] = false;
  } else if (version == "turbo") {
    b.unet = sdxl_unet(4, 64);
    b.vae = kl_f8_vae(1024, 0.13025, true);
    b.scheduler = scheduler("EulerAncestralDiscreteScheduler", "epsilon", "trailing");
  } else {
    b.unet = sdxl_unet(9, 128);
    b.vae = kl_f8_vae(512, 0.13025, false);  // madebyollin/sdxl-vae-fp16-fix
    b.scheduler = scheduler("EulerDiscreteScheduler", "epsilon", "leading");
    b.scheduler["use_karras_sigmas"] = false;
  }
  b.text_encoder = clip_vit_l();
  b.text_encoder_2 = open_clip_vit_bigg();
  b.tokenizer = pad_with("<|endoftext|>");
  b.tokenizer_2 = pad_with("!");
  b.force_zeros_for_empty_prompt = true;
  return b;
}

}  // namespace

BuiltinConfigs builtin_configs(const std::string& version) {
  if (version == "v1-5" || version == "v1-5-inpaint") return sd1(version == "v1-5-inpaint");
  if (version == "v2-1" || version == "v2-inpaint" || version == "sd-turbo") return sd2(version);
  if (version == "xl" || version == "turbo" || version == "xl-inpaint") return sdxl(version);
  throw Error("no built-in configs for version \"" + version + "\"");
}

}  // namespace sd::pipeline
