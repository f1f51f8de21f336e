// The gateway client against a fake HTTP server on loopback that answers
// what each test scripts: garbage, errors, truncated bodies, silence. What a
// real etcd answers is covered by etcd_coordinator_test.cc.
#include "etcd_gateway.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "etcd_coordinator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn::logship::etcd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;

// Answers each connection with the next scripted raw HTTP answer (after
// reading the request), then closes it. An empty answer means: read the
// request and say nothing until the server is destroyed.
class FakeEtcd {
 public:
  explicit FakeEtcd(std::vector<std::string> answers)
      : answers_(std::move(answers)),
        acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeEtcd() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      for (auto& socket : silent_) {
        boost::system::error_code ignored;
        socket->shutdown(tcp::socket::shutdown_both, ignored);
      }
    }
    // Unblock accept().
    boost::system::error_code ignored;
    asio::io_context ioc;
    tcp::socket poke(ioc);
    poke.connect(acceptor_.local_endpoint(), ignored);
    thread_.join();
  }

  std::string endpoint() const {
    return absl::StrCat("127.0.0.1:", acceptor_.local_endpoint().port());
  }
  // The requests received so far: "<target> <body>".
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void Serve() {
    for (const std::string& answer : answers_) {
      auto socket = std::make_shared<tcp::socket>(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(*socket, ec);
      {
        std::lock_guard lock(mu_);
        if (ec || stopping_) return;
      }
      beast::flat_buffer buffer;
      http::request<http::string_body> request;
      http::read(*socket, buffer, request, ec);
      std::lock_guard lock(mu_);
      if (stopping_) return;
      requests_.push_back(
          absl::StrCat(std::string(request.target()), " ", request.body()));
      if (answer.empty()) {
        silent_.push_back(socket);  // keeps it open
        continue;
      }
      asio::write(*socket, asio::buffer(answer), ec);
      socket->shutdown(tcp::socket::shutdown_both, ec);
    }
  }

  std::vector<std::string> answers_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mu_;
  bool stopping_ = false;
  std::vector<std::string> requests_;
  std::vector<std::shared_ptr<tcp::socket>> silent_;
};

std::string Answer(int status, const std::string& body,
                   const std::string& reason = "X") {
  return absl::StrCat("HTTP/1.1 ", status, " ", reason,
                      "\r\nContent-Type: application/json\r\n",
                      "Content-Length: ", body.size(), "\r\n\r\n", body);
}

std::string Chunked(const std::vector<std::string>& chunks) {
  std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string& chunk : chunks) {
    absl::StrAppend(&out, absl::Hex(chunk.size()), "\r\n", chunk, "\r\n");
  }
  return out + "0\r\n\r\n";
}

// A loopback port with nothing listening.
std::string ClosedEndpoint() {
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  std::string endpoint =
      absl::StrCat("127.0.0.1:", acceptor.local_endpoint().port());
  return endpoint;  // the acceptor closes here
}

EtcdGateway Gateway(
    std::vector<std::string> endpoints,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
  auto gateway = EtcdGateway::Create(GatewayOptions{
      .endpoints = std::move(endpoints), .call_timeout = timeout});
  EXPECT_TRUE(gateway.ok()) << gateway.status();
  return *std::move(gateway);
}

const char kRangeAnswer[] =
    R"({"header":{"revision":"7"},"kvs":[{"key":"L2E=","value":"dmFsdWU=",)"
    R"("create_revision":"3","mod_revision":"7","version":"2","lease":"0"}],"count":"1"})";

TEST(EtcdGateway, RangeDecodesBase64AndStringNumbers) {
  FakeEtcd fake({Answer(200, kRangeAnswer)});
  auto range = Gateway({fake.endpoint()}).Range("/a");
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(range->revision, 7);
  ASSERT_EQ(range->kvs.size(), 1u);
  EXPECT_EQ(range->kvs[0].key, "/a");
  EXPECT_EQ(range->kvs[0].value, "value");
  EXPECT_EQ(range->kvs[0].create_revision, 3);
  EXPECT_EQ(range->kvs[0].mod_revision, 7);
  ASSERT_EQ(fake.requests().size(), 1u);
  EXPECT_EQ(fake.requests()[0], R"(/v3/kv/range {"key":"L2E="})");
}

TEST(EtcdGateway, GarbageAnswerIsAnErrorNamingEndpointAndExcerpt) {
  FakeEtcd fake({Answer(200, "this is not json")});
  auto range = Gateway({fake.endpoint()}).Range("/a");
  ASSERT_FALSE(range.ok());
  EXPECT_EQ(range.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(range.status().message(), HasSubstr(fake.endpoint()));
  EXPECT_THAT(range.status().message(), HasSubstr("/v3/kv/range"));
  EXPECT_THAT(range.status().message(), HasSubstr("this is not json"));
}

TEST(EtcdGateway, TruncatedJsonIsAnError) {
  FakeEtcd fake({Answer(200, R"({"header":{"revision":)")});
  auto put = Gateway({fake.endpoint()}).Put("/a", "b");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(put.status().message(), HasSubstr("no JSON object"));
}

TEST(EtcdGateway, BodyCutShortOfItsLengthIsNoAnswerAndAWriteIsNotRetried) {
  // Content-Length says 100; 10 bytes come, then the connection closes.
  std::string cut =
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"header\":";
  FakeEtcd first({cut});
  FakeEtcd second({Answer(200, R"({"header":{"revision":"2"}})")});
  auto put = Gateway({first.endpoint(), second.endpoint()}).Put("/a", "b");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(put.status().message(), HasSubstr("outcome is unknown"));
  EXPECT_TRUE(IsOutcomeUnknown(put.status()));
  EXPECT_THAT(put.status().message(), HasSubstr(first.endpoint()));
  EXPECT_TRUE(second.requests().empty())
      << "a write that may have landed was sent again";
}

TEST(EtcdGateway, ReadIsRetriedOnTheNextEndpointAfterACutAnswer) {
  std::string cut =
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"header\":";
  FakeEtcd first({cut});
  FakeEtcd second({Answer(200, kRangeAnswer)});
  auto range = Gateway({first.endpoint(), second.endpoint()}).Range("/a");
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(range->revision, 7);
}

TEST(EtcdGateway, Http500WithoutEtcdErrorNamesStatusAndBody) {
  FakeEtcd fake({Answer(500, "upstream exploded", "Internal Server Error")});
  auto put = Gateway({fake.endpoint()}).Put("/a", "b");
  ASSERT_FALSE(put.ok());
  EXPECT_THAT(put.status().message(), HasSubstr("HTTP 500"));
  EXPECT_THAT(put.status().message(), HasSubstr("upstream exploded"));
  EXPECT_THAT(put.status().message(), HasSubstr(fake.endpoint()));
}

TEST(EtcdGateway, EtcdErrorBodyKeepsItsMessageAndCode) {
  FakeEtcd fake({Answer(
      400,
      R"({"error":"etcdserver: mvcc: required revision has been compacted",)"
      R"("message":"etcdserver: mvcc: required revision has been compacted",)"
      R"("code":11})")});
  auto range = Gateway({fake.endpoint()}).Range("/a");
  ASSERT_FALSE(range.ok());
  EXPECT_EQ(range.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(range.status().message(),
              HasSubstr("required revision has been compacted"));
  EXPECT_THAT(range.status().message(), HasSubstr("HTTP 400"));
}

TEST(EtcdGateway, AnswerWithoutHeaderOrWithBadFieldsNamesTheField) {
  FakeEtcd fake(
      {Answer(200, R"({"foo":1})"),
       Answer(200, R"({"header":{"revision":"1"},"kvs":[{"key":"L2E=",)"
                   R"("mod_revision":"seven"}]})"),
       Answer(200, R"({"header":{"revision":"1"},"kvs":[{"key":"***"}]})")});
  EtcdGateway gateway = Gateway({fake.endpoint()});
  auto no_header = gateway.Range("/a");
  EXPECT_THAT(no_header.status().message(), HasSubstr("no 'header' object"));
  auto bad_number = gateway.Range("/a");
  EXPECT_THAT(bad_number.status().message(),
              HasSubstr("'mod_revision' is not an integer"));
  auto bad_base64 = gateway.Range("/a");
  EXPECT_THAT(bad_base64.status().message(), HasSubstr("'key' is not base64"));
}

TEST(EtcdGateway, SilentServerTimesOutInsteadOfHanging) {
  FakeEtcd fake({""});
  auto put =
      Gateway({fake.endpoint()}, std::chrono::milliseconds(300)).Put("/a", "b");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(put.status().message(),
              HasSubstr("no complete answer before the call timeout"));
}

TEST(EtcdGateway, RefusedEndpointIsSkippedAndNamedWhenAllFail) {
  const std::string closed = ClosedEndpoint();
  FakeEtcd fake({Answer(200, R"({"header":{"revision":"9"}})")});
  auto put = Gateway({closed, fake.endpoint()}).Put("/a", "b");
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(*put, 9);

  const std::string other_closed = ClosedEndpoint();
  auto none = Gateway({closed, other_closed}).Range("/a");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(none.status().message(), HasSubstr("no endpoint answered"));
  EXPECT_FALSE(IsOutcomeUnknown(none.status())) << "nothing went out";
  EXPECT_THAT(none.status().message(), HasSubstr(closed));
  EXPECT_THAT(none.status().message(), HasSubstr(other_closed));
}

TEST(EtcdGateway, TxnAnswerWithWrongResponseCountIsAnError) {
  FakeEtcd fake({Answer(
      200, R"({"header":{"revision":"4"},"succeeded":true,"responses":[]})")});
  auto txn = Gateway({fake.endpoint()})
                 .Txn({Compare{.key = "/a"}},
                      {TxnOp{.kind = TxnOp::Kind::kPut, .key = "/a"}}, {});
  ASSERT_FALSE(txn.ok());
  EXPECT_THAT(txn.status().message(),
              HasSubstr("0 responses for 1 operations"));
}

TEST(EtcdGateway, KeepAliveOfAnExpiredLeaseIsNotFound) {
  FakeEtcd fake(
      {Answer(200, R"({"result":{"header":{"revision":"2"},"ID":"5"}})")});
  auto ttl = Gateway({fake.endpoint()}).LeaseKeepAliveOnce(5);
  ASSERT_FALSE(ttl.ok());
  EXPECT_EQ(ttl.status().code(), absl::StatusCode::kNotFound);
}

TEST(EtcdGateway, WatchDeliversStreamedEventsSplitAcrossChunks) {
  const std::string created =
      R"({"result":{"header":{"revision":"3"},"created":true}})";
  const std::string events =
      R"({"result":{"header":{"revision":"4"},"events":[{"kv":{"key":"L2E=","value":"eA==",)"
      R"("mod_revision":"4"}},{"type":"DELETE","kv":{"key":"L2E=","mod_revision":"5"}}]}})";
  // The second message arrives in two chunks.
  FakeEtcd fake({Chunked(
      {created + "\n" + events.substr(0, 30), events.substr(30) + "\n"})});
  std::vector<WatchEvent> seen;
  absl::Status watched =
      Gateway({fake.endpoint()})
          .Watch("/a", "", 4, std::chrono::milliseconds(2000),
                 [&](const std::vector<WatchEvent>& batch) {
                   seen.insert(seen.end(), batch.begin(), batch.end());
                   return seen.size() < 2;
                 });
  ASSERT_TRUE(watched.ok()) << watched;
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(seen[0].kv.value, "x");
  EXPECT_EQ(seen[1].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(seen[1].kv.mod_revision, 5);
}

TEST(EtcdGateway, WatchGarbageLineAndCompactionAreErrors) {
  FakeEtcd fake(
      {Chunked({"{not json\n"}),
       Chunked(
           {R"({"result":{"header":{"revision":"9"},"compact_revision":"6"}})"
            "\n"})});
  EtcdGateway gateway = Gateway({fake.endpoint()});
  auto ignore = [](const std::vector<WatchEvent>&) { return true; };
  absl::Status garbage =
      gateway.Watch("/a", "", 1, std::chrono::milliseconds(2000), ignore);
  EXPECT_EQ(garbage.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(garbage.message(), HasSubstr("not JSON"));
  absl::Status compacted =
      gateway.Watch("/a", "", 1, std::chrono::milliseconds(2000), ignore);
  EXPECT_EQ(compacted.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(compacted.message(), HasSubstr("compact revision 6"));
}

// A range answer holding the group state {primary, [], quorum} at `epoch`.
std::string StateAnswer(const std::string& primary, int epoch) {
  const std::string value =
      absl::StrCat(R"({"primary":")", primary, R"(","ack":"quorum"})");
  return Answer(
      200,
      absl::StrCat(R"({"header":{"revision":")", epoch,
                   R"("},"kvs":[{"key":"L2NhaXJuL2cvc3RhdGU=","value":")",
                   absl::Base64Escape(value), R"(","create_revision":"2",)",
                   R"("mod_revision":")", epoch, R"("}]})"));
}

std::unique_ptr<EtcdCoordinator> FakeCoordinator(const FakeEtcd& fake) {
  auto coordinator = EtcdCoordinator::Create(EtcdCoordinatorOptions{
      .gateway = {.endpoints = {fake.endpoint()}}, .group = "g"});
  EXPECT_TRUE(coordinator.ok()) << coordinator.status();
  return *std::move(coordinator);
}

const char kCutAnswer[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"header\":";

TEST(EtcdCoordinatorOverFakeEtcd, LostAnswerThenOwnStateFoundIsTakenAsWritten) {
  FakeEtcd fake({kCutAnswer, StateAnswer("a", 8)});
  auto written = FakeCoordinator(fake)->CompareAndSet(
      5, GroupState{.primary = "a", .ack = "quorum"});
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->epoch, 8);
}

TEST(EtcdCoordinatorOverFakeEtcd,
     LostAnswerWithEpochUnchangedIsRetriedFromTheSameEpoch) {
  FakeEtcd fake({kCutAnswer, StateAnswer("z", 5),
                 Answer(200, R"({"header":{"revision":"9"},"succeeded":true,)"
                             R"("responses":[{"response_put":{}}]})")});
  auto written = FakeCoordinator(fake)->CompareAndSet(
      5, GroupState{.primary = "a", .ack = "quorum"});
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->epoch, 9);
  ASSERT_EQ(fake.requests().size(), 3u);
  EXPECT_EQ(fake.requests()[2], fake.requests()[0])
      << "the retry is not the same txn";
}

TEST(EtcdCoordinatorOverFakeEtcd, LostAnswerThenAnotherStateFoundIsLost) {
  FakeEtcd fake({kCutAnswer, StateAnswer("b", 8)});
  auto written = FakeCoordinator(fake)->CompareAndSet(
      5, GroupState{.primary = "a", .ack = "quorum"});
  EXPECT_EQ(written.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(written.status().message(),
              HasSubstr("epoch 8 with primary 'b'"));
}

// Under ack = sync the campaign's state write compares the sync key's
// revision it read: a primary that took the candidate out of the set
// between that read and the write makes the write fail (the race itself is
// SyncSetWriteAndCampaignCannotBothSucceed against a real etcd).
TEST(EtcdCoordinatorOverFakeEtcd, CampaignUnderSyncComparesTheSyncRevision) {
  const std::string sync_value = R"({"members":["n0","n1"],"by":"n0"})";
  const std::string sync_answer = Answer(
      200, absl::StrCat(R"({"header":{"revision":"8"},"kvs":[{"key":")",
                        absl::Base64Escape("/cairn/g/sync"), R"(","value":")",
                        absl::Base64Escape(sync_value),
                        R"(","create_revision":"3","mod_revision":"7"}]})"));
  FakeEtcd fake(
      {StateAnswer("n0", 5), sync_answer,
       Answer(200, R"({"header":{"revision":"8"},"ID":"42","TTL":"30"})"),
       Answer(200, R"({"header":{"revision":"9"},"succeeded":true,)"
                   R"("responses":[{"response_put":{}}]})"),
       Answer(200, R"({"header":{"revision":"10"},"succeeded":true,)"
                   R"("responses":[{"response_put":{}}]})")});
  auto coordinator = FakeCoordinator(fake);
  SyncCampaign sync{.initial = {"n1"}};
  auto won = coordinator->Campaign("n1", std::chrono::seconds(30), &sync);
  ASSERT_TRUE(won.ok()) << won.status();
  EXPECT_EQ(won->epoch, 10);
  EXPECT_EQ(sync.result.revision, 7);
  EXPECT_EQ(sync.result.members, (std::vector<std::string>{"n0", "n1"}));
  const std::vector<std::string> requests = fake.requests();
  // State, sync set, lease, leader key, then the state write: the sync set
  // read before taking the leader key is the one compared.
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_THAT(requests[4], HasSubstr("/v3/kv/txn"));
  EXPECT_THAT(
      requests[4],
      HasSubstr(absl::StrCat(R"({"key":")", absl::Base64Escape("/cairn/g/sync"),
                             R"(","mod_revision":"7",)",
                             R"("result":"EQUAL","target":"MOD"})")));
}

TEST(EtcdGateway, CreateRejectsBadEndpoints) {
  for (const char* bad :
       {"", "localhost", "https://h:1", "h:0", "h:99999", ":80"}) {
    auto gateway = EtcdGateway::Create(GatewayOptions{.endpoints = {bad}});
    ASSERT_FALSE(gateway.ok()) << bad;
    EXPECT_THAT(gateway.status().message(),
                HasSubstr(absl::StrCat("'", bad, "'")));
  }
  EXPECT_FALSE(EtcdGateway::Create(GatewayOptions{}).ok());
}

TEST(EtcdGateway, PrefixRangeEndIsTheNextKey) {
  EXPECT_EQ(PrefixRangeEnd("/cairn/g/members/"), "/cairn/g/members0");
  EXPECT_EQ(PrefixRangeEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixRangeEnd(""), std::string(1, '\0'));
}

}  // namespace
}  // namespace cairn::logship::etcd
