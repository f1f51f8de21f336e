// What a plan's results look like to people (table, chart) and machines
// (JSON), and the issue's goals checked against them.
#ifndef CAIRN_BENCH_REPORT_H_
#define CAIRN_BENCH_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/machine.h"
#include "bench/runner.h"

namespace cairn::bench {

struct Report {
  std::string suite;
  std::string command;  // the command line that produced it
  MachineProfile machine;
  Plan plan;
  std::vector<Cell> cells;
  double wall_seconds = 0;
};

// The machine, then one table per workload: events/s, MB/s, p50/p99/p99.9
// latency, peak RSS, peak anonymous memory, bytes on disk per event, and the
// ratio of each engine to Cairn; recovery tables show open times. Then the
// goals.
std::string FormatTable(const Report& report);

// One line per goal of issue 7: the ratio found and whether it holds.
std::vector<std::string> CheckGoals(const Report& report);
// One line per target of issue 20 (the framework's own cost, sealed writes
// and reads, open after kill -9, disk per event, more writers than cores):
// the figures, and MET or NOT MET, or why the run has no figure for it.
std::vector<std::string> CheckIssue20Goals(const Report& report);

std::string FormatJson(const Report& report);

// Writes `<stem>.dat` and `<stem>.gp` and runs gnuplot to draw `<stem>.png`
// (throughput, p99 latency, recovery open time by workload and engine).
// Fails saying so when gnuplot is missing or fails.
absl::Status DrawChart(const Report& report, const std::string& stem);

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_REPORT_H_
