#include "models/module_registry.h"

#include "core/error.h"

namespace sd::models {

void ModuleRegistry::add(const std::string& path, ops::Linear& m) {
  if (m.defined()) insert(path, ModuleRef(m));
}

void ModuleRegistry::add(const std::string& path, ops::Conv2d& m) {
  if (m.defined()) insert(path, ModuleRef(m));
}

void ModuleRegistry::insert(const std::string& path, ModuleRef ref) {
  const bool fresh = modules_.emplace(path, ref).second;
  SD_CHECK(fresh, "module path \"" + path + "\" registered twice");
}

const ModuleRef* ModuleRegistry::find(const std::string& path) const {
  auto it = modules_.find(path);
  return it == modules_.end() ? nullptr : &it->second;
}

}  // namespace sd::models
