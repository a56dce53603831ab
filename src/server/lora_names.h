#pragma once
// The LoRAs a worker offers: what /info lists so a client (the web page) can offer them.
#include <string>
#include <vector>

namespace sd::server {

// The names ("<name>" of "<dir>/<name>.safetensors") of the LoRA files directly inside
// the operator's LoRA folders, sorted and unique; unreadable folders add nothing. At most
// kMaxListedLoras.
inline constexpr size_t kMaxListedLoras = 1000;
std::vector<std::string> lora_names(const std::vector<std::string>& dirs);

}  // namespace sd::server
