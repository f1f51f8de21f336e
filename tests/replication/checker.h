// The history checker of the fault tests (docs/replication.md, "Fault tests
// and the checker"): given the operations a workload recorded (history
// lines, tests/replication/workload.cc) and a dump of every node's ordered
// log (`cairn read-log --json`), lists every violation of the rules below.
//
// Terms. An op is one append: client, op id, stream, expected revision
// (any | no_stream | exact R), its event ids (unique per event; they travel
// in the event's `writer` field, stored in plaintext even under a cipher,
// so a replica without keys can be checked), invoke and completion times
// (CLOCK_MONOTONIC nanoseconds, comparable across the processes of one
// machine), and an outcome: ok (acknowledged, with positions, revisions
// and the epoch the server reported, 0 if none), fail (definitely not
// written, e.g. wrong expected revision) or unknown (timeout, connection
// lost: it may or may not be in the log). An op is *present* in a node's
// log when any of its event ids is there. "Workload events" are EVENT
// records whose type is CheckOptions::event_type; the rules about ids
// ignore other events.
//
// Rules on each node's log alone:
//   log-gap         positions start at 1 and grow by exactly 1.
//   revision-gap    per stream, EVENT revisions are 1, 2, 3, ... in
//                   position order.
//   epoch-order     record epochs never decrease with position, and an
//                   EPOCH record starts an epoch above the one before it.
//   duplicate-id    no workload event id occurs twice.
//   phantom-event   every workload event id belongs to an op of the
//                   history (nothing was invented or replayed from
//                   elsewhere).
// Across nodes:
//   log-diverge     every node holds the same records: same last position
//                   and, position by position, the same SHA-256.
// Each op against each node's log:
//   lost-ack        an ok op's every event is at its acknowledged position
//                   (first_position + i for event i).
//   ack-mismatch    ...with the acknowledged stream and revision
//                   (first_revision + i), batch index i of batch size N.
//   failed-present  a fail op has no event in the log.
//   partial-batch   a present op has all its events, at consecutive
//                   positions, in order, as one batch (atomicity).
//   exact-violated  an op expecting exact R (no_stream: R = 0) that is
//                   present, or ok, starts at revision R + 1.
//   realtime        if ok op A completed before op B was invoked and both
//                   are present, A's last position is below B's first.
//   ack-epoch       an ok op that reported epoch E > 0 has its records in
//                   epoch E.
// On the history alone:
//   exact-twice     at most one ok op per (stream, exact expected R).
//   stale-epoch     among ok ops reporting an epoch (> 0): (a) an op
//                   invoked after another completed was acknowledged in an
//                   epoch no lower than that one's; (b) an op acknowledged
//                   at a higher position than another has an epoch no
//                   lower than that one's. Either failing means a primary
//                   of an older epoch acknowledged after a newer epoch had
//                   acknowledged: a success from a stale epoch.
// What subscribers received (the workload's --seen lines), when given:
//   seen-order      each subscriber's positions strictly increase, line
//                   after line (it subscribes again after the last one it
//                   received, on any server).
// ...against each node's log:
//   seen-lost       every event a subscriber received is in the log at that
//                   position, an EVENT record with the same id (writer): no
//                   subscriber saw an event that was later truncated or
//                   replaced.
//   seen-skip       before a subscriber's first position and between two it
//                   received in a row, the log holds no EVENT record: a
//                   subscription to all events misses none.
//
// Under ack = async a failover may lose acknowledged appends: the new
// primary takes over at the end of its own log, and what the old primary
// acknowledged beyond that is dropped. With CheckOptions::superseded_acks
// such an op is *superseded*, not lost: an ok op reporting epoch E > 0 none
// of whose events is in the log, whose acknowledged first position holds a
// record of an epoch above E. Superseded ops are counted (Summary) and left
// out of lost-ack, ack-mismatch, exact-twice and stale-epoch; an ok op whose
// position is empty, or still in epoch E, or that is partly there, is a
// violation as before. (Because epochs never decrease along a log, the
// superseded ops of an epoch are the tail of what it acknowledged.)
// A subscriber may have received a superseded op's events (under async it
// reads what the primary holds); those are not seen-lost. An unknown op's
// events that a failover dropped still are, so the fault runner checks
// async groups without subscribers.
#ifndef CAIRN_TESTS_REPLICATION_CHECKER_H_
#define CAIRN_TESTS_REPLICATION_CHECKER_H_

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cairn::faults {

enum class Outcome { kOk, kFail, kUnknown };
enum class ExpectKind { kAny, kNoStream, kExact };

struct Op {
  std::string run;  // the workload run (several may share one store)
  uint64_t client = 0;
  uint64_t op = 0;  // unique per (run, client)
  std::string stream;
  ExpectKind expect = ExpectKind::kAny;
  uint64_t expected_revision = 0;  // kExact only
  std::vector<std::string> event_ids;
  int64_t invoke_ns = 0;
  int64_t complete_ns = 0;
  Outcome outcome = Outcome::kUnknown;
  // kOk only:
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  uint64_t first_revision = 0;
  uint64_t last_revision = 0;
  uint64_t epoch = 0;
  std::string error;   // kFail / kUnknown: what the client saw
  std::string source;  // "file:line", for messages
};

struct LogRecord {
  uint64_t position = 0;
  std::string kind;  // event, delete_to, snapshot_save, snapshot_delete, epoch
  uint64_t epoch = 0;
  std::string stream;
  uint64_t revision = 0;
  uint32_t batch_size = 0;
  uint32_t batch_index = 0;
  std::string type;
  std::string writer;  // a workload event's id
  std::string sha256;
};

struct NodeLog {
  std::string name;                // for messages
  std::vector<LogRecord> records;  // in file order
};

struct Violation {
  std::string rule;     // one of the names in the header comment
  std::string node;     // empty for history-only and cross-node rules
  std::string message;  // names the op(s) and positions
};

// One batch a subscriber received (a --seen line of workload.cc).
struct SeenBatch {
  uint64_t subscriber = 0;
  std::string server;               // the server it was subscribed through
  std::vector<uint64_t> positions;  // as received
  std::vector<std::string> ids;     // each event's writer, same order
  std::string source;               // "file:line", for messages
};

struct CheckOptions {
  std::string event_type = "cairn.faults.v1";
  // ack = async: acknowledged ops a failover dropped are superseded, not
  // lost (see above).
  bool superseded_acks = false;
};

// One history line (a JSON object as workload.cc writes it). `source` names
// it in errors ("FILE:LINE"); InvalidArgument says which field is wrong.
absl::StatusOr<Op> ParseOpLine(std::string_view line,
                               const std::string& source);
// One `cairn read-log --json` line.
absl::StatusOr<LogRecord> ParseLogLine(std::string_view line,
                                       const std::string& source);

// One --seen line. InvalidArgument if a field is missing or positions and
// ids differ in length.
absl::StatusOr<SeenBatch> ParseSeenLine(std::string_view line,
                                        const std::string& source);

// Reads a whole history / log / seen file (blank lines skipped). Errors name
// the file and line.
absl::StatusOr<std::vector<Op>> ReadHistory(const std::string& path);
absl::StatusOr<std::vector<SeenBatch>> ReadSeen(const std::string& path);
absl::StatusOr<NodeLog> ReadNodeLog(const std::string& name,
                                    const std::string& path);

// Checks that the history itself is well formed: no (run, client, op)
// twice, no event id in two places, ok ops carry positions. An error here is
// a broken input (exit 2), not a violation.
absl::Status ValidateHistory(const std::vector<Op>& ops);

// Every violation of the rules, in a stable order. `logs` holds at least one
// node; `seen` may be empty (no subscribers ran).
std::vector<Violation> Check(const std::vector<Op>& ops,
                             const std::vector<NodeLog>& logs,
                             const CheckOptions& options = {},
                             const std::vector<SeenBatch>& seen = {});

// "op r1/c3/o17 (stream s05, exact 4, ok at 120..121 rev 5..6 epoch 0)".
std::string DescribeOp(const Op& op);

// The summary counts the program prints.
struct Summary {
  uint64_t ops = 0, ok = 0, fail = 0, unknown = 0, unknown_present = 0;
  uint64_t superseded = 0;  // CheckOptions::superseded_acks only
};
Summary Summarize(const std::vector<Op>& ops, const NodeLog& log,
                  const CheckOptions& options = {});

}  // namespace cairn::faults

#endif  // CAIRN_TESTS_REPLICATION_CHECKER_H_
