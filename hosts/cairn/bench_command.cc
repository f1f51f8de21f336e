// bench: hands over to the cairn-bench executable beside cairn.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "commands.h"

namespace cairn::cli {

int BenchCommand(CommandContext& context) {
  std::filesystem::path bench =
      std::filesystem::path(context.program_path).parent_path() / "cairn-bench";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(bench, ec) || access(bench.c_str(), X_OK) != 0) {
    *context.err << "cairn bench: the benchmark harness is not installed: no executable "
                 << bench.string()
                 << " (build it with -DCAIRN_BUILD_BENCH=ON, target cairn-bench)\n";
    return kExitDataError;
  }
  // Everything after "bench" goes to cairn-bench as it is; it prints its
  // own --help.
  std::vector<std::string> words = {bench.string()};
  words.insert(words.end(), context.args.begin(), context.args.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  context.out->flush();
  context.err->flush();
  std::cout.flush();
  std::cerr.flush();
  execv(bench.c_str(), argv.data());
  *context.err << "cairn bench: cannot run " << bench.string() << ": " << std::strerror(errno)
               << "\n";
  return kExitDataError;
}

}  // namespace cairn::cli
