#include "run_program.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

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

}  // namespace cairn::testing
