#include "pipeline/memory_admission.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

namespace sd::pipeline {

namespace {

// Allocator slack, the pool's rounding and what the formulas below leave out (the text
// encoder, the scheduler's copies of the latents, the PNG) on top of the counted tensors.
constexpr double kMargin = 1.25;
// The transformer block at the UNet's first level holds about this many tensors of its
// width at once: GEGLU's doubled 4x projection (8), its output (4), q/k/v, attention
// output, norm and residual (6), and the resnet around it (2).
constexpr int64_t kUnetWorkingTensors = 20;
// What the first job adds whatever its size, measured on the tiny model (a 128x128 job
// grew the worker by 54 MB, a 256x256 one by 137 MB: 26 MB more than the per-pixel slope
// explains): oneDNN's generated kernels and primitive caches, thread stacks, the encoded
// images held for the job's events.
constexpr uint64_t kRuntimeOverhead = uint64_t(32) << 20;
// TAESD's decoder runs 64 channels at full resolution.
constexpr int64_t kTaesdChannels = 64;

uint64_t read_number(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word == "max") return 0;
  try {
    return std::stoull(word);
  } catch (const std::exception&) {
    return 0;
  }
}

uint64_t meminfo_bytes(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream s(line.substr(key.size() + 1));
      uint64_t kb = 0;
      s >> kb;
      return kb * 1024;
    }
  return 0;
}

// This process's cgroup (v2) folder, empty when there is none.
std::string cgroup_dir() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("0::", 0) == 0) return "/sys/fs/cgroup" + line.substr(3);
  return "";
}

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f MiB", double(bytes) / (1 << 20));
  return buf;
}

// Bytes of the untiled (or one tile of the tiled) VAE at an image of `pixels`. A float32
// decode runs its full-resolution 3x3 convolutions as Winograd (backend/cpu/convolution.cpp),
// whose blocked copies of input and output and transformed tiles take about as much
// again: SD2.1's 768x768 f32 decode grew the process by 4060 MiB, twice the 2016 MiB of
// the bf16-sized count (SDXL's 1024x1024 bf16 decode: 1133 MiB of its 1792).
uint64_t vae_bytes(const MemoryProfile& m, uint64_t pixels, bool decode) {
  int64_t channels = decode ? 2 * int64_t(m.vae_next_channels) + 3 * int64_t(m.vae_top_channels)
                            : 3 * int64_t(m.vae_top_channels);
  if (decode && m.activation_bytes == 4) channels += 2 * (int64_t(m.vae_next_channels) + m.vae_top_channels);
  return pixels * uint64_t(channels) * uint64_t(m.activation_bytes);
}

struct Phases {
  uint64_t unet = 0, vae = 0, image = 0;
};

// How a job runs: the levers admission may pull (request.h).
struct Plan {
  bool tiled = false;
  int tile_size = 0;  // GenerationRequest::vae_tile_size: 0 = the VAE's default
  BatchLayout layout = BatchLayout::Together;
};

// A batch runs its UNet rows together unless image by image; its VAE whole only when
// together and untiled (request.h: BatchLayout).
Phases phases(const MemoryProfile& m, const GenerationRequest& req, const Plan& plan) {
  const uint64_t images = uint64_t(std::max(1, req.batch_size));
  const uint64_t pixels = uint64_t(req.width) * uint64_t(req.height);
  const uint64_t latent = pixels / uint64_t(m.latent_factor * m.latent_factor);
  const uint64_t unet_images = plan.layout == BatchLayout::OneByOne ? 1 : images;
  const uint64_t vae_images = plan.layout == BatchLayout::Together && !plan.tiled ? images : 1;
  const uint64_t batch = (req.guidance_scale > 1.0f ? 2 : 1) * unet_images;
  Phases p;
  p.unet = batch * latent * uint64_t(m.unet_skip_channels + kUnetWorkingTensors * m.unet_channels) *
           uint64_t(m.activation_bytes);
  const int tile = plan.tile_size > 0 ? plan.tile_size : m.vae_tile_pixels;
  const uint64_t vae_pixels = plan.tiled && tile > 0 ? std::min(pixels, uint64_t(tile) * uint64_t(tile)) : pixels;
  const bool encodes = req.operation != Operation::Txt2Img;
  const uint64_t decode = req.decoder == FinalDecoder::Taesd
                              ? pixels * 3 * kTaesdChannels * uint64_t(m.activation_bytes)
                              : vae_images * vae_bytes(m, vae_pixels, true);
  // The input image is encoded once for the whole batch.
  p.vae = std::max(decode, encodes ? vae_bytes(m, vae_pixels, false) : 0);
  // The float images the VAE writes (and blends tiles into) and the 8-bit copies of all.
  p.image = pixels * (3 * 4 * (plan.tiled ? 2 : 1) * vae_images + 3 * images);
  return p;
}

uint64_t with_margin(uint64_t bytes) { return uint64_t(double(bytes) * kMargin); }

MemoryEstimate estimate(const ModelInfo& model, const GenerationRequest& req, const Plan& plan) {
  const MemoryProfile& m = model.memory;
  if (m.resident_bytes == 0) return {};
  const Phases p = phases(m, req, plan);
  return {m.resident_bytes, with_margin(std::max(p.unet, p.vae) + p.image) + kRuntimeOverhead};
}

// The tile edges admission may choose when the request leaves the size to it: the
// VAE's default, then halves of it (a decode's memory falls with the tile's area) while
// they stay valid tiles (autoencoder_kl.h: resolve_tile_size), down to a quarter.
std::vector<int> tile_sizes(const MemoryProfile& m, const GenerationRequest& req) {
  if (req.vae_tile_size > 0 || m.vae_tile_pixels <= 0) return {req.vae_tile_size};
  std::vector<int> sizes{0};
  const int f = m.latent_factor;
  for (int t = m.vae_tile_pixels / 2; t >= m.vae_tile_pixels / 4 && t >= 8 * f && t % (4 * f) == 0; t /= 2)
    sizes.push_back(t);
  return sizes;
}

}  // namespace

uint64_t process_rss_bytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * uint64_t(sysconf(_SC_PAGESIZE));
}

MemoryEstimate estimate_job_memory(const ModelInfo& model, const GenerationRequest& req) {
  return estimate(model, req, {req.vae_tiling, req.vae_tile_size, req.batch_layout});
}

uint64_t memory_available_to_process(uint64_t max_memory) {
  uint64_t limit = max_memory > 0 ? max_memory : std::numeric_limits<uint64_t>::max();
  const uint64_t rss = process_rss_bytes();
  if (const uint64_t avail = meminfo_bytes("MemAvailable"); avail > 0) limit = std::min(limit, rss + avail);
  const std::string cg = cgroup_dir();
  if (!cg.empty()) {
    if (const uint64_t cg_max = read_number(cg + "/memory.max"); cg_max > 0) {
      const uint64_t used = read_number(cg + "/memory.current");
      const uint64_t others = used > rss ? used - rss : 0;
      limit = std::min(limit, cg_max > others ? cg_max - others : 0);
    }
  }
  return limit;
}

void admit_job_memory(GenerationRequest& req, const ModelInfo& model, uint64_t available) {
  // What keeps the images exactly as asked comes first (a batch image by image), tiles
  // (which change the image slightly) only when that is not enough, the largest first.
  // Tiles are blended on the host, so only a model on the CPU is offered them
  // (DiffusionPipeline::validate refuses them elsewhere).
  std::vector<Plan> tilings;
  if (!req.vae_tiling) tilings.push_back({false, req.vae_tile_size});
  if (req.vae_tiling || (model.memory.vae_tile_pixels > 0 && model.device == "cpu"))
    for (int t : tile_sizes(model.memory, req)) tilings.push_back({true, t});
  std::vector<BatchLayout> layouts{req.batch_layout};
  if (req.batch_size > 1)
    for (BatchLayout l : {BatchLayout::VaeOneByOne, BatchLayout::OneByOne})
      if (l > req.batch_layout) layouts.push_back(l);
  // The leanest plan is the first of the least estimate: a change that saves nothing
  // (tiles when the UNet needs more than the VAE) is not made.
  Plan leanest;
  MemoryEstimate least;
  for (Plan plan : tilings)
    for (BatchLayout layout : layouts) {
      plan.layout = layout;
      const MemoryEstimate e = estimate(model, req, plan);
      if (e.total() <= available) {
        req.vae_tiling = plan.tiled;
        req.vae_tile_size = plan.tile_size;
        req.batch_layout = layout;
        return;
      }
      if (least.total() == 0 || e.total() < least.total()) {
        leanest = plan;
        least = e;
      }
    }
  const MemoryEstimate as_asked = estimate_job_memory(model, req);
  const std::string size = std::to_string(req.width) + "x" + std::to_string(req.height);
  std::string need = (req.batch_size > 1 ? "a batch of " + std::to_string(req.batch_size) + " " + size + " images"
                                         : "a " + size + " job") +
                     " needs about " + mib(as_asked.total()) + " of memory (" + mib(as_asked.resident) +
                     " for the model, " + mib(as_asked.activations) + " while it runs)";
  if (least.total() < as_asked.total()) {
    std::string how = leanest.layout != req.batch_layout ? " one image at a time" : "";
    if (leanest.tiled && (!req.vae_tiling || leanest.tile_size != req.vae_tile_size)) {
      how += how.empty() ? " with the VAE in " : " and the VAE in ";
      how += leanest.tile_size > 0 ? std::to_string(leanest.tile_size) + " px tiles" : "tiles";
    }
    need += ", " + mib(least.total()) + how;
  }
  req.vae_tiling = leanest.tiled;
  req.vae_tile_size = leanest.tile_size;
  req.batch_layout = leanest.layout;
  throw MemoryRefused(need + "; " + mib(available) + " is available to the worker");
}

}  // namespace sd::pipeline
