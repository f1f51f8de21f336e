// The checker on hand-made histories: a clean one, and for each rule an
// input that breaks it (and only the rules it must).
#include "checker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace cairn::faults {
namespace {

using ::testing::HasSubstr;

// Builds a history and the log a correct single store would hold for it:
// each Append is applied at the next position, with the stream's next
// revisions, unless its expected revision does not match (then it fails).
class World {
 public:
  // Appends `n` events to `stream`; returns the op (already in ops()).
  Op& Append(const std::string& stream, ExpectKind expect, uint64_t expected,
             size_t n, Outcome outcome = Outcome::kOk, uint64_t epoch = 0) {
    Op op;
    op.run = "t";
    op.client = 0;
    op.op = ops_.size();
    op.stream = stream;
    op.expect = expect;
    op.expected_revision = expected;
    op.invoke_ns = clock_;
    clock_ += 10;
    op.complete_ns = clock_;
    clock_ += 10;
    op.outcome = outcome;
    op.source = absl::StrCat("test:", op.op);
    for (size_t i = 0; i < n; ++i)
      op.event_ids.push_back(absl::StrCat("t-o", op.op, "-", i));
    const uint64_t head = heads_[stream];
    const bool matches = expect == ExpectKind::kAny ||
                         (expect == ExpectKind::kNoStream && head == 0) ||
                         (expect == ExpectKind::kExact && head == expected);
    if (outcome != Outcome::kFail && matches) {
      if (outcome == Outcome::kOk) {
        op.first_position = next_position_;
        op.last_position = next_position_ + n - 1;
        op.first_revision = head + 1;
        op.last_revision = head + n;
        op.epoch = epoch;
      }
      for (size_t i = 0; i < n; ++i) {
        LogRecord r;
        r.position = next_position_++;
        r.kind = "event";
        r.epoch = epoch;
        r.stream = stream;
        r.revision = head + 1 + i;
        r.batch_size = static_cast<uint32_t>(n);
        r.batch_index = static_cast<uint32_t>(i);
        r.type = "cairn.faults.v1";
        r.writer = op.event_ids[i];
        r.sha256 = absl::StrCat("h", r.position, r.writer);
        log_.records.push_back(r);
      }
      heads_[stream] = head + n;
    }
    ops_.push_back(op);
    return ops_.back();
  }

  void Epoch(uint64_t epoch) {
    LogRecord r;
    r.position = next_position_++;
    r.kind = "epoch";
    r.epoch = epoch;
    r.sha256 = absl::StrCat("e", r.position);
    log_.records.push_back(r);
  }

  // Drops every record after position `keep`, as a failover's truncation
  // does; stream heads follow.
  void TruncateAfter(uint64_t keep) {
    while (!log_.records.empty() && log_.records.back().position > keep) {
      log_.records.pop_back();
    }
    next_position_ = keep + 1;
    heads_.clear();
    for (const LogRecord& r : log_.records) {
      if (r.kind == "event") heads_[r.stream] = r.revision;
    }
  }

  std::vector<Op>& ops() { return ops_; }
  NodeLog& log() { return log_; }
  int64_t& clock() { return clock_; }

 private:
  std::vector<Op> ops_;
  NodeLog log_{"n1", {}};
  std::map<std::string, uint64_t> heads_;
  uint64_t next_position_ = 1;
  int64_t clock_ = 1000;
};

// A clean history with all three outcomes and every expectation kind.
World Clean() {
  World w;
  w.Append("a", ExpectKind::kNoStream, 0, 2);
  w.Append("b", ExpectKind::kAny, 0, 1);
  w.Append("a", ExpectKind::kExact, 2, 1);
  w.Append("a", ExpectKind::kExact, 2, 1, Outcome::kFail);   // conflict
  w.Append("b", ExpectKind::kAny, 0, 3, Outcome::kUnknown);  // landed
  w.Append("c", ExpectKind::kAny, 0, 1, Outcome::kUnknown);
  w.log().records.pop_back();  // ...and one that did not land
  return w;
}

std::set<std::string> Rules(const std::vector<Violation>& violations) {
  std::set<std::string> rules;
  for (const Violation& v : violations) rules.insert(v.rule);
  return rules;
}

std::string Describe(const std::vector<Violation>& violations) {
  std::string out;
  for (const Violation& v : violations)
    absl::StrAppend(&out, v.rule, ": ", v.message, "\n");
  return out;
}

TEST(CheckerTest, CleanHistoryHasNoViolation) {
  World w = Clean();
  ASSERT_TRUE(ValidateHistory(w.ops()).ok());
  std::vector<Violation> v = Check(w.ops(), {w.log(), w.log()});
  EXPECT_TRUE(v.empty()) << Describe(v);
  Summary s = Summarize(w.ops(), w.log());
  EXPECT_EQ(s.ops, 6u);
  EXPECT_EQ(s.ok, 3u);
  EXPECT_EQ(s.fail, 1u);
  EXPECT_EQ(s.unknown, 2u);
  EXPECT_EQ(s.unknown_present, 1u);
}

TEST(CheckerTest, LogGap) {
  World w = Clean();
  w.log().records.erase(w.log().records.begin() + 2);  // position 3 missing
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  EXPECT_TRUE(Rules(v).count("log-gap")) << Describe(v);
  EXPECT_THAT(Describe(v), HasSubstr("positions 3..3 missing"));
}

TEST(CheckerTest, LogDiverge) {
  World w = Clean();
  NodeLog other = w.log();
  other.name = "n2";
  other.records[1].sha256 = "different";
  std::vector<Violation> v = Check(w.ops(), {w.log(), other});
  EXPECT_EQ(Rules(v), std::set<std::string>{"log-diverge"}) << Describe(v);
  EXPECT_THAT(Describe(v), HasSubstr("position 2"));
  // A node missing a record in the middle diverges (same end).
  other = w.log();
  other.name = "n2";
  other.records.erase(other.records.begin() + 3);
  v = Check(w.ops(), {w.log(), other});
  EXPECT_THAT(
      Describe(v),
      HasSubstr("position 4: n1 holds event a@3, n2 holds nothing there"));
  // A node that is behind diverges too.
  other = w.log();
  other.name = "n2";
  other.records.pop_back();
  v = Check(w.ops(), {w.log(), other});
  EXPECT_TRUE(Rules(v).count("log-diverge")) << Describe(v);
}

TEST(CheckerTest, RevisionGap) {
  World w = Clean();
  w.log().records[2].revision = 5;  // stream a: 1, 2, 5
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  EXPECT_TRUE(Rules(v).count("revision-gap")) << Describe(v);
}

TEST(CheckerTest, EpochOrder) {
  World w;
  w.Epoch(2);
  w.Append("a", ExpectKind::kAny, 0, 1, Outcome::kOk, 2);
  w.Epoch(2);  // does not start a newer epoch
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  EXPECT_EQ(Rules(v), std::set<std::string>{"epoch-order"}) << Describe(v);
  World x;
  x.Epoch(3);
  x.Append("a", ExpectKind::kAny, 0, 1, Outcome::kUnknown, 3);
  x.log().records.back().epoch = 1;  // a record of an older epoch after epoch 3
  v = Check(x.ops(), {x.log()});
  EXPECT_EQ(Rules(v), std::set<std::string>{"epoch-order"}) << Describe(v);
}

TEST(CheckerTest, DuplicateId) {
  World w = Clean();
  LogRecord copy = w.log().records[0];
  copy.position = w.log().records.back().position + 1;
  copy.revision = 3;
  copy.stream = "a";
  w.log().records.push_back(copy);
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  EXPECT_TRUE(Rules(v).count("duplicate-id")) << Describe(v);
}

TEST(CheckerTest, PhantomEvent) {
  World w = Clean();
  w.log().records.back().writer = "nobody-wrote-this";
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  EXPECT_TRUE(Rules(v).count("phantom-event")) << Describe(v);
  // Events of other types are not the workload's and are ignored.
  w.log().records.back().type = "other";
  v = Check(w.ops(), {w.log()});
  EXPECT_FALSE(Rules(v).count("phantom-event")) << Describe(v);
}

TEST(CheckerTest, LostAck) {
  World w = Clean();
  // The ok op 1 (stream b, position 3) is missing: a later record took its
  // place (as if truncated and overwritten).
  w.log().records[2].writer = "t-o5-0";  // the unknown op that did not land
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  EXPECT_TRUE(Rules(v).count("lost-ack")) << Describe(v);
  EXPECT_THAT(Describe(v),
              HasSubstr("acknowledged at position 3 is not in the log"));
}

TEST(CheckerTest, LostAckAtAnotherPosition) {
  World w = Clean();
  w.ops()[1].first_position = w.ops()[1].last_position = 4;
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  EXPECT_TRUE(Rules(v).count("lost-ack")) << Describe(v);
}

TEST(CheckerTest, AckMismatch) {
  World w = Clean();
  w.ops()[2].first_revision = w.ops()[2].last_revision = 7;
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  EXPECT_TRUE(Rules(v).count("ack-mismatch")) << Describe(v);
}

TEST(CheckerTest, FailedPresent) {
  World w = Clean();
  w.ops()[4].outcome = Outcome::kFail;  // the unknown op that landed
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  EXPECT_EQ(Rules(v), std::set<std::string>{"failed-present"}) << Describe(v);
}

TEST(CheckerTest, PartialBatch) {
  World w = Clean();
  // The landed unknown op had 3 events: keep only the first two.
  w.log().records.pop_back();
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  EXPECT_EQ(Rules(v), std::set<std::string>{"partial-batch"}) << Describe(v);
}

TEST(CheckerTest, ExactViolated) {
  World w;
  w.Append("a", ExpectKind::kAny, 0, 2);
  // An exact-1 append that landed although the head was 2.
  Op& bad = w.Append("a", ExpectKind::kAny, 0, 1, Outcome::kUnknown);
  bad.expect = ExpectKind::kExact;
  bad.expected_revision = 1;
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  EXPECT_EQ(Rules(v), std::set<std::string>{"exact-violated"}) << Describe(v);
}

TEST(CheckerTest, ExactTwice) {
  World w;
  w.Append("a", ExpectKind::kAny, 0, 1);
  w.Append("a", ExpectKind::kExact, 1, 1);
  Op& second = w.Append("a", ExpectKind::kAny, 0, 1);
  second.expect = ExpectKind::kExact;
  second.expected_revision = 1;
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  EXPECT_TRUE(Rules(v).count("exact-twice")) << Describe(v);
  EXPECT_THAT(Describe(v), HasSubstr("2 successes expecting a at revision 1"));
}

TEST(CheckerTest, Realtime) {
  World w;
  w.Append("a", ExpectKind::kAny, 0, 1);
  w.Append("b", ExpectKind::kAny, 0, 1);
  // Op 1 (position 2) completed before op 0 (position 1) was invoked.
  w.ops()[0].invoke_ns = w.ops()[1].complete_ns + 5;
  w.ops()[0].complete_ns = w.ops()[0].invoke_ns + 5;
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  EXPECT_EQ(Rules(v), std::set<std::string>{"realtime"}) << Describe(v);
  // Overlapping ops may land in either order.
  w.ops()[0].invoke_ns = w.ops()[1].complete_ns - 1;
  v = Check(w.ops(), {w.log()});
  EXPECT_TRUE(v.empty()) << Describe(v);
}

TEST(CheckerTest, AckEpoch) {
  World w;
  w.Epoch(1);
  w.Append("a", ExpectKind::kAny, 0, 1, Outcome::kOk, 1);
  w.ops()[0].epoch = 2;  // reported an epoch the record does not carry
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  EXPECT_EQ(Rules(v), std::set<std::string>{"ack-epoch"}) << Describe(v);
}

TEST(CheckerTest, StaleEpochInRealTime) {
  // A deposed primary (epoch 1) acknowledges op 1 after the new one
  // (epoch 2) acknowledged op 0; the log (built by the new primary) does not
  // hold op 1 at all, so lost-ack fires too.
  World w;
  w.Epoch(2);
  w.Append("a", ExpectKind::kAny, 0, 1, Outcome::kOk, 2);
  Op& stale = w.Append("b", ExpectKind::kAny, 0, 1, Outcome::kUnknown, 2);
  w.log().records.pop_back();
  stale.outcome = Outcome::kOk;
  stale.epoch = 1;
  stale.first_position = stale.last_position = 2;
  stale.first_revision = stale.last_revision = 1;
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  EXPECT_TRUE(Rules(v).count("stale-epoch")) << Describe(v);
  EXPECT_THAT(Describe(v), HasSubstr("invoked after"));
}

TEST(CheckerTest, StaleEpochInPositionOrder) {
  // Concurrent ops (no real-time order): the one at the higher position
  // reports the older epoch.
  World w;
  w.Append("a", ExpectKind::kAny, 0, 1, Outcome::kOk, 0);
  w.Append("b", ExpectKind::kAny, 0, 1, Outcome::kOk, 0);
  w.ops()[0].epoch = 3;
  w.ops()[1].epoch = 2;
  w.ops()[1].invoke_ns = w.ops()[0].invoke_ns;
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  std::vector<Violation> stale;
  for (const Violation& x : v) {
    if (x.rule == "stale-epoch") stale.push_back(x);
  }
  ASSERT_EQ(stale.size(), 1u) << Describe(v);
  EXPECT_THAT(stale[0].message, HasSubstr("at a position above"));
}

// ack = async: the primary of epoch 1 acknowledged ops 1 and 2, then lost
// its place before any replica had them; the primary of epoch 2 took over at
// position 2 and wrote over them, and succeeded with op 1's expected
// revision again.
World AsyncFailover() {
  World w;
  w.Epoch(1);
  w.Append("a", ExpectKind::kNoStream, 0, 1, Outcome::kOk, 1);  // 2
  w.Append("a", ExpectKind::kExact, 1, 2, Outcome::kOk, 1);     // 3..4
  w.Append("b", ExpectKind::kAny, 0, 1, Outcome::kOk, 1);       // 5
  w.TruncateAfter(2);
  w.Epoch(2);                                                // 3
  w.Append("a", ExpectKind::kExact, 1, 1, Outcome::kOk, 2);  // 4
  w.Append("b", ExpectKind::kAny, 0, 1, Outcome::kOk, 2);    // 5
  return w;
}

TEST(CheckerTest, SupersededAcksAreLostWithoutTheOption) {
  World w = AsyncFailover();
  std::vector<Violation> v = Check(w.ops(), {w.log()});
  EXPECT_TRUE(Rules(v).count("lost-ack")) << Describe(v);
  EXPECT_TRUE(Rules(v).count("exact-twice")) << Describe(v);
  EXPECT_EQ(Summarize(w.ops(), w.log()).superseded, 0u);
}

TEST(CheckerTest, SupersededAcksAreCountedUnderTheOption) {
  World w = AsyncFailover();
  CheckOptions async;
  async.superseded_acks = true;
  // A subscriber that read the dropped events from the old primary.
  SeenBatch read;
  read.subscriber = 0;
  read.server = "x:1";
  read.source = "seen:0";
  read.positions = {2, 3, 4, 5};
  read.ids = {"t-o0-0", "t-o1-0", "t-o1-1", "t-o2-0"};
  std::vector<Violation> v = Check(w.ops(), {w.log(), w.log()}, async, {read});
  EXPECT_TRUE(v.empty()) << Describe(v);
  EXPECT_EQ(Summarize(w.ops(), w.log(), async).superseded, 2u);
}

TEST(CheckerTest, SupersededAcksDoNotExcuseOtherLosses) {
  CheckOptions async;
  async.superseded_acks = true;
  {
    // Position 5 is empty: no failover wrote over the last op, nor over
    // op 2 of epoch 1 (so its epoch, above op 3's, is stale again).
    World w = AsyncFailover();
    w.TruncateAfter(4);
    std::vector<Violation> v = Check(w.ops(), {w.log()}, async);
    EXPECT_EQ(Rules(v), (std::set<std::string>{"lost-ack", "stale-epoch"}))
        << Describe(v);
    EXPECT_THAT(Describe(v), HasSubstr("(no record there)"));
  }
  {
    // Its position holds another record of its own epoch.
    World w = AsyncFailover();
    w.log().records.back().writer = "t-o1-0";
    std::vector<Violation> v = Check(w.ops(), {w.log()}, async);
    EXPECT_TRUE(Rules(v).count("lost-ack")) << Describe(v);
  }
  {
    // Part of a superseded op survived: not superseded, and a partial batch.
    World w = AsyncFailover();
    w.log().records[3].writer = "t-o1-1";
    std::vector<Violation> v = Check(w.ops(), {w.log()}, async);
    EXPECT_TRUE(Rules(v).count("lost-ack")) << Describe(v);
    EXPECT_TRUE(Rules(v).count("partial-batch")) << Describe(v);
  }
  {
    // An event a subscriber received that no superseded op holds.
    World w = AsyncFailover();
    SeenBatch read;
    read.subscriber = 0;
    read.server = "x:1";
    read.source = "seen:0";
    read.positions = {4};
    read.ids = {"t-o9-0"};
    std::vector<Violation> v = Check(w.ops(), {w.log()}, async, {read});
    EXPECT_TRUE(Rules(v).count("seen-lost")) << Describe(v);
  }
}

// What a subscriber to all events receives of `log`: its event records from
// record index `from` up to (not including) `to`, as one batch.
SeenBatch Seen(const NodeLog& log, uint64_t subscriber, size_t from,
               size_t to) {
  SeenBatch b;
  b.subscriber = subscriber;
  b.server = "x:1";
  b.source = absl::StrCat("seen:", subscriber, ":", from);
  for (size_t i = from; i < to && i < log.records.size(); ++i) {
    if (log.records[i].kind != "event") continue;
    b.positions.push_back(log.records[i].position);
    b.ids.push_back(log.records[i].writer);
  }
  return b;
}

// A clean history with an EPOCH record in the middle, which subscribers to
// all events do not receive.
World CleanWithEpoch() {
  World w;
  w.Append("a", ExpectKind::kNoStream, 0, 2);
  w.Epoch(2);
  w.Append("b", ExpectKind::kAny, 0, 1, Outcome::kOk, 2);
  w.Append("a", ExpectKind::kExact, 2, 3, Outcome::kOk, 2);
  return w;
}

TEST(CheckerTest, SubscribersThatSawEveryEventInOrderHaveNoViolation) {
  World w = CleanWithEpoch();
  const size_t n = w.log().records.size();
  // Subscriber 0 in one batch; subscriber 1 in three, across the epoch,
  // and stopping short of the end (its run ended first: not a violation).
  std::vector<SeenBatch> seen = {Seen(w.log(), 0, 0, n), Seen(w.log(), 1, 0, 1),
                                 Seen(w.log(), 1, 1, 4),
                                 Seen(w.log(), 1, 4, n - 1)};
  std::vector<Violation> v =
      Check(w.ops(), {w.log(), w.log()}, CheckOptions{}, seen);
  EXPECT_TRUE(v.empty()) << Describe(v);
}

TEST(CheckerTest, SeenLost) {
  World w = CleanWithEpoch();
  SeenBatch b = Seen(w.log(), 0, 0, w.log().records.size());
  b.ids[1] = "t-o9-0";  // an event the log does not hold there
  std::vector<Violation> v = Check(w.ops(), {w.log()}, CheckOptions{}, {b});
  EXPECT_EQ(Rules(v), std::set<std::string>{"seen-lost"}) << Describe(v);
  EXPECT_THAT(Describe(v), HasSubstr("received event t-o9-0 at position 2"));
  EXPECT_THAT(Describe(v), HasSubstr("the log holds event t-o0-1"));
  // Past the end of the log: a truncated suffix.
  b = Seen(w.log(), 0, 0, w.log().records.size());
  b.positions.push_back(w.log().records.back().position + 1);
  b.ids.push_back("t-o9-0");
  v = Check(w.ops(), {w.log()}, CheckOptions{}, {b});
  EXPECT_EQ(Rules(v), std::set<std::string>{"seen-lost"}) << Describe(v);
  EXPECT_THAT(Describe(v), HasSubstr("no record there (the log ends at 7)"));
  // At a position that holds a control record.
  b = Seen(w.log(), 0, 0, 2);
  b.positions.push_back(3);
  b.ids.push_back("t-o9-0");
  v = Check(w.ops(), {w.log()}, CheckOptions{}, {b});
  EXPECT_TRUE(Rules(v).count("seen-lost")) << Describe(v);
  EXPECT_THAT(Describe(v), HasSubstr("the log holds a record of kind epoch"));
}

TEST(CheckerTest, SeenSkip) {
  World w = CleanWithEpoch();
  SeenBatch b = Seen(w.log(), 0, 0, w.log().records.size());
  b.positions.erase(b.positions.begin() + 3);  // position 5, an event
  b.ids.erase(b.ids.begin() + 3);
  std::vector<Violation> v = Check(w.ops(), {w.log()}, CheckOptions{}, {b});
  EXPECT_EQ(Rules(v), std::set<std::string>{"seen-skip"}) << Describe(v);
  EXPECT_THAT(Describe(v), HasSubstr("skipping event t-o2-0 at position 5"));
  // Missing the first event counts too.
  b = Seen(w.log(), 0, 1, w.log().records.size());
  v = Check(w.ops(), {w.log()}, CheckOptions{}, {b});
  EXPECT_EQ(Rules(v), std::set<std::string>{"seen-skip"}) << Describe(v);
}

TEST(CheckerTest, SeenOrder) {
  World w = CleanWithEpoch();
  const size_t n = w.log().records.size();
  std::vector<SeenBatch> seen = {Seen(w.log(), 0, 0, n),
                                 Seen(w.log(), 0, 4, n)};
  std::vector<Violation> v = Check(w.ops(), {w.log()}, CheckOptions{}, seen);
  EXPECT_EQ(Rules(v), std::set<std::string>{"seen-order"}) << Describe(v);
  EXPECT_THAT(Describe(v), HasSubstr("subscriber 0 received position 5"));
}

TEST(CheckerTest, ValidateHistoryRefusesBrokenInput) {
  World w = Clean();
  std::vector<Op> ops = w.ops();
  ops.push_back(ops[0]);
  EXPECT_THAT(std::string(ValidateHistory(ops).message()),
              HasSubstr("also at"));
  ops = w.ops();
  ops[1].event_ids = ops[0].event_ids;
  EXPECT_THAT(std::string(ValidateHistory(ops).message()),
              HasSubstr("event id"));
  ops = w.ops();
  ops[0].last_position = ops[0].first_position;  // 2 events, 1 position
  EXPECT_THAT(std::string(ValidateHistory(ops).message()),
              HasSubstr("has 2 events"));
}

TEST(CheckerTest, ParsesWorkloadAndReadLogLines) {
  absl::StatusOr<Op> op = ParseOpLine(
      R"({"run":"r1","client":3,"op":17,"stream":"fs-5","expect":"exact",)"
      R"("expected_revision":4,"events":["r1-c3-o17-0"],"invoke_ns":10,)"
      R"("complete_ns":20,"outcome":"ok","first_position":120,"last_position":120,)"
      R"("first_revision":5,"last_revision":5,"epoch":0,"server":"x:1"})",
      "h:1");
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_EQ(op->expect, ExpectKind::kExact);
  EXPECT_EQ(op->expected_revision, 4u);
  EXPECT_EQ(op->first_position, 120u);
  absl::StatusOr<LogRecord> record = ParseLogLine(
      R"({"position":1,"kind":"event","epoch":0,"stream":"fs-5","revision":1,)"
      R"("batch_size":1,"batch_index":0,"type":"cairn.faults.v1","writer":"r1-c3-o17-0",)"
      R"("timestamp_us":5,"sha256":"ab"})",
      "l:1");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->writer, "r1-c3-o17-0");
  // Errors name the line and the field.
  EXPECT_THAT(
      std::string(ParseOpLine(R"({"client":1})", "h:9").status().message()),
      HasSubstr("h:9: field 'op' is missing"));
  EXPECT_THAT(std::string(ParseOpLine("not json", "h:2").status().message()),
              HasSubstr("h:2: not a JSON object"));
  EXPECT_THAT(
      std::string(
          ParseOpLine(R"({"client":1,"op":1,"stream":"s","expect":"maybe",)"
                      R"("events":["x"],"invoke_ns":1,"complete_ns":2,)"
                      R"("outcome":"ok"})",
                      "h:3")
              .status()
              .message()),
      HasSubstr("'expect' is 'maybe'"));
  EXPECT_THAT(
      std::string(
          ParseLogLine(R"({"position":"x"})", "l:4").status().message()),
      HasSubstr("l:4: field 'position' has the wrong type"));
}

TEST(CheckerTest, ParsesSeenLines) {
  absl::StatusOr<SeenBatch> b = ParseSeenLine(
      R"({"subscriber":1,"server":"x:1","positions":[4,6],"ids":["a","b"]})",
      "s:1");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->subscriber, 1u);
  EXPECT_EQ(b->positions, (std::vector<uint64_t>{4, 6}));
  EXPECT_EQ(b->ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_THAT(std::string(ParseSeenLine(R"({"subscriber":1,"positions":[4],)"
                                        R"("ids":["a","b"]})",
                                        "s:2")
                              .status()
                              .message()),
              HasSubstr("s:2: 1 positions and 2 ids"));
  EXPECT_THAT(
      std::string(ParseSeenLine(R"({"positions":[4],"ids":["a"]})", "s:3")
                      .status()
                      .message()),
      HasSubstr("s:3: field 'subscriber' is missing"));
}

TEST(CheckerTest, ReadsFilesAndNamesTheLine) {
  const std::string path = absl::StrCat(
      ::testing::TempDir(), "/checker_test_history_", getpid(), ".jsonl");
  {
    std::ofstream out(path);
    out << "\n{\"client\":1}\n";
  }
  absl::StatusOr<std::vector<Op>> ops = ReadHistory(path);
  EXPECT_THAT(std::string(ops.status().message()), HasSubstr(path + ":2:"));
  std::remove(path.c_str());
  EXPECT_TRUE(absl::IsNotFound(ReadHistory(path).status()));
}

}  // namespace
}  // namespace cairn::faults
