#pragma once
// A1111's generation parameters text (a PNG's "parameters" chunk) read into the fields
// /sdapi/v1/png-info answers, as A1111's parse_generation_parameters does: "Prompt",
// "Negative prompt", then each "Key: value" of the last line ("Steps": "20"), with
// "Size" also split into "Size-1" and "Size-2". Values stay text; quoted ones are unquoted.
#include <nlohmann/json.hpp>
#include <string>

namespace sd::server {

nlohmann::json parse_a1111_infotext(const std::string& text);

}  // namespace sd::server
