#include "run_program.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace cairn::testing {
namespace {

std::string Slurp(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace

ProgramResult RunProgram(
    const std::filesystem::path& program, std::vector<std::string> args,
    const std::filesystem::path& work_dir, const std::string& input,
    const std::map<std::string, std::optional<std::string>>& env) {
  std::ofstream(work_dir / "stdin") << input;
  pid_t child = fork();
  if (child == 0) {
    if (chdir(work_dir.c_str()) != 0) _exit(120);
    int in = open("stdin", O_RDONLY);
    int out = open("stdout", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open("stderr", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) _exit(121);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    for (const auto& [name, value] : env) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
    args.insert(args.begin(), program.string());
    std::vector<char*> argv;
    for (std::string& word : args) argv.push_back(word.data());
    argv.push_back(nullptr);
    execv(program.c_str(), argv.data());
    _exit(122);
  }
  ProgramResult result;
  int status = 0;
  if (child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status)) {
    result.code = WEXITSTATUS(status);
  }
  result.out = Slurp(work_dir / "stdout");
  result.err = Slurp(work_dir / "stderr");
  return result;
}

std::filesystem::path BuiltProgram(const std::string& name) {
  const char* bin = std::getenv("CAIRN_BIN_DIR");
  return bin == nullptr ? std::filesystem::path()
                        : std::filesystem::path(bin) / name;
}

int StartProgram(const std::filesystem::path& program,
                 std::vector<std::string> args,
                 const std::filesystem::path& stderr_path) {
  args.insert(args.begin(), program.string());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t child = -1;
  const int rc =
      posix_spawn(&child, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? child : -1;
}

std::string KillOnceExists(int child, const std::filesystem::path& path,
                           int timeout_ms) {
  for (int waited = 0; waited < timeout_ms && !std::filesystem::exists(path);
       waited += 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const bool there = std::filesystem::exists(path);
  ::kill(child, SIGKILL);
  int status = 0;
  if (::waitpid(child, &status, 0) != child) return "waitpid failed";
  if (!there) return path.string() + " did not appear in time";
  if (!WIFSIGNALED(status)) return "the program finished before it was killed";
  return "";
}

}  // namespace cairn::testing
