#include "checker.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cairn::faults {
namespace {

using Json = nlohmann::json;

// Reads field `key` of `object` as T, or says which field of which line is
// missing or of the wrong type.
template <typename T>
absl::Status Field(const Json& object, const char* key,
                   const std::string& source, T* out, bool required = true) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (!required) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": field '", key, "' is missing"));
  }
  try {
    *out = it->get<T>();
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": field '", key, "' has the wrong type: ", it->dump()));
  }
  return absl::OkStatus();
}

absl::StatusOr<Json> ParseObject(std::string_view line,
                                 const std::string& source) {
  Json object = Json::parse(line.begin(), line.end(), nullptr,
                            /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": not a JSON object: ", std::string(line.substr(0, 80))));
  }
  return object;
}

std::string OpKey(const Op& op) {
  return absl::StrCat(op.run, "/c", op.client, "/o", op.op);
}

const char* OutcomeText(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kFail:
      return "fail";
    default:
      return "unknown";
  }
}

bool HasExpectedRevision(const Op& op) { return op.expect != ExpectKind::kAny; }
uint64_t ExpectedRevisionOf(const Op& op) {
  return op.expect == ExpectKind::kExact ? op.expected_revision : 0;
}

// Where each workload event id sits in one node's log.
struct LogIndex {
  std::unordered_map<std::string, size_t> by_id;  // id -> record index
  std::map<uint64_t, size_t> by_position;         // position -> record index
};

LogIndex IndexLog(const NodeLog& log, const CheckOptions& options) {
  LogIndex index;
  for (size_t i = 0; i < log.records.size(); ++i) {
    const LogRecord& r = log.records[i];
    index.by_position.emplace(r.position, i);
    if (r.kind == "event" && r.type == options.event_type)
      index.by_id.emplace(r.writer, i);
  }
  return index;
}

// The positions an op's events hold in a log: first and last, whether all
// are there, and whether they are consecutive, in order, one batch.
struct Presence {
  size_t found = 0;
  uint64_t first = 0;
  uint64_t last = 0;
  bool whole_batch = true;
  uint64_t first_revision = 0;
  uint64_t epoch = 0;
  bool same_epoch = true;
};

Presence Locate(const Op& op, const NodeLog& log, const LogIndex& index) {
  Presence p;
  for (size_t i = 0; i < op.event_ids.size(); ++i) {
    auto it = index.by_id.find(op.event_ids[i]);
    if (it == index.by_id.end()) {
      p.whole_batch = false;
      continue;
    }
    const LogRecord& r = log.records[it->second];
    if (p.found == 0) {
      p.first = r.position;
      p.first_revision = r.revision;
      p.epoch = r.epoch;
    } else if (r.epoch != p.epoch) {
      p.same_epoch = false;
    }
    // p.first is event 0's position when event 0 is there; when it is not,
    // whole_batch is false already.
    if (r.position != p.first + i) p.whole_batch = false;
    if (r.batch_index != i || r.batch_size != op.event_ids.size() ||
        r.stream != op.stream) {
      p.whole_batch = false;
    }
    p.last = std::max(p.last, r.position);
    ++p.found;
  }
  return p;
}

// CheckOptions::superseded_acks (checker.h): an ok op of epoch E > 0 with
// none of its events in the log, whose acknowledged first position holds a
// record of an epoch above E.
bool Superseded(const Op& op, const NodeLog& log, const LogIndex& index) {
  if (op.outcome != Outcome::kOk || op.epoch == 0) return false;
  for (const std::string& id : op.event_ids) {
    if (index.by_id.count(id)) return false;
  }
  auto at = index.by_position.find(op.first_position);
  return at != index.by_position.end() &&
         log.records[at->second].epoch > op.epoch;
}

void Add(std::vector<Violation>* out, std::string rule, std::string node,
         std::string message) {
  out->push_back(
      Violation{std::move(rule), std::move(node), std::move(message)});
}

void CheckLogAlone(const NodeLog& log, const CheckOptions& options,
                   std::vector<Violation>* out) {
  uint64_t expected_position = 1;
  std::map<std::string, uint64_t> heads;
  uint64_t epoch = 0;
  std::map<std::string, uint64_t> seen_ids;  // id -> first position
  for (const LogRecord& r : log.records) {
    if (r.position != expected_position) {
      Add(out, "log-gap", log.name,
          absl::StrCat("position ", r.position, " follows ",
                       expected_position - 1,
                       r.position > expected_position
                           ? absl::StrCat(" (positions ", expected_position,
                                          "..", r.position - 1, " missing)")
                           : std::string(" (repeated or out of order)")));
    }
    expected_position = r.position + 1;
    if (r.kind == "epoch") {
      if (r.epoch <= epoch) {
        Add(out, "epoch-order", log.name,
            absl::StrCat("EPOCH record at ", r.position, " starts epoch ",
                         r.epoch, ", not above the current ", epoch));
      }
    } else if (r.epoch < epoch) {
      Add(out, "epoch-order", log.name,
          absl::StrCat(r.kind, " record at ", r.position, " has epoch ",
                       r.epoch, " after epoch ", epoch));
    }
    epoch = std::max(epoch, r.epoch);
    if (r.kind != "event") continue;
    uint64_t& head = heads[r.stream];
    if (r.revision != head + 1) {
      Add(out, "revision-gap", log.name,
          absl::StrCat("stream ", r.stream, " revision ", r.revision,
                       " at position ", r.position, " follows revision ",
                       head));
    }
    head = r.revision;
    if (r.type != options.event_type) continue;
    auto [it, inserted] = seen_ids.emplace(r.writer, r.position);
    if (!inserted) {
      Add(out, "duplicate-id", log.name,
          absl::StrCat("event id ", r.writer, " at positions ", it->second,
                       " and ", r.position));
    }
  }
}

void CheckAcrossNodes(const std::vector<NodeLog>& logs,
                      std::vector<Violation>* out) {
  const NodeLog& a = logs[0];
  for (size_t n = 1; n < logs.size(); ++n) {
    const NodeLog& b = logs[n];
    const uint64_t last_a = a.records.empty() ? 0 : a.records.back().position;
    const uint64_t last_b = b.records.empty() ? 0 : b.records.back().position;
    if (last_a != last_b) {
      Add(out, "log-diverge", "",
          absl::StrCat(a.name, " ends at position ", last_a, ", ", b.name,
                       " at ", last_b));
    }
    std::map<uint64_t, const LogRecord*> at_a, at_b;
    for (const LogRecord& r : a.records) at_a.emplace(r.position, &r);
    for (const LogRecord& r : b.records) at_b.emplace(r.position, &r);
    // A position one node holds and the other does not (below both ends).
    auto missing = [&](const std::map<uint64_t, const LogRecord*>& have,
                       const std::map<uint64_t, const LogRecord*>& lack,
                       const NodeLog& with, const NodeLog& without,
                       uint64_t end) {
      for (const auto& [position, record] : have) {
        if (position > end) break;
        if (!lack.count(position)) {
          Add(out, "log-diverge", "",
              absl::StrCat("position ", position, ": ", with.name, " holds ",
                           record->kind, " ", record->stream, "@",
                           record->revision, ", ", without.name,
                           " holds nothing there"));
          return;
        }
      }
    };
    missing(at_a, at_b, a, b, std::min(last_a, last_b));
    missing(at_b, at_a, b, a, std::min(last_a, last_b));
    for (const LogRecord& r : a.records) {
      auto it = at_b.find(r.position);
      if (it == at_b.end()) continue;
      if (it->second->sha256 != r.sha256) {
        Add(out, "log-diverge", "",
            absl::StrCat(
                "position ", r.position, ": ", a.name, " holds ", r.kind, " ",
                r.stream, "@", r.revision, " epoch ", r.epoch, " sha256 ",
                r.sha256.substr(0, 16), ", ", b.name, " holds ",
                it->second->kind, " ", it->second->stream, "@",
                it->second->revision, " epoch ", it->second->epoch, " sha256 ",
                it->second->sha256.substr(0, 16), " (first difference)"));
        break;  // the rest follows from the first difference
      }
    }
  }
}

// With CheckOptions::superseded_acks, ops superseded in `log` are skipped
// and, when `superseded` is given, added to it.
void CheckOpsAgainstLog(const std::vector<Op>& ops, const NodeLog& log,
                        const CheckOptions& options,
                        std::set<const Op*>* superseded,
                        std::vector<Violation>* out) {
  const LogIndex index = IndexLog(log, options);
  std::set<std::string> known_ids;
  struct Placed {
    const Op* op;
    uint64_t first, last;
  };
  std::vector<Placed> acked;    // ok ops found whole
  std::vector<Placed> present;  // every op found whole
  for (const Op& op : ops) {
    for (const std::string& id : op.event_ids) known_ids.insert(id);
    const Presence p = Locate(op, log, index);
    const bool whole =
        p.found == op.event_ids.size() && p.whole_batch && p.found > 0;
    if (op.outcome == Outcome::kFail && p.found > 0) {
      Add(out, "failed-present", log.name,
          absl::StrCat(DescribeOp(op), ": ", p.found, " of its ",
                       op.event_ids.size(),
                       " events are in the log from position ", p.first,
                       " though the append failed definitely"));
      continue;
    }
    if (p.found > 0 && !whole) {
      Add(out, "partial-batch", log.name,
          absl::StrCat(
              DescribeOp(op), ": ", p.found, " of its ", op.event_ids.size(),
              " events in the log between positions ", p.first, " and ", p.last,
              ", not one whole batch at consecutive positions"));
    }
    if (options.superseded_acks && Superseded(op, log, index)) {
      if (superseded != nullptr) superseded->insert(&op);
      continue;
    }
    if (op.outcome == Outcome::kOk) {
      for (size_t i = 0; i < op.event_ids.size(); ++i) {
        const uint64_t want = op.first_position + i;
        auto it = index.by_id.find(op.event_ids[i]);
        if (it == index.by_id.end()) {
          auto at = index.by_position.find(want);
          Add(out, "lost-ack", log.name,
              absl::StrCat(
                  DescribeOp(op), ": event ", op.event_ids[i],
                  " acknowledged at position ", want, " is not in the log",
                  at == index.by_position.end()
                      ? std::string(" (no record there)")
                      : absl::StrCat(" (position ", want, " holds ",
                                     log.records[at->second].kind, " ",
                                     log.records[at->second].writer, ")")));
          continue;
        }
        const LogRecord& r = log.records[it->second];
        if (r.position != want) {
          Add(out, "lost-ack", log.name,
              absl::StrCat(DescribeOp(op), ": event ", op.event_ids[i],
                           " acknowledged at position ", want,
                           " is at position ", r.position));
          continue;
        }
        if (r.stream != op.stream || r.revision != op.first_revision + i ||
            r.batch_index != i || r.batch_size != op.event_ids.size()) {
          Add(out, "ack-mismatch", log.name,
              absl::StrCat(DescribeOp(op), ": position ", r.position, " holds ",
                           r.stream, "@", r.revision, " batch ", r.batch_index,
                           "/", r.batch_size, ", acknowledged ", op.stream, "@",
                           op.first_revision + i, " batch ", i, "/",
                           op.event_ids.size()));
        }
        if (op.epoch > 0 && r.epoch != op.epoch) {
          Add(out, "ack-epoch", log.name,
              absl::StrCat(DescribeOp(op), ": acknowledged in epoch ", op.epoch,
                           ", position ", r.position, " holds epoch ",
                           r.epoch));
        }
      }
    }
    if (!whole) continue;
    if (HasExpectedRevision(op) &&
        p.first_revision != ExpectedRevisionOf(op) + 1) {
      Add(out, "exact-violated", log.name,
          absl::StrCat(DescribeOp(op), ": expected revision ",
                       ExpectedRevisionOf(op),
                       " but its first event is revision ", p.first_revision,
                       " at position ", p.first));
    }
    present.push_back({&op, p.first, p.last});
    if (op.outcome == Outcome::kOk) acked.push_back({&op, p.first, p.last});
  }
  // Sweep: B in order of invoke; A (ok) admitted once it completed before
  // B's invoke; the highest last position among admitted must be below B's.
  std::sort(acked.begin(), acked.end(), [](const Placed& x, const Placed& y) {
    return x.op->complete_ns < y.op->complete_ns;
  });
  std::sort(present.begin(), present.end(),
            [](const Placed& x, const Placed& y) {
              return x.op->invoke_ns < y.op->invoke_ns;
            });
  size_t next = 0;
  const Placed* highest = nullptr;
  for (const Placed& b : present) {
    while (next < acked.size() &&
           acked[next].op->complete_ns < b.op->invoke_ns) {
      if (highest == nullptr || acked[next].last > highest->last)
        highest = &acked[next];
      ++next;
    }
    if (highest != nullptr && highest->last >= b.first) {
      Add(out, "realtime", log.name,
          absl::StrCat(DescribeOp(*highest->op), " completed at ",
                       highest->op->complete_ns, " before ", DescribeOp(*b.op),
                       " was invoked at ", b.op->invoke_ns,
                       ", yet holds position ", highest->last,
                       " >= ", b.first));
    }
  }
  for (const LogRecord& r : log.records) {
    if (r.kind == "event" && r.type == options.event_type &&
        !known_ids.count(r.writer)) {
      Add(out, "phantom-event", log.name,
          absl::StrCat("event id ", r.writer, " at position ", r.position, " (",
                       r.stream, "@", r.revision,
                       ") belongs to no op of the history"));
    }
  }
}

// `superseded`: ok ops a failover dropped (CheckOptions::superseded_acks),
// left out.
void CheckHistoryAlone(const std::vector<Op>& ops,
                       const std::set<const Op*>& superseded,
                       std::vector<Violation>* out) {
  std::map<std::pair<std::string, uint64_t>, std::vector<const Op*>> exact;
  std::vector<const Op*> epoched;
  for (const Op& op : ops) {
    if (op.outcome != Outcome::kOk || superseded.count(&op)) continue;
    if (HasExpectedRevision(op))
      exact[{op.stream, ExpectedRevisionOf(op)}].push_back(&op);
    if (op.epoch > 0) epoched.push_back(&op);
  }
  for (const auto& [key, list] : exact) {
    if (list.size() < 2) continue;
    std::vector<std::string> names;
    for (const Op* op : list) names.push_back(DescribeOp(*op));
    Add(out, "exact-twice", "",
        absl::StrCat(list.size(), " successes expecting ", key.first,
                     " at revision ", key.second, ": ",
                     absl::StrJoin(names, "; ")));
  }
  // (a) in real time.
  std::vector<const Op*> by_complete = epoched, by_invoke = epoched;
  std::sort(
      by_complete.begin(), by_complete.end(),
      [](const Op* x, const Op* y) { return x->complete_ns < y->complete_ns; });
  std::sort(by_invoke.begin(), by_invoke.end(), [](const Op* x, const Op* y) {
    return x->invoke_ns < y->invoke_ns;
  });
  size_t next = 0;
  const Op* newest = nullptr;
  for (const Op* a : by_invoke) {
    while (next < by_complete.size() &&
           by_complete[next]->complete_ns < a->invoke_ns) {
      if (newest == nullptr || by_complete[next]->epoch > newest->epoch) {
        newest = by_complete[next];
      }
      ++next;
    }
    if (newest != nullptr && a->epoch < newest->epoch) {
      Add(out, "stale-epoch", "",
          absl::StrCat(DescribeOp(*a), " was acknowledged in epoch ", a->epoch,
                       " though it was invoked after ", DescribeOp(*newest),
                       " had been acknowledged in epoch ", newest->epoch));
    }
  }
  // (b) in position order.
  std::vector<const Op*> by_position = epoched;
  std::sort(by_position.begin(), by_position.end(),
            [](const Op* x, const Op* y) {
              return x->first_position < y->first_position;
            });
  const Op* highest = nullptr;
  for (const Op* a : by_position) {
    if (highest != nullptr && a->epoch < highest->epoch &&
        highest->first_position < a->first_position) {
      Add(out, "stale-epoch", "",
          absl::StrCat(DescribeOp(*a), " was acknowledged in epoch ", a->epoch,
                       " at a position above ", DescribeOp(*highest),
                       " of epoch ", highest->epoch));
    }
    if (highest == nullptr || a->epoch > highest->epoch) highest = a;
  }
}

}  // namespace

std::string DescribeOp(const Op& op) {
  std::string expect;
  switch (op.expect) {
    case ExpectKind::kAny:
      expect = "any";
      break;
    case ExpectKind::kNoStream:
      expect = "no_stream";
      break;
    case ExpectKind::kExact:
      expect = absl::StrCat("exact ", op.expected_revision);
      break;
  }
  std::string result = OutcomeText(op.outcome);
  if (op.outcome == Outcome::kOk) {
    absl::StrAppend(&result, " at ", op.first_position, "..", op.last_position,
                    " rev ", op.first_revision, "..", op.last_revision,
                    " epoch ", op.epoch);
  }
  return absl::StrCat("op ", OpKey(op), " (stream ", op.stream, ", ", expect,
                      ", ", op.event_ids.size(), " events, ", result, ")");
}

absl::StatusOr<Op> ParseOpLine(std::string_view line,
                               const std::string& source) {
  absl::StatusOr<Json> parsed = ParseObject(line, source);
  if (!parsed.ok()) return parsed.status();
  const Json& j = *parsed;
  Op op;
  op.source = source;
  std::string expect, outcome;
  for (absl::Status s :
       {Field(j, "run", source, &op.run, false),
        Field(j, "client", source, &op.client), Field(j, "op", source, &op.op),
        Field(j, "stream", source, &op.stream),
        Field(j, "expect", source, &expect),
        Field(j, "events", source, &op.event_ids),
        Field(j, "invoke_ns", source, &op.invoke_ns),
        Field(j, "complete_ns", source, &op.complete_ns),
        Field(j, "outcome", source, &outcome),
        Field(j, "error", source, &op.error, false)}) {
    if (!s.ok()) return s;
  }
  if (expect == "any") {
    op.expect = ExpectKind::kAny;
  } else if (expect == "no_stream") {
    op.expect = ExpectKind::kNoStream;
  } else if (expect == "exact") {
    op.expect = ExpectKind::kExact;
    if (absl::Status s =
            Field(j, "expected_revision", source, &op.expected_revision);
        !s.ok()) {
      return s;
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": field 'expect' is '", expect,
                     "'; allowed: any, no_stream, exact"));
  }
  if (outcome == "ok") {
    op.outcome = Outcome::kOk;
    for (absl::Status s :
         {Field(j, "first_position", source, &op.first_position),
          Field(j, "last_position", source, &op.last_position),
          Field(j, "first_revision", source, &op.first_revision),
          Field(j, "last_revision", source, &op.last_revision),
          Field(j, "epoch", source, &op.epoch, false)}) {
      if (!s.ok()) return s;
    }
  } else if (outcome == "fail") {
    op.outcome = Outcome::kFail;
  } else if (outcome == "unknown") {
    op.outcome = Outcome::kUnknown;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": field 'outcome' is '", outcome,
                     "'; allowed: ok, fail, unknown"));
  }
  if (op.event_ids.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": field 'events' is empty"));
  }
  return op;
}

absl::StatusOr<SeenBatch> ParseSeenLine(std::string_view line,
                                        const std::string& source) {
  absl::StatusOr<Json> parsed = ParseObject(line, source);
  if (!parsed.ok()) return parsed.status();
  const Json& j = *parsed;
  SeenBatch b;
  b.source = source;
  for (absl::Status s : {Field(j, "subscriber", source, &b.subscriber),
                         Field(j, "server", source, &b.server, false),
                         Field(j, "positions", source, &b.positions),
                         Field(j, "ids", source, &b.ids)}) {
    if (!s.ok()) return s;
  }
  if (b.positions.size() != b.ids.size() || b.positions.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", b.positions.size(), " positions and ",
                     b.ids.size(), " ids (want the same number, at least 1)"));
  }
  return b;
}

absl::StatusOr<LogRecord> ParseLogLine(std::string_view line,
                                       const std::string& source) {
  absl::StatusOr<Json> parsed = ParseObject(line, source);
  if (!parsed.ok()) return parsed.status();
  const Json& j = *parsed;
  LogRecord r;
  for (absl::Status s :
       {Field(j, "position", source, &r.position),
        Field(j, "kind", source, &r.kind), Field(j, "epoch", source, &r.epoch),
        Field(j, "stream", source, &r.stream, false),
        Field(j, "revision", source, &r.revision, false),
        Field(j, "batch_size", source, &r.batch_size, false),
        Field(j, "batch_index", source, &r.batch_index, false),
        Field(j, "type", source, &r.type, false),
        Field(j, "writer", source, &r.writer, false),
        Field(j, "sha256", source, &r.sha256)}) {
    if (!s.ok()) return s;
  }
  return r;
}

namespace {
template <typename T, typename ParseFn>
absl::Status ReadLines(const std::string& path, ParseFn parse,
                       std::vector<T>* out) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string line;
  for (uint64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    absl::StatusOr<T> item = parse(line, absl::StrCat(path, ":", number));
    if (!item.ok()) return item.status();
    out->push_back(*std::move(item));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<std::vector<Op>> ReadHistory(const std::string& path) {
  std::vector<Op> ops;
  if (absl::Status s = ReadLines<Op>(path, ParseOpLine, &ops); !s.ok())
    return s;
  return ops;
}

absl::StatusOr<std::vector<SeenBatch>> ReadSeen(const std::string& path) {
  std::vector<SeenBatch> seen;
  if (absl::Status s = ReadLines<SeenBatch>(path, ParseSeenLine, &seen);
      !s.ok())
    return s;
  return seen;
}

absl::StatusOr<NodeLog> ReadNodeLog(const std::string& name,
                                    const std::string& path) {
  NodeLog log;
  log.name = name;
  if (absl::Status s = ReadLines<LogRecord>(path, ParseLogLine, &log.records);
      !s.ok()) {
    return s;
  }
  return log;
}

absl::Status ValidateHistory(const std::vector<Op>& ops) {
  std::map<std::string, const Op*> keys;
  std::unordered_map<std::string, const Op*> ids;
  for (const Op& op : ops) {
    auto [it, inserted] = keys.emplace(OpKey(op), &op);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          op.source, ": op ", OpKey(op), " also at ", it->second->source));
    }
    for (const std::string& id : op.event_ids) {
      auto [at, fresh] = ids.emplace(id, &op);
      if (!fresh) {
        return absl::InvalidArgumentError(absl::StrCat(op.source, ": event id ",
                                                       id, " also used at ",
                                                       at->second->source));
      }
    }
    if (op.outcome == Outcome::kOk &&
        (op.first_position == 0 ||
         op.last_position - op.first_position + 1 != op.event_ids.size() ||
         op.last_revision - op.first_revision + 1 != op.event_ids.size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          op.source, ": ok op ", OpKey(op), " has ", op.event_ids.size(),
          " events but positions ", op.first_position, "..", op.last_position,
          " and revisions ", op.first_revision, "..", op.last_revision));
    }
    if (op.complete_ns < op.invoke_ns) {
      return absl::InvalidArgumentError(absl::StrCat(
          op.source, ": op ", OpKey(op), " completes before it is invoked"));
    }
  }
  return absl::OkStatus();
}

namespace {

// seen-order: per subscriber, positions grow strictly over its lines.
void CheckSeenAlone(const std::vector<SeenBatch>& seen,
                    std::vector<Violation>* out) {
  std::map<uint64_t, std::pair<uint64_t, const SeenBatch*>> last;
  for (const SeenBatch& b : seen) {
    auto [it, fresh] = last.emplace(b.subscriber, std::make_pair(0, &b));
    for (uint64_t position : b.positions) {
      if (position <= it->second.first) {
        Add(out, "seen-order", "",
            absl::StrCat("subscriber ", b.subscriber, " received position ",
                         position, " (", b.source, ", via ", b.server,
                         ") after position ", it->second.first, " (",
                         it->second.second->source, ")"));
      }
      it->second = {position, &b};
    }
  }
}

// seen-lost and seen-skip against one node's log. `dropped`: event ids of
// superseded ops, which a subscriber may have received.
void CheckSeenAgainstLog(const std::vector<SeenBatch>& seen, const NodeLog& log,
                         const std::set<std::string>& dropped,
                         std::vector<Violation>* out) {
  std::map<uint64_t, const LogRecord*> by_position;
  for (const LogRecord& r : log.records) by_position.emplace(r.position, &r);
  std::map<uint64_t, uint64_t> previous;  // subscriber -> last position
  for (const SeenBatch& b : seen) {
    uint64_t& before = previous[b.subscriber];
    for (size_t i = 0; i < b.positions.size(); ++i) {
      const uint64_t position = b.positions[i];
      const std::string& id = b.ids[i];
      auto at = by_position.find(position);
      if ((at == by_position.end() || at->second->kind != "event" ||
           at->second->writer != id) &&
          !dropped.count(id)) {
        std::string holds =
            at == by_position.end()
                ? absl::StrCat(
                      "no record there (the log ends at ",
                      log.records.empty() ? 0 : log.records.back().position,
                      ")")
            : at->second->kind != "event"
                ? absl::StrCat("a record of kind ", at->second->kind)
                : absl::StrCat("event ", at->second->writer);
        Add(out, "seen-lost", log.name,
            absl::StrCat("subscriber ", b.subscriber, " received event ", id,
                         " at position ", position, " (", b.source, ", via ",
                         b.server, "); the log holds ", holds));
      }
      if (position > before) {
        // Any EVENT record strictly between the two positions was skipped.
        for (auto it = by_position.upper_bound(before);
             it != by_position.end() && it->first < position; ++it) {
          if (it->second->kind != "event") continue;
          Add(out, "seen-skip", log.name,
              absl::StrCat("subscriber ", b.subscriber, " received position ",
                           position, " (", b.source, ", via ", b.server,
                           ") after ", before, ", skipping event ",
                           it->second->writer, " at position ", it->first));
          break;
        }
      }
      before = std::max(before, position);
    }
  }
}

}  // namespace

std::vector<Violation> Check(const std::vector<Op>& ops,
                             const std::vector<NodeLog>& logs,
                             const CheckOptions& options,
                             const std::vector<SeenBatch>& seen) {
  std::vector<Violation> out;
  for (const NodeLog& log : logs) CheckLogAlone(log, options, &out);
  if (logs.size() > 1) CheckAcrossNodes(logs, &out);
  // (Every node holds the same log, or log-diverge says so: the first one
  // decides which ops were superseded.)
  std::set<const Op*> superseded;
  for (size_t i = 0; i < logs.size(); ++i) {
    CheckOpsAgainstLog(ops, logs[i], options, i == 0 ? &superseded : nullptr,
                       &out);
  }
  CheckHistoryAlone(ops, superseded, &out);
  if (!seen.empty()) {
    std::set<std::string> dropped;
    for (const Op* op : superseded) {
      dropped.insert(op->event_ids.begin(), op->event_ids.end());
    }
    CheckSeenAlone(seen, &out);
    for (const NodeLog& log : logs) {
      CheckSeenAgainstLog(seen, log, dropped, &out);
    }
  }
  return out;
}

Summary Summarize(const std::vector<Op>& ops, const NodeLog& log,
                  const CheckOptions& options) {
  const LogIndex index = IndexLog(log, options);
  Summary s;
  for (const Op& op : ops) {
    ++s.ops;
    switch (op.outcome) {
      case Outcome::kOk:
        ++s.ok;
        if (options.superseded_acks && Superseded(op, log, index)) {
          ++s.superseded;
        }
        break;
      case Outcome::kFail:
        ++s.fail;
        break;
      case Outcome::kUnknown:
        ++s.unknown;
        if (index.by_id.count(op.event_ids[0])) ++s.unknown_present;
        break;
    }
  }
  return s;
}

}  // namespace cairn::faults
