#include "bench/report.h"

#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace cairn::bench {
namespace {

bool IsRecovery(WorkloadKind kind) {
  return kind == WorkloadKind::kRecoveryClean || kind == WorkloadKind::kRecoveryKill;
}

const Cell* FindCell(const Report& report, const std::string& workload,
                     const std::string& engine) {
  for (const Cell& cell : report.cells) {
    if (cell.workload == workload && cell.engine == engine) return &cell;
  }
  return nullptr;
}

std::string Mega(uint64_t bytes) { return absl::StrFormat("%.1f", bytes / 1048576.0); }

std::string Rate(double value) {
  if (value >= 1e6) return absl::StrFormat("%.2fM", value / 1e6);
  if (value >= 1e4) return absl::StrFormat("%.1fk", value / 1e3);
  return absl::StrFormat("%.0f", value);
}

std::string Micros(double us) {
  if (us >= 1e6) return absl::StrFormat("%.2fs", us / 1e6);
  if (us >= 1e4) return absl::StrFormat("%.1fms", us / 1e3);
  if (us < 10) return absl::StrFormat("%.1f", us);
  return absl::StrFormat("%.0f", us);
}

// `text` as a JSON string, quotes included (bytes that are not UTF-8, e.g.
// from a CPU model name, become U+FFFD).
std::string JsonString(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false,
                                   nlohmann::json::error_handler_t::replace);
}

std::string JsonNumber(double value) {
  if (!(value == value) || value > 1e300 || value < -1e300) return "null";
  return absl::StrFormat("%.6g", value);
}

std::string ResultJson(const RunResult& r) {
  if (!r.ok()) return absl::StrCat("{\"error\": ", JsonString(r.error), "}");
  return absl::StrCat(
      "{\"events\": ", r.events, ", \"payload_bytes\": ", r.payload_bytes,
      ", \"seconds\": ", JsonNumber(r.seconds),
      ", \"events_per_second\": ", JsonNumber(r.events_per_second()),
      ", \"mb_per_second\": ", JsonNumber(r.megabytes_per_second()),
      ", \"p50_us\": ", JsonNumber(r.p50_us),
      ", \"p99_us\": ", JsonNumber(r.p99_us),
      ", \"p999_us\": ", JsonNumber(r.p999_us),
      ", \"peak_rss_bytes\": ", r.peak_rss_bytes,
      ", \"peak_anon_bytes\": ", r.peak_anon_bytes,
      ", \"disk_bytes\": ", r.disk_bytes,
      ", \"disk_bytes_per_event\": ", JsonNumber(r.disk_bytes_per_event()),
      ", \"disk_written_bytes\": ", r.disk_written_bytes,
      ", \"disk_written_bytes_per_event\": ",
      JsonNumber(r.disk_written_bytes_per_event()),
      ", \"open_ms\": ", JsonNumber(r.open_ms),
      ", \"acknowledged\": ", r.acknowledged, ", \"recovered\": ", r.recovered,
      "}");
}

// ratio = numerator's figure / denominator's figure for one workload.
struct Goal {
  const char* text;
  const char* workload;
  const char* other;
  double at_least;      // Cairn's figure / other's figure must be >= this
  bool lower_is_better; // compare anonymous memory instead of rate
};

constexpr Goal kGoals[] = {
    {"Cairn >= 10x SQLite, synced appends, batch 100, 8 writers", "append-synced-b100-w8",
     "sqlite", 10, false},
    {"Cairn >= 3x RocksDB, synced appends, batch 100, 8 writers", "append-synced-b100-w8",
     "rocksdb", 3, false},
    {"Cairn >= 30x LMDB, unsynced appends, batch 100, 8 writers", "append-os-b100-w8",
     "lmdb", 30, false},
    {"Cairn >= 2x LMDB, reading a 1,000-event stream", "read-stream", "lmdb", 2, false},
    {"Cairn uses less anonymous memory than RocksDB (unsynced appends)",
     "append-os-b100-w8", "rocksdb", 1, true},
};

// A figure of one cell: an error text instead of a value when the run did
// not measure it.
struct Figure {
  double value = 0;
  std::string missing;  // why there is no value ("" when there is)
};

Figure Measure(const Report& report, const char* workload, const char* engine,
               double (*pick)(const RunResult&)) {
  const Cell* cell = FindCell(report, workload, engine);
  if (cell == nullptr)
    return {
        0, absl::StrCat(engine, " on ", workload, " not measured in this run")};
  if (!cell->median.ok())
    return {0, absl::StrCat(engine, " on ", workload, " failed")};
  return {pick(cell->median), ""};
}

double EventsPerSecond(const RunResult& r) { return r.events_per_second(); }
double OpenMs(const RunResult& r) { return r.open_ms; }
double AllocatedBytes(const RunResult& r) {
  return static_cast<double>(r.disk_bytes);
}
double DiskPerEvent(const RunResult& r) { return r.disk_bytes_per_event(); }
double WrittenPerEvent(const RunResult& r) {
  return r.disk_written_bytes_per_event();
}

// "<text>: <detail> -> MET" (or NOT MET), or why it was not measured.
std::string Verdict(const std::string& text, const Figure& a, const Figure& b,
                    const std::function<std::string()>& detail, bool met) {
  if (!a.missing.empty())
    return absl::StrCat(text, ": no figure (", a.missing, ")");
  if (!b.missing.empty())
    return absl::StrCat(text, ": no figure (", b.missing, ")");
  return absl::StrCat(text, ": ", detail(), " -> ", met ? "MET" : "NOT MET");
}

// numerator / denominator events per second >= at_least.
std::string RatioGoal(const Report& report, const std::string& text,
                      const char* workload_a, const char* engine_a,
                      const char* workload_b, const char* engine_b,
                      double at_least) {
  Figure a = Measure(report, workload_a, engine_a, &EventsPerSecond);
  Figure b = Measure(report, workload_b, engine_b, &EventsPerSecond);
  double ratio = b.value > 0 ? a.value / b.value : 0;
  return Verdict(
      text, a, b,
      [&] {
        return absl::StrFormat("%s against %s ev/s = %.2fx", Rate(a.value),
                               Rate(b.value), ratio);
      },
      ratio >= at_least);
}

}  // namespace

std::vector<std::string> CheckIssue20Goals(const Report& report) {
  std::vector<std::string> lines;
  lines.push_back(RatioGoal(
      report,
      "framework's own cost: cairn >= 0.5x cairn-direct (storage alone), "
      "unsynced appends, batch 100, 8 writers",
      "append-os-b100-w8", "cairn", "append-os-b100-w8", "cairn-direct", 0.5));
  lines.push_back(RatioGoal(
      report,
      "sealed writes: cairn-sealed-dict >= 0.6x cairn, synced appends, "
      "batch 100, 8 writers",
      "append-synced-b100-w8", "cairn-sealed-dict", "append-synced-b100-w8",
      "cairn", 0.6));
  lines.push_back(RatioGoal(
      report,
      "sealed writes: cairn-sealed-dict >= 0.6x cairn, unsynced appends, "
      "batch 100, 8 writers",
      "append-os-b100-w8", "cairn-sealed-dict", "append-os-b100-w8", "cairn",
      0.6));
  lines.push_back(RatioGoal(
      report,
      "sealed reads: cairn-sealed-dict >= 0.5x cairn, reading a "
      "1,000-event stream",
      "read-stream", "cairn-sealed-dict", "read-stream", "cairn", 0.5));
  for (auto [workload, bound, events] :
       {std::tuple{"recovery-kill9", 10.0, "100k"},
        std::tuple{"recovery-kill9-10m", 300.0, "10 M"}}) {
    Figure open = Measure(report, workload, "cairn", &OpenMs);
    Figure recovered = Measure(
        report, workload, "cairn",
        [](const RunResult& r) { return static_cast<double>(r.recovered); });
    lines.push_back(Verdict(
        absl::StrFormat("open after kill -9 (%s events): cairn <= %.0f ms",
                        events, bound),
        open, recovered,
        [&] {
          return absl::StrFormat("%.1f ms with %.0f events recovered",
                                 open.value, recovered.value);
        },
        open.value <= bound));
  }
  // Steady state: the 10 M-event store, where what is allocated ahead of
  // the appenders (a step of the active segment, the spare, the index
  // arenas) is small beside the data. The 100k-event store's total is the
  // next goal.
  Figure allocated =
      Measure(report, "recovery-kill9-10m", "cairn", &DiskPerEvent);
  Figure written =
      Measure(report, "recovery-kill9-10m", "cairn", &WrittenPerEvent);
  lines.push_back(Verdict(
      "disk in steady state: cairn allocates <= 1.3x the bytes it has written "
      "per event "
      "(records, headers, indexes; the recovery-kill9-10m store)",
      allocated, written,
      [&] {
        return absl::StrFormat(
            "%.0f allocated against %.0f written B/ev = %.2fx", allocated.value,
            written.value,
            written.value > 0 ? allocated.value / written.value : 0);
      },
      written.value > 0 && allocated.value <= 1.3 * written.value));
  Figure total = Measure(report, "read-stream", "cairn", &AllocatedBytes);
  Figure events = Measure(
      report, "read-stream", "cairn",
      [](const RunResult& r) { return static_cast<double>(r.disk_events); });
  lines.push_back(Verdict(
      "disk: cairn's store of the read-stream events (100k of 256 bytes) <= 64 "
      "MiB",
      total, events,
      [&] {
        return absl::StrFormat("%s MiB for %.0f events",
                               Mega(static_cast<uint64_t>(total.value)),
                               events.value);
      },
      total.value <= 64.0 * 1048576));
  lines.push_back(RatioGoal(
      report,
      "more writers than cores: cairn 8 writers >= 0.8x 2 writers, unsynced "
      "appends, batch 100",
      "append-os-b100-w8", "cairn", "append-os-b100-w2", "cairn", 0.8));
  return lines;
}

std::vector<std::string> CheckGoals(const Report& report) {
  std::vector<std::string> lines;
  for (const Goal& goal : kGoals) {
    const Cell* cairn = FindCell(report, goal.workload, "cairn");
    const Cell* other = FindCell(report, goal.workload, goal.other);
    if (cairn == nullptr || other == nullptr) {
      lines.push_back(absl::StrCat(goal.text, ": not measured in this run"));
      continue;
    }
    if (!cairn->median.ok() || !other->median.ok()) {
      lines.push_back(absl::StrCat(goal.text, ": no figure (",
                                   !cairn->median.ok() ? "cairn" : goal.other, " failed)"));
      continue;
    }
    if (goal.lower_is_better) {
      double mine = static_cast<double>(cairn->median.peak_anon_bytes);
      double theirs = static_cast<double>(other->median.peak_anon_bytes);
      bool met = mine < theirs;
      lines.push_back(absl::StrFormat("%s: cairn %s MiB vs %s %s MiB -> %s", goal.text,
                                      Mega(cairn->median.peak_anon_bytes), goal.other,
                                      Mega(other->median.peak_anon_bytes),
                                      met ? "MET" : "NOT MET"));
      continue;
    }
    double theirs = other->median.events_per_second();
    double ratio = theirs > 0 ? cairn->median.events_per_second() / theirs : 0;
    lines.push_back(absl::StrFormat("%s: %.2fx -> %s", goal.text, ratio,
                                    ratio >= goal.at_least ? "MET" : "NOT MET"));
  }
  return lines;
}

std::string FormatTable(const Report& report) {
  std::ostringstream out;
  const MachineProfile& m = report.machine;
  out << absl::StrFormat(
      "machine: %u cores (%s), %.1f GiB memory, kernel %s, %s\n"
      "         fsync (4 KiB + fdatasync) p50 %.0f us, p99 %.0f us; memcpy %.1f GB/s; "
      "load average %.1f\n",
      m.cores, m.cpu_model, m.memory_bytes / 1073741824.0, m.kernel, m.filesystem,
      m.fsync_p50_us, m.fsync_p99_us, m.memcpy_gb_per_s, m.load_average);
  out << absl::StrFormat("suite: %s, %d run(s) each, median shown; %.0f s in all\n",
                         report.suite, report.plan.runs, report.wall_seconds);
  for (const WorkloadSpec& spec : report.plan.workloads) {
    out << "\n" << spec.name << "  (" << DescribeParameters(spec) << ")\n";
    const Cell* cairn = FindCell(report, spec.name, "cairn");
    bool recovery = IsRecovery(spec.kind);
    if (recovery) {
      out << absl::StrFormat("  %-17s %10s %12s %12s %10s %9s %10s %9s %9s\n",
                             "engine", "open ms", "recovered", "acked",
                             "peak RSS", "anon MiB", "disk B/ev", "wrtn B/ev",
                             "vs cairn");
    } else {
      out << absl::StrFormat(
          "  %-17s %9s %8s %8s %8s %8s %9s %9s %9s %9s %9s\n", "engine",
          "events/s", "MB/s", "p50 us", "p99 us", "p99.9 us", "RSS MiB",
          "anon MiB", "disk B/ev", "wrtn B/ev", "vs cairn");
    }
    for (const std::string& engine : report.plan.engines) {
      const Cell* cell = FindCell(report, spec.name, engine);
      if (cell == nullptr) continue;
      const RunResult& r = cell->median;
      if (!r.ok()) {
        out << absl::StrFormat("  %-17s failed: %s\n", engine, r.error);
        continue;
      }
      std::string ratio = "-";
      if (cairn != nullptr && cairn->median.ok()) {
        if (recovery && cairn->median.open_ms > 0) {
          ratio = absl::StrFormat("%.2fx", r.open_ms / cairn->median.open_ms);
        } else if (spec.rate > 0 && cairn->median.p99_us > 0) {
          ratio = absl::StrFormat("%.2fx", r.p99_us / cairn->median.p99_us);
        } else if (!recovery && cairn->median.events_per_second() > 0) {
          ratio = absl::StrFormat("%.2fx",
                                  r.events_per_second() / cairn->median.events_per_second());
        }
      }
      if (recovery) {
        out << absl::StrFormat(
            "  %-17s %10.1f %12d %12d %10s %9s %10.0f %9.0f %9s\n", engine,
            r.open_ms, r.recovered, r.acknowledged, Mega(r.peak_rss_bytes),
            Mega(r.peak_anon_bytes), r.disk_bytes_per_event(),
            r.disk_written_bytes_per_event(), ratio);
      } else {
        out << absl::StrFormat(
            "  %-17s %9s %8.1f %8s %8s %8s %9s %9s %9.0f %9.0f %9s\n", engine,
            Rate(r.events_per_second()), r.megabytes_per_second(),
            Micros(r.p50_us), Micros(r.p99_us), Micros(r.p999_us),
            Mega(r.peak_rss_bytes), Mega(r.peak_anon_bytes),
            r.disk_bytes_per_event(), r.disk_written_bytes_per_event(), ratio);
      }
      int failed = 0;
      for (const RunResult& run : cell->runs) failed += run.ok() ? 0 : 1;
      if (failed > 0) {
        out << absl::StrFormat("  %-17s (%d of %zu runs failed; first: %s)\n",
                               "", failed, cell->runs.size(), [&] {
                                 for (const RunResult& run : cell->runs) {
                                   if (!run.ok()) return run.error;
                                 }
                                 return std::string();
                               }());
      }
    }
  }
  out << "\nLatency: per append (append), per read of one stream or "
         "one chunk (reads), commit to subscriber (mixed). \"vs cairn\": "
         "this engine's events/s / Cairn's; recovery: open time / Cairn's;\n"
         "paced workloads (rate=...): p99 latency / Cairn's.\n"
         "disk B/ev: the engine folder's allocated blocks per stored event, "
         "preallocated "
         "space included; wrtn B/ev: only the blocks\nholding written data "
         "(without "
         "preallocated, never-written extents; docs/benchmarks.md, \"Disk "
         "bytes per "
         "event\").\n";
  out << "\ngoals (issue 7):\n";
  for (const std::string& line : CheckGoals(report)) out << "  " << line << "\n";
  out << "\ngoals (issue 20):\n";
  for (const std::string& line : CheckIssue20Goals(report))
    out << "  " << line << "\n";
  return out.str();
}

std::string FormatJson(const Report& report) {
  const MachineProfile& m = report.machine;
  std::string json = absl::StrCat(
      "{\n  \"suite\": ", JsonString(report.suite), ",\n  \"command\": ",
      JsonString(report.command), ",\n  \"runs\": ", report.plan.runs,
      ",\n  \"wall_seconds\": ", JsonNumber(report.wall_seconds),
      ",\n  \"machine\": {\"cores\": ", m.cores, ", \"cpu_model\": ", JsonString(m.cpu_model),
      ", \"memory_bytes\": ", m.memory_bytes, ", \"kernel\": ", JsonString(m.kernel),
      ", \"filesystem\": ", JsonString(m.filesystem),
      ", \"fsync_p50_us\": ", JsonNumber(m.fsync_p50_us),
      ", \"fsync_p99_us\": ", JsonNumber(m.fsync_p99_us),
      ", \"memcpy_gb_per_s\": ", JsonNumber(m.memcpy_gb_per_s),
      ", \"load_average\": ", JsonNumber(m.load_average), "},\n  \"workloads\": [");
  for (size_t w = 0; w < report.plan.workloads.size(); ++w) {
    const WorkloadSpec& spec = report.plan.workloads[w];
    absl::StrAppend(&json, w == 0 ? "\n" : ",\n", "    {\"name\": ", JsonString(spec.name),
                    ", \"parameters\": ", JsonString(DescribeParameters(spec)),
                    ", \"engines\": [");
    bool first = true;
    for (const std::string& engine : report.plan.engines) {
      const Cell* cell = FindCell(report, spec.name, engine);
      if (cell == nullptr) continue;
      std::vector<std::string> runs;
      for (const RunResult& r : cell->runs) runs.push_back(ResultJson(r));
      absl::StrAppend(&json, first ? "\n" : ",\n", "      {\"engine\": ", JsonString(engine),
                      ", \"median\": ", ResultJson(cell->median), ",\n       \"runs\": [",
                      absl::StrJoin(runs, ", "), "]}");
      first = false;
    }
    absl::StrAppend(&json, "]}");
  }
  std::vector<std::string> goals;
  for (const std::string& line : CheckGoals(report)) goals.push_back(JsonString(line));
  std::vector<std::string> goals_20;
  for (const std::string& line : CheckIssue20Goals(report))
    goals_20.push_back(JsonString(line));
  absl::StrAppend(&json, "\n  ],\n  \"goals\": [", absl::StrJoin(goals, ", "),
                  "],\n  \"goals_issue_20\": [", absl::StrJoin(goals_20, ", "),
                  "]\n}\n");
  return json;
}

absl::Status DrawChart(const Report& report, const std::string& stem) {
  // Two blocks ('index' 0 and 1): throughput workloads with events/s and
  // p99 per engine; recovery workloads with open ms per engine. '?' marks a
  // missing figure, which gnuplot leaves out.
  std::ofstream data(stem + ".dat");
  size_t engines = report.plan.engines.size();
  auto value = [](const Cell* cell, double v) {
    return cell != nullptr && cell->median.ok() && v > 0 ? absl::StrFormat("%.6g", v)
                                                         : std::string("?");
  };
  for (int block = 0; block < 2; ++block) {
    data << "# workload";
    for (const std::string& engine : report.plan.engines) {
      data << (block == 0 ? absl::StrCat(" ", engine, "_rate ", engine, "_p99")
                          : absl::StrCat(" ", engine, "_open_ms"));
    }
    data << "\n";
    bool any = false;
    for (const WorkloadSpec& spec : report.plan.workloads) {
      if (IsRecovery(spec.kind) != (block == 1)) continue;
      any = true;
      data << spec.name;
      for (const std::string& engine : report.plan.engines) {
        const Cell* cell = FindCell(report, spec.name, engine);
        if (block == 0) {
          data << " " << value(cell, cell ? cell->median.events_per_second() : 0) << " "
               << value(cell, cell ? cell->median.p99_us : 0);
        } else {
          data << " " << value(cell, cell ? cell->median.open_ms : 0);
        }
      }
      data << "\n";
    }
    if (!any) {
      data << "none";
      for (size_t e = 0; e < engines * (block == 0 ? 2 : 1); ++e) data << " ?";
      data << "\n";
    }
    data << "\n\n";
  }
  data.close();
  if (!data) return absl::InternalError(absl::StrCat("cannot write ", stem, ".dat"));

  auto plot = [&](int block, int per_engine, int offset) {
    std::vector<std::string> parts;
    for (size_t e = 0; e < engines; ++e) {
      size_t column = 2 + e * static_cast<size_t>(per_engine) + static_cast<size_t>(offset);
      parts.push_back(absl::StrCat("'", stem, ".dat' index ", block, " using ", column,
                                   ":xtic(1) title '", report.plan.engines[e], "'"));
    }
    return absl::StrJoin(parts, ", ");
  };
  std::ofstream script(stem + ".gp");
  script << "set terminal pngcairo size 1400,1100 font 'DejaVu Sans,10' noenhanced\n"
            "set output '" << stem << ".png'\n"
            "set datafile missing '?'\n"
            "set style data histograms\n"
            "set style histogram clustered gap 1\n"
            "set style fill solid 0.85 border -1\n"
            "set key outside right top vertical\n"
            "set grid ytics\n"
            "set logscale y\n"
            "set yrange [*:*]\n"
            "set xtics rotate by -20\n"
            "set multiplot layout 3,1 title 'cairn-bench, suite "
         << report.suite << " (" << report.plan.runs << " run(s), median; "
         << report.machine.cores << " cores, fsync p50 "
         << absl::StrFormat("%.0f", report.machine.fsync_p50_us) << " us, load "
         << absl::StrFormat("%.1f", report.machine.load_average) << ")'\n"
         << "set title 'Throughput (events/s, higher is better)'\n"
         << "plot " << plot(0, 2, 0) << "\n"
         << "set title 'p99 latency (us, lower is better; mixed: commit to subscriber)'\n"
         << "plot " << plot(0, 2, 1) << "\n"
         << "set title 'Recovery: time to open (ms, lower is better)'\n"
         << "plot " << plot(1, 1, 0) << "\n"
         << "unset multiplot\n";
  script.close();
  if (!script) return absl::InternalError(absl::StrCat("cannot write ", stem, ".gp"));
  std::string command = absl::StrCat("gnuplot '", stem, ".gp' 2>&1");
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError("cannot run gnuplot");
  std::string output;
  char buffer[512];
  while (size_t n = std::fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, n);
  int status = ::pclose(pipe);
  if (status != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "gnuplot failed drawing ", stem, ".png (install Debian's gnuplot-nox): ", output));
  }
  return absl::OkStatus();
}

}  // namespace cairn::bench
