#include "core/cancellation.h"

#include "core/error.h"

namespace sd {

namespace {
thread_local const CancellationScope* current_scope = nullptr;
}  // namespace

CancellationScope::CancellationScope(std::function<bool()> should_cancel)
    : should_cancel_(std::move(should_cancel)), enclosing_(current_scope) {
  current_scope = this;
}

CancellationScope::~CancellationScope() { current_scope = enclosing_; }

void check_cancelled() {
  const CancellationScope* scope = current_scope;
  if (scope && scope->should_cancel_ && scope->should_cancel_()) throw Cancelled();
}

}  // namespace sd
