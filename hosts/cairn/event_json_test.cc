#include "event_json.h"

#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace cairn::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(EventJson, ParsesEveryInputField) {
  absl::StatusOr<EventData> event = ParseEventJson(
      R"({"type": "OrderPlaced", "data": {"id": 7, "items": ["a"]}, )"
      R"("metadata": {"corr": "x"}, "tags": ["order", "eu"], "writer": "w1", )"
      R"("timestamp_us": 1700000000000001})");
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->type, "OrderPlaced");
  EXPECT_EQ(event->data, R"({"id":7,"items":["a"]})");
  EXPECT_EQ(event->metadata, R"({"corr":"x"})");
  EXPECT_THAT(event->tags, ElementsAre("order", "eu"));
  EXPECT_EQ(event->writer, "w1");
  EXPECT_EQ(event->timestamp_us, 1700000000000001);
}

TEST(EventJson, DataMayBeAnyJsonValue) {
  EXPECT_EQ(ParseEventJson(R"({"data": 42})")->data, "42");
  EXPECT_EQ(ParseEventJson(R"({"data": "text"})")->data, "\"text\"");
  EXPECT_EQ(ParseEventJson(R"({"data": [1, null, true]})")->data, "[1,null,true]");
  EXPECT_EQ(ParseEventJson(R"({"type": "Empty"})")->data, "");
}

TEST(EventJson, DataKeepsTheWritersKeyOrder) {
  EXPECT_EQ(ParseEventJson(R"({"data": {"zeta": 1, "alpha": {"b": 2, "a": 3}}})")->data,
            R"({"zeta":1,"alpha":{"b":2,"a":3}})");
  nlohmann::json line = nlohmann::json::parse(RecordedEventToJson([] {
    RecordedEvent event;
    event.data = R"({"zeta":1,"alpha":2})";
    return event;
  }()));
  EXPECT_TRUE(line.contains("data"));  // not base64: the bytes come back as they are
}

TEST(EventJson, Base64CarriesBinaryBytes) {
  absl::StatusOr<EventData> event = ParseEventJson(R"({"data_base64": "AAH/"})");
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->data, std::string("\x00\x01\xff", 3));
}

TEST(EventJson, TextsThatAreNotUtf8RoundTripThroughBase64) {
  RecordedEvent recorded;
  recorded.stream = "s\xFF";
  recorded.type = "T\xFE";
  recorded.writer = "w\xC0";
  recorded.tags = {"ok", "g\xC1"};
  const std::string line = RecordedEventToJson(recorded);
  ASSERT_NO_THROW(nlohmann::json::parse(line)) << line;  // valid JSON, strict UTF-8
  absl::StatusOr<EventData> event = ParseEventJson(line);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->type, recorded.type);
  EXPECT_EQ(event->writer, recorded.writer);
  EXPECT_EQ(event->tags, recorded.tags);
  EXPECT_THAT(ParseEventJson(R"({"type": "a", "type_base64": "YQ=="})").status().message(),
              HasSubstr("give 'type' or 'type_base64', not both"));
}

TEST(EventJson, ADuplicateKeyIsRefusedAlsoWhenItIsEmpty) {
  EXPECT_THAT(ParseEventJson(R"({"data": {"": 1, "": 2}})").status().message(),
              HasSubstr("duplicate key ''"));
}

TEST(EventJson, RejectsWhatIsNotAnEventWithTheReason) {
  EXPECT_THAT(ParseEventJson("{\"type\": ").status().message(), HasSubstr("not valid JSON"));
  EXPECT_THAT(ParseEventJson("[1]").status().message(), HasSubstr("expected a JSON object"));
  EXPECT_THAT(ParseEventJson(R"({"Type": "x"})").status().message(),
              HasSubstr("unknown field 'Type'"));
  EXPECT_THAT(ParseEventJson(R"({"type": 3})").status().message(),
              HasSubstr("'type' must be a string"));
  EXPECT_THAT(ParseEventJson(R"({"tags": "order"})").status().message(),
              HasSubstr("'tags' must be an array of strings"));
  EXPECT_THAT(ParseEventJson(R"({"tags": [1]})").status().message(),
              HasSubstr("'tags' must be an array of strings"));
  EXPECT_THAT(ParseEventJson(R"({"data": 1, "data_base64": "AA=="})").status().message(),
              HasSubstr("not both"));
  EXPECT_THAT(ParseEventJson(R"({"data_base64": "%%%"})").status().message(),
              HasSubstr("not valid base64"));
  EXPECT_THAT(ParseEventJson(R"({"timestamp_us": 1.5})").status().message(),
              HasSubstr("'timestamp_us' must be an integer"));
}

TEST(EventJson, BadLineIsNamedByItsNumberCountingBlankLines) {
  std::istringstream in("{\"type\": \"A\"}\n\n{\"type\": \"B\"\n{\"type\": \"C\"}\n");
  absl::StatusOr<std::vector<EventData>> events = ParseEventLines(in, "stdin");
  ASSERT_FALSE(events.ok());
  EXPECT_THAT(events.status().message(), HasSubstr("stdin line 3: not valid JSON"));
}

TEST(EventJson, BlankLinesAreSkipped) {
  std::istringstream in("\n{\"type\": \"A\"}\n   \n{\"type\": \"B\"}\r\n");
  absl::StatusOr<std::vector<EventData>> events = ParseEventLines(in, "stdin");
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].type, "B");
}

RecordedEvent SampleEvent(std::string data) {
  RecordedEvent event;
  event.stream = "orders-1";
  event.revision = 2;
  event.position = 9;
  event.type = "OrderPaid";
  event.timestamp_us = 1700000000123456;
  event.tags = {"order"};
  event.data = std::move(data);
  return event;
}

TEST(EventJson, ReadOutputCarriesRevisionPositionAndJsonData) {
  nlohmann::json line =
      nlohmann::json::parse(RecordedEventToJson(SampleEvent(R"({"amount":12})")));
  EXPECT_EQ(line["stream"], "orders-1");
  EXPECT_EQ(line["revision"], 2);
  EXPECT_EQ(line["position"], 9);
  EXPECT_EQ(line["type"], "OrderPaid");
  EXPECT_EQ(line["time"], "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(line["data"]["amount"], 12);
  EXPECT_FALSE(line.contains("data_base64"));
  EXPECT_EQ(line["codec"], "identity");
  EXPECT_EQ(line["cipher"], "none");
}

TEST(EventJson, BytesThatAreNotCompactJsonComeOutAsBase64) {
  nlohmann::json binary =
      nlohmann::json::parse(RecordedEventToJson(SampleEvent(std::string("\x00\xff", 2))));
  EXPECT_EQ(binary["data_base64"], "AP8=");
  // Valid JSON but not in compact form: base64 keeps the bytes exact.
  nlohmann::json spaced = nlohmann::json::parse(RecordedEventToJson(SampleEvent("{ }")));
  EXPECT_EQ(spaced["data_base64"], "eyB9");
}

TEST(EventJson, ReadOutputAppendsBackToTheSameBytes) {
  for (std::string data : {std::string(R"({"a":[1,2]})"), std::string("\x01\x02\x80", 3),
                           std::string("plain text"), std::string()}) {
    absl::StatusOr<EventData> again = ParseEventJson(RecordedEventToJson(SampleEvent(data)));
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->data, data);
    EXPECT_EQ(again->type, "OrderPaid");
    EXPECT_THAT(again->tags, ElementsAre("order"));
  }
}

TEST(EventJson, TextLineShowsPrintableDataAndSizesBinary) {
  EXPECT_EQ(RecordedEventToText(SampleEvent(R"({"amount":12})")),
            "#2 @9 2023-11-14T22:13:20.123456Z OrderPaid [order] {\"amount\":12}");
  EXPECT_THAT(RecordedEventToText(SampleEvent(std::string("\x00\xff", 2))),
              HasSubstr("(2 bytes of binary data)"));
  EXPECT_THAT(RecordedEventToText(SampleEvent("caf\xc3\xa9")), HasSubstr(" caf\xc3\xa9"));
  EXPECT_THAT(RecordedEventToText(SampleEvent("bad\xc3")), HasSubstr("(4 bytes of binary"));
}

}  // namespace
}  // namespace cairn::cli
