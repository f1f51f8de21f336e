#ifndef CAIRN_HOSTS_CAIRN_PROGRESS_H_
#define CAIRN_HOSTS_CAIRN_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "command.h"

namespace cairn::cli {

// Progress of a long command (backup, restore, inspect, train-dict) on
// stderr: on a terminal a bar redrawn in place (with rate and ETA while the
// total is known), otherwise a plain line "cairn COMMAND: ..." at most once
// a second and one when done; with `json` (the command's --json), instead
// of the plain line one JSON object per line:
//   {"progress":"COMMAND","unit":"events","count":N,"total":T or null,
//    "bytes":B,"seconds":S,"bytes_per_second":R,"done":false}
// `unit` names what is counted ("records", "events").
class ProgressPrinter {
 public:
  ProgressPrinter(CommandContext& context, std::string unit = "records",
                  bool json = false);
  // `total` 0: unknown (no bar, no ETA). Lines other than the last are
  // printed at most once a second, whatever the rate of calls.
  void Report(uint64_t count, uint64_t bytes, uint64_t total, bool done);

 private:
  CommandContext& context_;
  std::string unit_;
  bool json_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_PROGRESS_H_
