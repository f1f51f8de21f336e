#include "bench/runner.h"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/disk_usage.h"
#include "bench/stats.h"

namespace cairn::bench {
namespace {

// Every numeric field of RunResult, by name, for the child-to-parent text.
struct NumericField {
  const char* name;
  double RunResult::*real = nullptr;
  uint64_t RunResult::*whole = nullptr;
};
constexpr NumericField kFields[] = {
    {"events", nullptr, &RunResult::events},
    {"payload_bytes", nullptr, &RunResult::payload_bytes},
    {"seconds", &RunResult::seconds, nullptr},
    {"p50_us", &RunResult::p50_us, nullptr},
    {"p99_us", &RunResult::p99_us, nullptr},
    {"p999_us", &RunResult::p999_us, nullptr},
    {"peak_rss_bytes", nullptr, &RunResult::peak_rss_bytes},
    {"peak_anon_bytes", nullptr, &RunResult::peak_anon_bytes},
    {"disk_bytes", nullptr, &RunResult::disk_bytes},
    {"disk_written_bytes", nullptr, &RunResult::disk_written_bytes},
    {"disk_events", nullptr, &RunResult::disk_events},
    {"open_ms", &RunResult::open_ms, nullptr},
    {"acknowledged", nullptr, &RunResult::acknowledged},
    {"recovered", nullptr, &RunResult::recovered},
};

bool WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// A run may take its measured time plus set-up (preload, open); beyond
// this it is stuck and is killed.
std::chrono::seconds RunTimeLimit(const WorkloadSpec& spec) {
  return std::chrono::seconds(static_cast<int64_t>(spec.seconds * 3) + 180);
}

}  // namespace

std::string SerializeResult(const RunResult& result) {
  std::string text;
  for (const NumericField& f : kFields) {
    if (f.real != nullptr) {
      absl::StrAppend(&text, f.name, "=", result.*(f.real), "\n");
    } else {
      absl::StrAppend(&text, f.name, "=", result.*(f.whole), "\n");
    }
  }
  // The error goes last and may hold any byte but '\n'.
  std::string error = result.error;
  for (char& c : error) {
    if (c == '\n') c = ' ';
  }
  absl::StrAppend(&text, "error=", error, "\n");
  return text;
}

RunResult ParseResult(const std::string& text) {
  RunResult result;
  bool complete = false;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    size_t equals = line.find('=');
    if (equals == absl::string_view::npos) continue;
    std::string key(line.substr(0, equals));
    absl::string_view value = line.substr(equals + 1);
    if (key == "error") {
      result.error = std::string(value.data(), value.size());
      complete = true;
      continue;
    }
    for (const NumericField& f : kFields) {
      if (key != f.name) continue;
      if (f.real != nullptr) {
        (void)absl::SimpleAtod(value, &(result.*(f.real)));
      } else {
        (void)absl::SimpleAtoi(value, &(result.*(f.whole)));
      }
    }
  }
  if (!complete) result.error = "the run's process ended without reporting a result";
  return result;
}

RunResult RunInChild(const WorkloadSpec& spec, const std::string& engine,
                     const std::string& dir, const std::vector<std::string>& overrides) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) {
    return RunResult{.error = absl::StrCat("pipe failed: ", std::strerror(errno))};
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return RunResult{.error = absl::StrCat("fork failed: ", std::strerror(errno))};
  }
  if (pid == 0) {
    ::close(pipe_fds[0]);
    RunResult result = RunWorkload(spec, engine, dir, overrides);
    bool sent = WriteAll(pipe_fds[1], SerializeResult(result));
    ::close(pipe_fds[1]);
    ::_exit(sent ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + RunTimeLimit(spec);
  bool timed_out = false;
  char buffer[4096];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd p = {pipe_fds[0], POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) continue;
    ssize_t n = ::read(pipe_fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  struct rusage usage {};
  while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  RunResult result = ParseResult(text);
  if (timed_out) {
    result.error = absl::StrCat("killed after ", RunTimeLimit(spec).count(),
                                " s without finishing");
  } else if (WIFSIGNALED(status)) {
    result.error = absl::StrCat("the run's process died of signal ", WTERMSIG(status),
                                result.error.empty() ? "" : ": ", result.error);
  }
  result.peak_rss_bytes = static_cast<uint64_t>(usage.ru_maxrss) * 1024;
  RemoveTree(dir);
  return result;
}

RunResult MedianOf(const std::vector<RunResult>& runs) {
  std::vector<const RunResult*> good;
  for (const RunResult& r : runs) {
    if (r.ok()) good.push_back(&r);
  }
  if (good.empty()) {
    RunResult failed;
    failed.error = runs.empty() ? "no runs" : runs.front().error;
    return failed;
  }
  RunResult median;
  for (const NumericField& f : kFields) {
    std::vector<double> values;
    for (const RunResult* r : good) {
      values.push_back(f.real != nullptr ? r->*(f.real)
                                         : static_cast<double>(r->*(f.whole)));
    }
    double m = Median(values);
    if (f.real != nullptr) {
      median.*(f.real) = m;
    } else {
      median.*(f.whole) = static_cast<uint64_t>(m + 0.5);
    }
  }
  // events and seconds medians taken apart would not give the median rate;
  // keep the rate exact by taking the run whose rate is the median.
  std::vector<std::pair<double, const RunResult*>> rates;
  for (const RunResult* r : good) rates.emplace_back(r->events_per_second(), r);
  std::sort(rates.begin(), rates.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  const RunResult* middle = rates[(rates.size() - 1) / 2].second;
  median.events = middle->events;
  median.payload_bytes = middle->payload_bytes;
  median.seconds = middle->seconds;
  return median;
}

std::vector<Cell> RunPlan(const Plan& plan, const ProgressFn& progress,
                          const StopFn& stop) {
  // cells[rows[w][k]] is workload w on the k-th engine that runs it.
  std::vector<Cell> cells;
  std::vector<std::vector<size_t>> rows(plan.workloads.size());
  for (size_t w = 0; w < plan.workloads.size(); ++w) {
    const WorkloadSpec& spec = plan.workloads[w];
    for (const std::string& engine : plan.engines) {
      if (!spec.only_engines.empty() &&
          std::find(spec.only_engines.begin(), spec.only_engines.end(),
                    engine) == spec.only_engines.end()) {
        continue;
      }
      rows[w].push_back(cells.size());
      cells.push_back(Cell{spec.name, engine, {}, {}});
    }
  }
  size_t total = cells.size() * static_cast<size_t>(plan.runs);
  size_t index = 0;
  for (int run = 0; run < plan.runs; ++run) {
    for (size_t w = 0; w < plan.workloads.size(); ++w) {
      size_t engines = rows[w].size();
      for (size_t k = 0; k < engines; ++k) {
        Cell& cell =
            cells[rows[w][(k + static_cast<size_t>(run) + w) % engines]];
        const WorkloadSpec& spec = plan.workloads[w];
        if (stop && stop()) {
          for (Cell& c : cells) c.median = MedianOf(c.runs);
          return cells;
        }
        if (progress) progress(index, total, spec, cell.engine, run);
        std::string dir = absl::StrCat(plan.work_dir, "/", spec.name, "-",
                                       cell.engine, "-", run);
        cell.runs.push_back(
            RunInChild(spec, cell.engine, dir, plan.cairn_overrides));
        ++index;
      }
    }
  }
  for (Cell& cell : cells) cell.median = MedianOf(cell.runs);
  return cells;
}

}  // namespace cairn::bench
