#include "bench/report.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cairn::bench {
namespace {

Cell Rate(const std::string& workload, const std::string& engine,
          double events_per_second) {
  Cell cell{workload, engine, {}, {}};
  cell.median.events = static_cast<uint64_t>(events_per_second);
  cell.median.seconds = 1;
  return cell;
}

Cell Open(const std::string& workload, double open_ms, uint64_t recovered) {
  Cell cell{workload, "cairn", {}, {}};
  cell.median.open_ms = open_ms;
  cell.median.recovered = recovered;
  return cell;
}

// The line of `lines` that begins with `prefix` ("" if none).
std::string Line(const std::vector<std::string>& lines,
                 const std::string& prefix) {
  for (const std::string& line : lines) {
    if (line.rfind(prefix, 0) == 0) return line;
  }
  return "";
}

bool Ends(const std::string& line, const std::string& tail) {
  return line.size() >= tail.size() &&
         line.compare(line.size() - tail.size(), tail.size(), tail) == 0;
}

TEST(Issue20Goals, EachTargetIsMetOrNotByItsOwnFigures) {
  Report report;
  report.cells = {
      Rate("append-os-b100-w8", "cairn", 600000),
      Rate("append-os-b100-w8", "cairn-direct", 1000000),  // 0.6x: met
      Rate("append-synced-b100-w8", "cairn", 100000),
      Rate("append-synced-b100-w8", "cairn-sealed-dict",
           50000),                                             // 0.5x: not met
      Rate("append-os-b100-w8", "cairn-sealed-dict", 360000),  // 0.6x: met
      Rate("read-stream", "cairn", 1000000),
      Rate("read-stream", "cairn-sealed-dict", 100000),  // 0.1x: not met
      Rate("append-os-b100-w2", "cairn", 1000000),       // w8 0.6x w2: not met
      Open("recovery-kill9", 9.5, 100000),               // met
      Open("recovery-kill9-10m", 301, 10000000),         // not met
  };
  Cell& read = report.cells[5];
  read.median.disk_events = 100000;
  read.median.disk_bytes = 50ull << 20;  // 50 MiB: met
  Cell& large = report.cells[9];
  large.median.disk_events = 10000000;
  large.median.disk_bytes = 5000000000;          // 500 B/ev
  large.median.disk_written_bytes = 4000000000;  // 400 B/ev: 1.25x, met

  std::vector<std::string> lines = CheckIssue20Goals(report);
  ASSERT_EQ(lines.size(), 9u);
  EXPECT_TRUE(Ends(Line(lines, "framework's own cost"), "= 0.60x -> MET"))
      << lines[0];
  EXPECT_TRUE(Ends(lines[1], "-> NOT MET")) << lines[1];
  EXPECT_TRUE(Ends(lines[2], "-> MET")) << lines[2];
  EXPECT_TRUE(Ends(Line(lines, "sealed reads"), "= 0.10x -> NOT MET"));
  EXPECT_TRUE(Ends(Line(lines, "open after kill -9 (100k"),
                   "9.5 ms with 100000 events recovered -> MET"));
  EXPECT_TRUE(Ends(Line(lines, "open after kill -9 (10 M"), "-> NOT MET"));
  EXPECT_TRUE(Ends(Line(lines, "disk in steady state"),
                   "500 allocated against 400 written B/ev = 1.25x -> MET"));
  EXPECT_TRUE(Ends(Line(lines, "disk: cairn's store"),
                   "50.0 MiB for 100000 events -> MET"));
  EXPECT_TRUE(
      Ends(Line(lines, "more writers than cores"), "= 0.60x -> NOT MET"));
}

TEST(Issue20Goals, AMissingOrFailedFigureIsSaidNotJudged) {
  Report report;
  report.cells = {Rate("append-os-b100-w8", "cairn", 600000)};
  Cell failed = Rate("read-stream", "cairn", 1000000);
  failed.median.error = "boom";
  report.cells.push_back(failed);
  std::vector<std::string> lines = CheckIssue20Goals(report);
  EXPECT_TRUE(Ends(Line(lines, "framework's own cost"),
                   "no figure (cairn-direct on append-os-b100-w8 not measured "
                   "in this run)"));
  EXPECT_TRUE(Ends(Line(lines, "disk: cairn's store"),
                   "no figure (cairn on read-stream failed)"));
  for (const std::string& line : lines) {
    EXPECT_EQ(line.find("MET"), std::string::npos) << line;
  }
}

TEST(Issue20Goals, TheTableAndTheJsonCarryThem) {
  Report report;
  report.suite = "standard";
  std::string table = FormatTable(report);
  EXPECT_NE(table.find("goals (issue 20):"), std::string::npos);
  EXPECT_NE(table.find("more writers than cores"), std::string::npos);
  EXPECT_NE(FormatJson(report).find("\"goals_issue_20\": ["),
            std::string::npos);
}

}  // namespace
}  // namespace cairn::bench
