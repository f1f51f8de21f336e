// The highest epoch a node has seen and that epoch's primary, kept in
// <state-dir>/epoch so that a restarted node still refuses frames from an
// older epoch before its log has an EPOCH record of the newer one.
#ifndef CAIRN_LOGSHIP_EPOCH_FILE_H_
#define CAIRN_LOGSHIP_EPOCH_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace cairn::logship {

struct EpochRecord {
  uint64_t epoch = 0;   // 0: none seen
  std::string primary;  // node id of that epoch's primary; may be empty

  bool operator==(const EpochRecord&) const = default;
};

// The file's path under `state_dir`.
std::string EpochFilePath(const std::string& state_dir);

// Reads <state_dir>/epoch; a missing file is {0, ""}. DataLoss naming the
// file and what is wrong if it does not hold "cairn-logship-epoch 1",
// then "<epoch> <primary>".
absl::StatusOr<EpochRecord> LoadEpoch(const std::string& state_dir);

// Writes `record` to a temporary file, fsyncs it, renames it over
// <state_dir>/epoch and fsyncs the folder (created if missing): after a
// crash the file holds the old record or the new one. Not thread-safe: one
// writer at a time.
absl::Status SaveEpoch(const std::string& state_dir, const EpochRecord& record);

}  // namespace cairn::logship

#endif  // CAIRN_LOGSHIP_EPOCH_FILE_H_
