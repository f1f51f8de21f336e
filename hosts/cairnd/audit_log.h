// cairnd's audit log: one JSON line per access decision and per
// administrative action, hash-chained (audit_chain.h) with a head file
// that shows a cut-off end, rotated by size.
//
// Lines are queued under one mutex and written in groups: a caller that
// needs its line on disk (every request does, before its answer) waits in
// WaitWritten; the first waiter writes every queued line with one write(2)
// (and one fsync with `fsync = on`) while later callers queue behind it, as
// a group commit does. Only metadata is logged, never event data.
#ifndef CAIRN_HOSTS_CAIRND_AUDIT_LOG_H_
#define CAIRN_HOSTS_CAIRND_AUDIT_LOG_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cairn::cairnd {

// The [audit] section.
struct AuditOptions {
  std::string path;                  // empty: no audit log
  uint64_t max_size = 64ull << 20;   // rotate once the file would pass this
  unsigned keep = 8;                 // rotated files kept: path.1 .. path.N
  bool fsync = false;                // fsync each group write
  // HMAC key of the head file (audit_chain.h); empty: the head has a plain
  // SHA-256, which anyone who can write the file can recompute.
  std::string key_file;
};

// One line's fields (strings are JSON-escaped by the log).
struct AuditEntry {
  std::string_view kind;       // "access" (a decision) or "action" (admin)
  std::string_view identity;   // Identity::name
  std::string_view peer;       // "ADDRESS:PORT"
  std::string_view operation;  // "append", "delete_to", ...
  std::string_view stream;     // "" when the request names none
  std::string_view right;      // the right checked ("read", ...)
  std::string_view result;     // "allowed", "denied", "ok" or an error code
};

class AuditLog {
 public:
  // Opens (creates) options.path for appending. An existing file continues
  // its chain: the last line gives the next seq and prev. The head file
  // (AuditHeadPath) must agree: fails, naming the files, when the log ends
  // before the head's seq or its line there has another hash (truncated or
  // rewritten), when the head is missing beside a log that has lines, or is
  // damaged or not made with options.key_file; also when the key file is
  // unfit (ReadAuditKey), the file cannot be opened or its last line is cut
  // off. cairnd must not continue a chain it cannot vouch for: continuing
  // would write a new head over the evidence.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(
      const AuditOptions& options);
  ~AuditLog();

  // Queues one line and returns its seq. Does not wait. Thread-safe.
  uint64_t Add(const AuditEntry& entry);

  // Returns once line `seq` has been written (write(2); and fsync'd with
  // fsync = on), and the head after it, writing the queued group itself if
  // no other thread is.
  // Fails, and keeps failing, once a write, fsync or rotation failed: the
  // server then refuses the requests it cannot audit. Thread-safe.
  absl::Status WaitWritten(uint64_t seq);

  // Add, then WaitWritten.
  absl::Status Write(const AuditEntry& entry) { return WaitWritten(Add(entry)); }

  // Lines written so far (for tests and metrics).
  uint64_t written() const;

 private:
  explicit AuditLog(const AuditOptions& options) : options_(options) {}
  absl::Status OpenFile();
  // Whether the head file agrees with the log's last line (added_,
  // last_hash_, read from `last_file`); see Open.
  absl::Status CheckHead(const std::string& last_file) const;
  absl::Status Rotate();   // with the writer's turn held
  // Writes `lines`, then the head: seq `upto`, whose line hashes to `hash`.
  absl::Status WriteOut(const std::string& lines, uint64_t upto,
                        const std::string& hash);
  absl::Status WriteHead(uint64_t seq, const std::string& hash);

  const AuditOptions options_;
  std::string key_;  // the head's HMAC key; "" for none
  std::string head_path_;
  // Only the writer (writing_) touches fd_, size_, head_fd_.
  int fd_ = -1;
  uint64_t size_ = 0;
  int head_fd_ = -1;  // opened (created) at the first write

  mutable std::mutex mutex_;
  std::condition_variable written_cv_;
  std::string queued_;     // lines added, not yet taken by a writer
  uint64_t added_ = 0;     // seq of the last line added
  uint64_t written_ = 0;   // seq of the last line written
  std::string last_hash_;  // SHA-256 of the last line added
  bool writing_ = false;
  absl::Status failed_;
};

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_AUDIT_LOG_H_
