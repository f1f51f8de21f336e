#include <cairn/status.h>

#include <cairn/sdk/absl_status.hpp>

#include "gtest/gtest.h"

namespace cairn {
namespace {

TEST(Status, EveryCodeRoundTripsThroughAbsl) {
  for (int c = CAIRN_E_INVALID_ARGUMENT; c <= CAIRN_STATUS_LAST; ++c) {
    auto code = static_cast<cairn_status>(c);
    absl::Status s = MakeStatus(code, "m");
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(CodeOf(s), code) << CodeName(code);
    EXPECT_EQ(s.message(), "m");
  }
}

TEST(Status, NotLeaderCarriesTheLeader) {
  LeaderInfo leader;
  leader.role = CAIRN_ROLE_REPLICA;
  leader.epoch = 7;
  leader.known = true;
  leader.node = "b";
  leader.address = "127.0.0.2:7700";
  absl::Status s = NotLeaderError("append refused", leader);
  EXPECT_TRUE(IsNotLeader(s));
  EXPECT_EQ(CodeName(CodeOf(s)), std::string("NotLeader"));
  std::optional<LeaderInfo> got = NotLeaderOf(s);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->role, CAIRN_ROLE_REPLICA);
  EXPECT_EQ(got->epoch, 7u);
  EXPECT_TRUE(got->known);
  EXPECT_EQ(got->node, "b");
  EXPECT_EQ(got->address, "127.0.0.2:7700");
  EXPECT_FALSE(NotLeaderOf(MakeStatus(CAIRN_E_IO, "x")).has_value());
  // A NOT_LEADER that names nobody (e.g. from a plugin) reads as unknown.
  std::optional<LeaderInfo> nobody =
      NotLeaderOf(MakeStatus(CAIRN_E_NOT_LEADER, "x"));
  ASSERT_TRUE(nobody.has_value());
  EXPECT_FALSE(nobody->known);
}

TEST(Status, OkIsOk) {
  EXPECT_TRUE(MakeStatus(CAIRN_OK, "ignored").ok());
  EXPECT_EQ(CodeOf(absl::OkStatus()), CAIRN_OK);
}

TEST(Status, WrongExpectedRevisionIsDistinguishable) {
  absl::Status s = MakeStatus(CAIRN_E_WRONG_EXPECTED_REVISION, "conflict");
  EXPECT_TRUE(IsWrongExpectedRevision(s));
  EXPECT_FALSE(IsCorruption(s));
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
}

TEST(Status, IntegrityAndCorruptionShareAnAbslCodeButNotACairnCode) {
  absl::Status integrity = MakeStatus(CAIRN_E_INTEGRITY, "tag");
  absl::Status corruption = MakeStatus(CAIRN_E_CORRUPTION, "crc");
  EXPECT_EQ(integrity.code(), corruption.code());
  EXPECT_TRUE(IsIntegrityError(integrity));
  EXPECT_TRUE(IsCorruption(corruption));
}

TEST(Status, ForeignStatusesMapToTheClosestCode) {
  EXPECT_EQ(CodeOf(absl::NotFoundError("x")), CAIRN_E_NOT_FOUND);
  EXPECT_EQ(CodeOf(absl::UnknownError("x")), CAIRN_E_INTERNAL);
}

// A plugin written with Abseil (mmaplog) reports its statuses through
// sdk::FromAbsl; the host must read the same code from a plain absl status.
TEST(Status, PluginsAndTheFrameworkMapAbslCodesAlike) {
  for (int c = 0; c <= static_cast<int>(absl::StatusCode::kUnauthenticated);
       ++c) {
    const absl::Status status(static_cast<absl::StatusCode>(c), "said");
    const sdk::Status plugin = sdk::FromAbsl(status);
    EXPECT_EQ(plugin.code(), CodeOf(status)) << status;
    EXPECT_EQ(plugin.message(), status.ok() ? "" : "said") << status;
  }
  EXPECT_EQ(sdk::FromAbsl(absl::AbortedError("x")).code(),
            CAIRN_E_WRONG_EXPECTED_REVISION);
  EXPECT_EQ(sdk::FromAbsl(absl::OutOfRangeError("x")).code(),
            CAIRN_E_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace cairn
