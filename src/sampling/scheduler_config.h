#pragma once
// The scheduler settings of a diffusers scheduler_config.json. Keys whose default differs
// between diffusers scheduler classes stay optional, and each scheduler fills in its own
// class default when the JSON does not name them: one config file can drive every sampler,
// as Cls.from_config(config) does in diffusers.
#include <limits>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace sd::sampling {

struct SchedulerConfig {
  std::string class_name;  // "_class_name": which diffusers class wrote the file (informational)
  int num_train_timesteps = 1000;
  std::optional<double> beta_start;           // class default 0.0001 (LCM: 0.00085)
  std::optional<double> beta_end;             // 0.02 (LCM: 0.012)
  std::optional<std::string> beta_schedule;   // "linear" (LCM: "scaled_linear")
  std::vector<double> trained_betas;          // replaces the beta schedule when not empty
  bool rescale_betas_zero_snr = false;
  std::string prediction_type = "epsilon";    // epsilon | v_prediction | sample
  std::optional<std::string> timestep_spacing;  // linspace | leading | trailing
  int steps_offset = 0;
  std::optional<bool> set_alpha_to_one;       // DDIM, LCM: true; PNDM: false
  std::optional<bool> clip_sample;            // DDIM: true; others false
  double clip_sample_range = 1.0;
  std::optional<bool> skip_prk_steps;         // PNDM: class default false (PRK warm-up)
  bool use_karras_sigmas = false;
  bool use_exponential_sigmas = false;
  std::optional<double> sigma_min;            // Euler: ends of its Karras/exponential range
  std::optional<double> sigma_max;
  std::string final_sigmas_type = "zero";     // zero | sigma_min (Euler, DPM-Solver, UniPC)
  bool lower_order_final = true;              // DPM-Solver, UniPC
  bool euler_at_final = false;                // DPM-Solver
  double lambda_min_clipped = -std::numeric_limits<double>::infinity();  // DPM-Solver
  std::optional<std::string> solver_type;     // DPM-Solver: midpoint|heun; UniPC: bh1|bh2
  int solver_order = 2;                       // UniPC (the DPM++ 2M samplers are order 2)
  bool predict_x0 = true;                     // UniPC
  int original_inference_steps = 50;          // LCM
  double timestep_scaling = 10.0;             // LCM

  bool operator==(const SchedulerConfig&) const = default;
};

// Reads the content of a scheduler_config.json. Unknown keys are ignored, as diffusers
// ignores keys another class wrote; a known key of the wrong type, or one asking for
// behaviour this engine does not implement (thresholding, learned variance, Lu lambdas,
// beta sigmas, log-linear interpolation, continuous timesteps), throws
// sd::Error naming the key.
SchedulerConfig parse_scheduler_config(const nlohmann::json& j);

}  // namespace sd::sampling
