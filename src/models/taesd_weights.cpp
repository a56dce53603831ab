#include "models/taesd_weights.h"

#include <charconv>

#include "core/error.h"

namespace sd::models {

namespace {

// "<prefix><N>.<rest>" -> N and rest; false when `name` does not have that form.
bool split_layer(const std::string& name, const std::string& prefix, int& index, std::string& rest) {
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  const char* begin = name.data() + prefix.size();
  const char* end = name.data() + name.size();
  auto [p, ec] = std::from_chars(begin, end, index);
  if (ec != std::errc() || p == begin || p == end || *p != '.') return false;
  rest.assign(p + 1, end);
  return true;
}

}  // namespace

TaesdBareWeights::TaesdBareWeights(const std::string& encoder_path, const std::string& decoder_path) {
  if (encoder_path.empty() && decoder_path.empty()) throw Error("TAESD: neither encoder nor decoder weights given");
  if (!encoder_path.empty()) encoder_ = std::make_unique<SafetensorsWeights>(std::vector{encoder_path});
  if (!decoder_path.empty()) decoder_ = std::make_unique<SafetensorsWeights>(std::vector{decoder_path});
}

TaesdBareWeights::Location TaesdBareWeights::locate(const std::string& name) const {
  int index = 0;
  std::string rest;
  if (encoder_ && split_layer(name, "encoder.layers.", index, rest))
    return {encoder_.get(), std::to_string(index) + "." + rest};
  if (decoder_ && split_layer(name, "decoder.layers.", index, rest))
    return {decoder_.get(), std::to_string(index + 1) + "." + rest};
  return {};
}

bool TaesdBareWeights::has(const std::string& name) const {
  const Location loc = locate(name);
  return loc.file && loc.file->has(loc.name);
}

std::string TaesdBareWeights::describe() const {
  if (encoder_ && decoder_) return encoder_->describe() + " + " + decoder_->describe();
  return encoder_ ? encoder_->describe() : decoder_->describe();
}

const io::SafetensorsFile* TaesdBareWeights::encoder_file() const {
  return encoder_ ? &encoder_->files().front() : nullptr;
}

const io::SafetensorsFile* TaesdBareWeights::decoder_file() const {
  return decoder_ ? &decoder_->files().front() : nullptr;
}

void TaesdBareWeights::require_all_used() const {
  if (encoder_) encoder_->require_all_used();
  if (decoder_) decoder_->require_all_used();
}

Tensor TaesdBareWeights::fetch(const std::string& name, const Shape& shape, DType dtype) const {
  const Location loc = locate(name);
  if (!loc.file) return {};
  // Named here in the file's own terms, which is what a reader of the file sees.
  if (!loc.file->has(loc.name))
    throw Error(loc.file->describe() + ": tensor \"" + loc.name + "\" (" + name + ") not found");
  return loc.file->get(loc.name, shape, dtype);
}

}  // namespace sd::models
