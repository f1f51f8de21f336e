// Storage conformance: single-threaded rules of the data model. Each test
// names the behaviour it pins; checks wrapped in CheckAndReopen also run
// after a close and reopen for plugins that declare CAIRN_CAP_PERSISTENT.
#include <algorithm>
#include <filesystem>
#include <set>

#include "storage_suite.h"

namespace cairn::conformance {
namespace {

std::vector<std::string> Datas(const std::vector<ReadEvent>& events) {
  std::vector<std::string> out;
  for (const ReadEvent& e : events) out.push_back(e.data);
  return out;
}

std::vector<uint64_t> Revisions(const std::vector<ReadEvent>& events) {
  std::vector<uint64_t> out;
  for (const ReadEvent& e : events) out.push_back(e.revision);
  return out;
}

std::vector<uint64_t> Positions(const std::vector<ReadEvent>& events) {
  std::vector<uint64_t> out;
  for (const ReadEvent& e : events) out.push_back(e.position);
  return out;
}

// ---- Revisions, expected revision, positions -----------------------------

CAIRN_TEST_P(StorageConformance, RevisionsStartAtOneAndAreContiguous,
             kRuleContiguousRevisions) {
  cairn_append_result r = MustAppend("rev", NoStream(), Events(1, "a"));
  EXPECT_EQ(r.first_revision, 1u) << kRuleContiguousRevisions
                                  << ": a new stream starts at revision 1";
  EXPECT_EQ(r.last_revision, 1u);
  r = MustAppend("rev", Exact(1), Events(3, "b"));
  EXPECT_EQ(r.first_revision, 2u)
      << kRuleContiguousRevisions
      << ": a batch after head 1 must start at revision 2";
  EXPECT_EQ(r.last_revision, 4u) << kRuleContiguousRevisions;
  r = MustAppend("rev", Any(), Events(2, "c"));
  EXPECT_EQ(r.first_revision, 5u) << kRuleContiguousRevisions;
  EXPECT_EQ(r.last_revision, 6u) << kRuleContiguousRevisions;
  CheckAndReopen([&] {
    std::vector<ReadEvent> events = ReadStream("rev");
    ASSERT_EQ(events.size(), 6u);
    ExpectContiguousRevisions("rev", events);
    EXPECT_EQ(Datas(events),
              (std::vector<std::string>{"a-0", "b-0", "b-1", "b-2", "c-0",
                                        "c-1"}));
    EXPECT_EQ(HeadRevision("rev"), 6u);
  });
}

CAIRN_TEST_P(StorageConformance, ExpectedRevisionAcceptsMatchingHeads,
             kRuleExpectedRevisionChecked) {
  EXPECT_EQ(Append("exp-none", NoStream(), Events(1)).code, CAIRN_OK)
      << "no-stream on a stream that has no event must succeed";
  EXPECT_EQ(Append("exp-zero", Exact(0), Events(1)).code, CAIRN_OK)
      << "exact 0 on a stream that has no event (head 0) must succeed";
  EXPECT_EQ(Append("exp-zero", Exact(1), Events(2)).code, CAIRN_OK);
  EXPECT_EQ(Append("exp-zero", Any(), Events(1)).code, CAIRN_OK);
  EXPECT_EQ(HeadRevision("exp-zero"), 4u);
}

CAIRN_TEST_P(StorageConformance,
             ConflictReturnsWrongExpectedRevisionAndWritesNothing,
             kRuleExpectedRevisionChecked) {
  MustAppend("conflict", Any(), Events(2));
  uint64_t position = HeadPosition();
  struct Case {
    Expected expected;
    const char* what;
  } cases[] = {{NoStream(), "no-stream on a stream with head 2"},
               {Exact(1), "exact 1 on head 2"},
               {Exact(3), "exact 3 on head 2"},
               {Exact(0), "exact 0 on head 2"}};
  for (const Case& c : cases) {
    AppendOutcome out = Append("conflict", c.expected, Events(3, "x"));
    EXPECT_EQ(out.code, CAIRN_E_WRONG_EXPECTED_REVISION)
        << c.what << ": got " << Describe(out.code, out.message.c_str());
    EXPECT_FALSE(out.message.empty())
        << c.what << ": a conflict must say what the head was";
  }
  AppendOutcome out = Append("conflict-absent", Exact(4), Events(1));
  EXPECT_EQ(out.code, CAIRN_E_WRONG_EXPECTED_REVISION)
      << "exact 4 on a stream with no event: got "
      << Describe(out.code, out.message.c_str());
  CheckAndReopen([&] {
    EXPECT_EQ(HeadRevision("conflict"), 2u) << "a conflict wrote events";
    EXPECT_EQ(HeadRevision("conflict-absent"), 0u) << "a conflict wrote events";
    EXPECT_EQ(HeadPosition(), position) << "a conflict moved the head position";
    EXPECT_EQ(ReadAll().size(), 2u) << "a conflict wrote events";
  });
}

CAIRN_TEST_P(StorageConformance, EmptyBatchChecksExpectedRevisionOnly,
             kRuleExpectedRevisionChecked) {
  MustAppend("empty-batch", Any(), Events(1));
  AppendOutcome out = Append("empty-batch", Exact(5), {});
  EXPECT_EQ(out.code, CAIRN_E_WRONG_EXPECTED_REVISION)
      << "an empty batch still checks the expected revision; got "
      << Describe(out.code, out.message.c_str());
  out = Append("empty-batch", Exact(1), {});
  EXPECT_EQ(out.code, CAIRN_OK) << Describe(out.code, out.message.c_str());
  // cairn/plugin.h: the result holds empty ranges just past the heads.
  auto expect_empty_ranges = [](const AppendOutcome& o, uint64_t head,
                                uint64_t head_position, const char* what) {
    EXPECT_EQ(o.result.first_revision, head + 1)
        << kRuleEmptyBatchResult << " (" << what
        << "): first_revision = head + 1";
    EXPECT_EQ(o.result.last_revision, head)
        << kRuleEmptyBatchResult << " (" << what << "): last_revision = head";
    EXPECT_EQ(o.result.first_position, head_position + 1)
        << kRuleEmptyBatchResult << " (" << what
        << "): first_position = head_position + 1";
    EXPECT_EQ(o.result.last_position, head_position)
        << kRuleEmptyBatchResult << " (" << what
        << "): last_position = head_position";
  };
  expect_empty_ranges(out, 1, 1, "a stream with head 1");
  out = Append("empty-batch-new", NoStream(), {});
  EXPECT_EQ(out.code, CAIRN_OK) << Describe(out.code, out.message.c_str());
  expect_empty_ranges(out, 0, 1, "a stream with no event");
  EXPECT_EQ(HeadRevision("empty-batch"), 1u);
  EXPECT_EQ(HeadRevision("empty-batch-new"), 0u);
  EXPECT_EQ(HeadPosition(), 1u) << "an empty batch moved the head position";
}

CAIRN_TEST_P(StorageConformance, PositionsAreGapFreeAndInCommitOrder,
             kRuleGapFreePositions) {
  struct Step {
    const char* stream;
    size_t count;
  } steps[] = {{"pos-a", 2}, {"pos-b", 1}, {"pos-a", 3}, {"pos-c", 1}};
  uint64_t expected_first = 1;
  std::vector<std::string> order;
  int n = 0;
  for (const Step& s : steps) {
    std::vector<EventSpec> batch =
        Events(s.count, std::string(s.stream) + "#" + std::to_string(n++));
    for (const EventSpec& e : batch) order.push_back(e.data);
    cairn_append_result r = MustAppend(s.stream, Any(), batch);
    EXPECT_EQ(r.first_position, expected_first)
        << kRuleGapFreePositions << ": the batch to '" << s.stream
        << "' should start at position " << expected_first;
    EXPECT_EQ(r.last_position, expected_first + s.count - 1)
        << kRuleGapFreePositions << " (a batch of " << s.count
        << " takes that many positions)";
    expected_first = r.last_position + 1;
  }
  CheckAndReopen([&] {
    std::vector<ReadEvent> all = ReadAll(0, CAIRN_MAX_REVISION, true);
    ASSERT_EQ(all.size(), 7u);
    ExpectGapFreePositions(all);
    EXPECT_EQ(Datas(all), order) << "read_all must follow commit order";
    EXPECT_EQ(HeadPosition(), 7u);
  });
}

// ---- Reads ---------------------------------------------------------------

CAIRN_TEST_P(StorageConformance, ReadStreamHasInclusiveBoundsAndMax,
             kRuleReadBounds) {
  MustAppend("bounds", Any(), Events(5));
  MustAppend("bounds-other", Any(), Events(2));
  CheckAndReopen([&] {
    EXPECT_EQ(Revisions(ReadStream("bounds", 2, 4)),
              (std::vector<uint64_t>{2, 3, 4}))
        << "from and to are inclusive";
    EXPECT_EQ(Revisions(ReadStream("bounds", 2, 4, 2)),
              (std::vector<uint64_t>{2, 3}))
        << "max limits the count";
    EXPECT_EQ(Revisions(ReadStream("bounds", 3, 3)),
              (std::vector<uint64_t>{3}));
    EXPECT_TRUE(ReadStream("bounds", 1, CAIRN_MAX_REVISION, 0).empty())
        << kRuleMaxCountZeroReadsNothing << " (read_stream)";
    EXPECT_TRUE(ReadStream("bounds", 4, 2).empty()) << "from > to reads nothing";
    EXPECT_TRUE(ReadStream("bounds", 6).empty())
        << "from beyond the head reads nothing";
    EXPECT_TRUE(ReadStream("bounds-unknown").empty())
        << "an unknown stream reads nothing (and is not an error)";
    EXPECT_EQ(Revisions(ReadStream("bounds", 4, CAIRN_MAX_REVISION)),
              (std::vector<uint64_t>{4, 5}));
  });
}

CAIRN_TEST_P(StorageConformance, ReadAllAfterPositionIsExclusive,
             kRuleReadBounds) {
  MustAppend("all-a", Any(), Events(3));
  MustAppend("all-b", Any(), Events(2));
  CheckAndReopen([&] {
    EXPECT_EQ(Positions(ReadAll(2)), (std::vector<uint64_t>{3, 4, 5}))
        << "after_position is exclusive";
    EXPECT_EQ(Positions(ReadAll(0, 2)), (std::vector<uint64_t>{1, 2}))
        << "max limits the count";
    EXPECT_TRUE(ReadAll(0, 0).empty())
        << kRuleMaxCountZeroReadsNothing << " (read_all)";
    EXPECT_TRUE(ReadAll(5).empty()) << "after the head reads nothing";
    EXPECT_TRUE(ReadAll(CAIRN_MAX_REVISION).empty());
  });
}

CAIRN_TEST_P(StorageConformance, ReadTagAfterPositionIsExclusive,
             kRuleReadBounds) {
  SKIP_UNLESS(CAIRN_CAP_TAGS, "read by tag");
  std::vector<EventSpec> batch = Events(3, "t");
  batch[0].tags = {"order"};
  batch[2].tags = {"order", "vip"};
  MustAppend("tag-a", Any(), batch);  // positions 1..3
  MustAppend("tag-b", Any(), Events(1));  // 4, untagged
  std::vector<EventSpec> more = Events(2, "u");
  more[1].tags = {"vip", "order"};
  MustAppend("tag-c", Any(), more);  // 5, 6
  CheckAndReopen([&] {
    EXPECT_EQ(Positions(ReadTag("order")), (std::vector<uint64_t>{1, 3, 6}));
    EXPECT_EQ(Positions(ReadTag("order", 1)), (std::vector<uint64_t>{3, 6}))
        << "after_position is exclusive";
    EXPECT_EQ(Positions(ReadTag("order", 0, 2)),
              (std::vector<uint64_t>{1, 3}))
        << "max limits the count";
    EXPECT_TRUE(ReadTag("order", 0, 0).empty())
        << kRuleMaxCountZeroReadsNothing << " (read_tag)";
    EXPECT_EQ(Positions(ReadTag("vip")), (std::vector<uint64_t>{3, 6}));
    EXPECT_TRUE(ReadTag("no-such-tag").empty());
    std::vector<ReadEvent> vip = ReadTag("vip");
    ASSERT_EQ(vip.size(), 2u);
    EXPECT_EQ(vip[1].stream, "tag-c");
    std::multiset<std::string> tags(vip[1].tags.begin(), vip[1].tags.end());
    EXPECT_EQ(tags, (std::multiset<std::string>{"order", "vip"}))
        << "an event's tags come back as appended";
  });
}

CAIRN_TEST_P(StorageConformance, CurrentReadsEndAtTheHead, kRuleReadBounds) {
  MustAppend("current-a", Any(), Events(4));
  MustAppend("current-b", Any(), Events(3));
  uint64_t head = HeadPosition();
  std::vector<ReadEvent> all = ReadAll();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back().position, head)
      << "read_all must end exactly at head_position";
  EXPECT_EQ(ReadStream("current-a").back().revision, HeadRevision("current-a"));
}

CAIRN_TEST_P(StorageConformance, ReaderStopsWhenCallbackAsks,
             kRuleReadStopsWhenAsked) {
  MustAppend("stop", Any(), Events(5));
  int calls = 0;
  cairn_event_fn stop_after_two = [](void* c, const cairn_event*) {
    return ++*static_cast<int*>(c) >= 2 ? 1 : 0;
  };
  ASSERT_EQ(api_->read_stream(store_, Bytes("stop"), 1, CAIRN_MAX_REVISION,
                              CAIRN_MAX_REVISION, stop_after_two, &calls,
                              error_.get()),
            CAIRN_OK)
      << error_.message;
  EXPECT_EQ(calls, 2) << "read_stream went on after the callback returned 1";
  calls = 0;
  ASSERT_EQ(api_->read_all(store_, 0, CAIRN_MAX_REVISION, 0, stop_after_two,
                           &calls, error_.get()),
            CAIRN_OK)
      << error_.message;
  EXPECT_EQ(calls, 2) << "read_all went on after the callback returned 1";
}

// ---- Delete --------------------------------------------------------------

CAIRN_TEST_P(StorageConformance, DeleteToHidesEventsButNeverLowersTheHead,
             kRuleDeleteToKeepsHead) {
  SKIP_UNLESS(CAIRN_CAP_DELETE, "delete_to");
  MustAppend("del", Any(), Events(5));
  MustAppend("del-keep", Any(), Events(2));
  DeleteTo("del", 3);
  CheckAndReopen([&] {
    EXPECT_EQ(Revisions(ReadStream("del")), (std::vector<uint64_t>{4, 5}))
        << "revisions <= 3 must be hidden";
    EXPECT_EQ(HeadRevision("del"), 5u) << "delete_to must keep the head";
    EXPECT_EQ(ReadAll().size(), 4u)
        << "read_all skips deleted events unless include_deleted";
    EXPECT_EQ(ReadAll(0, CAIRN_MAX_REVISION, true).size(), 7u)
        << "read_all with include_deleted returns deleted events";
    std::vector<StreamRow> rows = ListStreams();
    ASSERT_FALSE(rows.empty());
    EXPECT_GE(rows[0].deleted_to, 3u) << "list_streams reports deleted_to";
  });
  DeleteTo("del", 2);  // lower than before: changes nothing
  EXPECT_EQ(Revisions(ReadStream("del")), (std::vector<uint64_t>{4, 5}))
      << "a lower delete_to must not bring events back";
}

CAIRN_TEST_P(StorageConformance, DeleteToMaximumHidesAllAndKeepsTheHead,
             kRuleDeleteToKeepsHead) {
  SKIP_UNLESS(CAIRN_CAP_DELETE, "delete_to");
  MustAppend("del-max", Any(), Events(3));
  DeleteTo("del-max", CAIRN_MAX_REVISION);
  CheckAndReopen([&] {
    EXPECT_TRUE(ReadStream("del-max").empty());
    EXPECT_EQ(HeadRevision("del-max"), 3u)
        << "delete_to(max) must keep the head revision";
  });
  cairn_append_result r = MustAppend("del-max", Exact(3), Events(1));
  EXPECT_EQ(r.first_revision, 4u)
      << kRuleContiguousRevisions << " after a delete: the next revision is 4";
  EXPECT_EQ(AppendOutcome(Append("del-max", NoStream(), Events(1))).code,
            CAIRN_E_WRONG_EXPECTED_REVISION)
      << "a deleted stream still has a head: no-stream must conflict";
}

CAIRN_TEST_P(StorageConformance, DeleteToPastTheHeadDeletesToTheHead,
             kRuleDeleteToClampsToHead) {
  SKIP_UNLESS(CAIRN_CAP_DELETE, "delete_to");
  MustAppend("del-past", Any(), Events(3, "old"));
  DeleteTo("del-past", 5);
  EXPECT_TRUE(ReadStream("del-past").empty())
      << kRuleDeleteToClampsToHead << ": revisions 1..3 are deleted";
  MustAppend("del-past", Exact(3), Events(3, "new"));
  CheckAndReopen([&] {
    EXPECT_EQ(Revisions(ReadStream("del-past")),
              (std::vector<uint64_t>{4, 5, 6}))
        << kRuleDeleteToClampsToHead
        << ": delete_to(5) on head 3 deletes to 3, so revisions 4 and 5 "
           "appended later are visible";
    std::vector<StreamRow> rows = ListStreams();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].deleted_to, 3u)
        << kRuleDeleteToClampsToHead << ": list_streams' deleted_to";
  });
}

CAIRN_TEST_P(StorageConformance, ReadTagSkipsDeletedEvents,
             kRuleReadTagSkipsDeleted) {
  SKIP_UNLESS(CAIRN_CAP_TAGS, "read_tag");
  SKIP_UNLESS(CAIRN_CAP_DELETE, "delete_to");
  std::vector<EventSpec> batch = Events(4, "tagged");
  for (EventSpec& e : batch) e.tags = {"tag-del"};
  MustAppend("tag-del-a", Any(), batch);       // positions 1..4
  MustAppend("tag-del-b", Any(), {batch[0]});  // position 5
  DeleteTo("tag-del-a", 2);
  CheckAndReopen([&] {
    EXPECT_EQ(Positions(ReadTag("tag-del")), (std::vector<uint64_t>{3, 4, 5}))
        << kRuleReadTagSkipsDeleted
        << ": revisions 1 and 2 of 'tag-del-a' are deleted";
    EXPECT_EQ(Positions(ReadTag("tag-del", 0, 1)), (std::vector<uint64_t>{3}))
        << kRuleReadTagSkipsDeleted << " (max_count counts what it returns)";
  });
  DeleteTo("tag-del-a", CAIRN_MAX_REVISION);
  EXPECT_EQ(Positions(ReadTag("tag-del")), (std::vector<uint64_t>{5}))
      << kRuleReadTagSkipsDeleted << ": all of 'tag-del-a' is deleted";
}

CAIRN_TEST_P(StorageConformance, DeleteToUnknownStreamIsOk,
             kRuleDeleteToKeepsHead) {
  SKIP_UNLESS(CAIRN_CAP_DELETE, "delete_to");
  DeleteTo("del-nobody", 10);
  EXPECT_EQ(HeadRevision("del-nobody"), 0u);
  EXPECT_EQ(HeadPosition(), 0u);
}

// ---- Snapshots -----------------------------------------------------------

CAIRN_TEST_P(StorageConformance, SnapshotLoadPicksNewestMatchingCriteria,
             kRuleSnapshotCriteria) {
  SKIP_UNLESS(CAIRN_CAP_SNAPSHOTS, "snapshots");
  SaveSnapshot("snap", 5, 1000, "five");
  SaveSnapshot("snap", 10, 2000, "ten");
  SaveSnapshot("snap", 10, 3000, "ten, overwritten");
  SaveSnapshot("snap", 20, 2500, "twenty");
  SaveSnapshot("snap-other", 99, 9999, "other stream");
  CheckAndReopen([&] {
    cairn_snapshot_criteria c = AllSnapshots();
    EXPECT_EQ(LoadSnapshot("snap", c),
              (SnapshotRow{20, 2500, "twenty"}))
        << "with no bounds, the highest revision wins";
    c = AllSnapshots();
    c.max_revision = 19;
    EXPECT_EQ(LoadSnapshot("snap", c),
              (SnapshotRow{10, 3000, "ten, overwritten"}))
        << "max_revision bounds, and a save at the same revision overwrites";
    c = AllSnapshots();
    c.min_revision = 21;
    EXPECT_EQ(LoadSnapshot("snap", c), std::nullopt)
        << "min_revision above every snapshot matches none";
    c = AllSnapshots();
    c.max_timestamp_us = 2999;
    EXPECT_EQ(LoadSnapshot("snap", c), (SnapshotRow{20, 2500, "twenty"}))
        << "max_timestamp bounds (inclusive)";
    c.max_timestamp_us = 2499;
    EXPECT_EQ(LoadSnapshot("snap", c), (SnapshotRow{5, 1000, "five"}))
        << "max_timestamp excludes the overwritten snapshot's new time";
    c = AllSnapshots();
    c.min_timestamp_us = 2600;
    EXPECT_EQ(LoadSnapshot("snap", c),
              (SnapshotRow{10, 3000, "ten, overwritten"}))
        << "min_timestamp bounds (inclusive)";
    c = AllSnapshots();
    c.min_revision = 10;
    c.max_revision = 10;
    EXPECT_EQ(LoadSnapshot("snap", c),
              (SnapshotRow{10, 3000, "ten, overwritten"}))
        << "an exact revision range picks that revision";
    EXPECT_EQ(LoadSnapshot("snap-unknown", AllSnapshots()), std::nullopt)
        << "a stream with no snapshot loads none";
  });
}

CAIRN_TEST_P(StorageConformance, SnapshotDeleteOneAndByCriteria,
             kRuleSnapshotCriteria) {
  SKIP_UNLESS(CAIRN_CAP_SNAPSHOTS, "snapshots");
  SaveSnapshot("snapdel", 1, 100, "one");
  SaveSnapshot("snapdel", 2, 200, "two");
  SaveSnapshot("snapdel", 3, 300, "three");
  SaveSnapshot("snapdel", 4, 400, "four");
  ASSERT_EQ(api_->snapshot_delete(store_, Bytes("snapdel"), 4, error_.get()),
            CAIRN_OK)
      << error_.message;
  EXPECT_EQ(api_->snapshot_delete(store_, Bytes("snapdel"), 77, error_.get()),
            CAIRN_OK)
      << "deleting a snapshot that is not there is OK: " << error_.message;
  EXPECT_EQ(LoadSnapshot("snapdel", AllSnapshots()),
            (SnapshotRow{3, 300, "three"}))
      << "snapshot_delete must remove revision 4 only";
  cairn_snapshot_criteria c = AllSnapshots();
  c.min_revision = 2;
  c.max_timestamp_us = 300;
  ASSERT_EQ(api_->snapshot_delete_matching(store_, Bytes("snapdel"), &c,
                                           error_.get()),
            CAIRN_OK)
      << error_.message;
  CheckAndReopen([&] {
    EXPECT_EQ(LoadSnapshot("snapdel", AllSnapshots()),
              (SnapshotRow{1, 100, "one"}))
        << "delete by criteria must remove revisions 2 and 3 only";
  });
}

// ---- Streams directory ---------------------------------------------------

CAIRN_TEST_P(StorageConformance, ListStreamsInOrderOfFirstAppend,
             kRuleListStreamsOrder) {
  MustAppend("list-b", Any(), Events(1));
  MustAppend("list-a", Any(), Events(2));
  MustAppend("list-b", Any(), Events(2));
  MustAppend("list-c", Any(), Events(1));
  CheckAndReopen([&] {
    std::vector<StreamRow> rows = ListStreams();
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].name, "list-b");
    EXPECT_EQ(rows[0].ordinal, 1u);
    EXPECT_EQ(rows[0].head_revision, 3u);
    EXPECT_EQ(rows[1].name, "list-a");
    EXPECT_EQ(rows[1].ordinal, 2u);
    EXPECT_EQ(rows[2].name, "list-c");
    EXPECT_EQ(rows[2].ordinal, 3u);
    std::vector<StreamRow> after = ListStreams(1);
    ASSERT_EQ(after.size(), 2u) << "after_ordinal is exclusive";
    EXPECT_EQ(after[0].name, "list-a");
    std::vector<StreamRow> one = ListStreams(0, 1);
    ASSERT_EQ(one.size(), 1u) << "max limits the count";
    EXPECT_EQ(one[0].name, "list-b");
    EXPECT_TRUE(ListStreams(0, 0).empty())
        << kRuleMaxCountZeroReadsNothing << " (list_streams)";
    EXPECT_TRUE(ListStreams(3).empty());
  });
}

// ---- Payloads and names --------------------------------------------------

CAIRN_TEST_P(StorageConformance, EveryEventFieldRoundTrips,
             kRuleEventsAsWritten) {
  EventSpec e;
  e.type = "OrderPlaced";
  e.timestamp_us = 1732550400123456;
  e.writer = "node-7";
  e.metadata = std::string("meta\0data", 9);
  for (int i = 0; i < 256; ++i) e.data.push_back(static_cast<char>(i));
  if (target().Has(CAIRN_CAP_TAGS)) e.tags = {"order", "emea"};
  MustAppend("fields", Any(), {e});
  CheckAndReopen([&] {
    std::vector<ReadEvent> got = ReadStream("fields");
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].type, e.type);
    EXPECT_EQ(got[0].timestamp_us, e.timestamp_us) << kRuleTimestampAsGiven;
    EXPECT_EQ(got[0].writer, e.writer);
    EXPECT_EQ(got[0].metadata, e.metadata);
    EXPECT_EQ(got[0].data, e.data);
    std::multiset<std::string> tags(got[0].tags.begin(), got[0].tags.end());
    EXPECT_EQ(tags, std::multiset<std::string>(e.tags.begin(), e.tags.end()));
    EXPECT_EQ(ReadAll(), got) << "read_all and read_stream disagree";
  });
}

CAIRN_TEST_P(StorageConformance, EmptyPayloadsRoundTrip, kRuleEventsAsWritten) {
  EventSpec empty;
  empty.type = "";
  MustAppend("empty", Any(), {empty, empty});
  CheckAndReopen([&] {
    std::vector<ReadEvent> got = ReadStream("empty");
    ASSERT_EQ(got.size(), 2u);
    for (const ReadEvent& e : got) {
      EXPECT_TRUE(e.type.empty());
      EXPECT_TRUE(e.data.empty());
      EXPECT_TRUE(e.metadata.empty());
      EXPECT_TRUE(e.writer.empty());
      EXPECT_TRUE(e.tags.empty());
      EXPECT_EQ(e.timestamp_us, 0)
          << kRuleTimestampAsGiven << ": the host stamps events; 0 is stored "
          << "as 0";
    }
  });
}

CAIRN_TEST_P(StorageConformance, SixteenMebibyteEventRoundTrips,
             kRuleEventsAsWritten) {
  EventSpec big;
  big.data.resize(16u << 20);
  uint64_t x = 0x9E3779B97F4A7C15ull;  // xorshift: not compressible
  for (size_t i = 0; i < big.data.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    for (size_t b = 0; b < 8 && i + b < big.data.size(); ++b) {
      big.data[i + b] = static_cast<char>(x >> (8 * b));
    }
  }
  MustAppend("big", Any(), {big});
  MustAppend("big", Any(), Events(1, "after"));
  CheckAndReopen([&] {
    std::vector<ReadEvent> got = ReadStream("big");
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].data.size(), big.data.size());
    EXPECT_TRUE(got[0].data == big.data) << "the 16 MiB payload changed";
    EXPECT_EQ(got[1].data, "after-0");
  });
}

CAIRN_TEST_P(StorageConformance, Utf8StreamNamesRoundTrip,
             kRuleEventsAsWritten) {
  std::string euros;
  for (int i = 0; i < 85; ++i) euros += "\xE2\x82\xAC";  // 85 x 3 = 255 bytes
  std::vector<std::string> names = {"заказ-42", "注文/東京",
                                    "stream-\xF0\x9F\x9A\x80", euros};
  for (const std::string& n : names) MustAppend(n, NoStream(), Events(1, n));
  CheckAndReopen([&] {
    std::vector<StreamRow> rows = ListStreams();
    ASSERT_EQ(rows.size(), names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      EXPECT_EQ(rows[i].name, names[i]);
      std::vector<ReadEvent> got = ReadStream(names[i]);
      ASSERT_EQ(got.size(), 1u) << "stream " << names[i];
      EXPECT_EQ(got[0].stream, names[i]);
      EXPECT_EQ(got[0].data, names[i] + "-0");
    }
  });
}

CAIRN_TEST_P(StorageConformance, RejectsInvalidStreamNamesWithClearErrors,
             kRuleInvalidNamesRefused) {
  std::string euros_256 = std::string(85 * 3, 'x') + "y";  // 256 bytes
  struct Bad {
    std::string name;
    const char* why;
  } bad[] = {{"", "an empty name"},
             {std::string(256, 'n'), "a 256-byte name"},
             {euros_256, "another 256-byte name"},
             {std::string("nul\0inside", 10), "a name with a NUL byte"}};
  for (const Bad& b : bad) {
    AppendOutcome out = Append(b.name, Any(), Events(1));
    EXPECT_EQ(out.code, CAIRN_E_INVALID_ARGUMENT)
        << "append with " << b.why << ": got "
        << Describe(out.code, out.message.c_str());
    EXPECT_FALSE(out.message.empty())
        << "append with " << b.why << " must say what is wrong";
    std::vector<ReadEvent> ignored;
    std::string message;
    cairn_status st = ReadStreamFrom(api_, store_, b.name, 1,
                                     CAIRN_MAX_REVISION, CAIRN_MAX_REVISION,
                                     &ignored, &message);
    EXPECT_EQ(st, CAIRN_E_INVALID_ARGUMENT) << "read_stream with " << b.why;
    EXPECT_FALSE(message.empty()) << "read_stream with " << b.why;
    uint64_t head = 0;
    st = api_->head_revision(store_, Bytes(b.name), &head, error_.get());
    EXPECT_EQ(st, CAIRN_E_INVALID_ARGUMENT) << "head_revision with " << b.why;
    if (target().Has(CAIRN_CAP_DELETE)) {
      st = api_->delete_to(store_, Bytes(b.name), 1, error_.get());
      EXPECT_EQ(st, CAIRN_E_INVALID_ARGUMENT) << "delete_to with " << b.why;
    }
    if (target().Has(CAIRN_CAP_SNAPSHOTS)) {
      const std::string data = "s";
      cairn_snapshot snapshot{sizeof(cairn_snapshot), Bytes(b.name), 1, 0,
                              Bytes(data)};
      st = api_->snapshot_save(store_, &snapshot, error_.get());
      EXPECT_EQ(st, CAIRN_E_INVALID_ARGUMENT) << "snapshot_save with " << b.why;
      EXPECT_STRNE(error_.message, "") << "snapshot_save with " << b.why;
    }
  }
  EXPECT_EQ(HeadPosition(), 0u) << "a rejected append wrote something";
  EXPECT_TRUE(ListStreams().empty()) << "a rejected append created a stream";
}

CAIRN_TEST_P(StorageConformance, RejectsInvalidTagsWithClearErrors,
             kRuleInvalidNamesRefused) {
  struct Bad {
    std::string tag;
    const char* why;
  } bad[] = {{"", "an empty tag"},
             {std::string(256, 't'), "a 256-byte tag"},
             {std::string("t\0g", 3), "a tag with a NUL byte"}};
  for (const Bad& b : bad) {
    std::vector<EventSpec> batch = Events(1);
    batch[0].tags = {b.tag};
    AppendOutcome out = Append("bad-tags", Any(), batch);
    EXPECT_EQ(out.code, CAIRN_E_INVALID_ARGUMENT)
        << "append with " << b.why << ": got "
        << Describe(out.code, out.message.c_str());
    EXPECT_FALSE(out.message.empty()) << b.why;
  }
  EXPECT_EQ(HeadPosition(), 0u) << "a rejected append wrote something";
}

CAIRN_TEST_P(StorageConformance, RejectedBatchWritesNothing,
             kRuleAtomicBatches) {
  MustAppend("atomic-reject", Any(), Events(1));
  std::vector<EventSpec> batch = Events(3, "bad");
  batch[2].tags = {""};  // the last event is malformed
  AppendOutcome out = Append("atomic-reject", Any(), batch);
  EXPECT_EQ(out.code, CAIRN_E_INVALID_ARGUMENT)
      << Describe(out.code, out.message.c_str());
  CheckAndReopen([&] {
    EXPECT_EQ(HeadRevision("atomic-reject"), 1u)
        << kRuleAtomicBatches
        << ": a batch whose last event is rejected must write none of it";
    EXPECT_EQ(ReadAll().size(), 1u) << kRuleAtomicBatches;
  });
}

// ---- Housekeeping (the replica side: storage_log_cases.cc)
// ------------------------------------------

CAIRN_TEST_P(StorageConformance, FlushStatsAndVerifySucceedOnAHealthyStore,
             kRuleHousekeepingSucceeds) {
  MustAppend("house", Any(), Events(3));
  cairn_status st = api_->flush(store_, error_.get());
  EXPECT_EQ(st, CAIRN_OK) << Describe(st, error_.message);
  if (api_->stats != nullptr) {
    std::vector<std::string> names;
    cairn_stat_fn collect = [](void* c, const char* name, double) {
      static_cast<std::vector<std::string>*>(c)->push_back(name ? name : "");
    };
    st = api_->stats(store_, collect, &names, error_.get());
    EXPECT_EQ(st, CAIRN_OK) << Describe(st, error_.message);
    for (const std::string& n : names) {
      EXPECT_FALSE(n.empty()) << "a stat must have a name";
    }
  }
  if (api_->verify != nullptr) {
    std::vector<std::string> problems;
    cairn_problem_fn collect = [](void* c, const char* description) {
      static_cast<std::vector<std::string>*>(c)->push_back(description);
    };
    st = api_->verify(store_, collect, &problems, error_.get());
    EXPECT_EQ(st, CAIRN_OK) << Describe(st, error_.message);
    EXPECT_TRUE(problems.empty())
        << "verify found problems in a healthy store: " << problems.front();
  }
}

CAIRN_TEST_P(StorageConformance, MaintainKeepsEverythingTheOptionsKeep,
             kRuleMaintainKeeps) {
  if (!CAIRN_HAS_FIELD(cairn_storage_api, api_, maintain) ||
      api_->maintain == nullptr) {
    GTEST_SKIP() << NoteSkip("function 'maintain'", "maintenance");
  }
  MustAppend("maintain-a", Any(), Events(5));
  MustAppend("maintain-b", Any(), Events(3));
  if (target().Has(CAIRN_CAP_DELETE)) DeleteTo("maintain-b", 2);
  if (target().Has(CAIRN_CAP_SNAPSHOTS)) {
    SaveSnapshot("maintain-a", 4, 1000, "state at 4");
  }
  MustAppend("maintain-a", Any(), Events(2, "after"));
  const std::vector<ReadEvent> all = ReadAll(0, CAIRN_MAX_REVISION, true);
  const std::vector<ReadEvent> live = ReadAll();
  const uint64_t head = HeadPosition();
  const bool ordered = target().Has(CAIRN_CAP_ORDERED_LOG);
  const std::vector<LogRow> log = ordered ? ReadLog() : std::vector<LogRow>{};
  const std::optional<SnapshotRow> snapshot =
      target().Has(CAIRN_CAP_SNAPSHOTS)
          ? LoadSnapshot("maintain-a", AllSnapshots())
          : std::nullopt;

  std::vector<std::string> changes;
  cairn_change_fn collect = [](void* c, const char* description) {
    static_cast<std::vector<std::string>*>(c)->push_back(
        description != nullptr ? description : "");
  };
  cairn_status st = api_->maintain(store_, collect, &changes, error_.get());
  if (st == CAIRN_E_UNSUPPORTED) {
    EXPECT_STRNE(error_.message, "")
        << kRuleMaintainKeeps << ": an unsupported maintain must say why";
    return;
  }
  ASSERT_EQ(st, CAIRN_OK) << kRuleMaintainKeeps << ": "
                          << Describe(st, error_.message);
  for (const std::string& change : changes) {
    EXPECT_FALSE(change.empty())
        << kRuleMaintainKeeps << ": a change maintain reports must say what";
  }
  CheckAndReopen([&] {
    EXPECT_EQ(ReadAll(0, CAIRN_MAX_REVISION, true), all)
        << kRuleMaintainKeeps
        << ": maintain without retention removed or changed events";
    EXPECT_EQ(ReadAll(), live) << kRuleMaintainKeeps;
    EXPECT_EQ(HeadPosition(), head) << kRuleMaintainKeeps;
    EXPECT_EQ(HeadRevision("maintain-a"), 7u) << kRuleMaintainKeeps;
    EXPECT_EQ(HeadRevision("maintain-b"), 3u) << kRuleMaintainKeeps;
    if (ordered) {
      EXPECT_EQ(ReadLog(), log) << kRuleMaintainKeeps;
    }
    if (target().Has(CAIRN_CAP_SNAPSHOTS)) {
      EXPECT_EQ(LoadSnapshot("maintain-a", AllSnapshots()), snapshot)
          << kRuleMaintainKeeps;
    }
  });
}

// ---- Persistence ---------------------------------------------------------

CAIRN_TEST_P(StorageConformance, EverythingSurvivesCloseAndReopen,
             kRuleSurvivesReopen) {
  SKIP_UNLESS(CAIRN_CAP_PERSISTENT, "close and reopen");
  std::vector<EventSpec> batch = Events(4, "persist");
  if (target().Has(CAIRN_CAP_TAGS)) batch[1].tags = {"kept"};
  MustAppend("persist-a", NoStream(), batch);
  MustAppend("persist-b", NoStream(), Events(2, "b"));
  MustAppend("persist-a", Exact(4), Events(1, "tail"));
  if (target().Has(CAIRN_CAP_DELETE)) DeleteTo("persist-b", 1);
  if (target().Has(CAIRN_CAP_SNAPSHOTS)) SaveSnapshot("persist-a", 4, 7, "s");
  ASSERT_EQ(api_->flush(store_, error_.get()), CAIRN_OK) << error_.message;

  std::vector<ReadEvent> all = ReadAll(0, CAIRN_MAX_REVISION, true);
  std::vector<ReadEvent> visible = ReadAll();
  std::vector<StreamRow> streams = ListStreams();
  uint64_t head = HeadPosition();
  for (int round = 1; round <= 2; ++round) {
    SCOPED_TRACE("reopen #" + std::to_string(round));
    ASSERT_NO_FATAL_FAILURE(Reopen());
    std::vector<ReadEvent> after = ReadAll(0, CAIRN_MAX_REVISION, true);
    EXPECT_EQ(after.size(), all.size())
        << kRuleSurvivesReopen << ": " << all.size()
        << " events before close, " << after.size() << " after reopen";
    EXPECT_EQ(after, all) << kRuleSurvivesReopen
                          << ": the events read back differ";
    EXPECT_EQ(ReadAll(), visible) << "deletes must survive reopen";
    EXPECT_EQ(ListStreams(), streams) << "the stream directory changed";
    EXPECT_EQ(HeadRevision("persist-a"), 5u) << kRuleSurvivesReopen;
    if (target().Has(CAIRN_CAP_SNAPSHOTS)) {
      EXPECT_EQ(LoadSnapshot("persist-a", AllSnapshots()),
                (SnapshotRow{4, 7, "s"}))
          << "snapshots must survive reopen";
    }
    if (target().Has(CAIRN_CAP_TAGS)) {
      EXPECT_EQ(Positions(ReadTag("kept")), (std::vector<uint64_t>{2}))
          << "the tag index must survive reopen";
    }
  }
  // Appending after a reopen continues revisions and positions.
  cairn_append_result r = MustAppend("persist-a", Exact(5), Events(1));
  EXPECT_EQ(r.first_revision, 6u) << kRuleContiguousRevisions;
  EXPECT_EQ(r.first_position, head + 1) << kRuleGapFreePositions;
}

CAIRN_TEST_P(StorageConformance, ASecondOpenFromAnotherProcessIsRefused,
             kRuleOneOpenerPerStore) {
  SKIP_UNLESS(CAIRN_CAP_PERSISTENT, "a second open from another process");
  MustAppend("locked", NoStream(), Events(2, "locked"));
  ASSERT_EQ(api_->flush(store_, error_.get()), CAIRN_OK) << error_.message;
  // The child opens the store this test holds open, with the same options.
  // It never closes what it opened: closing could change the files the
  // parent still uses.
  ChildOutcome child = RunInChild(
      [&]() -> std::string {
        cairn_storage* second = nullptr;
        ErrorBuffer error;
        cairn_status st = api_->open(options_->get(), &second, error.get());
        if (st == CAIRN_OK) return "open returned CAIRN_OK";
        if (error.message[0] == '\0') return "the refusal says nothing";
        return "";
      },
      60);
  if (!child.ran) {
    FAIL() << kRuleOneOpenerPerStore
           << ": the second open, in another process, did not return: "
           << child.crash;
  }
  EXPECT_EQ(child.failure, "")
      << kRuleOneOpenerPerStore << ": while this process has the store open, "
      << "another process opened it too (" << child.failure
      << "); two writers would corrupt it";
  EXPECT_EQ(ReadStream("locked").size(), 2u);
}

// ---- The host-defined option `create` (cairn/plugin.h) --------------------

CAIRN_TEST_P(StorageConformance, CreateFalseOpensOnlyAStoreThatExists,
             kRuleCreateFalse) {
  if (!target().AcceptsOption("create") || !target().AcceptsOption("path")) {
    GTEST_SKIP() << NoteSkip("option 'create' (with 'path')",
                             "opening without create");
  }
  MustAppend("kept", NoStream(), Events(2, "kept"));
  Close();
  // Every option as the test's, but `path` and `create` as given.
  auto open_at = [&](const std::string& path, cairn_storage** store) {
    std::vector<std::pair<std::string, std::string>> values = {
        {"path", path}, {"create", "false"}};
    for (const auto& kv : target().options) {
      if (kv.first != "path" && kv.first != "create") values.push_back(kv);
    }
    std::vector<cairn_option> items;
    for (const auto& [k, v] : values) items.push_back({k.c_str(), v.c_str()});
    cairn_options options{items.data(), items.size()};
    return api_->open(&options, store, error_.get());
  };
  const std::string missing = options_->store_path() + "/missing";
  cairn_storage* none = nullptr;
  cairn_status st = open_at(missing, &none);
  EXPECT_EQ(st, CAIRN_E_NOT_FOUND)
      << "create=false at a missing folder must be NOT_FOUND, was "
      << Describe(st, error_.message);
  if (none != nullptr) api_->close(none);
  EXPECT_FALSE(std::filesystem::exists(missing))
      << "create=false created " << missing;

  st = open_at(options_->store_path(), &store_);
  ASSERT_EQ(st, CAIRN_OK) << "create=false must open the existing store: "
                          << Describe(st, error_.message);
  EXPECT_EQ(ReadStream("kept").size(), 2u);
}

}  // namespace
}  // namespace cairn::conformance
