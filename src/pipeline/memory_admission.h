#pragma once
// Memory admission: what a job will need at its peak, estimated from the model's configs
// and the request before it is queued, against what the process may use. A batch counts
// each image it runs together; one that would not fit runs image by image, and a job
// whose only excess is the VAE decode (or encode) runs with the VAE in tiles (smaller
// ones when the default tile is not small enough); a job that
// fits in none of these ways is refused with the numbers. Jobs run one at a time, so
// each is measured against the whole budget.
#include <cstdint>
#include <string>

#include "core/error.h"

#include "pipeline/pipeline.h"
#include "pipeline/request.h"

namespace sd::pipeline {

struct MemoryEstimate {
  uint64_t resident = 0;     // the loaded model and runtime (RSS after loading)
  uint64_t activations = 0;  // the job's largest phase: UNet, VAE decode or VAE encode
  uint64_t total() const { return resident + activations; }
};

// The estimate for `req` as it stands (tiled or not). Zero when the model has no
// MemoryProfile (nothing was measured at load).
MemoryEstimate estimate_job_memory(const ModelInfo& model, const GenerationRequest& req);

// Bytes this process may grow to: the least of `max_memory` (0 = no limit), its cgroup's
// memory.max less what the rest of the cgroup uses, and its RSS plus the system's
// MemAvailable. Read from /proc and /sys/fs/cgroup on every call.
uint64_t memory_available_to_process(uint64_t max_memory);

class MemoryRefused : public Error {
 public:
  using Error::Error;
};

// Admits `req` within `available` bytes: unchanged when it fits; else with the first
// change that makes it fit, the images' own first: a batch's VAE image by image, then
// every phase image by image (batch_layout), then vae_tiling with the VAE's default tile,
// then (when the request leaves vae_tile_size to it) with tiles of half and a quarter
// of that edge, since the default tile of SDXL's VAE (1024) is the whole of a 1024x1024
// image; or throws MemoryRefused naming the needed and available memory, with `req` left
// in its leanest form for a caller that runs it anyway (sd-generate).
void admit_job_memory(GenerationRequest& req, const ModelInfo& model, uint64_t available);

// Resident set size of this process now, in bytes (0 when /proc cannot tell).
uint64_t process_rss_bytes();

}  // namespace sd::pipeline
