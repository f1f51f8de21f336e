#include "bench/suite.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "bench/runner.h"

namespace cairn::bench {
namespace {

TEST(BenchSuite, QuickAndStandardRunTheSameWorkloads) {
  auto quick = MakeSuite("quick");
  auto standard = MakeSuite("standard");
  ASSERT_TRUE(quick.ok() && standard.ok());
  ASSERT_EQ(quick->workloads.size(), standard->workloads.size());
  for (size_t i = 0; i < quick->workloads.size(); ++i) {
    EXPECT_EQ(quick->workloads[i].name, standard->workloads[i].name);
    EXPECT_LE(quick->workloads[i].seconds, standard->workloads[i].seconds);
  }
  EXPECT_GE(standard->runs, 3);
}

TEST(BenchSuite, StandardHoldsTheIssuesGoalWorkloads) {
  auto standard = MakeSuite("standard");
  ASSERT_TRUE(standard.ok());
  auto goal = SelectWorkloads(*standard, "append-synced-b100-w8");
  ASSERT_TRUE(goal.ok()) << goal.status();
  ASSERT_EQ(goal->size(), 1u);
  EXPECT_EQ((*goal)[0].batch, 100u);
  EXPECT_EQ((*goal)[0].writers, 8u);
  EXPECT_EQ((*goal)[0].durability, Durability::kSynced);
}

TEST(BenchSuite, StandardHoldsIssue20sWorkloads) {
  auto standard = MakeSuite("standard");
  ASSERT_TRUE(standard.ok());
  auto goal =
      SelectWorkloads(*standard, "append-os-b100-w2,recovery-kill9-10m");
  ASSERT_TRUE(goal.ok()) << goal.status();
  ASSERT_EQ(goal->size(), 2u);
  EXPECT_EQ((*goal)[0].writers, 2u);
  EXPECT_EQ((*goal)[0].durability, Durability::kOsCache);
  EXPECT_EQ((*goal)[1].preload_events, 10000000u);
  EXPECT_EQ((*goal)[1].only_engines, std::vector<std::string>{"cairn"});
}

// A workload limited to some engines gets cells for those only, and the
// runs still rotate through them.
TEST(BenchRunner, AWorkloadRunsOnlyOnTheEnginesItNames) {
  Plan plan;
  WorkloadSpec everyone;
  everyone.name = "everyone";
  WorkloadSpec some;
  some.name = "some";
  some.only_engines = {"b"};
  plan.workloads = {everyone, some};
  plan.engines = {"a", "b", "c"};
  plan.runs = 2;
  plan.work_dir = ::testing::TempDir();
  std::vector<std::string> ran;
  auto cells = RunPlan(plan, [&](size_t, size_t, const WorkloadSpec& spec,
                                 const std::string& engine, int) {
    ran.push_back(spec.name + "/" + engine);
  });
  ASSERT_EQ(cells.size(), 4u);
  EXPECT_EQ(cells[3].workload, "some");
  EXPECT_EQ(cells[3].engine, "b");
  EXPECT_EQ(std::count(ran.begin(), ran.end(), "some/b"), 2);
  EXPECT_EQ(std::count(ran.begin(), ran.end(), "some/a"), 0);
}

TEST(BenchSuite, UnknownSuiteAndWorkloadAreNamed) {
  auto suite = MakeSuite("huge");
  ASSERT_FALSE(suite.ok());
  EXPECT_NE(suite.status().message().find("huge"), absl::string_view::npos);
  auto standard = MakeSuite("standard");
  auto selected = SelectWorkloads(*standard, "read-all,append-sideways");
  ASSERT_FALSE(selected.ok());
  EXPECT_NE(selected.status().message().find("append-sideways"), absl::string_view::npos);
}

TEST(BenchSuite, BadParametersAreRefusedWithTheReason) {
  WorkloadSpec spec;
  EXPECT_TRUE(SetParameter(&spec, "batch", "250").ok());
  EXPECT_EQ(spec.batch, 250u);
  EXPECT_TRUE(SetParameter(&spec, "durability", "os-cache").ok());
  EXPECT_EQ(spec.durability, Durability::kOsCache);
  EXPECT_FALSE(SetParameter(&spec, "batch", "0").ok());
  EXPECT_FALSE(SetParameter(&spec, "batch", "ten").ok());
  EXPECT_FALSE(SetParameter(&spec, "durability", "maybe").ok());
  EXPECT_FALSE(SetParameter(&spec, "seconds", "-1").ok());
  absl::Status unknown = SetParameter(&spec, "colour", "red");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.message().find("colour"), absl::string_view::npos);
}

TEST(BenchRunner, ResultSurvivesTheTripFromChildToParent) {
  RunResult result;
  result.events = 12345;
  result.seconds = 1.5;
  result.p99_us = 987.5;
  result.open_ms = 3.25;
  RunResult back = ParseResult(SerializeResult(result));
  EXPECT_TRUE(back.ok()) << back.error;
  EXPECT_EQ(back.events, 12345u);
  EXPECT_DOUBLE_EQ(back.seconds, 1.5);
  EXPECT_DOUBLE_EQ(back.p99_us, 987.5);
  EXPECT_DOUBLE_EQ(back.open_ms, 3.25);
}

TEST(BenchRunner, ChildThatDiesSilentlyIsAnError) {
  EXPECT_FALSE(ParseResult("events=5\n").ok());
  RunResult failed;
  failed.error = "engine said\nno";
  RunResult back = ParseResult(SerializeResult(failed));
  EXPECT_EQ(back.error, "engine said no");
}

TEST(BenchRunner, MedianTakesTheMiddleRunsRateAndSkipsFailures) {
  std::vector<RunResult> runs(4);
  runs[0].events = 100, runs[0].seconds = 1;
  runs[1].events = 300, runs[1].seconds = 1;
  runs[2].events = 200, runs[2].seconds = 1;
  runs[3].error = "crashed";
  RunResult median = MedianOf(runs);
  EXPECT_TRUE(median.ok());
  EXPECT_DOUBLE_EQ(median.events_per_second(), 200);
  std::vector<RunResult> all_failed(2);
  all_failed[0].error = all_failed[1].error = "no disk";
  EXPECT_FALSE(MedianOf(all_failed).ok());
}

}  // namespace
}  // namespace cairn::bench
