#include "sampling/scheduler_config.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace sd::sampling {

namespace {

using Json = nlohmann::json;

[[noreturn]] void bad(const std::string& key, const std::string& want) {
  throw Error("scheduler config: '" + key + "' must be " + want);
}

const Json* find(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

// A number, or the strings "inf"/"-inf"/"Infinity"/"-Infinity" that Python's json writes for
// non-finite floats.
std::optional<double> get_number(const Json& j, const char* key) {
  const Json* v = find(j, key);
  if (!v) return std::nullopt;
  if (v->is_number()) return v->get<double>();
  if (v->is_string()) {
    const std::string s = v->get<std::string>();
    if (s == "inf" || s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-inf" || s == "-Infinity") return -std::numeric_limits<double>::infinity();
  }
  bad(key, "a number");
}

std::optional<int> get_int(const Json& j, const char* key) {
  const Json* v = find(j, key);
  if (!v) return std::nullopt;
  if (v->is_number_integer()) return v->get<int>();
  if (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>()) return int(v->get<double>());
  bad(key, "an integer");
}

std::optional<bool> get_bool(const Json& j, const char* key) {
  const Json* v = find(j, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) bad(key, "true or false");
  return v->get<bool>();
}

std::optional<std::string> get_string(const Json& j, const char* key) {
  const Json* v = find(j, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) bad(key, "a string");
  return v->get<std::string>();
}

template <class T>
void set(T& field, const std::optional<T>& v) {
  if (v) field = *v;
}

void reject_if(bool unsupported, const std::string& what) {
  if (unsupported) throw Error("scheduler config: " + what + " is not supported");
}

}  // namespace

SchedulerConfig parse_scheduler_config(const Json& j) {
  if (!j.is_object()) throw Error("scheduler config: expected a JSON object");
  SchedulerConfig c;
  set(c.class_name, get_string(j, "_class_name"));
  set(c.num_train_timesteps, get_int(j, "num_train_timesteps"));
  if (c.num_train_timesteps < 2 || c.num_train_timesteps > 100000)
    bad("num_train_timesteps", "between 2 and 100000");
  c.beta_start = get_number(j, "beta_start");
  c.beta_end = get_number(j, "beta_end");
  c.beta_schedule = get_string(j, "beta_schedule");
  if (const Json* tb = find(j, "trained_betas")) {
    if (!tb->is_array()) bad("trained_betas", "a list of numbers or null");
    for (const Json& b : *tb) {
      if (!b.is_number()) bad("trained_betas", "a list of numbers or null");
      c.trained_betas.push_back(b.get<double>());
    }
  }
  set(c.rescale_betas_zero_snr, get_bool(j, "rescale_betas_zero_snr"));
  set(c.prediction_type, get_string(j, "prediction_type"));
  if (c.prediction_type != "epsilon" && c.prediction_type != "v_prediction" &&
      c.prediction_type != "sample")
    bad("prediction_type", "epsilon, v_prediction or sample, not '" + c.prediction_type + "'");
  c.timestep_spacing = get_string(j, "timestep_spacing");
  set(c.steps_offset, get_int(j, "steps_offset"));
  c.set_alpha_to_one = get_bool(j, "set_alpha_to_one");
  c.clip_sample = get_bool(j, "clip_sample");
  set(c.clip_sample_range, get_number(j, "clip_sample_range"));
  c.skip_prk_steps = get_bool(j, "skip_prk_steps");
  set(c.use_karras_sigmas, get_bool(j, "use_karras_sigmas"));
  set(c.use_exponential_sigmas, get_bool(j, "use_exponential_sigmas"));
  if (c.use_karras_sigmas && c.use_exponential_sigmas)
    bad("use_karras_sigmas", "false when use_exponential_sigmas is true");
  c.sigma_min = get_number(j, "sigma_min");
  c.sigma_max = get_number(j, "sigma_max");
  set(c.final_sigmas_type, get_string(j, "final_sigmas_type"));
  if (c.final_sigmas_type != "zero" && c.final_sigmas_type != "sigma_min")
    bad("final_sigmas_type", "zero or sigma_min");
  set(c.lower_order_final, get_bool(j, "lower_order_final"));
  set(c.euler_at_final, get_bool(j, "euler_at_final"));
  set(c.lambda_min_clipped, get_number(j, "lambda_min_clipped"));
  c.solver_type = get_string(j, "solver_type");
  set(c.solver_order, get_int(j, "solver_order"));
  if (c.solver_order < 1 || c.solver_order > 3) bad("solver_order", "1, 2 or 3");
  set(c.predict_x0, get_bool(j, "predict_x0"));
  set(c.original_inference_steps, get_int(j, "original_inference_steps"));
  if (c.original_inference_steps < 1) bad("original_inference_steps", "positive");
  set(c.timestep_scaling, get_number(j, "timestep_scaling"));

  reject_if(get_bool(j, "thresholding").value_or(false), "thresholding");
  reject_if(get_bool(j, "use_beta_sigmas").value_or(false), "use_beta_sigmas");
  reject_if(get_bool(j, "use_lu_lambdas").value_or(false), "use_lu_lambdas");
  reject_if(get_bool(j, "use_flow_sigmas").value_or(false), "use_flow_sigmas");
  const std::string variance = get_string(j, "variance_type").value_or("");
  reject_if(variance == "learned" || variance == "learned_range", "variance_type '" + variance + "'");
  const std::string interpolation = get_string(j, "interpolation_type").value_or("linear");
  reject_if(interpolation != "linear", "interpolation_type '" + interpolation + "'");
  const std::string timestep_type = get_string(j, "timestep_type").value_or("discrete");
  reject_if(timestep_type != "discrete", "timestep_type '" + timestep_type + "'");
  return c;
}

}  // namespace sd::sampling
