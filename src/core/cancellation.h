#pragma once
// Cooperative cancellation of a long computation on one thread. The caller (the pipeline,
// from its GenerationCallbacks::should_cancel) installs a CancellationScope; the networks
// call check_cancelled() between their blocks, a fraction of a second apart at any image
// size, so a cancel takes effect without waiting for a whole UNet step or VAE decode, and
// the models never see the pipeline's callbacks. Without a scope the check does nothing.
#include <functional>

namespace sd {

class CancellationScope {
 public:
  // should_cancel is polled by check_cancelled() on this thread while the scope lives; an
  // empty function never cancels.
  explicit CancellationScope(std::function<bool()> should_cancel);
  ~CancellationScope();  // reinstates the enclosing scope, if any
  CancellationScope(const CancellationScope&) = delete;
  CancellationScope& operator=(const CancellationScope&) = delete;

 private:
  friend void check_cancelled();
  std::function<bool()> should_cancel_;
  const CancellationScope* enclosing_;
};

// Throws sd::Cancelled when the innermost scope of the calling thread asks to stop.
void check_cancelled();

}  // namespace sd
