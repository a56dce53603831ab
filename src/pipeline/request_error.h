#pragma once
// A request the pipeline refuses, with the field it blames, so each front end can report
// it in its own terms (the native API's "field", the CLI's flag).
#include <string>

#include "core/error.h"

namespace sd::pipeline {

class RequestError : public Error {
 public:
  // `field` is the native job field ("steps", "loras[1].strength"); `detail` the rest of
  // the sentence ("must be between 1 and 150, got 200"). what() is both.
  RequestError(std::string field, std::string detail)
      : Error(field + " " + detail), field_(std::move(field)), detail_(std::move(detail)) {}
  const std::string& field() const { return field_; }
  const std::string& detail() const { return detail_; }

 private:
  std::string field_;
  std::string detail_;
};

}  // namespace sd::pipeline
