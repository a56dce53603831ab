#include "loaders/lora_targets.h"

#include <algorithm>

#include "core/error.h"
#include "loaders/ldm_names.h"

namespace sd::models {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string flatten(std::string s) {
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

}  // namespace

std::map<std::string, std::string> ldm_unet_module_paths(const ModuleRegistry& unet, const UNetConfig& config) {
  const std::string prefix = kLdmUnetPrefix, suffix = ".weight";
  std::map<std::string, std::string> out;
  for (const auto& [path, ref] : unet.modules()) {
    const auto t = ldm_unet_tensor(config, path + suffix);
    if (t && t->qkv_chunk < 0 && starts_with(t->name, prefix) && ends_with(t->name, suffix))
      out.emplace(path, t->name.substr(prefix.size(), t->name.size() - prefix.size() - suffix.size()));
  }
  return out;
}

LoraTargets::LoraTargets(UNet2DConditionModel* unet, ClipTextModel* text_encoder, ClipTextModel* text_encoder_2) {
  if (unet) {
    Component c{"unet", unet->modules(), {}, nullptr, {}, {}};
    for (const auto& [path, ldm] : ldm_unet_module_paths(c.modules, unet->config())) c.aliases.emplace(ldm, path);
    add_component(std::move(c));
  }
  if (text_encoder) add_text_encoder("text_encoder", *text_encoder);
  if (text_encoder_2) add_text_encoder("text_encoder_2", *text_encoder_2);
}

void LoraTargets::add_text_encoder(const std::string& name, ClipTextModel& model) {
  Component c{name, model.modules(), model.streamed_modules(), nullptr, {}, {}};
  if (!c.streamed.empty()) c.streamed_by = &model;
  // Old diffusers text-encoder LoRAs name the attention projections as the UNet does.
  const std::pair<const char*, const char*> renames[] = {{"self_attn.q_proj", "self_attn.to_q"},
                                                         {"self_attn.k_proj", "self_attn.to_k"},
                                                         {"self_attn.v_proj", "self_attn.to_v"},
                                                         {"self_attn.out_proj", "self_attn.to_out"}};
  auto alias = [&](const std::string& path) {
    for (const auto& [now, old_name] : renames)
      if (ends_with(path, now))
        c.aliases.emplace(path.substr(0, path.size() - std::string(now).size()) + old_name, path);
  };
  for (const auto& [path, ref] : c.modules.modules()) alias(path);
  for (const auto& [path, shape] : c.streamed) alias(path);
  add_component(std::move(c));
}

void LoraTargets::add_component(Component c) {
  auto index = [&](const std::string& written, const std::string& path) {
    auto& paths = c.flat[flatten(written)];
    if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(path);
  };
  for (const auto& [path, ref] : c.modules.modules()) index(path, path);
  for (const auto& [path, shape] : c.streamed) index(path, path);
  for (const auto& [alias, path] : c.aliases) index(alias, path);
  components_.push_back(std::move(c));
}

std::optional<LoraTargets::Target> LoraTargets::find_dotted(const Component& c, const std::string& path) const {
  auto alias = c.aliases.find(path);
  const std::string& real = alias != c.aliases.end() ? alias->second : path;
  if (const ModuleRef* m = c.modules.find(real)) return Target{c.name, real, m->weight_shape(), *m, nullptr};
  auto streamed = c.streamed.find(real);
  if (streamed != c.streamed.end()) return Target{c.name, real, streamed->second, std::nullopt, c.streamed_by};
  return std::nullopt;
}

std::optional<LoraTargets::Target> LoraTargets::resolve(const std::string& lora_name) const {
  auto ambiguous = [&](const std::vector<std::string>& where) {
    std::string list;
    for (const auto& w : where) list += (list.empty() ? "" : ", ") + w;
    return Error("LoRA layer \"" + lora_name + "\" fits several layers of the model: " + list);
  };

  // kohya-ss: a component prefix, then the module path with every '.' written as '_'.
  const std::pair<const char*, const char*> kohya[] = {{"lora_unet_", "unet"},
                                                       {"lora_te1_", "text_encoder"},
                                                       {"lora_te2_", "text_encoder_2"},
                                                       {"lora_te_", "text_encoder"}};
  for (const auto& [prefix, component] : kohya) {
    if (!starts_with(lora_name, prefix)) continue;
    for (const Component& c : components_) {
      if (c.name != component) continue;
      auto it = c.flat.find(lora_name.substr(std::string(prefix).size()));
      if (it == c.flat.end()) return std::nullopt;
      if (it->second.size() > 1) {
        std::vector<std::string> where;
        for (const auto& p : it->second) where.push_back(c.name + "." + p);
        throw ambiguous(where);
      }
      return find_dotted(c, it->second.front());
    }
    return std::nullopt;
  }

  // diffusers / PEFT: dotted paths, optionally under base_model.model. and a component.
  std::string path = lora_name;
  if (starts_with(path, "base_model.model.")) path = path.substr(17);
  std::string component;
  for (const Component& c : components_)
    if (starts_with(path, c.name + ".")) component = c.name;
  for (const char* known : {"unet", "text_encoder", "text_encoder_2"})
    if (component.empty() && starts_with(path, std::string(known) + ".")) return std::nullopt;  // model lacks it
  if (!component.empty()) path = path.substr(component.size() + 1);
  // Attention processors: "<attn>.processor.to_q" is "<attn>.to_q", "...to_out" is "to_out.0".
  if (ends_with(path, ".processor.to_out")) path += ".0";
  for (size_t at; (at = path.find(".processor.")) != std::string::npos;) path.erase(at, 10);

  std::vector<Target> found;
  for (const Component& c : components_)
    if (component.empty() || c.name == component)
      if (auto t = find_dotted(c, path)) found.push_back(*t);
  if (found.size() > 1) {
    std::vector<std::string> where;
    for (const auto& t : found) where.push_back(t.component + "." + t.path);
    throw ambiguous(where);
  }
  if (found.empty()) return std::nullopt;
  return found.front();
}

}  // namespace sd::models
