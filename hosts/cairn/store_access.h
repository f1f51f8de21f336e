// The store as the `cairn` commands see it. Commands never touch cairn::Store
// directly: EmbeddedStoreAccess opens a Store in this process, and a remote
// implementation over cairnd's client library serves `cairn --server`.
#ifndef CAIRN_HOSTS_CAIRN_STORE_ACCESS_H_
#define CAIRN_HOSTS_CAIRN_STORE_ACCESS_H_

#include <cairn/event.h>
#include <cairn/plugin.h>
#include <cairn/store.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace cairn::cli {

// Called once per event, in order; return false to stop early.
using EventFn = std::function<bool(const RecordedEvent&)>;

class StoreAccess {
 public:
  virtual ~StoreAccess() = default;

  // One line for messages: "embedded store ./data (storage mmaplog, ...)".
  virtual std::string Describe() const = 0;

  // Appends `events` to `stream` as one atomic batch; WrongExpectedRevision
  // (see cairn::IsWrongExpectedRevision) writes nothing.
  virtual absl::StatusOr<AppendResult> Append(
      std::string_view stream, ExpectedRevision expected,
      absl::Span<const EventData> events) = 0;

  // As Store::ReadStream / ReadTag / ReadAll (current reads: they end at the
  // head as it was when they started).
  virtual absl::Status ReadStream(std::string_view stream,
                                  uint64_t from_revision, uint64_t to_revision,
                                  uint64_t max_count,
                                  const EventFn& on_event) = 0;
  virtual absl::Status ReadTag(std::string_view tag, uint64_t after_position,
                               uint64_t max_count,
                               const EventFn& on_event) = 0;
  virtual absl::Status ReadAll(uint64_t after_position, uint64_t max_count,
                               const EventFn& on_event) = 0;

  virtual absl::StatusOr<std::vector<StreamInfo>> ListStreams(
      uint64_t after_ordinal, uint64_t max_count) = 0;
  virtual absl::StatusOr<uint64_t> HeadRevision(std::string_view stream) = 0;
  virtual absl::StatusOr<uint64_t> HeadPosition() = 0;
  virtual absl::Status DeleteTo(std::string_view stream,
                                uint64_t revision) = 0;
  virtual absl::StatusOr<std::map<std::string, double>> Stats() = 0;

  // Replication as this node sees it: the plugin, role, epoch, leader and
  // the plugin's own stats ("replication." prefix removed).
  struct Cluster {
    std::string plugin;
    LeaderInfo leader;
    std::map<std::string, double> stats;
  };
  virtual absl::StatusOr<Cluster> ClusterStatus() = 0;
  // Makes this node the primary of a new epoch (Store::Promote; through a
  // server, its promote request, which needs the admin right).
  virtual absl::Status Promote() = 0;
  // Makes a fresh key of the store's cipher active (Store::RotateKey;
  // through a server, its rotate_key request, which needs the admin right):
  // the new key's id.
  virtual absl::StatusOr<uint32_t> RotateKey() = 0;
  // Runs the storage's maintenance now (Store::Maintain; through a server,
  // its maintain request, which needs the admin right): what it changed, a
  // line each.
  virtual absl::StatusOr<std::vector<std::string>> Maintain() = 0;

  // Delivers the events `filter` selects after filter.after, first those
  // already stored, then live ones as they commit, until on_event returns
  // false or `stop` becomes true (checked at least every 200 ms). Returns OK
  // when stopped.
  virtual absl::Status Follow(const SubscriptionFilter& filter,
                              const EventFn& on_event,
                              const std::atomic<bool>& stop) = 0;

  // Runs the storage plugin's own check of every stored record and, with a
  // cipher configured, opens every event's seal (Store::CheckSeals),
  // calling on_problem once per problem found, without changing anything.
  // Returns what was checked (one line, e.g. "checksums and structure; 12
  // sealed events opened") if there was no problem; Corruption or
  // Integrity if there was. Through a server, the server runs the check
  // while it serves (its verify request, the admin right).
  // With `deep`, also when the storage check found problems and whatever
  // the cipher, every event is opened through its codec and cipher
  // (Store::CheckSeals): each failure names stream, revision and position.
  // `on_progress` (Store::Verify) follows the events the seal pass opens;
  // through a server nothing reports progress until the answer.
  virtual absl::StatusOr<std::string> Verify(
      const std::function<void(const std::string&)>& on_problem,
      bool deep = false, const Store::ProgressFn& on_progress = nullptr) = 0;

  // The plugins the store runs with and its log's watermarks, for `cairn
  // inspect` (through a server: its server_info, the admin right);
  // Unsupported where they cannot be read (a storage without watermarks, a
  // server older than protocol minor 4).
  struct Summary {
    std::string storage, codec, cipher, replication;
    LogState log;
  };
  virtual absl::StatusOr<Summary> GetSummary() = 0;

  // The ordered log's records with position > after_position, at most
  // max_count, up to the written watermark (cairn_storage_api::read_log),
  // as stored (sealed); on_record returns false to stop. Through a server:
  // up to its committed position. Unsupported where the log cannot be read
  // (a storage without CAIRN_CAP_ORDERED_LOG).
  using RecordFn = std::function<bool(const cairn_log_record&)>;
  virtual absl::Status ReadLog(uint64_t after_position, uint64_t max_count,
                               const RecordFn& on_record) {
    (void)after_position;
    (void)max_count;
    (void)on_record;
    return absl::UnimplementedError("this store cannot read its ordered log");
  }
};

// Store::Verify's outcome with `where` (Describe()) named in a failure:
// "verify of WHERE failed: ...", the status code kept.
absl::StatusOr<std::string> NameVerified(const std::string& where,
                                         absl::StatusOr<std::string> checked);

// The "replication." entries of Store::Stats(), prefix removed.
std::map<std::string, double> ReplicationStats(
    const std::map<std::string, double>& stats);

}  // namespace cairn::cli

#endif  // CAIRN_HOSTS_CAIRN_STORE_ACCESS_H_
