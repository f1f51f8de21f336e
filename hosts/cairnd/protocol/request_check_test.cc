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
  EXPECT_NE(error->message.find("NUL"), std::string::npos);
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
