#include "server/a1111_calls.h"

#include <algorithm>

namespace sd::server {

void A1111Calls::add(std::shared_ptr<A1111Call> call) {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.push_back(std::move(call));
}

void A1111Calls::remove(const A1111Call* call) {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(calls_, [&](const auto& c) { return c.get() == call; });
}

std::shared_ptr<A1111Call> A1111Calls::current(const std::function<bool(const A1111Call&)>& finished) {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(calls_, [&](const auto& c) { return finished(*c); });
  return calls_.empty() ? nullptr : calls_.front();
}

}  // namespace sd::server
