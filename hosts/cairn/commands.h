// The commands of `cairn` that live in this folder. Each follows the
// contract in command.h; docs/cli.md describes their flags and output.
#ifndef CAIRN_HOSTS_CAIRN_COMMANDS_H_
#define CAIRN_HOSTS_CAIRN_COMMANDS_H_

#include "command.h"

namespace cairn::cli {

// stream_commands.cc: writing and reading events.
int AppendCommand(CommandContext& context);    // append STREAM < JSON lines
int ReadCommand(CommandContext& context);      // read STREAM
int ReadAllCommand(CommandContext& context);   // read-all [--tag T]
int StreamsCommand(CommandContext& context);   // streams
int HeadCommand(CommandContext& context);      // head [STREAM]
int TailCommand(CommandContext& context);      // tail [STREAM | --tag T]
int DeleteToCommand(CommandContext& context);  // delete-to STREAM REVISION

// inspect_commands.cc: looking at plugins and the store itself.
int PluginsCommand(CommandContext& context);     // plugins [--dir D]...
int PluginInfoCommand(CommandContext& context);  // plugin-info FILE
int VerifyCommand(CommandContext& context);      // verify
int StatsCommand(CommandContext& context);       // stats
int InspectCommand(CommandContext& context);     // inspect [--json]
int PromoteCommand(CommandContext& context);     // promote
int MaintainCommand(CommandContext& context);    // maintain [--json]
int ClusterCommand(CommandContext& context);     // cluster status

// bench_command.cc: runs cairn-bench from beside the cairn binary.
int BenchCommand(CommandContext& context);

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_COMMANDS_H_
