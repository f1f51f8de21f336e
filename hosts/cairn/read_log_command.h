// `cairn read-log [--json] [--after POS] [--max N]`: the ordered log of an
// embedded store, one record a line, read-only (docs/cli.md).
#ifndef CAIRN_HOSTS_CAIRN_READ_LOG_COMMAND_H_
#define CAIRN_HOSTS_CAIRN_READ_LOG_COMMAND_H_

#include <cairn/plugin.h>

#include <string>

#include "command.h"

namespace cairn::cli {

int ReadLogCommand(CommandContext& context);

// The bytes `read-log` hashes for a record: every field of the
// cairn_log_record as storage returned it (kind, position, epoch, batch,
// the event's stream, revision, type, timestamp, writer, metadata, data and
// tags as stored, i.e. sealed; the control fields), each integer little
// endian, each byte string prefixed by its 64-bit length. Two nodes holding
// the same record at the same position give the same bytes.
std::string CanonicalRecordBytes(const cairn_log_record& record);

// Lower-case hex SHA-256 of `bytes`.
std::string Sha256Hex(const std::string& bytes);

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_READ_LOG_COMMAND_H_
