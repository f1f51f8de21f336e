// The exit codes of every Cairn program a person runs: `cairn` (each
// command) and `cairnd`. One table, documented once in docs/cli.md ("Exit
// codes"); docs/server.md points there.
#ifndef CAIRN_EXIT_CODE_H_
#define CAIRN_EXIT_CODE_H_

namespace cairn {

enum ExitCode : int {
  // Done (cairnd: a clean shutdown after SIGTERM or SIGINT).
  kExitOk = 0,
  // Usage: the command line, the environment ($CAIRN_PLUGIN_DIR) or the
  // site file is malformed — unknown command or flag, a flag or key with a
  // bad value, an unknown section or key, a missing site file or plugin
  // folder. Nothing was opened or written.
  kExitUsage = 1,
  // Data or store error: the store cannot open (unknown plugin, an option
  // the plugin refuses, a refused keyring, ...), bad input data,
  // corruption, I/O, an unreachable server; cairnd: the store, the
  // listening sockets or the TLS files failed at start-up, or the final
  // flush failed.
  kExitDataError = 2,
  // Conflict: an append's expected revision did not match
  // (WrongExpectedRevision). Nothing was written.
  kExitConflict = 3,
  // A cairnd server refused the request: the client's identity lacks the
  // right (PERMISSION_DENIED).
  kExitPermissionDenied = 4,
};

}  // namespace cairn

#endif  // CAIRN_EXIT_CODE_H_
