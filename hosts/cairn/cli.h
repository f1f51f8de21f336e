// The `cairn` command line: global flags, the command table, dispatch.
//
//   cairn [--data DIR | --config FILE] [--set S.K=V]... [--server HOST:PORT]
//         COMMAND [ARGS...]
#ifndef CAIRN_HOSTS_CAIRN_CLI_H_
#define CAIRN_HOSTS_CAIRN_CLI_H_

#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "command.h"

namespace cairn::cli {

// Opens an embedded Store (built-in plugins plus the site's plugin folders)
// for options without --server, and a cairnd client for --server when this
// build has the client library (else an error saying so).
StoreOpener DefaultStoreOpener();

// Runs one `cairn` invocation. `args` are the words after the program name;
// `program_path` is the running binary (to find cairn-bench beside it).
// Returns the exit code; never exits.
int RunCli(const std::vector<std::string>& args, const std::string& program_path,
           std::istream& in, std::ostream& out, std::ostream& err,
           StoreOpener opener = DefaultStoreOpener());

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_CLI_H_
