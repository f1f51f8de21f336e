// Helpers shared by the kill -9 tests' parents (crash_test.cc,
// truncate_crash_test.cc).
#ifndef CAIRN_PLUGINS_STORAGE_MMAPLOG_CRASH_UTIL_H_
#define CAIRN_PLUGINS_STORAGE_MMAPLOG_CRASH_UTIL_H_

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "crash_workload.h"
#include "log.h"

namespace cairn::mmaplog::crash {

// The options the crash children open their log with (and the parents
// reopen it with).
inline LogOptions CrashOptions(const std::string& path) {
  LogOptions options;
  options.path = path;
  options.segment_size = kSegmentSize;
  options.fsync = FsyncMode::kAlways;
  options.stream_bucket_bits = 6;
  return options;
}

// The environment variable `name` as a number, or `fallback` when unset.
inline uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// The path of the child program `name`, which lives beside the test
// (CAIRN_BIN_DIR under ctest).
inline std::string ChildBinary(const std::string& name) {
  const char* bin = std::getenv("CAIRN_BIN_DIR");
  if (bin != nullptr && *bin != '\0') return std::string(bin) + "/" + name;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : "./x";
  return dir.substr(0, dir.rfind('/')) + "/" + name;
}

// A child process started by SpawnChild: its stdout and stderr are pipes
// the parent reads (out, err; closed by the caller).
struct Child {
  pid_t pid = -1;
  int out = -1;
  int err = -1;
};

// Starts `argv` (argv[0] the program's path) with stdout and stderr piped
// to the parent. pid -1 if the pipes or the fork failed.
inline Child SpawnChild(const std::vector<std::string>& argv) {
  int out[2], err[2];
  if (pipe(out) != 0) return Child{};
  if (pipe(err) != 0) {
    close(out[0]);
    close(out[1]);
    return Child{};
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::fprintf(stderr, "exec %s failed\n", args[0]);
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  return Child{pid, out[0], err[0]};
}

}  // namespace cairn::mmaplog::crash

#endif  // CAIRN_PLUGINS_STORAGE_MMAPLOG_CRASH_UTIL_H_
