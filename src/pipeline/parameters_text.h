#pragma once
// The "parameters" text that A1111-compatible tools read from a PNG's tEXt chunk.
#include <string>

#include "pipeline/request.h"

namespace sd::pipeline {

// prompt, then "Negative prompt: ...", then "Steps: 20, Sampler: ddim, ..., Seed: 42, ...".
// Deterministic in the request alone, so the same job gives the same PNG bytes anywhere.
std::string parameters_text(const GenerationRequest& req, const std::string& model_version);

}  // namespace sd::pipeline
