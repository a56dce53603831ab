#pragma once
// OpenAI's images API on the worker's queue and engine, for the clients written against
// it (the official SDKs, chat front ends, agent frameworks):
//   POST /v1/images/generations   JSON: txt2img
//   POST /v1/images/edits         multipart/form-data: img2img, or inpainting with a mask
//   GET  /v1/images/files/{id}.png  the images of url answers, kept for the job retention time
//   GET  /v1/models, /v1/models/{id}
// Errors come in OpenAI's shape (openai_error.h), the bearer token refusal included.
#include "server/http/router.h"

namespace sd::server {

struct WorkerConfig;
class JobRegistry;
class WorkerState;

// Everything referenced must outlive the server.
void install_openai_routes(http::Router& router, const WorkerConfig& cfg, JobRegistry& registry, WorkerState& state);

}  // namespace sd::server
