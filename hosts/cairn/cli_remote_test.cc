// `cairn --server HOST:PORT`: the commands against a real cairnd process
// on a loopback port it picked itself.
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "test_server.h"

namespace cairn::cli {
namespace {

using ::testing::HasSubstr;

struct Result {
  int code;
  std::string out;
  std::string err;
};

class CliRemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<cairn::testing::TestServer>> server =
        cairn::testing::TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    address_ = "127.0.0.1:" + std::to_string(server_->port());
  }

  Result Run(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--server", address_});
    std::istringstream in(input);
    std::ostringstream out, err;
    int code = RunCli(args, "/nonexistent/bin/cairn", in, out, err);
    return {code, out.str(), err.str()};
  }

  std::unique_ptr<cairn::testing::TestServer> server_;
  std::string address_;
};

TEST_F(CliRemoteTest, AppendReadStreamsAndHeadGoThroughTheServer) {
  Result append = Run({"append", "orders-1", "--expect", "none"},
                      "{\"type\": \"OrderPlaced\", \"data\": {\"id\": 1}, \"tags\": [\"order\"]}\n"
                      "{\"type\": \"OrderPaid\", \"data_base64\": \"AAE=\"}\n");
  ASSERT_EQ(append.code, 0) << append.err;
  EXPECT_EQ(append.out, "appended 2 events to 'orders-1': revisions 1..2, positions 1..2\n");

  Result read = Run({"read", "orders-1", "--json"});
  ASSERT_EQ(read.code, 0) << read.err;
  std::istringstream lines(read.out);
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_EQ(nlohmann::json::parse(first)["data"]["id"], 1);
  EXPECT_EQ(nlohmann::json::parse(second)["data_base64"], "AAE=");
  EXPECT_EQ(nlohmann::json::parse(second)["position"], 2);

  EXPECT_EQ(Run({"streams"}).out, "orders-1\t2\n");
  EXPECT_EQ(Run({"head", "orders-1"}).out, "2\n");
  EXPECT_EQ(Run({"head"}).out, "2\n");
  EXPECT_THAT(Run({"read-all", "--tag", "order"}).out, HasSubstr("orders-1 #1 @1 "));
}

TEST_F(CliRemoteTest, ConflictExitsThreeAndWritesNothing) {
  ASSERT_EQ(Run({"append", "s"}, "{\"type\": \"A\"}\n").code, 0);
  Result r = Run({"append", "s", "--expect", "none"}, "{\"type\": \"B\"}\n");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(Run({"head", "s"}).out, "1\n");
}

TEST_F(CliRemoteTest, TailCatchesUpThroughASubscription) {
  ASSERT_EQ(Run({"append", "s"}, "{\"type\": \"A\"}\n{\"type\": \"B\"}\n").code, 0);
  Result r = Run({"tail", "s", "--after", "0", "--max", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("#2 @2 "));
}

TEST_F(CliRemoteTest, DeleteToAndStatsWorkRemotelyButVerifyExplainsWhyNot) {
  ASSERT_EQ(Run({"append", "s"}, "{\"type\": \"A\"}\n{\"type\": \"B\"}\n").code, 0);
  EXPECT_EQ(Run({"delete-to", "s", "1"}).code, 0);
  EXPECT_EQ(Run({"streams"}).out, "s\t2\tdeleted-to 1\n");
  EXPECT_EQ(Run({"stats"}).code, 0);
  Result verify = Run({"verify"});
  EXPECT_EQ(verify.code, 2);
  EXPECT_THAT(verify.err, HasSubstr("cairn verify --data DIR"));
}

TEST_F(CliRemoteTest, UnreachableServerIsAStoreErrorNamingIt) {
  server_->Terminate();
  Result r = Run({"head", "s"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr(address_));
}

}  // namespace
}  // namespace cairn::cli
