// Snapshots of mmaplog: one file per (stream, revision) in <path>/snapshots,
// replaced atomically (write, sync, rename, sync directory).
//
// File name: <16 hex digits of the stream name's hash>-<16 hex digits of the
// revision>.snap. Contents: u32 magic "SNAP", u32 CRC32C of the rest, u64
// revision, i64 timestamp_us, u8 stream length, stream name, data.
#ifndef CAIRN_PLUGINS_STORAGE_MMAPLOG_SNAPSHOT_STORE_H_
#define CAIRN_PLUGINS_STORAGE_MMAPLOG_SNAPSHOT_STORE_H_

#include <cairn/plugin.h>

#include <mutex>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "file_system.h"

namespace cairn::mmaplog {

class SnapshotStore {
 public:
  // `dir` must exist. `sync`: make saves durable before returning.
  SnapshotStore(FileSystem* fs, std::string dir, bool sync)
      : fs_(fs), dir_(std::move(dir)), sync_(sync) {}

  // Saves (or replaces) the snapshot at (stream, revision). Thread-safe.
  absl::Status Save(const cairn_snapshot& snapshot);
  // Calls fn once with the matching snapshot of highest revision (ties:
  // newest timestamp), or not at all. A damaged file gives DataLoss naming it.
  absl::Status Load(std::string_view stream,
                    const cairn_snapshot_criteria& criteria,
                    absl::FunctionRef<void(const cairn_snapshot&)> fn);
  // Deletes the snapshot at (stream, revision); none there is OK.
  absl::Status Delete(std::string_view stream, uint64_t revision);
  absl::Status DeleteMatching(std::string_view stream,
                              const cairn_snapshot_criteria& criteria);
  // Every snapshot of every stream, one call of fn(file name, snapshot)
  // each, stopping at fn's first error; a damaged file gives DataLoss
  // naming it. For the upgrade of a store from before snapshots were
  // records (Log::UpgradeLegacyFiles).
  absl::Status ForEachSnapshot(
      absl::FunctionRef<absl::Status(const std::string&, const cairn_snapshot&)>
          fn);
  // Checks every snapshot file's checksum; reports each damaged one.
  uint64_t Verify(absl::FunctionRef<void(const std::string&)> problem);

 private:
  struct Parsed {
    std::string stream;
    uint64_t revision = 0;
    int64_t timestamp_us = 0;
    std::string data;
  };
  std::string FileName(std::string_view stream, uint64_t revision) const;
  absl::Status Parse(const std::string& name, const std::string& contents,
                     Parsed* out) const;
  // Calls fn(file name, parsed) for each snapshot of `stream`.
  absl::Status ForEach(std::string_view stream,
                       absl::FunctionRef<void(const std::string&,
                                              const Parsed&)> fn);

  FileSystem* fs_;
  const std::string dir_;
  const bool sync_;
  std::mutex mu_;
};

}  // namespace cairn::mmaplog

#endif  // CAIRN_PLUGINS_STORAGE_MMAPLOG_SNAPSHOT_STORE_H_
