#pragma once
// The warnings a native job's answer carries for the fields the worker did not use:
// unknown names, the names other APIs use for a native field (A1111's cfg_scale is
// guidance_scale), and fields the job's operation has no use for.
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace sd::server {

// One line per key of `body` not in `used`, the key prefixed by `path` ("loras[0]."); at
// most a few dozen lines (the last one counts the rest), keys shortened.
std::vector<std::string> ignored_field_warnings(const nlohmann::json& body, const std::set<std::string>& used,
                                                const std::string& operation, const std::string& path = "");

}  // namespace sd::server
