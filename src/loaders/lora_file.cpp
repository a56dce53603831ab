#include "loaders/lora_file.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "io/json_file.h"
#include "io/safetensors.h"

namespace sd::models {

namespace {

namespace fs = std::filesystem;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

enum class Part { Down, Up, Alpha };

// Tensor-name endings of the layouts in lora_file.h; what precedes one is the layer name.
struct Suffix {
  const char* text;
  Part part;
};
constexpr Suffix kSuffixes[] = {
    {".lora_down.weight", Part::Down},
    {".lora_up.weight", Part::Up},
    {".alpha", Part::Alpha},
    {".lora_A.weight", Part::Down},
    {".lora_B.weight", Part::Up},
    {".lora.down.weight", Part::Down},
    {".lora.up.weight", Part::Up},
    {".lora_linear_layer.down.weight", Part::Down},
    {".lora_linear_layer.up.weight", Part::Up},
    // attention processors: "<attn>.processor.to_q_lora.down.weight" names layer "<attn>.processor.to_q"
    {"_lora.down.weight", Part::Down},
    {"_lora.up.weight", Part::Up},
};

// Tensor names of LyCORIS/PEFT variants that are not a plain low-rank product.
struct Unsupported {
  const char* segment;
  const char* what;
};
constexpr Unsupported kUnsupported[] = {
    {"hada_w1_a", "LoHa"},
    {"hada_w1_b", "LoHa"},
    {"hada_w2_a", "LoHa"},
    {"hada_w2_b", "LoHa"},
    {"hada_t1", "LoHa"},
    {"hada_t2", "LoHa"},
    {"lokr_w1", "LoKr"},
    {"lokr_w2", "LoKr"},
    {"lokr_w1_a", "LoKr"},
    {"lokr_w1_b", "LoKr"},
    {"lokr_w2_a", "LoKr"},
    {"lokr_w2_b", "LoKr"},
    {"lokr_t2", "LoKr"},
    {"lora_mid", "LoCon with a Tucker-decomposed middle (lora_mid)"},
    {"dora_scale", "DoRA"},
    {"lora_magnitude_vector", "DoRA"},
    {"diff", "a full weight difference"},
    {"diff_b", "a bias difference"},
    {"w_norm", "a norm-layer patch"},
    {"b_norm", "a norm-layer patch"},
    {"oft_blocks", "OFT"},
    {"oft_diag", "OFT"},
};

std::vector<std::string> split_dots(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t dot; (dot = s.find('.', start)) != std::string::npos; start = dot + 1)
    out.push_back(s.substr(start, dot - start));
  out.push_back(s.substr(start));
  return out;
}

const char* unsupported_kind(const std::string& tensor) {
  const auto segs = split_dots(tensor);
  for (size_t i = segs.size() >= 2 ? segs.size() - 2 : 0; i < segs.size(); ++i)
    for (const auto& u : kUnsupported)
      if (segs[i] == u.segment) return u.what;
  return nullptr;
}

// The component a diffusers-style layer name starts with ("unet", "text_encoder"...), or "".
std::string diffusers_component(std::string name) {
  if (starts_with(name, "base_model.model.")) name = name.substr(17);
  for (const char* c : {"unet", "text_encoder", "text_encoder_2"})
    if (starts_with(name, std::string(c) + ".")) return c;
  return "";
}

// The LoRA settings diffusers stores in the safetensors metadata ("lora_adapter_metadata":
// PEFT's LoraConfig, its keys prefixed by the component in pipeline-level files).
class AdapterMetadata {
 public:
  explicit AdapterMetadata(const io::SafetensorsFile& f) : path_(f.path()) {
    auto it = f.metadata().find("lora_adapter_metadata");
    if (it != f.metadata().end()) json_ = io::parse_json_text(it->second, f.path() + ": lora_adapter_metadata");
  }

  // alpha, and whether the scale is alpha/sqrt(rank) (rsLoRA), for layers of `component`.
  std::pair<std::optional<float>, bool> alpha_for(const std::string& component) const {
    if (!json_.is_object()) return {std::nullopt, false};
    const io::Json* pattern = find(component, "alpha_pattern");
    if (pattern && !pattern->is_null() && !pattern->empty())
      throw Error(path_ + ": lora_adapter_metadata has a per-layer alpha_pattern, which is not supported");
    const io::Json* dora = find(component, "use_dora");
    if (dora && dora->is_boolean() && dora->get<bool>())
      throw Error(path_ + ": lora_adapter_metadata says use_dora; DoRA is not supported");
    std::optional<float> alpha;
    if (const io::Json* a = find(component, "lora_alpha")) {
      if (!a->is_number() || !std::isfinite(a->get<double>()))
        throw Error(path_ + ": lora_adapter_metadata lora_alpha must be a finite number, got " + a->dump());
      alpha = a->get<float>();
    }
    const io::Json* rs = find(component, "use_rslora");
    return {alpha, rs && rs->is_boolean() && rs->get<bool>()};
  }

 private:
  // "<component>.<key>" when present, else "<key>".
  const io::Json* find(const std::string& component, const std::string& key) const {
    for (const std::string& k : {component.empty() ? key : component + "." + key, key}) {
      auto it = json_.find(k);
      if (it != json_.end()) return &*it;
    }
    return nullptr;
  }

  std::string path_;
  io::Json json_;
};

struct PendingLayer {
  std::string down_key, up_key, alpha_key;
};

void check_float(const io::SafetensorsFile& f, const std::string& key) {
  const auto& info = f.info(key);
  if (!info.dtype || !is_floating(*info.dtype))
    throw Error(f.path() + ": tensor \"" + key + "\" has dtype " + info.dtype_name +
                "; LoRA tensors must be F32, F16 or BF16");
}

LoraLayer read_layer(const io::SafetensorsFile& f, const std::string& name, const PendingLayer& p,
                     const AdapterMetadata& meta) {
  const std::string where = f.path() + ": LoRA layer \"" + name + "\"";
  if (p.down_key.empty() || p.up_key.empty()) {
    const std::string have = !p.down_key.empty() ? p.down_key : !p.up_key.empty() ? p.up_key : p.alpha_key;
    throw Error(where + " is incomplete: it has \"" + have + "\" but no " +
                (p.down_key.empty() ? "down weight (lora_down/lora_A)" : "up weight (lora_up/lora_B)"));
  }
  LoraLayer l;
  l.name = name;
  l.down_key = p.down_key;
  l.up_key = p.up_key;
  check_float(f, p.down_key);
  check_float(f, p.up_key);
  l.down = f.view(p.down_key);
  l.up = f.view(p.up_key);
  const Shape& d = l.down.shape();
  const Shape& u = l.up.shape();
  const bool down_ok = (d.size() == 2 || d.size() == 4) && l.down.numel() > 0;
  const bool up_ok = (u.size() == 2 || (u.size() == 4 && u[2] == 1 && u[3] == 1)) && l.up.numel() > 0;
  if (!down_ok || !up_ok || d[0] != u[1])
    throw Error(where + ": down " + l.down.desc() + " and up " + l.up.desc() +
                " are not a low-rank pair (down [r, in] or [r, in, kh, kw], up [out, r] or [out, r, 1, 1])");

  std::optional<float> alpha;
  bool rank_stabilised = false;
  if (!p.alpha_key.empty()) {
    check_float(f, p.alpha_key);
    const Tensor a = f.load(p.alpha_key, DType::F32);
    if (a.numel() != 1 || !std::isfinite(a.item()))
      throw Error(f.path() + ": tensor \"" + p.alpha_key + "\" must be one finite number, got " + a.desc());
    alpha = a.item();
  } else {
    std::tie(alpha, rank_stabilised) = meta.alpha_for(diffusers_component(name));
  }
  const float rank = float(l.rank());
  if (alpha && *alpha != 0.f) l.scale = *alpha / (rank_stabilised ? std::sqrt(rank) : rank);
  return l;
}

}  // namespace

std::shared_ptr<const LoraFile> LoraFile::open(const std::string& path) {
  const io::SafetensorsFile f = io::SafetensorsFile::open(path);
  const AdapterMetadata meta(f);
  auto lora = std::make_shared<LoraFile>();
  lora->path_ = path;

  std::map<std::string, PendingLayer> pending;  // by layer name, sorted for stable order
  std::set<std::string> embeddings;
  for (const std::string& key : f.names()) {
    if (starts_with(key, "bundle_emb.")) {
      embeddings.insert(split_dots(key).at(1));
      continue;
    }
    if (const char* kind = unsupported_kind(key))
      throw Error(path + ": tensor \"" + key + "\" belongs to " + kind +
                  ", which is not supported (only LoRA and LoCon low-rank layers are)");
    const Suffix* match = nullptr;
    for (const auto& s : kSuffixes)
      if (ends_with(key, s.text)) {
        match = &s;
        break;
      }
    if (!match || key.size() == std::string(match->text).size())
      throw Error(path + ": tensor \"" + key +
                  "\" is not part of a LoRA layer (expected <layer>.lora_down.weight/.lora_up.weight/.alpha or "
                  "<layer>.lora_A.weight/.lora_B.weight)");
    const std::string name = key.substr(0, key.size() - std::string(match->text).size());
    PendingLayer& p = pending[name];
    std::string& slot = match->part == Part::Down ? p.down_key : match->part == Part::Up ? p.up_key : p.alpha_key;
    if (!slot.empty())
      throw Error(path + ": LoRA layer \"" + name + "\" has two " +
                  (match->part == Part::Alpha  ? "alphas"
                   : match->part == Part::Down ? "down weights"
                                               : "up weights") +
                  ": \"" + slot + "\" and \"" + key + "\"");
    slot = key;
  }
  if (pending.empty())
    throw Error(path + ": no LoRA layers in this file" + (embeddings.empty() ? "" : " (only bundled embeddings)"));
  for (const auto& [name, p] : pending) lora->layers_.push_back(read_layer(f, name, p, meta));
  lora->ignored_embeddings_ = int(embeddings.size());
  return lora;
}

std::shared_ptr<const LoraFile> LoraFileCache::get(const std::string& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) throw Error(path + ": cannot read LoRA file: " + ec.message());
  const int64_t mtime = fs::last_write_time(path, ec).time_since_epoch().count();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->path != path) continue;
    if (it->size == size && it->mtime == mtime) {
      entries_.splice(entries_.begin(), entries_, it);
      return it->file;
    }
    entries_.erase(it);
    break;
  }
  auto file = LoraFile::open(path);
  entries_.push_front({path, size, mtime, file});
  if (entries_.size() > capacity_) entries_.pop_back();
  return file;
}

}  // namespace sd::models
