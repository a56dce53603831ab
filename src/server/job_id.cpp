#include "server/job_id.h"

#include <uuid/uuid.h>

namespace sd::server {

std::string new_job_id() {
  uuid_t id;
  uuid_generate_random(id);
  char text[37];
  uuid_unparse_lower(id, text);
  return std::string("job-") + text;
}

}  // namespace sd::server
