#include "models/unet_2d_condition.h"

#include "core/error.h"
#include "models/layers.h"

namespace sd::models {

namespace {

std::string index_name(const char* list, size_t i) { return std::string(list) + "." + std::to_string(i); }

}  // namespace

UNet2DConditionModel::UNet2DConditionModel(const UNetConfig& config, const WeightSource& w, DType dtype)
    : config_(config), dtype_(dtype) {
  check_compute_dtype(dtype);
  const UNetConfig& c = config_;
  const int ch0 = c.block_out_channels[0];
  conv_in_ = load_conv2d(w, "conv_in", c.in_channels, ch0, c.conv_in_kernel,
                         ops::Conv2dOptions::same(c.conv_in_kernel / 2), dtype);
  time_embedding_ = TimestepEmbedding(w, "time_embedding", ch0, c.time_embed_dim, dtype);
  if (c.text_time_embedding)
    add_embedding_ = TimestepEmbedding(w, "add_embedding", c.projection_class_embeddings_input_dim,
                                       c.time_embed_dim, dtype);
  const auto downs = c.down_blocks();
  for (size_t i = 0; i < downs.size(); ++i)
    down_blocks_.emplace_back(w, index_name("down_blocks", i), downs[i], c, dtype);
  mid_block_ = std::make_unique<UNetMidBlock2DCrossAttn>(w, "mid_block", c.mid_block(), c, dtype);
  const auto ups = c.up_blocks();
  for (size_t i = 0; i < ups.size(); ++i) up_blocks_.emplace_back(w, index_name("up_blocks", i), ups[i], c, dtype);
  conv_norm_out_ = load_group_norm(w, "conv_norm_out", c.norm_num_groups, ch0, c.norm_eps);
  conv_out_ = load_conv2d(w, "conv_out", ch0, c.out_channels, c.conv_out_kernel,
                          ops::Conv2dOptions::same(c.conv_out_kernel / 2), dtype);
}

std::unique_ptr<UNet2DConditionModel> UNet2DConditionModel::load(const std::string& dir, DType dtype,
                                                                 std::optional<Device> prepare_on) {
  const UNetConfig config = UNetConfig::load(dir + "/config.json");
  const auto weights = SafetensorsWeights::open_component(dir);
  if (prepare_on) weights->prepare_layers_on(*prepare_on);
  auto model = std::make_unique<UNet2DConditionModel>(config, *weights, dtype);
  weights->require_all_used();
  return model;
}

ModuleRegistry UNet2DConditionModel::modules() {
  ModuleRegistry r;
  r.add("conv_in", conv_in_);
  time_embedding_.register_modules(r, "time_embedding");
  add_embedding_.register_modules(r, "add_embedding");
  for (size_t i = 0; i < down_blocks_.size(); ++i) down_blocks_[i].register_modules(r, index_name("down_blocks", i));
  mid_block_->register_modules(r, "mid_block");
  for (size_t i = 0; i < up_blocks_.size(); ++i) up_blocks_[i].register_modules(r, index_name("up_blocks", i));
  r.add("conv_out", conv_out_);
  return r;
}

Tensor UNet2DConditionModel::forward(const Tensor& sample, const std::vector<float>& timesteps,
                                     const Tensor& encoder_hidden_states, const UNetAddedCond* added,
                                     const TraceFn& trace) const {
  const UNetConfig& c = config_;
  auto emit = [&](const std::string& name, const Tensor& t) {
    if (trace) trace(name, t);
  };
  if (sample.ndim() != 4 || sample.size(1) != c.in_channels)
    throw Error("UNet: sample must be [B, " + std::to_string(c.in_channels) + ", H, W], got " + sample.desc());
  const int64_t batch = sample.size(0);
  if (timesteps.size() != 1 && int64_t(timesteps.size()) != batch)
    throw Error("UNet: " + std::to_string(timesteps.size()) + " timesteps for a batch of " + std::to_string(batch));
  const Tensor& ehs = encoder_hidden_states;
  if (ehs.ndim() != 3 || ehs.size(0) != batch || ehs.size(2) != c.context_dim())
    throw Error("UNet: encoder_hidden_states must be [" + std::to_string(batch) + ", L, " +
                std::to_string(c.context_dim()) + "], got " + ehs.desc());

  // 1. time, plus SDXL's added text/size conditioning
  std::vector<float> t(size_t(batch), timesteps[0]);
  if (timesteps.size() > 1) t = timesteps;
  // Embeddings of a few scalars are made on the host and join the sample's device.
  const Tensor t_emb =
      timestep_embedding(t, c.block_out_channels[0], c.flip_sin_to_cos, float(c.freq_shift)).to(sample.device());
  emit("time_proj", t_emb);
  Tensor emb = time_embedding_.forward(t_emb);
  emit("time_embedding", emb);
  if (c.text_time_embedding) {
    if (!added || !added->text_embeds.defined() || !added->time_ids.defined())
      throw Error("UNet: this model (addition_embed_type \"text_time\") needs text_embeds and time_ids");
    const Tensor& te = added->text_embeds;
    const Tensor& ids = added->time_ids;
    if (te.ndim() != 2 || te.size(0) != batch || ids.ndim() != 2 || ids.size(0) != batch)
      throw Error("UNet: text_embeds " + te.desc() + " and time_ids " + ids.desc() + " must have " +
                  std::to_string(batch) + " rows");
    const int64_t width = te.size(1) + ids.size(1) * c.addition_time_embed_dim;
    if (width != c.projection_class_embeddings_input_dim)
      throw Error("UNet: text_embeds " + te.desc() + " and " + std::to_string(ids.size(1)) +
                  " time ids embed to " + std::to_string(width) + " values, the config expects " +
                  std::to_string(c.projection_class_embeddings_input_dim));
    const std::vector<float> te_v = te.to_floats();
    const Tensor time_embeds =
        timestep_embedding(ids.to_floats(), c.addition_time_embed_dim, c.flip_sin_to_cos, float(c.freq_shift));
    // add_embeds = cat([text_embeds, time_embeds.reshape(B, -1)], -1)
    Tensor add_embeds = Tensor::empty(Shape{batch, width}, DType::F32);
    float* dst = add_embeds.data<float>();
    const float* tv = time_embeds.data<float>();
    const int64_t te_w = te.size(1), tv_w = width - te_w;
    for (int64_t b = 0; b < batch; ++b) {
      std::copy(te_v.begin() + b * te_w, te_v.begin() + (b + 1) * te_w, dst + b * width);
      std::copy(tv + b * tv_w, tv + (b + 1) * tv_w, dst + b * width + te_w);
    }
    const Tensor aug_emb = add_embedding_.forward(add_embeds.to(sample.device()));
    emit("add_embedding", aug_emb);
    emb = ops::add(emb, aug_emb);
  } else if (added && (added->text_embeds.defined() || added->time_ids.defined())) {
    throw Error("UNet: text_embeds/time_ids given to a model without addition_embed_type \"text_time\"");
  }
  const Tensor temb_act = ops::silu(emb);

  // 2. pre-process
  Tensor x = sample;
  if (c.center_input_sample) {
    x = ops::to_layout(ops::to_dtype(sample, DType::F32), MemoryFormat::Contiguous);
    x = ops::add(ops::scale(x, 2.f), Tensor::full(Shape{1}, -1.f).to(x.device()));
  }
  const Tensor context =
      ops::to_dtype(ops::to_layout(ehs, MemoryFormat::Contiguous).to(sample.device()), dtype_);
  Tensor h = conv_in_.forward(x);
  emit("conv_in", h);

  // 3. down
  std::vector<Tensor> skips{h};
  for (size_t i = 0; i < down_blocks_.size(); ++i) {
    h = down_blocks_[i].forward(h, temb_act, context, skips);
    emit(index_name("down_blocks", i), h);
  }

  // 4. mid
  h = mid_block_->forward(h, temb_act, context);
  emit("mid_block", h);

  // 5. up. A latent size that is not a multiple of 2^downsamplers was rounded up by the
  // downsampling convs; each upsampler then produces the size of the skip it meets next.
  const int64_t factor = int64_t(1) << c.num_downsamplers();
  const bool forward_upsample_size = sample.size(2) % factor != 0 || sample.size(3) % factor != 0;
  for (size_t i = 0; i < up_blocks_.size(); ++i) {
    const UNetUpBlock& block = up_blocks_[i];
    int64_t up_h = 0, up_w = 0;
    const bool is_final = i + 1 == up_blocks_.size();
    if (!is_final && forward_upsample_size) {
      SD_CHECK(int(skips.size()) > block.num_resnets(), "UNet skip connections do not match the up blocks");
      const Tensor& next_skip = skips[skips.size() - block.num_resnets() - 1];
      up_h = next_skip.size(2);
      up_w = next_skip.size(3);
    }
    h = block.forward(h, temb_act, context, skips, up_h, up_w);
    emit(index_name("up_blocks", i), h);
  }

  // 6. post-process
  if (trace) {
    const Tensor normed = conv_norm_out_.forward(h);
    emit("conv_norm_out", normed);
    h = ops::silu(normed);
  } else {
    h = conv_norm_out_.forward(h, /*silu=*/true);
  }
  h = conv_out_.forward(h);
  return ops::to_layout(ops::to_dtype(h, DType::F32), MemoryFormat::Contiguous);
}

}  // namespace sd::models
