#include "protocol/request_check.h"

#include <gtest/gtest.h>

namespace cairn::protocol {
namespace {

v1::Request Append(const std::string& stream, int events) {
  v1::Request request;
  request.mutable_append()->set_stream(stream);
  for (int i = 0; i < events; ++i) {
    request.mutable_append()->add_events()->set_type("Created");
  }
  return request;
}

TEST(RequestCheck, ValidAppendPasses) {
  EXPECT_FALSE(CheckRequest(Append("orders-1", 3), {}).has_value());
}

TEST(RequestCheck, EmptyStreamNameIsInvalidArgument) {
  auto error = CheckRequest(Append("", 1), {});
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, v1::INVALID_ARGUMENT);
  EXPECT_NE(error->message.find("stream name is empty"), std::string::npos);
}

TEST(RequestCheck, StreamNameOver255BytesIsInvalidArgument) {
  auto error = CheckRequest(Append(std::string(256, 'x'), 1), {});
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, v1::INVALID_ARGUMENT);
}

TEST(RequestCheck, StreamNameWithNulIsInvalidArgument) {
  auto error = CheckRequest(Append(std::string("a\0b", 3), 1), {});
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->message.find("U+0000 at byte 1"), std::string::npos) << error->message;
}

TEST(RequestCheck, WrittenNamesFollowTheNameRuleNamingTheField) {
  auto control = CheckRequest(Append("x\t999", 1), {});
  ASSERT_TRUE(control.has_value());
  EXPECT_EQ(control->code, v1::INVALID_ARGUMENT);
  EXPECT_NE(control->message.find("stream name \"x\\t999\" has control character U+0009"),
            std::string::npos)
      << control->message;

  v1::Request type = Append("s", 2);
  type.mutable_append()->mutable_events(1)->set_type("T\xC0\xAF");
  auto bad_type = CheckRequest(type, {});
  ASSERT_TRUE(bad_type.has_value());
  EXPECT_EQ(bad_type->code, v1::INVALID_ARGUMENT);
  EXPECT_NE(bad_type->message.find("event 1: event type"), std::string::npos)
      << bad_type->message;

  v1::Request tag = Append("s", 1);
  tag.mutable_append()->mutable_events(0)->add_tags("t\n");
  auto bad_tag = CheckRequest(tag, {});
  ASSERT_TRUE(bad_tag.has_value());
  EXPECT_NE(bad_tag->message.find("event 0: tag \"t\\n\""), std::string::npos)
      << bad_tag->message;

  v1::Request delete_to;
  delete_to.mutable_delete_to()->set_stream("d\x7f");
  auto bad_delete = CheckRequest(delete_to, {});
  ASSERT_TRUE(bad_delete.has_value());
  EXPECT_NE(bad_delete->message.find("U+007F"), std::string::npos) << bad_delete->message;

  v1::Request snapshot;
  snapshot.mutable_save_snapshot()->mutable_snapshot()->set_stream("s\xC2\x85");
  auto bad_snapshot = CheckRequest(snapshot, {});
  ASSERT_TRUE(bad_snapshot.has_value());
  EXPECT_NE(bad_snapshot->message.find("U+0085"), std::string::npos) << bad_snapshot->message;
}

TEST(RequestCheck, ReadsTakeNamesStoredBeforeTheRule) {
  v1::Request read;
  read.mutable_read_stream()->set_stream("x\t999");
  EXPECT_FALSE(CheckRequest(read, {}).has_value());
  v1::Request tag;
  tag.mutable_read_tag()->set_tag("t\n");
  EXPECT_FALSE(CheckRequest(tag, {}).has_value());
}

TEST(RequestCheck, BatchAboveMaxBatchIsLimitExceeded) {
  RequestLimits limits;
  limits.max_batch = 2;
  auto error = CheckRequest(Append("s", 3), limits);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, v1::LIMIT_EXCEEDED);
  EXPECT_NE(error->message.find("max-batch is 2"), std::string::npos);
}

TEST(RequestCheck, EmptyBatchIsInvalidArgument) {
  auto error = CheckRequest(Append("s", 0), {});
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, v1::INVALID_ARGUMENT);
}

TEST(RequestCheck, NegativeMaxCountIsInvalidArgument) {
  v1::Request request;
  request.mutable_read_all()->set_max_count(-1);
  auto error = CheckRequest(request, {});
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, v1::INVALID_ARGUMENT);
  EXPECT_NE(error->message.find("max_count is -1"), std::string::npos);
}

TEST(RequestCheck, UnknownExpectedKindIsInvalidArgument) {
  v1::Request request = Append("s", 1);
  request.mutable_append()->set_expected_kind(static_cast<v1::ExpectedKind>(9));
  auto error = CheckRequest(request, {});
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, v1::INVALID_ARGUMENT);
}

TEST(RequestCheck, RequestWithoutBodyIsUnknownRequest) {
  v1::Request request;
  request.set_request_id(5);
  auto error = CheckRequest(request, {});
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, v1::UNKNOWN_REQUEST);
}

TEST(RequestCheck, SubscribeToAllWithANameIsInvalid) {
  v1::Request request;
  request.mutable_subscribe()->set_name("x");
  auto error = CheckRequest(request, {});
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, v1::INVALID_ARGUMENT);
}

TEST(RequestCheck, CreditAboveMaxCreditIsLimitExceeded) {
  v1::Request request;
  request.mutable_credit()->set_subscription_id(1);
  request.mutable_credit()->set_credit(11);
  RequestLimits limits;
  limits.max_credit = 10;
  auto error = CheckRequest(request, limits);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, v1::LIMIT_EXCEEDED);
}

}  // namespace
}  // namespace cairn::protocol
