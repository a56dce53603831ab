#include "pipeline/prompt_loras.h"

#include <charconv>
#include <cmath>

#include "core/error.h"
#include "pipeline/lora_location.h"

namespace sd::pipeline {

namespace {

constexpr std::string_view kOpen = "<lora:";
constexpr size_t kShownChars = 60;

std::string shown(std::string_view tag) {
  std::string s;
  for (char c : tag.substr(0, kShownChars)) s += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (tag.size() > kShownChars) s += "...";
  return s;
}

float parse_weight(std::string_view text, std::string_view tag) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) || v < -10.0 || v > 10.0)
    throw Error("prompt: in " + shown(tag) + ", the weight must be a number within -10..10, got \"" +
                shown(text) + "\"");
  return float(v);
}

}  // namespace

PromptLoraTags extract_lora_tags(std::string_view prompt) {
  PromptLoraTags out;
  size_t pos = 0;
  while (pos < prompt.size()) {
    const size_t open = prompt.find(kOpen, pos);
    const size_t close = open == std::string_view::npos ? open : prompt.find('>', open);
    if (close == std::string_view::npos) {
      out.text.append(prompt.substr(pos));
      break;
    }
    out.text.append(prompt.substr(pos, open - pos));
    const std::string_view tag = prompt.substr(open, close + 1 - open);
    const std::string_view body = prompt.substr(open + kOpen.size(), close - open - kOpen.size());
    const size_t colon = body.find(':');
    PromptLoraTag lora;
    lora.name = std::string(body.substr(0, colon));
    if (lora.name.empty()) throw Error("prompt: " + shown(tag) + " names no LoRA");
    if (colon != std::string_view::npos) {
      const std::string_view weight = body.substr(colon + 1);
      if (weight.find(':') != std::string_view::npos)
        throw Error("prompt: " + shown(tag) +
                    ": separate text-encoder and UNet weights are not supported; write <lora:NAME:WEIGHT>");
      lora.weight = parse_weight(weight, tag);
    }
    if (out.loras.size() == kMaxLorasPerImage)
      throw Error("prompt: more than " + std::to_string(kMaxLorasPerImage) + " <lora:...> tags");
    out.loras.push_back(std::move(lora));
    pos = close + 1;
  }
  return out;
}

std::vector<LoraSpec> loras_with_tags(const std::vector<LoraSpec>& explicit_loras, const PromptLoraTags& tags,
                                      const std::vector<std::string>& lora_dirs) {
  if (explicit_loras.size() + tags.loras.size() > kMaxLorasPerImage)
    throw Error("prompt: " + std::to_string(explicit_loras.size() + tags.loras.size()) +
                " LoRAs with the <lora:...> tags; at most " + std::to_string(kMaxLorasPerImage) + " per image");
  std::vector<LoraSpec> all = explicit_loras;
  for (const PromptLoraTag& tag : tags.loras) {
    try {
      all.push_back({resolve_lora_reference(tag.name, LoraReference::Name, lora_dirs), tag.weight});
    } catch (const Error& e) {
      throw Error(std::string("prompt: <lora:") + shown(tag.name) + ">: " + e.what());
    }
  }
  return all;
}

}  // namespace sd::pipeline
