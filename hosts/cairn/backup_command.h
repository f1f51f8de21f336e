// `cairn backup` and `cairn restore` (the format and checks: backup.h;
// docs/cli.md and docs/operations.md for operators).
//
//   cairn [store flags] backup DEST|FILE.tar.zst|- [--incremental-from PREV]
//         [--chunk-size SIZE] [--max-rate SIZE]
//   cairn [store flags] restore SRC [INCREMENTAL...] --data DIR [--force]
//
// Both print progress on stderr: a bar with rate and ETA on a terminal,
// otherwise one line a second ("cairn backup: 120000 of 500000 records,
// 118.2 MiB, 96.1 MiB/s") and a last line when done.
//
// Exit codes (command.h): 0 done; 1 usage; 2 the store, a file or a check
// failed (restore then wrote nothing, or names what it did).
#ifndef CAIRN_HOSTS_CAIRN_BACKUP_COMMAND_H_
#define CAIRN_HOSTS_CAIRN_BACKUP_COMMAND_H_

#include "command.h"

namespace cairn::cli {

int BackupCommand(CommandContext& context);
int RestoreCommand(CommandContext& context);

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_BACKUP_COMMAND_H_
