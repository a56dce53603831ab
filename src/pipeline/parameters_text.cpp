#include "pipeline/parameters_text.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <optional>

#include "core/number_text.h"
#include "pipeline/sampler_names.h"

namespace sd::pipeline {

namespace {

// A1111's quote(): a value holding a delimiter becomes a JSON string (non-ASCII kept).
std::string quote(const std::string& v) {
  if (v.find_first_of(",\n:") == std::string::npos) return v;
  return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool is_word(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || std::isalnum(u) || c == '_';
}
bool is_key_char(char c) { return is_word(c) || c == ' ' || c == '-' || c == '/'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

struct Setting {
  std::string key, value;
  size_t end;
};

// One match of A1111's re_param, \s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$),
// at `at`, written out by hand: std::regex recurses per character and can overflow the
// stack on a long hostile text. On failure `resume` is where the next attempt may start:
// every start inside a run of key characters fails where the run ends, so the scan skips
// the run instead of retrying each position (quadratic on a long word).
std::optional<Setting> setting_at(const std::string& s, size_t at, size_t& resume) {
  size_t i = at;
  resume = at + 1;
  while (i < s.size() && is_space(s[i])) ++i;
  const size_t key_start = i;
  if (i >= s.size() || !is_word(s[i])) return std::nullopt;
  ++i;
  while (i < s.size() && is_key_char(s[i])) ++i;
  if (i - key_start < 2 || i >= s.size() || s[i] != ':') {
    resume = std::max(resume, i);
    return std::nullopt;
  }
  Setting m;
  m.key = s.substr(key_start, i - key_start);
  ++i;
  while (i < s.size() && is_space(s[i])) ++i;
  if (i < s.size() && s[i] == '"') {
    size_t j = i + 1;
    while (j < s.size() && s[j] != '"') j += s[j] == '\\' && j + 1 < s.size() ? 2 : 1;
    if (j < s.size() && j > i + 1 && (j + 1 == s.size() || s[j + 1] == ',')) {
      m.value = s.substr(i, j + 1 - i);
      m.end = j + 1 < s.size() ? j + 2 : j + 1;
      return m;
    }
  }
  const size_t comma = s.find(',', i);
  m.value = s.substr(i, comma == std::string::npos ? std::string::npos : comma - i);
  m.end = comma == std::string::npos ? s.size() : comma + 1;
  return m;
}

// re_param.findall: every non-overlapping match, scanning forward.
std::vector<std::pair<std::string, std::string>> find_settings(const std::string& line) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t at = 0;
  while (at < line.size()) {
    size_t resume = at + 1;
    auto m = setting_at(line, at, resume);
    if (!m) {
      at = resume;
      continue;
    }
    out.emplace_back(m->key, m->value);
    at = m->end;
  }
  return out;
}

std::string unquote(const std::string& v) {
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return v;
  const auto j = nlohmann::json::parse(v, nullptr, false);
  return j.is_string() ? j.get<std::string>() : v;
}

std::string strip(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

}  // namespace

std::string parameters_text(const GenerationRequest& req, const CheckpointIdentity& model,
                            const std::vector<std::string>& lora_hashes) {
  std::vector<std::pair<std::string, std::string>> p;
  p.emplace_back("Steps", std::to_string(req.steps));
  p.emplace_back("Sampler", sampler_display_name(req.sampler));
  if (req.schedule != Schedule::Default) p.emplace_back("Schedule type", schedule_display_name(req.schedule));
  p.emplace_back("CFG scale", number_text(req.guidance_scale));
  p.emplace_back("Seed", std::to_string(req.seed));
  p.emplace_back("Size", std::to_string(req.width) + "x" + std::to_string(req.height));
  if (!model.hash.empty()) p.emplace_back("Model hash", model.hash);
  if (!model.name.empty()) p.emplace_back("Model", model.name);
  if (!model.vae.empty()) p.emplace_back("VAE", model.vae);
  if (req.operation != Operation::Txt2Img) p.emplace_back("Denoising strength", number_text(req.strength));
  if (req.clip_skip > 1) p.emplace_back("Clip skip", std::to_string(req.clip_skip));
  // A1111 leaves RNG out for its default, GPU; ours is CPU, so both are named.
  p.emplace_back("RNG", req.rng == NoiseSource::Philox ? "GPU" : "CPU");
  // A1111's masked img2img settings, in the order its img2img init() adds them; one blur
  // is named only when both directions have it (A1111's mask_blur property).
  if (req.operation == Operation::Inpaint) {
    if (req.mask_blur_x > 0 && req.mask_blur_x == req.mask_blur_y)
      p.emplace_back("Mask blur", number_text(req.mask_blur_x));
    if (req.inpaint_only_masked) {
      p.emplace_back("Inpaint area", "Only masked");
      p.emplace_back("Masked area padding", std::to_string(req.inpaint_padding));
    }
    if (req.masked_content == MaskedContent::Fill) p.emplace_back("Masked content", "fill");
    if (req.masked_content == MaskedContent::LatentNoise) p.emplace_back("Masked content", "latent noise");
    if (req.masked_content == MaskedContent::LatentNothing) p.emplace_back("Masked content", "latent nothing");
  }
  std::string hashes;
  for (size_t i = 0; i < req.loras.size() && i < lora_hashes.size(); ++i)
    hashes += (i ? ", " : "") + parameters_name_of_file(req.loras[i].path) + ": " + lora_hashes[i];
  if (!hashes.empty()) p.emplace_back("Lora hashes", hashes);
  for (const auto& l : req.loras)
    p.emplace_back("Lora", parameters_name_of_file(l.path) + ":" + number_text(l.strength));

  std::string s = req.prompt;
  if (!req.negative_prompt.empty()) s += "\nNegative prompt: " + req.negative_prompt;
  s += "\n";
  for (size_t i = 0; i < p.size(); ++i) {
    // Our "Lora" entry is name:strength, one colon by construction: left unquoted, as the
    // web page reads it.
    const bool raw = p[i].first == "Lora";
    s += (i ? ", " : "") + p[i].first + ": " + (raw ? p[i].second : quote(p[i].second));
  }
  return s;
}

ParsedParameters parse_parameters_text(const std::string& text) {
  ParsedParameters out;
  std::vector<std::string> lines;
  size_t start = 0;
  while (true) {
    const size_t nl = text.find('\n', start);
    lines.push_back(strip(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start)));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  std::string last = lines.back();
  lines.pop_back();
  auto settings = find_settings(last);
  if (settings.size() < 3) {
    lines.push_back(last);
    settings.clear();
  }
  bool negative = false;
  for (std::string line : lines) {
    if (line.rfind("Negative prompt:", 0) == 0) {
      negative = true;
      line = strip(line.substr(16));
    }
    std::string& target = negative ? out.negative_prompt : out.prompt;
    target += (target.empty() ? "" : "\n") + line;
  }
  for (auto& [k, v] : settings) out.settings.emplace_back(strip(k), unquote(v));
  return out;
}

}  // namespace sd::pipeline
