#pragma once
// The image-generation pipeline: one loaded model set on one device, and the entry point
// every front end (sd-generate, the HTTP worker, sd-bench) calls.
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "loaders/load_options.h"
#include "pipeline/model_hashes.h"
#include "pipeline/request.h"
#include "pipeline/request_check.h"

namespace sd::pipeline {

// What a job's memory grows with, taken from the loaded model (memory_admission.h).
struct MemoryProfile {
  uint64_t resident_bytes = 0;       // process RSS right after loading; 0 = not measured
  int activation_bytes = 4;          // bytes per activation element in the compute dtype
  int latent_factor = 8;             // image pixels per latent pixel, each way
  int unet_channels = 0;             // the UNet's first (widest-resolution) block width
  int64_t unet_skip_channels = 0;    // channels of every skip connection kept, per latent pixel
  int vae_top_channels = 0;          // the VAE's full-resolution block width
  int vae_next_channels = 0;         // the width of the block feeding it (upsampled)
  int vae_tile_pixels = 0;           // default tile edge for --vae-tiling
};

// A textual-inversion file of --embeddings-dir: the name prompts use, the vectors it puts
// in their place, and their width (SDXL's two encoders summed, as A1111 counts it).
struct EmbeddingInfo {
  std::string name;
  int64_t vectors = 0;
  int64_t width = 0;
};

// What the loaded model is and what it accepts, for /info and request defaults.
struct ModelInfo {
  std::string version;         // "v1-5", "v2-1", "xl", ...
  std::string model_path;
  std::string checkpoint_name;  // what the images' parameters call the model (A1111's "Model")
  std::string vae_path;        // the VAE replacing the model's own (--vae), empty for its own
  std::string device = "cpu";  // LoadOptions::device, as Device::str() writes it
  DType dtype = DType::F32;
  int native_width = 512;
  int native_height = 512;
  int default_steps = 20;
  float default_guidance = 7.5f;
  Sampler default_sampler = Sampler::Ddim;
  bool inpaint_model = false;  // 9-channel UNet
  // The text encoders read their layers from the weight files for each job
  // (loaders/model_set.h), since the whole model would not fit in LoadOptions::max_memory.
  bool text_encoders_streamed = false;
  RequestLimits limits;        // what check_request holds every request to
  // Preview modes with distinct output ("none", "latent", and "taesd" when TAESD is
  // loaded; a "taesd" request without it gets "latent") and final decoders ("vae", and
  // "taesd" when loaded).
  std::vector<std::string> preview_modes;
  std::vector<std::string> decoders;
  std::vector<EmbeddingInfo> embeddings;          // the textual inversions prompts may use
  std::vector<EmbeddingInfo> skipped_embeddings;  // read, but made for other text encoders
  MemoryProfile memory;
};

// The "auto" dtype on the CPU for the model `opt` names: bf16 where the CPU computes bf16
// faster than f32; else f32, unless the model would not fit in f32 in the memory available
// within opt.max_memory (pipeline/cpu_dtype.h).
DType default_cpu_dtype(const LoadOptions& opt);

class Pipeline {
 public:
  // Loads every component, then warm_up() unless opt.warm_up is false; throws sd::Error
  // naming the file and the reason.
  static std::unique_ptr<Pipeline> load(const LoadOptions& opt);
  virtual ~Pipeline() = default;

  virtual const ModelInfo& info() const = 0;
  // Generates one image of the native size with one step and the model's defaults,
  // discarding it: the text encoder, the UNet and the VAE then hold the primitives and
  // weight layouts a default job uses, and the tensor pool its blocks, so the first job's
  // first step runs as fast as its second and the first job as fast as the next.
  virtual void warm_up() = 0;
  // Runs one job on the calling thread: its batch_size images, in index order, each also
  // handed to on_image() as soon as it is ready. Throws sd::Cancelled when should_cancel()
  // says so (polled between steps and between the networks' blocks) and sd::Error for requests the model cannot serve.
  virtual std::vector<GenerationResult> generate_batch(const GenerationRequest& req,
                                                       const GenerationCallbacks& cb) = 0;
  // generate_batch() for a request of one image (batch_size 1, else sd::Error).
  GenerationResult generate(const GenerationRequest& req, const GenerationCallbacks& cb);
  // The checks generate() starts with (check_request, then what only the loaded networks
  // know), for a caller that wants them before it commits: throws RequestError.
  virtual void validate(const GenerationRequest& req) const = 0;
};

}  // namespace sd::pipeline
