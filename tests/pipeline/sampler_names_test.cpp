// The one table of sampler and schedule names: our ids, A1111's names and aliases, ComfyUI's.
#include <gtest/gtest.h>

#include <set>

#include "pipeline/sampler_names.h"
#include "sampling/scheduler_factory.h"

namespace sd::pipeline {
namespace {

struct Named {
  const char* name;
  Sampler sampler;
  std::optional<Schedule> schedule;
};

TEST(SamplerNames, EveryA1111AndComfyUiNameMapsToItsSampler) {
  const std::vector<Named> names = {
      // A1111 (modules/sd_samplers_kdiffusion.py, sd_samplers_timesteps.py), names and aliases
      {"Euler a", Sampler::EulerA, {}},
      {"k_euler_a", Sampler::EulerA, {}},
      {"k_euler_ancestral", Sampler::EulerA, {}},
      {"Euler", Sampler::Euler, {}},
      {"k_euler", Sampler::Euler, {}},
      {"LMS", Sampler::Lms, {}},
      {"k_lms", Sampler::Lms, {}},
      {"Heun", Sampler::Heun, {}},
      {"k_heun", Sampler::Heun, {}},
      {"DPM++ 2M", Sampler::Dpmpp2m, {}},
      {"k_dpmpp_2m", Sampler::Dpmpp2m, {}},
      {"DPM++ 2M SDE", Sampler::Dpmpp2mSde, {}},
      {"k_dpmpp_2m_sde", Sampler::Dpmpp2mSde, {}},
      {"DDIM", Sampler::Ddim, {}},
      {"PLMS", Sampler::Pndm, {}},
      {"UniPC", Sampler::Unipc, {}},
      {"LCM", Sampler::Lcm, {}},
      {"k_lcm", Sampler::Lcm, {}},
      // A1111's legacy combined names
      {"DPM++ 2M Karras", Sampler::Dpmpp2m, Schedule::Karras},
      {"DPM++ 2M SDE Karras", Sampler::Dpmpp2mSde, Schedule::Karras},
      {"DPM++ 2M SDE Exponential", Sampler::Dpmpp2mSde, Schedule::Exponential},
      {"LMS Karras", Sampler::Lms, Schedule::Karras},
      {"Euler a Karras", Sampler::EulerA, Schedule::Karras},
      // ComfyUI's KSampler names
      {"euler", Sampler::Euler, {}},
      {"euler_ancestral", Sampler::EulerA, {}},
      {"heun", Sampler::Heun, {}},
      {"lms", Sampler::Lms, {}},
      {"dpmpp_2m", Sampler::Dpmpp2m, {}},
      {"dpmpp_2m_sde", Sampler::Dpmpp2mSde, {}},
      {"ddim", Sampler::Ddim, {}},
      {"uni_pc", Sampler::Unipc, {}},
      {"lcm", Sampler::Lcm, {}},
      // our ids
      {"euler_a", Sampler::EulerA, {}},
      {"pndm", Sampler::Pndm, {}},
      {"unipc", Sampler::Unipc, {}},
  };
  for (const Named& n : names) {
    const auto got = parse_sampler(n.name);
    ASSERT_TRUE(got) << n.name;
    EXPECT_EQ(got->sampler, n.sampler) << n.name;
    EXPECT_EQ(got->schedule, n.schedule) << n.name;
  }
}

TEST(SamplerNames, CaseDoesNotMatter) {
  for (const char* name : {"euler A", "EULER A", "dpm++ 2m karras", "Dpm++ 2M KARRAS", "Uni_PC", "plms", "DDIM"})
    EXPECT_TRUE(parse_sampler(name)) << name;
  EXPECT_EQ(parse_sampler("dpm++ 2m karras")->sampler, Sampler::Dpmpp2m);
  EXPECT_EQ(parse_sampler("DPM++ 2M KARRAS")->schedule, Schedule::Karras);
  EXPECT_EQ(parse_schedule("KARRAS"), Schedule::Karras);
  EXPECT_EQ(parse_schedule("Exponential"), Schedule::Exponential);
  EXPECT_EQ(parse_schedule("Automatic"), Schedule::Default);
  EXPECT_EQ(parse_schedule("default"), Schedule::Default);
}

TEST(SamplerNames, UnknownAndNearNamesAreRefused) {
  for (const char* name : {"", "warp", "Euler  a", "Euler a ", "DPM++ 2M Automatic", "DPM++ 2M Default", "Karras",
                           "DPM++ 2S a", "DPM2", "uni_pc_bh2", "euler_a karras karras", "dpmpp 2m"})
    EXPECT_FALSE(parse_sampler(name)) << name;
  // Other timestep spacings are not the model config's: refused rather than mislabelled.
  for (const char* name : {"normal", "simple", "sgm_uniform", "Uniform", "cosine", ""})
    EXPECT_FALSE(parse_schedule(name)) << name;
}

TEST(SamplerNames, IdsAndDisplayNamesRoundTrip) {
  std::set<std::string> ids, shown;
  for (const auto& row : sampler_names_table()) {
    EXPECT_STREQ(sampler_id(row.sampler), row.id);
    EXPECT_STREQ(sampler_display_name(row.sampler), row.display_name);
    EXPECT_EQ(parse_sampler(row.id)->sampler, row.sampler);
    EXPECT_EQ(parse_sampler(row.display_name)->sampler, row.sampler);
    for (const char* a : row.aliases) EXPECT_EQ(parse_sampler(a)->sampler, row.sampler) << a;
    EXPECT_TRUE(ids.insert(row.id).second) << row.id;
    EXPECT_TRUE(shown.insert(row.display_name).second) << row.display_name;
  }
  EXPECT_STREQ(sampler_display_name(Sampler::Dpmpp2m), "DPM++ 2M");
  EXPECT_STREQ(sampler_display_name(Sampler::EulerA), "Euler a");
  EXPECT_STREQ(schedule_display_name(Schedule::Karras), "Karras");
  EXPECT_STREQ(schedule_id(Schedule::Exponential), "exponential");
  for (const auto& row : schedule_names_table()) EXPECT_EQ(parse_schedule(row.id), row.schedule);
}

// The table and sampling/ agree: every id the table holds is one sampling/ builds, and
// every sampler sampling/ has is in the table.
TEST(SamplerNames, TheTableCoversExactlyWhatSamplingRuns) {
  std::vector<std::string> table_ids;
  for (const auto& row : sampler_names_table()) table_ids.push_back(row.id);
  EXPECT_EQ(table_ids, sampling::sampler_names());
  std::vector<std::string> schedule_ids;
  for (const auto& row : schedule_names_table()) schedule_ids.push_back(row.id);
  EXPECT_EQ(schedule_ids, sampling::schedule_names());
  EXPECT_EQ(schedules_for(Sampler::Pndm), std::vector<Schedule>{Schedule::Default});
  EXPECT_EQ(schedules_for(Sampler::Dpmpp2m).size(), 3u);
}

TEST(SamplerNames, AnExplicitScheduleAndACombinedNameMeet) {
  const SamplerChoice plain{Sampler::Dpmpp2m, std::nullopt}, karras{Sampler::Dpmpp2m, Schedule::Karras};
  EXPECT_EQ(choose_schedule(plain, std::nullopt), Schedule::Default);
  EXPECT_EQ(choose_schedule(plain, Schedule::Exponential), Schedule::Exponential);
  EXPECT_EQ(choose_schedule(karras, std::nullopt), Schedule::Karras);
  EXPECT_EQ(choose_schedule(karras, Schedule::Default), Schedule::Karras);  // "Automatic"
  EXPECT_EQ(choose_schedule(karras, Schedule::Karras), Schedule::Karras);
  EXPECT_EQ(choose_schedule(karras, Schedule::Exponential), std::nullopt);
}

}  // namespace
}  // namespace sd::pipeline
