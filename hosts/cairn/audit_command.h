// `cairn audit verify FILE...`: checks the hash chain of cairnd's audit log
// (format: hosts/cairnd/audit_chain.h, docs/security.md "Audit log").
//
// Give the files oldest first, rotated ones before the live one:
//   cairn audit verify audit.log.2 audit.log.1 audit.log
//
// Exit codes (command.h): 0 the chain holds (a summary is printed); 1 usage;
// 2 the chain is broken or a file cannot be read, with a message naming the
// file and line (a changed line, removed lines, a cut-off last line).
#ifndef CAIRN_HOSTS_CAIRN_AUDIT_COMMAND_H_
#define CAIRN_HOSTS_CAIRN_AUDIT_COMMAND_H_

#include "command.h"

namespace cairn::cli {

int AuditCommand(CommandContext& context);

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_AUDIT_COMMAND_H_
