// `cairn train-dict`: trains a zstd dictionary from a store's events, for
// the zstd codec's `dictionary` option.
//
//   cairn [store flags] train-dict --output FILE [--stream S | --tag T]
//         [--max-events N] [--max-bytes SIZE] [--size BYTES] [--force]
//
// Reads events (decoded and opened, through the Store, so it works whatever
// codec and cipher the site runs) in position order, or those of one stream
// or tag; each event's data, and its metadata when not empty, is one sample
// (samples longer than 128 KiB are cut, as zstd learns from the start of
// each). Stops at --max-events events (default 100000) or --max-bytes of
// samples (default 100MiB). Trains with ZDICT_trainFromBuffer into a
// dictionary of at most --size bytes (default 112640, zstd's own default)
// and writes it to FILE (refusing to replace an existing file without
// --force). Prints the dictionary id and how to configure it.
//
// Exit codes (command.h): 0 written; 1 usage; 2 the store failed, too few
// events to train on, or the file could not be written.
#ifndef CAIRN_HOSTS_CAIRN_TRAIN_DICT_COMMAND_H_
#define CAIRN_HOSTS_CAIRN_TRAIN_DICT_COMMAND_H_

#include "command.h"

namespace cairn::cli {

int TrainDictCommand(CommandContext& context);

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_TRAIN_DICT_COMMAND_H_
