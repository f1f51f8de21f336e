// What the conformance suite runs against: the plugin under test, the
// options to open it with, and the bookkeeping every suite shares (fresh
// temporary folders, skipped capabilities, the rules a failure names).
//
// The suites are GoogleTest value-parameterized tests whose parameter is a
// Target. A runner (cairn-conformance, or a plugin author's own test binary)
// calls AddTarget() before ::testing::InitGoogleTest(); each kind's suite is
// instantiated with the targets of its kind.
#ifndef CAIRN_CONFORMANCE_TARGET_H_
#define CAIRN_CONFORMANCE_TARGET_H_

#include <cairn/plugin.h>
#include <cairn/plugin_registry.h>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"

namespace cairn::conformance {

// The rules whose violation a broken plugin must be reported with. Failure
// messages contain these exact phrases, so a test (and a person reading the
// output) can tell which rule broke.
inline constexpr char kRuleContiguousRevisions[] =
    "revisions must be contiguous";
inline constexpr char kRuleAtomicBatches[] = "batches must be atomic";
inline constexpr char kRuleSurvivesReopen[] =
    "committed events must survive reopen";
inline constexpr char kRuleGapFreePositions[] = "positions must be gap-free";
// ABI growth rules (cairn/plugin.h, "Growth"): a plugin writes an output
// struct only within the size the caller declared, and reads a batch of
// events through its pointers, each event by its own size.
inline constexpr char kRuleResultsWithinDeclaredSize[] =
    "results-within-declared-size";
inline constexpr char kRuleEventsByPointer[] = "events-by-pointer";
// ABI 2: every storage honours cairn_append_request.seal (cairn_seal_fn).
inline constexpr char kRuleSealHonoured[] =
    "storage must store exactly what seal wrote";
inline constexpr char kRuleSealFailureStoresNothing[] =
    "a failed seal must store nothing";
inline constexpr char kRuleAnyNeverConflicts[] =
    "an any append must never conflict";
inline constexpr char kRuleSealMayRead[] =
    "seal may call read and head functions";
// Storage rules issue #19 found unenforced.
inline constexpr char kRuleWatermarkSurvivesReopen[] =
    "the commit watermark must survive reopen";
inline constexpr char kRuleWaitWakesOnCommit[] =
    "wait_commit must wake on commit";
inline constexpr char kRuleReadTagSkipsDeleted[] =
    "read_tag must skip deleted events";
inline constexpr char kRuleOneOpenerPerStore[] =
    "a persistent store must refuse a second open";
// Answers of cairn/plugin.h an author used to have to guess.
inline constexpr char kRuleMaxCountZeroReadsNothing[] =
    "max_count 0 reads nothing";
inline constexpr char kRuleEmptyBatchResult[] =
    "an empty batch reports empty ranges";
inline constexpr char kRuleDeleteToClampsToHead[] =
    "delete_to past the head deletes to the head";
inline constexpr char kRuleTimestampAsGiven[] =
    "storage keeps the host's timestamp";
// Codec decode and cipher open_sealed.
inline constexpr char kRuleChangedByteFails[] =
    "a changed byte must never decode to other bytes";
inline constexpr char kRuleTrailingBytesRefused[] =
    "trailing bytes after an encoding must be refused";
inline constexpr char kRuleFailureWritesNothing[] =
    "a failed decode must leave the output buffer untouched";
// Codec encode and decode, cipher seal and open_sealed.
inline constexpr char kRuleWritesWithinReserved[] =
    "writes must stay within the space reserved";

// The ordered log (cairn/plugin.h, "The ordered log"): one rule per
// behaviour a broken fixture (conformance/fixtures) breaks.
inline constexpr char kRuleReadLogEveryRecord[] =
    "read-log-returns-every-record-in-order";
inline constexpr char kRuleApplyLogReproduces[] =
    "apply-log-reproduces-the-log";
inline constexpr char kRuleApplyLogAllOrNothing[] =
    "apply-log-refuses-and-writes-nothing";
inline constexpr char kRuleCommittedNotAheadOfAck[] =
    "committed-not-ahead-of-ack";
// A DELETE_TO, SNAPSHOT_SAVE or SNAPSHOT_DELETE changes what readers see
// only once committed; cut uncommitted, it leaves no trace.
inline constexpr char kRuleControlTakesEffectWhenCommitted[] =
    "control-records-take-effect-when-committed";
inline constexpr char kRuleWaitCommitWokenBySetCommitted[] =
    "wait-commit-woken-by-set-committed";
inline constexpr char kRuleTruncateLeavesNoStaleIndex[] =
    "truncate-leaves-no-stale-index";
inline constexpr char kRuleTruncateKeepsCommitted[] =
    "truncate-below-committed-needs-the-flag";
inline constexpr char kRuleEpochEnd[] =
    "epoch-end-is-the-last-record-of-the-epoch";
// Idempotent appends (CAIRN_CAP_IDEMPOTENT_APPEND).
inline constexpr char kRuleRepeatedKeyWritesNothing[] =
    "a-repeated-idempotency-key-writes-nothing";
inline constexpr char kRuleKeysTravelWithTheLog[] =
    "idempotency-keys-travel-with-the-log";

// A replication group (conformance/replication_cluster_cases.cc): one rule
// per behaviour a broken fixture (conformance/fixtures) breaks.
// Positions replicate acknowledged are held by a replica: they outlive the
// primary.
inline constexpr char kRuleAckedIsDurable[] =
    "acknowledged-means-durable-on-the-rule";
// A node that has seen epoch N takes no records from a primary of an older
// epoch.
inline constexpr char kRuleOlderEpochRefused[] = "older-epoch-refused";
// A primary deposed by another node's promote answers NOT_LEADER, names the
// new leader, and drops its unacknowledged tail when it rejoins.
inline constexpr char kRuleDeposedNotLeader[] =
    "deposed-primary-answers-not-leader";

// Codecs and ciphers (issue #19: every test names a rule).
// decode(encode(x)) is x, for every x; open_sealed(seal(x)) is x.
inline constexpr char kRuleCodecRoundTrip[] =
    "decode-returns-what-encode-was-given";
inline constexpr char kRuleCipherRoundTrip[] =
    "open-returns-what-seal-was-given";
// Output goes after what the caller's buffer holds, through reserve, and a
// reserve that fails is an error with a message, never a crash or an OK.
inline constexpr char kRuleOutputThroughReserve[] =
    "output-is-appended-through-reserve";
// Input that is not an encoding fails with CAIRN_E_CORRUPTION and a message.
inline constexpr char kRuleCorruptionIsCorruption[] =
    "bad-input-fails-with-corruption";
// One open instance serves calls from many threads at once.
inline constexpr char kRuleManyThreads[] = "one-instance-serves-many-threads";
// Ciphers: sealed bytes do not show the plaintext; no two seals repeat a
// nonce; associated data is authenticated; the key id given to open_sealed
// selects the key (unknown: CAIRN_E_NOT_FOUND naming it; older keys still
// open after rotate; another key's bytes fail with CAIRN_E_INTEGRITY).
inline constexpr char kRuleSealHidesPlaintext[] = "seal-hides-the-plaintext";
inline constexpr char kRuleFreshNonce[] = "every-seal-uses-a-fresh-nonce";
inline constexpr char kRuleAssociatedDataAuthenticated[] =
    "associated-data-is-authenticated";
inline constexpr char kRuleKeyIdsNameTheirKeys[] = "key-ids-name-their-keys";

// Storage (issue #19: every test names a rule). Each is a point of
// cairn/plugin.h's storage contract.
// no-stream, exact and any are honoured; a conflict is
// CAIRN_E_WRONG_EXPECTED_REVISION naming the head, and writes nothing.
inline constexpr char kRuleExpectedRevisionChecked[] =
    "expected-revision-is-checked";
// read_stream's from and to are inclusive, read_all's and read_tag's after
// exclusive, max_count bounds the count, and current reads end at the head.
inline constexpr char kRuleReadBounds[] = "reads-honour-their-bounds";
// A read ends when its callback returns non-zero.
inline constexpr char kRuleReadStopsWhenAsked[] =
    "a-read-stops-when-its-callback-asks";
// delete_to hides events up to a revision, never lowers the head or brings
// events back, and on an unknown stream is OK and writes nothing.
inline constexpr char kRuleDeleteToKeepsHead[] =
    "delete-to-hides-and-keeps-the-head";
// snapshot_load picks the newest snapshot the criteria match; a save at the
// same revision overwrites; snapshot_delete removes one, and
// snapshot_delete_matching exactly those the criteria match.
inline constexpr char kRuleSnapshotCriteria[] =
    "snapshots-load-and-delete-by-criteria";
// list_streams answers in the order of each stream's first append.
inline constexpr char kRuleListStreamsOrder[] =
    "list-streams-in-order-of-first-append";
// Every field of an event (type, writer, metadata, data, tags, UTF-8 stream
// names up to 255 bytes, empty and 16 MiB payloads) reads back as appended.
inline constexpr char kRuleEventsAsWritten[] = "events-read-back-as-written";
// Empty, over-long (> 255 bytes) and NUL-holding stream names and tags are
// CAIRN_E_INVALID_ARGUMENT with a message, and write nothing.
inline constexpr char kRuleInvalidNamesRefused[] =
    "invalid-names-and-tags-are-refused";
// flush, stats and verify succeed on a healthy store, verify with no
// problem.
inline constexpr char kRuleHousekeepingSucceeds[] =
    "flush-stats-and-verify-succeed";
// maintain, where the table has it, succeeds (or answers
// CAIRN_E_UNSUPPORTED with a message) and, with the options the suite opens
// the storage with (no retention configured), changes nothing a reader
// sees: events, deleted ones too, heads, snapshots and the ordered log read
// back as before, also after a reopen; each change it reports has text.
inline constexpr char kRuleMaintainKeeps[] =
    "maintain-keeps-what-the-options-keep";
// Opened with create = false, a storage opens a store that exists and
// answers CAIRN_E_NOT_FOUND, creating nothing, where none does.
inline constexpr char kRuleCreateFalse[] =
    "create-false-opens-only-an-existing-store";
// wait_commit answers OK with a watermark above `after`, at once if it is
// already there, else CAIRN_E_TIMEOUT; live reads built on it deliver every
// later append once, in order.
inline constexpr char kRuleWaitCommitAnswers[] =
    "wait-commit-returns-above-after-or-times-out";

// Replication, one node (issue #19: every test names a rule).
// role() is primary, replica or standalone and leader() agrees with it (a
// standalone node leads itself); a replica answers replicate with
// CAIRN_E_NOT_LEADER.
inline constexpr char kRuleKnownRole[] = "role-is-known-and-leader-agrees";
// replicate acknowledges a committed range (a single node at once) and
// refuses an inverted one with CAIRN_E_INVALID_ARGUMENT and a message.
inline constexpr char kRuleReplicateRanges[] =
    "replicate-acknowledges-committed-ranges";
// A single-node plugin answers promote with CAIRN_E_UNSUPPORTED and a
// message, pausing no writes it does not resume.
inline constexpr char kRuleSingleNodePromote[] =
    "a-single-node-refuses-promote";
// stats succeeds.
inline constexpr char kRuleReplicationStats[] = "replication-stats-succeed";

// Every rule phrase above, for the runner's output: a failure whose message
// holds one is printed under that rule.
inline constexpr const char* kAllRules[] = {
    kRuleContiguousRevisions,
    kRuleAtomicBatches,
    kRuleSurvivesReopen,
    kRuleGapFreePositions,
    kRuleResultsWithinDeclaredSize,
    kRuleEventsByPointer,
    kRuleSealHonoured,
    kRuleSealFailureStoresNothing,
    kRuleAnyNeverConflicts,
    kRuleSealMayRead,
    kRuleWatermarkSurvivesReopen,
    kRuleWaitWakesOnCommit,
    kRuleReadTagSkipsDeleted,
    kRuleOneOpenerPerStore,
    kRuleMaxCountZeroReadsNothing,
    kRuleEmptyBatchResult,
    kRuleDeleteToClampsToHead,
    kRuleTimestampAsGiven,
    kRuleChangedByteFails,
    kRuleTrailingBytesRefused,
    kRuleFailureWritesNothing,
    kRuleWritesWithinReserved,
    kRuleReadLogEveryRecord,
    kRuleApplyLogReproduces,
    kRuleApplyLogAllOrNothing,
    kRuleCommittedNotAheadOfAck,
    kRuleControlTakesEffectWhenCommitted,
    kRuleWaitCommitWokenBySetCommitted,
    kRuleTruncateLeavesNoStaleIndex,
    kRuleTruncateKeepsCommitted,
    kRuleEpochEnd,
    kRuleRepeatedKeyWritesNothing,
    kRuleKeysTravelWithTheLog,
    kRuleAckedIsDurable,
    kRuleOlderEpochRefused,
    kRuleDeposedNotLeader,
    kRuleCodecRoundTrip,
    kRuleCipherRoundTrip,
    kRuleOutputThroughReserve,
    kRuleCorruptionIsCorruption,
    kRuleManyThreads,
    kRuleSealHidesPlaintext,
    kRuleFreshNonce,
    kRuleAssociatedDataAuthenticated,
    kRuleKeyIdsNameTheirKeys,
    kRuleExpectedRevisionChecked,
    kRuleReadBounds,
    kRuleReadStopsWhenAsked,
    kRuleDeleteToKeepsHead,
    kRuleSnapshotCriteria,
    kRuleListStreamsOrder,
    kRuleEventsAsWritten,
    kRuleInvalidNamesRefused,
    kRuleHousekeepingSucceeds,
    kRuleMaintainKeeps,
    kRuleCreateFalse,
    kRuleWaitCommitAnswers,
    kRuleKnownRole,
    kRuleReplicateRanges,
    kRuleSingleNodePromote,
    kRuleReplicationStats,
};

// Every test of the suite checks one rule, its own: a failure whose message
// names no rule phrase is printed under it. CAIRN_TEST_P(Suite, Name, rule)
// is TEST_P(Suite, Name) with its rule registered; the runner refuses to run
// a suite in which a test has none, so no failure prints without a rule.
bool RegisterTestRule(const char* suite, const char* test, const char* rule);
#define CAIRN_TEST_P(suite, name, rule)                               \
  [[maybe_unused]] static const bool cairn_rule_of_##suite##_##name = \
      ::cairn::conformance::RegisterTestRule(#suite, #name, rule);    \
  TEST_P(suite, name)

// The rule registered for a test, by its suite and test names as GoogleTest
// reports them (a parameterized "Plugin/Suite" and "Name/param" are
// accepted); nullptr if none is.
const char* TestRule(const std::string& suite, const std::string& test);

// The rule a failure broke, as the runner prints it: the first rule phrase
// `message` holds, else the rule of its test (TestRule), else
// "unnamed rule".
std::string RuleOf(const std::string& message, const std::string& suite,
                   const std::string& test);

// A failure's message without source locations: GoogleTest's "Google Test
// trace:" header goes, and "path/file.cc:123: " before a trace line too, so
// the output names no file of the build machine.
std::string WithoutSourcePaths(const std::string& message);

struct Target {
  std::string path;  // the plugin file, as given
  PluginPtr plugin;  // loaded through PluginRegistry::LoadFile
  // Options as given on the command line, in order.
  std::vector<std::pair<std::string, std::string>> options;
  // Ciphers only: the plugin declares that it does not encrypt (seal output
  // is the plaintext), as the "none" cipher does. The suite then checks that
  // this is so and skips the confidentiality and integrity tests.
  bool passthrough_cipher = false;

  bool Has(uint64_t capability) const { return plugin->Has(capability); }
  bool AcceptsOption(const std::string& key) const;
  bool HasOption(const std::string& key) const;
};

// Prints a Target in test names and failure messages as its plugin file.
void PrintTo(const Target& target, std::ostream* out);

// Registers a plugin to run the suite of its kind against. Checks the
// options against the plugin's option descriptors first and fails naming
// an unknown key, a value that does not fit its type, or a required option
// left out.
absl::Status AddTarget(Target target);

// Opens (and closes) one instance of the target's plugin with its options,
// as the suite's tests will: storage in a fresh folder when it takes
// `path`; codecs and ciphers as they are. Replication plugins are not
// opened (their open needs a storage instance); OK for them. The error
// names the plugin and carries its own message.
absl::Status TrialOpen(const Target& target);

// The registered targets of `kind`, for INSTANTIATE_TEST_SUITE_P.
std::vector<Target> TargetsOfKind(cairn_plugin_kind kind);

// A GoogleTest parameter name: the plugin's name with '-' as '_'.
std::string TargetName(const ::testing::TestParamInfo<Target>& info);

// A fresh, empty folder inside `parent` (default: the system's temporary
// folder), removed with its contents when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& parent = "");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The options a test opens the plugin with: the target's options, and, for a
// plugin that accepts "path", a fresh folder for this test (inside the
// user's "path" if one was given, so tests never share a store).
class OpenOptions {
 public:
  explicit OpenOptions(const Target& target);
  const cairn_options* get() const { return &options_; }
  // The path given to the plugin, or "" if it takes none.
  const std::string& store_path() const { return store_path_; }

 private:
  std::vector<std::pair<std::string, std::string>> values_;
  std::vector<cairn_option> items_;
  cairn_options options_{};
  std::unique_ptr<TempDir> temp_;
  std::string store_path_;
};

// Records that a test was skipped because the plugin lacks `capability`, and
// returns the sentence to pass to GTEST_SKIP().
std::string NoteSkip(const std::string& capability, const std::string& what);

// Prints every skipped capability once, with what it left untested.
void PrintSkipSummary(std::ostream& out);

// "WrongExpectedRevision: <message>" for assertion output.
std::string Describe(cairn_status code, const char* message);

// An owned output buffer for codec and cipher calls (cairn_buffer over a
// std::string). `step`, if non-zero, makes reserve() grow by exactly what is
// asked, to catch plugins that write past what they reserved; a negative
// limit makes reserve() always fail.
//
// Past its capacity it keeps kSlack bytes of canary: a plugin that writes a
// little past what it reserved fails kRuleWritesWithinReserved (checked at
// each growth and when the buffer dies) instead of corrupting the heap.
class OutputBuffer {
 public:
  static constexpr size_t kSlack = 64;
  static constexpr uint8_t kSlackCanary = 0x5C;
  explicit OutputBuffer(std::string prefix = "", bool exact_growth = false,
                        bool refuse_growth = false);
  ~OutputBuffer();
  OutputBuffer(const OutputBuffer&) = delete;
  OutputBuffer& operator=(const OutputBuffer&) = delete;
  cairn_buffer* get() { return &buffer_; }
  std::string contents() const {
    return std::string(reinterpret_cast<const char*>(buffer_.data),
                       buffer_.size);
  }
  size_t size() const { return buffer_.size; }

 private:
  static int Reserve(cairn_buffer* buffer, size_t additional);
  // Fails kRuleWritesWithinReserved if the slack after capacity changed.
  void CheckSlack() const;
  std::vector<uint8_t> storage_;  // capacity + kSlack bytes
  cairn_buffer buffer_{};
  bool exact_growth_;
  bool refuse_growth_;
};

// An output buffer whose spare capacity (past the prefix, and everything
// reserve() adds) is filled with kCanary, to show whether a call wrote past
// size: a failed decode or open_sealed must leave those bytes as they were.
class CanaryBuffer {
 public:
  static constexpr uint8_t kCanary = 0xA5;
  CanaryBuffer(const std::string& prefix, size_t spare);
  CanaryBuffer(const CanaryBuffer&) = delete;
  CanaryBuffer& operator=(const CanaryBuffer&) = delete;
  cairn_buffer* get() { return &buffer_; }
  size_t size() const { return buffer_.size; }
  std::string contents() const {
    return std::string(reinterpret_cast<const char*>(buffer_.data),
                       buffer_.size);
  }
  // The offset of the first byte in [size, capacity) that is not kCanary, or
  // -1 if none.
  long FirstChangedSpareByte() const;

 private:
  static int Reserve(cairn_buffer* buffer, size_t additional);
  std::vector<uint8_t> storage_;  // capacity + OutputBuffer::kSlack bytes
  cairn_buffer buffer_{};
};

// An output buffer that grows only by what reserve() is asked for, with a
// PROT_NONE page right after its capacity: a plugin that writes past the
// space it reserved faults at once. Use it inside RunInChild.
class GuardedBuffer {
 public:
  GuardedBuffer();
  ~GuardedBuffer();
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;
  cairn_buffer* get() { return &buffer_; }
  std::string contents() const {
    return std::string(reinterpret_cast<const char*>(buffer_.data),
                       buffer_.size);
  }

 private:
  static int Reserve(cairn_buffer* buffer, size_t additional);
  // Maps room for `capacity` bytes ending right at a guard page.
  bool Map(size_t capacity);
  void* map_ = nullptr;
  size_t map_size_ = 0;
  cairn_buffer buffer_{};
};

// What a check run in a child process did.
struct ChildOutcome {
  bool ran = false;     // the child finished and reported
  std::string failure;  // what the child found wrong ("" if nothing)
  std::string crash;    // how the child died, if it did (a signal, exit code)
};

// Runs `check` in a forked child (bounded by `timeout_seconds` of alarm) and
// reports what it returned, or how the child died, so that a plugin that
// crashes fails a named rule instead of aborting the runner. `check` returns
// "" if all was well, else what was wrong; it must not use gtest assertions.
ChildOutcome RunInChild(const std::function<std::string()>& check,
                        unsigned timeout_seconds = 120);

inline cairn_bytes Bytes(const std::string& s) {
  return cairn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string String(cairn_bytes b) {
  return b.size == 0 ? std::string()
                     : std::string(reinterpret_cast<const char*>(b.data),
                                   b.size);
}

// `n` pseudo-random bytes, the same for the same seed.
std::string RandomBytes(size_t n, uint64_t seed);

// A caller-owned error buffer.
struct ErrorBuffer {
  char message[1024] = {0};
  cairn_error error{message, sizeof(message)};
  cairn_error* get() {
    message[0] = '\0';
    return &error;
  }
};

}  // namespace cairn::conformance

#endif  // CAIRN_CONFORMANCE_TARGET_H_
