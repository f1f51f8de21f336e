#include "stream_order.h"

#include <gtest/gtest.h>

namespace cairn::cairnd {
namespace {

v1::Request Append(const std::string& stream, uint64_t id) {
  v1::Request request;
  request.set_request_id(id);
  request.mutable_append()->set_stream(stream);
  return request;
}

v1::Request SaveSnapshot(const std::string& stream, uint64_t id) {
  v1::Request request;
  request.set_request_id(id);
  request.mutable_save_snapshot()->mutable_snapshot()->set_stream(stream);
  return request;
}

TEST(StreamOrder, NamesTheStreamOfEveryStreamRequest) {
  EXPECT_EQ(OrderedStream(Append("a", 1)), "a");
  EXPECT_EQ(OrderedStream(SaveSnapshot("s", 1)), "s");
  v1::Request r;
  r.mutable_read_stream()->set_stream("rs");
  EXPECT_EQ(OrderedStream(r), "rs");
  r.mutable_delete_to()->set_stream("dt");
  EXPECT_EQ(OrderedStream(r), "dt");
  r.mutable_load_snapshot()->set_stream("ls");
  EXPECT_EQ(OrderedStream(r), "ls");
  r.mutable_delete_snapshot()->set_stream("ds");
  EXPECT_EQ(OrderedStream(r), "ds");
  r.mutable_delete_snapshots()->set_stream("dss");
  EXPECT_EQ(OrderedStream(r), "dss");
  r.mutable_head()->set_stream("h");
  EXPECT_EQ(OrderedStream(r), "h");
  r.mutable_head()->clear_stream();
  EXPECT_EQ(OrderedStream(r), "");
  r.mutable_read_all();
  EXPECT_EQ(OrderedStream(r), "");
  r.mutable_read_tag()->set_tag("t");
  EXPECT_EQ(OrderedStream(r), "");
}

TEST(StreamOrder, HoldsALaterRequestOfABusyStreamAndHandsThemOutInOrder) {
  StreamOrder<> order;
  auto first = SaveSnapshot("s", 1);
  EXPECT_TRUE(order.Admit(&first));
  auto second = Append("s", 2);
  auto third = SaveSnapshot("s", 3);
  EXPECT_FALSE(order.Admit(&second));
  EXPECT_FALSE(order.Admit(&third));
  EXPECT_EQ(order.held(), 2u);
  EXPECT_TRUE(order.Busy("s"));

  auto next = order.Done("s");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->request_id(), 2u);
  EXPECT_TRUE(next->has_append());
  next = order.Done("s");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->request_id(), 3u);
  EXPECT_EQ(order.held(), 0u);
  EXPECT_FALSE(order.Done("s").has_value());
  EXPECT_FALSE(order.Busy("s"));

  // Free again: the next one runs at once.
  auto fourth = Append("s", 4);
  EXPECT_TRUE(order.Admit(&fourth));
  EXPECT_FALSE(order.Done("s").has_value());
}

TEST(StreamOrder, NeverHoldsOtherStreamsOrRequestsWithoutAStream) {
  StreamOrder<> order;
  auto a = Append("a", 1);
  auto b = Append("b", 2);
  EXPECT_TRUE(order.Admit(&a));
  EXPECT_TRUE(order.Admit(&b));
  v1::Request all;
  all.mutable_read_all();
  EXPECT_TRUE(order.Admit(&all));
  EXPECT_TRUE(order.Admit(&all));
  EXPECT_FALSE(order.Done("").has_value());
  EXPECT_EQ(order.held(), 0u);
}

}  // namespace
}  // namespace cairn::cairnd
