// The child of the kill -9 truncation test (truncate_crash_test.cc): opens
// the log in argv[1] (128 KiB segments, fsync=always, as the parent made
// it), prints "opened", truncates it after position argv[2] (with
// CAIRN_TRUNCATE_COMMITTED) and prints "done". The parent kills it at some
// moment between.
#include <cstdio>
#include <cstdlib>

#include "crash_util.h"
#include "log.h"

int main(int argc, char** argv) {
  using namespace cairn::mmaplog;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <dir> <position>\n", argv[0]);
    return 2;
  }
  LogOptions options = crash::CrashOptions(argv[1]);
  options.create = false;
  auto log = Log::Open(options);
  if (!log.ok()) {
    std::fprintf(stderr, "open failed: %s\n", log.status().ToString().c_str());
    return 3;
  }
  std::printf("opened\n");
  std::fflush(stdout);
  const uint64_t position = std::strtoull(argv[2], nullptr, 10);
  absl::Status s = (*log)->TruncateAfter(position, /*allow_committed=*/true);
  if (!s.ok()) {
    std::fprintf(stderr, "truncate failed: %s\n", s.ToString().c_str());
    return 4;
  }
  std::printf("done\n");
  std::fflush(stdout);
  return 0;
}
