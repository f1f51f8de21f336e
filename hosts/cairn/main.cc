// The `cairn` command line; see cli.h and docs/cli.md.
#include <iostream>
#include <string>
#include <vector>

#include <boost/dll/runtime_symbol_info.hpp>

#include "cli.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  boost::system::error_code ec;
  std::string program = boost::dll::program_location(ec).string();
  if (ec) program = argv[0];
  int code = cairn::cli::RunCli(args, program, std::cin, std::cout, std::cerr);
  std::cout.flush();
  return code;
}
