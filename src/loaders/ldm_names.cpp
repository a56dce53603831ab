#include "loaders/ldm_names.h"

#include <cstring>
#include <utility>
#include <vector>

namespace sd::models {

namespace {

using Renames = std::initializer_list<std::pair<const char*, const char*>>;

std::vector<std::string> split(const std::string& name) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot; (dot = name.find('.', start)) != std::string::npos; start = dot + 1)
    parts.push_back(name.substr(start, dot - start));
  parts.push_back(name.substr(start));
  return parts;
}

// parts[from..] joined with '.'.
std::string joined(const std::vector<std::string>& parts, size_t from) {
  std::string s;
  for (size_t i = from; i < parts.size(); ++i) s += (i > from ? "." : "") + parts[i];
  return s;
}

std::optional<int> index_of(const std::string& s) {
  if (s.empty() || s.size() > 6) return std::nullopt;
  int v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return std::nullopt;
    v = v * 10 + (ch - '0');
  }
  return v;
}

// `rest` with its leading module renamed by the first matching entry ("norm1.weight" ->
// "in_layers.0.weight"); nullopt when no entry matches.
std::optional<std::string> rename_head(const std::string& rest, Renames renames) {
  for (const auto& [from, to] : renames) {
    const size_t n = std::strlen(from);
    if (rest.compare(0, n, from) == 0 && rest.size() > n && rest[n] == '.') return to + rest.substr(n);
  }
  return std::nullopt;
}

// Inside a UNet ResnetBlock2D.
std::optional<std::string> unet_resnet(const std::string& rest) {
  return rename_head(rest, {{"norm1", "in_layers.0"},
                            {"conv1", "in_layers.2"},
                            {"time_emb_proj", "emb_layers.1"},
                            {"norm2", "out_layers.0"},
                            {"conv2", "out_layers.3"},
                            {"conv_shortcut", "skip_connection"}});
}

// Inside a VAE ResnetBlock2D: only the shortcut is named differently.
std::optional<std::string> vae_resnet(const std::string& rest) {
  return rename_head(rest, {{"norm1", "norm1"},
                            {"conv1", "conv1"},
                            {"norm2", "norm2"},
                            {"conv2", "conv2"},
                            {"conv_shortcut", "nin_shortcut"}});
}

std::optional<LdmTensor> in(const char* prefix, const std::optional<std::string>& rest) {
  if (!rest) return std::nullopt;
  return LdmTensor{prefix + *rest};
}

}  // namespace

std::optional<LdmTensor> ldm_unet_tensor(const UNetConfig& c, const std::string& name) {
  if (auto top = rename_head(name, {{"conv_in", "input_blocks.0.0"},
                                    {"time_embedding.linear_1", "time_embed.0"},
                                    {"time_embedding.linear_2", "time_embed.2"},
                                    {"add_embedding.linear_1", "label_emb.0.0"},
                                    {"add_embedding.linear_2", "label_emb.0.2"},
                                    {"conv_norm_out", "out.0"},
                                    {"conv_out", "out.2"}}))
    return in(kLdmUnetPrefix, top);

  const auto p = split(name);
  if (p.size() < 4) return std::nullopt;
  if (p[0] == "mid_block") {  // mid_block.{resnets,attentions}.{j}.<rest>
    const auto j = index_of(p[2]);
    const std::string rest = joined(p, 3);
    if (p[1] == "resnets" && j && *j < 2)
      if (auto r = unet_resnet(rest)) return in(kLdmUnetPrefix, "middle_block." + std::to_string(*j * 2) + "." + *r);
    if (p[1] == "attentions" && j == 0) return in(kLdmUnetPrefix, "middle_block.1." + rest);
    return std::nullopt;
  }

  // {down,up}_blocks.{i}.{resnets,attentions,downsamplers,upsamplers}.{j}.<rest>
  if (p.size() < 5) return std::nullopt;
  const auto j = index_of(p[3]);
  if (!j) return std::nullopt;
  const std::string rest = joined(p, 4);

  const bool down = p[0] == "down_blocks";
  if (!down && p[0] != "up_blocks") return std::nullopt;
  const auto i = index_of(p[1]);
  const std::vector<UNetBlockSpec> blocks = down ? c.down_blocks() : c.up_blocks();
  if (!i || size_t(*i) >= blocks.size()) return std::nullopt;
  // LDM numbers the blocks' parts consecutively: input_blocks.0 is conv_in, then each
  // down block's resnets (with their attentions) and its downsampler; output_blocks hold
  // each up block's resnets, the upsampler riding on the last of them.
  int first = down ? 1 : 0;
  for (int k = 0; k < *i; ++k)
    first += blocks[size_t(k)].num_layers() + (down && blocks[size_t(k)].add_sampler ? 1 : 0);
  const UNetBlockSpec& b = blocks[size_t(*i)];
  const std::string list = down ? "input_blocks." : "output_blocks.";
  const std::string& kind = p[2];

  if (kind == "resnets" && *j < b.num_layers())
    if (auto r = unet_resnet(rest)) return in(kLdmUnetPrefix, list + std::to_string(first + *j) + ".0." + *r);
  if (kind == "attentions" && b.has_attention && *j < b.num_layers())
    return in(kLdmUnetPrefix, list + std::to_string(first + *j) + ".1." + rest);
  if (b.add_sampler && *j == 0 && p.size() > 5 && p[4] == "conv") {
    const std::string param = joined(p, 5);
    if (down && kind == "downsamplers")
      return in(kLdmUnetPrefix, list + std::to_string(first + b.num_layers()) + ".0.op." + param);
    if (!down && kind == "upsamplers")
      return in(kLdmUnetPrefix,
                list + std::to_string(first + b.num_layers() - 1) + (b.has_attention ? ".2" : ".1") + ".conv." + param);
  }
  return std::nullopt;
}

std::optional<LdmTensor> ldm_vae_tensor(const VaeConfig& c, const std::string& name) {
  const auto p = split(name);
  if (p.size() < 2) return std::nullopt;
  if (p[0] == "quant_conv" || p[0] == "post_quant_conv") return LdmTensor{kLdmVaePrefix + name};
  const bool encoder = p[0] == "encoder";
  if (!encoder && p[0] != "decoder") return std::nullopt;
  const std::string& part = p[0];
  const std::string& module = p[1];
  if (module == "conv_in" || module == "conv_out") return LdmTensor{kLdmVaePrefix + name};
  if (module == "conv_norm_out") return in(kLdmVaePrefix, part + ".norm_out." + joined(p, 2));

  if (module == "mid_block" && p.size() > 4) {
    const auto j = index_of(p[3]);
    const std::string rest = joined(p, 4);
    if (p[2] == "resnets" && j && *j < 2)
      if (auto r = vae_resnet(rest)) return in(kLdmVaePrefix, part + ".mid.block_" + std::to_string(*j + 1) + "." + *r);
    if (p[2] == "attentions" && j == 0)
      if (auto r = rename_head(
              rest, {{"group_norm", "norm"}, {"to_q", "q"}, {"to_k", "k"}, {"to_v", "v"}, {"to_out.0", "proj_out"}}))
        return in(kLdmVaePrefix, part + ".mid.attn_1." + *r);
    return std::nullopt;
  }

  if (p.size() < 6 || module != (encoder ? "down_blocks" : "up_blocks")) return std::nullopt;
  const auto i = index_of(p[2]);
  if (!i || *i >= c.levels()) return std::nullopt;
  const int level = encoder ? *i : c.levels() - 1 - *i;
  const std::string base = part + (encoder ? ".down." : ".up.") + std::to_string(level);
  const auto j = index_of(p[4]);
  if (p[3] == "resnets" && j)
    if (auto r = vae_resnet(joined(p, 5))) return in(kLdmVaePrefix, base + ".block." + std::to_string(*j) + "." + *r);
  if (p[3] == (encoder ? "downsamplers" : "upsamplers") && j == 0 && p[5] == "conv" && p.size() > 6)
    return in(kLdmVaePrefix, base + (encoder ? ".downsample.conv." : ".upsample.conv.") + joined(p, 6));
  return std::nullopt;
}

std::optional<LdmTensor> ldm_clip_tensor(const std::string& prefix, const std::string& name) {
  return LdmTensor{prefix + name};
}

std::optional<LdmTensor> ldm_open_clip_tensor(const std::string& prefix, const std::string& name) {
  if (name == "text_model.embeddings.token_embedding.weight") return LdmTensor{prefix + "token_embedding.weight"};
  if (name == "text_model.embeddings.position_embedding.weight") return LdmTensor{prefix + "positional_embedding"};
  if (name == "text_projection.weight") return LdmTensor{prefix + "text_projection", -1, true};
  if (auto r = rename_head(name, {{"text_model.final_layer_norm", "ln_final"}})) return LdmTensor{prefix + *r};

  const auto p = split(name);  // text_model.encoder.layers.{i}.<module...>.<param>
  if (p.size() < 6 || p[0] != "text_model" || p[1] != "encoder" || p[2] != "layers" || !index_of(p[3]))
    return std::nullopt;
  const std::string block = prefix + "transformer.resblocks." + p[3] + ".";
  const std::string rest = joined(p, 4);
  if (p[4] == "self_attn" && p.size() == 7) {
    const std::string& param = p[6];  // "weight" or "bias"
    static const char* const kQkv[] = {"q_proj", "k_proj", "v_proj"};
    for (int k = 0; k < 3; ++k)
      if (p[5] == kQkv[k]) return LdmTensor{block + "attn.in_proj_" + param, k};
  }
  if (auto r = rename_head(rest, {{"layer_norm1", "ln_1"},
                                  {"layer_norm2", "ln_2"},
                                  {"self_attn.out_proj", "attn.out_proj"},
                                  {"mlp.fc1", "mlp.c_fc"},
                                  {"mlp.fc2", "mlp.c_proj"}}))
    return LdmTensor{block + *r};
  return std::nullopt;
}

}  // namespace sd::models
