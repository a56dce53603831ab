#pragma once
// Checks shared by the config parsers: a diffusers/transformers key that would change the
// architecture in a way the engine does not implement must stop the load with a message
// naming the file and the key, never be silently ignored.
#include <initializer_list>
#include <string>
#include <vector>

#include "io/json_file.h"

namespace sd::models {

// Throws sd::Error unless j[key] is absent, null, or equal to one of `supported`.
void require_supported(const io::Json& j, const std::string& key,
                       std::initializer_list<io::Json> supported, const std::string& what);

// Throws unless every element of `values` is one of `supported` (block type names).
void require_each_in(const std::vector<std::string>& values, const std::string& key,
                     std::initializer_list<const char*> supported, const std::string& what);

// Throws unless v > 0.
int require_positive(int v, const std::string& key, const std::string& what);

// "sample_size" as diffusers writes it: one positive number, or a square [h, w] (the
// model's native size is square).
int square_sample_size(const io::Json& j, int fallback, const std::string& what);

// A list of positive ints as json_int_list gives it, every entry checked.
std::vector<int> positive_int_list(const io::Json& j, const std::string& key, size_t n,
                                   const std::vector<int>& fallback, const std::string& what);

}  // namespace sd::models
