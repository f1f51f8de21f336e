// cairn-bench: Cairn against SQLite, RocksDB and LMDB on the same event
// workloads. `cairn bench ARGS` runs this program. See bench/README.md.
#include <cairn/builtins.h>
#include <cairn/plugin_registry.h>
#include <unistd.h>

#include <csignal>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/disk_usage.h"
#include "bench/engine.h"
#include "bench/machine.h"
#include "bench/report.h"
#include "bench/runner.h"
#include "bench/suite.h"

namespace po = boost::program_options;

namespace cairn::bench {
namespace {

constexpr int kExitFailure = 1;   // a run failed: some engine has no figure
constexpr int kExitUsage = 2;     // bad command line
constexpr int kExitInterrupted = 130;

volatile sig_atomic_t g_interrupted = 0;
void OnInterrupt(int) { g_interrupted = 1; }

// Cairn's sealed variant needs the zstd codec and the aes-gcm cipher built in.
bool SealedAvailable() {
  PluginRegistry registry;
  if (!RegisterBuiltinPlugins(registry).ok()) return false;
  return registry.Find(CAIRN_KIND_CODEC, "zstd").ok() &&
         registry.Find(CAIRN_KIND_CIPHER, "aes-gcm").ok();
}

std::vector<std::string> Split(const std::string& list) {
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    out.emplace_back(item.data(), item.size());
  }
  return out;
}

int Main(int argc, char** argv) {
  po::options_description options(
      "cairn-bench: Cairn against SQLite, RocksDB and LMDB on the same workloads\n\n"
      "Usage: cairn-bench [--suite standard|quick | --quick] [options]\n\nOptions");
  std::string suite_name, engines_list, workloads_list, out_dir, work_parent;
  std::vector<std::string> sets, cairn_options;
  int runs = 0;
  options.add_options()("help,h", "show this help")(
      "suite", po::value(&suite_name)->default_value("standard"),
      "standard (the figures in docs/benchmarks.md; < 10 min on 2 cores) or "
      "quick")("quick", "the quick suite: small, one run each, under a minute")(
      "engines", po::value(&engines_list),
      absl::StrCat("comma-separated engines (default: every one available): ",
                   absl::StrJoin(KnownEngines(), ", "))
          .c_str())(
      "workloads", po::value(&workloads_list),
      "comma-separated workload names of the suite (default: all; see --list)")(
      "set", po::value(&sets)->composing(),
      "KEY=VALUE: a workload parameter for every selected workload "
      "(repeatable): "
      "durability, event-bytes, streams, batch, writers, subscribers, tags, "
      "seconds, "
      "preload, stream-length, read-chunk, rate")(
      "runs", po::value(&runs),
      "runs per figure (median taken); default: the suite's")(
      "cairn-option", po::value(&cairn_options)->composing(),
      "SECTION.KEY=VALUE for Cairn's site config, e.g. "
      "storage.segment-size=64MiB "
      "(repeatable)")("out",
                      po::value(&out_dir)->default_value("cairn-bench-results"),
                      "folder for results.txt, results.json and chart.png")(
      "dir", po::value(&work_parent),
      "folder under which the stores are made and removed (default: $TMPDIR or "
      "/tmp)")("no-chart", "skip drawing the chart")(
      "list",
      "list the suite's workloads with their parameters, and the engines");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "cairn-bench: " << e.what() << " (see --help)\n";
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  if (vm.count("quick")) suite_name = "quick";
  auto suite = MakeSuite(suite_name);
  if (!suite.ok()) {
    std::cerr << "cairn-bench: " << suite.status().message() << "\n";
    return kExitUsage;
  }
  std::vector<WorkloadSpec> workloads = suite->workloads;
  if (!workloads_list.empty()) {
    auto selected = SelectWorkloads(*suite, workloads_list);
    if (!selected.ok()) {
      std::cerr << "cairn-bench: " << selected.status().message() << "\n";
      return kExitUsage;
    }
    workloads = *selected;
  }
  for (const std::string& assignment : sets) {
    size_t equals = assignment.find('=');
    if (equals == std::string::npos) {
      std::cerr << "cairn-bench: --set '" << assignment << "' is not KEY=VALUE\n";
      return kExitUsage;
    }
    for (WorkloadSpec& spec : workloads) {
      absl::Status s =
          SetParameter(&spec, assignment.substr(0, equals), assignment.substr(equals + 1));
      if (!s.ok()) {
        std::cerr << "cairn-bench: --set " << assignment << ": " << s.message() << "\n";
        return kExitUsage;
      }
    }
  }

  std::vector<std::string> engines;
  std::string engine_note;
  if (engines_list.empty()) {
    bool sealed = SealedAvailable();
    for (const std::string& engine : KnownEngines()) {
      if (engine == "cairn-sealed" && !sealed) {
        engine_note = "cairn-sealed left out: this build has no zstd codec or aes-gcm cipher";
        continue;
      }
      engines.push_back(engine);
    }
  } else {
    engines = Split(engines_list);
    std::set<std::string> known;
    for (const std::string& e : KnownEngines()) known.insert(e);
    for (const std::string& e : engines) {
      if (!known.count(e)) {
        std::cerr << "cairn-bench: unknown engine '" << e
                  << "'; engines: " << absl::StrJoin(KnownEngines(), ", ") << "\n";
        return kExitUsage;
      }
    }
  }
  if (vm.count("runs") && (runs < 1 || runs > 99)) {
    std::cerr << "cairn-bench: --runs " << runs << " is not in [1, 99]\n";
    return kExitUsage;
  }
  if (vm.count("list")) {
    for (const WorkloadSpec& spec : workloads) {
      std::cout << absl::StrFormat("%-24s %s\n", spec.name, DescribeParameters(spec));
    }
    std::cout << "engines: " << absl::StrJoin(engines, ", ") << "\n";
    if (!engine_note.empty()) std::cout << engine_note << "\n";
    return 0;
  }

  if (work_parent.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    work_parent = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::string pattern = work_parent + "/cairn-bench-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::cerr << "cairn-bench: cannot make a work folder under " << work_parent << ": "
              << std::strerror(errno) << " (choose another with --dir)\n";
    return kExitFailure;
  }
  std::string work_dir = pattern;
  std::error_code error;
  std::filesystem::create_directories(out_dir, error);
  if (error) {
    std::cerr << "cairn-bench: cannot create " << out_dir << ": " << error.message() << "\n";
    RemoveTree(work_dir);
    return kExitFailure;
  }

  Report report;
  report.suite = suite->name;
  std::vector<std::string> args(argv, argv + argc);
  report.command = absl::StrJoin(args, " ");
  auto machine = MeasureMachine(work_dir);
  if (!machine.ok()) {
    std::cerr << "cairn-bench: " << machine.status().message() << "\n";
    RemoveTree(work_dir);
    return kExitFailure;
  }
  report.machine = *machine;
  report.plan.workloads = workloads;
  report.plan.engines = engines;
  report.plan.runs = vm.count("runs") ? runs : suite->runs;
  report.plan.work_dir = work_dir;
  report.plan.cairn_overrides = suite->cairn_overrides;
  report.plan.cairn_overrides.insert(report.plan.cairn_overrides.end(),
                                     cairn_options.begin(), cairn_options.end());
  std::cerr << absl::StrFormat(
      "machine: %u cores, %.1f GiB, fsync p50 %.0f us, memcpy %.1f GB/s, load %.1f; "
      "%zu workloads x %zu engines x %d runs\n",
      machine->cores, machine->memory_bytes / 1073741824.0, machine->fsync_p50_us,
      machine->memcpy_gb_per_s, machine->load_average, workloads.size(), engines.size(),
      report.plan.runs);
  if (!engine_note.empty()) std::cerr << engine_note << "\n";

  // Ctrl-C or SIGTERM: the running child gets it too and dies; then stop,
  // remove the stores and report nothing half-measured.
  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  bool tty = ::isatty(STDERR_FILENO) != 0;
  auto started = std::chrono::steady_clock::now();
  report.cells = RunPlan(report.plan, [&](size_t index, size_t total,
                                          const WorkloadSpec& spec,
                                          const std::string& engine, int run) {
    auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::steady_clock::now() - started).count();
    std::string line = absl::StrFormat("[%3zu/%zu] %02d:%02d  %-22s %-13s run %d/%d",
                                       index + 1, total, elapsed / 60, elapsed % 60,
                                       spec.name, engine, run + 1, report.plan.runs);
    if (tty) {
      std::cerr << "\r\033[K" << line << std::flush;
    } else {
      std::cerr << line << "\n";
    }
  }, [] { return g_interrupted != 0; });
  if (tty) std::cerr << "\r\033[K";
  if (g_interrupted) {
    RemoveTree(work_dir);
    std::cerr << "cairn-bench: interrupted; removed " << work_dir << "\n";
    return kExitInterrupted;
  }
  report.wall_seconds = std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - started).count();
  RemoveTree(work_dir);

  std::string table = FormatTable(report);
  std::cout << table;
  std::ofstream(out_dir + "/results.txt") << table;
  std::ofstream(out_dir + "/results.json") << FormatJson(report);
  int status = 0;
  if (!vm.count("no-chart")) {
    absl::Status drawn = DrawChart(report, out_dir + "/chart");
    if (!drawn.ok()) {
      std::cerr << "cairn-bench: " << drawn.message() << "\n";
      status = kExitFailure;
    }
  }
  std::cout << "\nwrote " << out_dir << "/results.txt, results.json"
            << (vm.count("no-chart") ? "" : ", chart.png") << "\n";
  for (const Cell& cell : report.cells) {
    if (!cell.median.ok()) {
      std::cerr << "cairn-bench: no figure for " << cell.workload << " on " << cell.engine
                << ": " << cell.median.error << "\n";
      status = kExitFailure;
    }
  }
  return status;
}

}  // namespace
}  // namespace cairn::bench

int main(int argc, char** argv) { return cairn::bench::Main(argc, argv); }
