// Logical backups of a store: `cairn backup` and `cairn restore`.
//
// A backup is a copy of the ordered log (cairn/plugin.h, "The ordered log")
// up to the committed watermark at its start, as storage holds it: events
// stay sealed, so no key is read or written, and any storage with
// CAIRN_CAP_ORDERED_LOG and CAIRN_CAP_APPLY backs up and restores (records
// are cairn.log.v1.LogRecord, the format replication ships too).
//
// A backup folder holds
//   chunk-NNNNNN.cairnlog  frames of [u32 little-endian length][LogRecord],
//                          positions contiguous across chunks
//   manifest.json          written last (temp name, fsync, rename): format
//                          version; the storage, codec and cipher plugins and
//                          the key ids the records need; the base position
//                          (0, or the previous backup's last for an
//                          incremental), first and last position; each
//                          chunk's name, size, position range, record count
//                          and SHA-256; an incremental's previous manifest
//                          SHA-256; and body_sha256 over all of that.
// A folder without manifest.json (a backup killed midway) is never restored.
//
// One writer makes every backup; its records come from a LogSource: the
// store in this process (StoreLogSource: read_log on its storage) or a
// running cairnd (`cairn backup --server`: backup_begin, then read_log
// pages over the protocol; remote_store_access.h).
#ifndef CAIRN_HOSTS_CAIRN_BACKUP_H_
#define CAIRN_HOSTS_CAIRN_BACKUP_H_

#include <cairn/config.h>
#include <cairn/log_record.h>
#include <cairn/plugin_registry.h>
#include <cairn/store.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cairn::backup {

inline constexpr int kFormatVersion = 1;
inline constexpr const char* kManifestName = "manifest.json";

// Progress of a long run: records and bytes so far, out of the totals when
// known (0: unknown). Called from the working thread.
struct Progress {
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t total_records = 0;
  bool done = false;
};
using ProgressFn = std::function<void(const Progress&)>;

struct ChunkInfo {
  std::string name;
  uint64_t bytes = 0;
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  uint64_t records = 0;
  std::string sha256;  // hex
};

struct PluginInfo {
  std::string name;
  std::string version;  // "" if this build does not know the plugin
};

struct CipherUse {
  PluginInfo plugin;
  std::vector<uint32_t> key_ids;  // ascending
};

struct Manifest {
  int version = kFormatVersion;
  std::string created_utc;
  PluginInfo storage;
  std::vector<PluginInfo> codecs;  // codecs events in this backup went through
  std::vector<CipherUse> ciphers;  // ciphers and key ids the records need
  uint64_t base_position = 0;      // records after it; 0: a full backup
  uint64_t first_position = 0;     // 0 if the backup holds no record
  uint64_t last_position = 0;      // the restored head; >= base_position
  std::string previous_manifest_sha256;  // incrementals only
  std::vector<ChunkInfo> chunks;
};

struct BackupOptions {
  std::string dest;              // a folder that is absent or empty
  std::string incremental_from;  // a previous backup folder, or ""
  uint64_t chunk_bytes = uint64_t{64} << 20;
  uint64_t max_bytes_per_second = 0;   // 0: as fast as it goes
  PluginRegistry* registry = nullptr;  // names plugin versions; may be null
  ProgressFn progress;
};

struct BackupResult {
  Manifest manifest;
  std::string manifest_sha256;
  uint64_t records = 0;
  uint64_t bytes = 0;  // chunk bytes written
};

// Where a backup's records come from.
class LogSource {
 public:
  virtual ~LogSource() = default;

  struct Start {
    PluginInfo storage;          // the storage plugin that holds the log
    uint64_t last_position = 0;  // the backup ends here
  };
  // Fixes the backup's end (the committed watermark now) for records after
  // `after_position`. Fails if the storage keeps no ordered log, if the log
  // is behind after_position (FailedPrecondition), or no longer holds
  // after_position + 1 (NotFound).
  virtual absl::StatusOr<Start> Begin(uint64_t after_position) = 0;

  // Calls on_record with records after `after_position` up to
  // `to_position` in order, at least one (when after_position is below
  // to_position), as views valid during the call; stops at the first
  // error on_record returns. The caller calls again from the last record
  // it got until it reaches to_position.
  using RecordSink = std::function<absl::Status(const cairn_log_record&)>;
  virtual absl::Status Read(uint64_t after_position, uint64_t to_position,
                            const RecordSink& on_record) = 0;
};

// `store`'s own log (read_log on its storage); `store` must outlive it.
std::unique_ptr<LogSource> StoreLogSource(Store& store);

// Backs up `source` (appends may run beside it) into options.dest: the
// records after the base (0, or the previous backup's last position) up to
// the end source.Begin fixes. Fails, naming the file or the position, if
// dest is not empty, the storage lacks ORDERED_LOG, the previous backup
// does not check out, or a write fails; a failed or killed run leaves no
// manifest.json.
absl::StatusOr<BackupResult> WriteBackup(LogSource& source,
                                         const BackupOptions& options);
// WriteBackup(*StoreLogSource(store), options).
absl::StatusOr<BackupResult> WriteBackup(Store& store,
                                         const BackupOptions& options);

// Opens the store at site.path (which must exist) to read its log as
// stored: no codec, no cipher and no keyring are needed or used, and the
// Store's notice about opening a sealed store without its cipher is not
// logged (a backup never appends).
absl::StatusOr<std::unique_ptr<Store>> OpenForBackup(const SiteConfig& site,
                                                     PluginRegistry& registry);

// SHA-256 of a file's bytes, lowercase hex; fails naming the file.
absl::StatusOr<std::string> FileSha256(const std::string& path);

// Reads and checks `folder`/manifest.json: well-formed, this format version,
// body_sha256 matching. Does not read the chunks.
absl::StatusOr<Manifest> LoadManifest(const std::string& folder);

// A chain of backups, checked and ready to apply.
struct VerifiedChain {
  std::vector<std::string> folders;  // full first
  std::vector<Manifest> manifests;
  uint64_t last_position = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;
};

// Checks everything before anything is written: each folder's manifest;
// that the folder holds exactly manifest.json and its chunks (a missing or
// an extra file is named); every chunk's size and SHA-256 and every frame in
// it (parses, positions contiguous and within the chunk's range); that the
// first is a full backup and each next one's previous_manifest_sha256 and
// base_position match the one before. Errors name the folder and file.
absl::StatusOr<VerifiedChain> VerifyChain(
    const std::vector<std::string>& folders,
    const ProgressFn& progress = nullptr);

// The records of a verified chain, in order (full backup first), read from
// its chunks again; on_chunk after each chunk. Stops at the first error.
absl::Status ForEachRecord(
    const VerifiedChain& chain,
    const std::function<absl::Status(OwnedLogRecord)>& on_record,
    const std::function<void(const ChunkInfo&)>& on_chunk = nullptr);
// Whether `record` is the last of its atomic batch (apply_log takes whole
// batches).
bool EndsBatch(const OwnedLogRecord& record);

struct RestoreOptions {
  std::vector<std::string> sources;  // a full backup, then its incrementals
  SiteConfig site;                   // the target: path, storage and options
  PluginRegistry* registry = nullptr;
  bool force = false;  // empty a non-empty target folder (after the check)
  ProgressFn progress;
};

struct RestoreResult {
  VerifiedChain chain;
  uint64_t head_position = 0;    // as the reopened store reports it
  uint64_t removed_entries = 0;  // entries --force removed from the target
};

// VerifyChain, then: refuses a non-empty site.path unless force; opens the
// target storage (no codec, no cipher: records stay sealed), applies every
// record with apply_log, checks committed reached the last position,
// closes, reopens and checks the head position equals the manifest's.
absl::StatusOr<RestoreResult> Restore(const RestoreOptions& options);

}  // namespace cairn::backup

#endif  // CAIRN_HOSTS_CAIRN_BACKUP_H_
