// The LDM single-file name mapping (ldm_names.h) on arbitrary names, for the tiny SD1.5
// and SDXL UNets, the tiny VAE and both text-encoder layouts: every answer must be a key
// under the component's prefix and a q/k/v chunk index in 0..2.
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "fuzz_support.h"
#include "loaders/ldm_names.h"

namespace {

sd::models::UNetConfig sd15_unet, sdxl_unet;
sd::models::VaeConfig vae;

void check(const std::optional<sd::models::LdmTensor>& t, const std::string& prefix) {
  if (!t) return;
  if (t->name.compare(0, prefix.size(), prefix) != 0 || t->qkv_chunk < -1 || t->qkv_chunk > 2) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string fixtures = sd::fuzz::fixtures_dir();
  sd15_unet = sd::models::UNetConfig::load(fixtures + "/tiny-sd15/unet/config.json");
  sdxl_unet = sd::models::UNetConfig::load(fixtures + "/tiny-sdxl/unet/config.json");
  vae = sd::models::VaeConfig::load(fixtures + "/tiny-sd15/vae/config.json");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sd::models;
  const std::string name(reinterpret_cast<const char*>(data), size);
  check(ldm_unet_tensor(sd15_unet, name), kLdmUnetPrefix);
  check(ldm_unet_tensor(sdxl_unet, name), kLdmUnetPrefix);
  check(ldm_vae_tensor(vae, name), kLdmVaePrefix);
  check(ldm_clip_tensor(kLdmSd1ClipPrefix, name), kLdmSd1ClipPrefix);
  check(ldm_open_clip_tensor(kLdmSdxlOpenClipPrefix, name), kLdmSdxlOpenClipPrefix);
  return 0;
}
