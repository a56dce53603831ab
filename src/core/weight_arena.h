#pragma once
// Memory for the weights a model lays out as it loads, carved from large buffer-pool
// blocks so that many weights share each block's huge pages. A weight given a block of
// its own ends in a partial huge page of 4 KB pages, and in a virtual machine with shadow
// page tables the process's first write to each of those traps to the hypervisor, even
// populated (measured on a 2-core cloud VM: 1.65 s per GB of 4 KB pages, 0.04 s on huge
// pages): that was a fifth of loading SD1.5.
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "core/tensor.h"

namespace sd {

class WeightArena {
 public:
  WeightArena() = default;
  WeightArena(const WeightArena&) = delete;
  WeightArena& operator=(const WeightArena&) = delete;
  // Gives the room no weight took back to the system, in whole huge pages: an arena lives
  // while its model loads, and the last block's room would otherwise stay resident.
  ~WeightArena();

  // `bytes` bytes as a 1-D U8 tensor, 64-byte aligned, in one of the arena's blocks. The
  // tensor keeps its block alive: a block goes back to the pool once every weight in it is
  // freed, whether or not the arena still exists.
  Tensor allocate(size_t bytes);
  // Blocks taken from the pool so far.
  size_t blocks() const;

 private:
  struct Block;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Block>> blocks_;
  size_t next_block_bytes_ = size_t(2) << 20;
};

}  // namespace sd
