#include "progress.h"

#include <unistd.h>

#include <cmath>
#include <iostream>
#include <ostream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cairn::cli {
namespace {

std::string Mebibytes(double bytes) {
  return absl::StrFormat("%.1f MiB", bytes / (1 << 20));
}

}  // namespace

ProgressPrinter::ProgressPrinter(CommandContext& context, std::string unit,
                                 bool json)
    : context_(context),
      unit_(std::move(unit)),
      json_(json),
      terminal_(context.err == &std::cerr && ::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

void ProgressPrinter::Report(uint64_t count, uint64_t bytes, uint64_t total,
                             bool done) {
  const auto now = std::chrono::steady_clock::now();
  if (!done && now - last_ < std::chrono::seconds(1)) return;
  last_ = now;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(bytes) / seconds : 0;
  std::string line =
      absl::StrCat(count, total ? absl::StrCat(" of ", total) : "", " ", unit_,
                   ", ", Mebibytes(static_cast<double>(bytes)), ", ",
                   Mebibytes(rate), "/s", done ? ", done" : "");
  std::ostream& err = *context_.err;
  if (!terminal_ && json_) {
    nlohmann::ordered_json line_json = {
        {"progress", context_.command},
        {"unit", unit_},
        {"count", count},
        {"total", total ? nlohmann::ordered_json(total) : nullptr},
        {"bytes", bytes},
        {"seconds", std::round(seconds * 1000) / 1000},
        {"bytes_per_second", static_cast<uint64_t>(rate)},
        {"done", done}};
    err << line_json.dump() << "\n";
    return;
  }
  if (!terminal_) {
    err << "cairn " << context_.command << ": " << line << "\n";
    return;
  }
  constexpr int kWidth = 30;
  double fraction =
      total ? static_cast<double>(count) / static_cast<double>(total) : 0;
  if (done) fraction = 1;
  if (fraction > 1) fraction = 1;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string eta;
  if (!done && fraction > 0) {
    const int left = static_cast<int>(seconds / fraction - seconds);
    eta = absl::StrFormat(", ETA %d:%02d", left / 60, left % 60);
  }
  err << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, ' ')
      << "] " << line << eta << "\x1b[K" << (done ? "\n" : "") << std::flush;
}

}  // namespace cairn::cli
