// Runs a built program (cairn, cairnd) as a user would, for the tests that
// check exit codes and messages: one fork/exec helper instead of one per
// test file.
#ifndef CAIRN_HOSTS_TESTING_RUN_PROGRAM_H_
#define CAIRN_HOSTS_TESTING_RUN_PROGRAM_H_

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cairn::testing {

struct ProgramResult {
  int code = -1;  // the exit status; -1 if it did not exit normally
  std::string out;
  std::string err;
};

// Runs `program` with `args` in the folder `work_dir` (which must exist),
// with `input` on stdin, and waits for it. Output goes through the files
// stdin, stdout and stderr in `work_dir` (overwritten), so no pipe can fill
// up. `env` sets (a value) or unsets (nullopt) variables in the child only.
ProgramResult RunProgram(
    const std::filesystem::path& program, std::vector<std::string> args,
    const std::filesystem::path& work_dir, const std::string& input = "",
    const std::map<std::string, std::optional<std::string>>& env = {});

// Starts `program` with `args` without waiting, its stderr written to the
// file `stderr_path`; returns its pid, or -1 if it could not start.
int StartProgram(const std::filesystem::path& program,
                 std::vector<std::string> args,
                 const std::filesystem::path& stderr_path);

// The kill -9 tests: waits up to `timeout_ms` until `path` exists, then
// sends SIGKILL to `child` and reaps it. Returns "" if the child died from
// the signal while `path` existed, else what went wrong (the path never
// came, or the child had already exited).
std::string KillOnceExists(int child, const std::filesystem::path& path,
                           int timeout_ms = 30000);

// The built program `name` in $CAIRN_BIN_DIR (set by every test through
// cmake/test_environment.cc), or an empty path if that is not set.
std::filesystem::path BuiltProgram(const std::string& name);

}  // namespace cairn::testing

#endif  // CAIRN_HOSTS_TESTING_RUN_PROGRAM_H_
