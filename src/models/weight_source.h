#pragma once
// Where model weights come from. Models ask for each tensor by its diffusers name within
// the component ("conv_in.weight", "text_model.final_layer_norm.bias"), its expected shape
// and the dtype they compute in; a source finds, renames, converts or generates it. This
// keeps the models ignorant of files: a diffusers folder, a single-file LDM checkpoint,
// a LoRA-merging wrapper or seeded random weights all plug in here.
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "core/weight_rows.h"
#include "io/safetensors.h"

namespace sd::models {

class WeightSource {
 public:
  virtual ~WeightSource() = default;

  virtual bool has(const std::string& name) const = 0;
  // The tensor `name` as `dtype` with exactly `shape`; throws sd::Error naming the source
  // and the tensor when it is missing or shaped otherwise.
  Tensor get(const std::string& name, const Shape& shape, DType dtype) const;
  // Says where the weights come from (a file path), for error messages.
  virtual std::string describe() const = 0;

  // Layers built from this source are prepared on `device` when they are built, their
  // weights read in bands of rows where the source can (rows()): no plain copy of those
  // is made. Without it, layers are built from plain tensors and prepared later.
  void prepare_layers_on(Device device);
  const std::optional<Device>& layers_device() const { return layers_device_; }
  // Where the host backend lays out the weights of those layers; rows() passes it on.
  const std::shared_ptr<WeightArena>& layers_arena() const { return layers_arena_; }
  // The tensor `name` read in bands of rows as `dtype`, checked as get() checks it; empty
  // when this source cannot read it that way (it generates, renames or reshapes it). The
  // result reads from this source: it must be used while the source lives.
  virtual std::optional<WeightRows> rows(const std::string& name, const Shape& shape, DType dtype) const;

 protected:
  // The tensor converted to `dtype`, or an undefined Tensor when the source lacks it.
  // `shape` is what the model expects: a source that generates or reshapes needs it; the
  // caller checks the result against it.
  virtual Tensor fetch(const std::string& name, const Shape& shape, DType dtype) const = 0;

 private:
  std::optional<Device> layers_device_;
  std::shared_ptr<WeightArena> layers_arena_;
};

// Safetensors files (one, or the shards of a `*.safetensors.index.json`); each tensor is
// read into memory the process owns as it is fetched.
class SafetensorsWeights : public WeightSource {
 public:
  explicit SafetensorsWeights(const std::vector<std::string>& paths);

  // The weights of one diffusers component folder (unet/, vae/, text_encoder/...):
  // diffusion_pytorch_model.safetensors or model.safetensors, their .fp16 variants, or a
  // sharded index of either. Throws sd::Error listing what it looked for.
  static std::unique_ptr<SafetensorsWeights> open_component(const std::string& dir);

  bool has(const std::string& name) const override;
  std::string describe() const override;
  std::optional<WeightRows> rows(const std::string& name, const Shape& shape, DType dtype) const override;
  const std::vector<io::SafetensorsFile>& files() const { return files_; }

  // Throws sd::Error when the files hold tensors nobody asked for (other than
  // `ignorable` buffers such as CLIP's position_ids): the config then describes a smaller
  // model than the weights, and running it would silently drop layers.
  void require_all_used(const std::vector<std::string>& ignorable = {}) const;

 protected:
  Tensor fetch(const std::string& name, const Shape& shape, DType dtype) const override;

 private:
  // The file holding `name` after the checks fetch() and rows() share; null when none does.
  const io::SafetensorsFile* checked_file(const std::string& name, const Shape& shape, DType dtype) const;

  std::vector<io::SafetensorsFile> files_;
  std::map<std::string, size_t> file_of_;  // tensor name -> index in files_
  mutable std::set<std::string> fetched_;
};

}  // namespace sd::models
