#include "ops/dispatch.h"

#include "core/error.h"

namespace sd::ops {

backend::Backend& backend_of(const Tensor& t) { return backend::backend_for(t.device()); }

backend::Backend& backend_of(const char* op, std::initializer_list<const Tensor*> ts) {
  const Device d = (*ts.begin())->device();
  for (const Tensor* t : ts)
    if (t->defined() && t->device() != d)
      throw Error(std::string(op) + ": inputs on " + d.str() + " and " + t->device().str() +
                  " (move them to one device first)");
  return backend::backend_for(d);
}

}  // namespace sd::ops
