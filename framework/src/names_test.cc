#include <cairn/event.h>
#include <cairn/names.h>
#include <cairn/status.h>

#include <string>

#include <gtest/gtest.h>

namespace cairn {
namespace {

using std::string_literals::operator""s;

TEST(NameRule, AcceptsPrintableUtf8UpToTheLimit) {
  EXPECT_FALSE(NameProblem(NameKind::kStream, "order-1"));
  EXPECT_FALSE(NameProblem(NameKind::kStream, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x90\xA2"));
  EXPECT_FALSE(NameProblem(NameKind::kStream, std::string(kMaxNameBytes, 'a')));
  std::string euros;
  for (int i = 0; i < 85; ++i) euros += "\xE2\x82\xAC";  // 255 bytes
  EXPECT_FALSE(NameProblem(NameKind::kTag, euros));
}

TEST(NameRule, SlashAndDotDotAreOrdinaryCharacters) {
  EXPECT_FALSE(NameProblem(NameKind::kStream, "../../etc/passwd"));
  EXPECT_FALSE(NameProblem(NameKind::kStream, "/"));
  EXPECT_FALSE(NameProblem(NameKind::kStream, ".."));
  EXPECT_FALSE(NameProblem(NameKind::kStream, "a\\b"));
}

TEST(NameRule, EmptyIsRefusedForStreamsAndTagsButNotForEventTypes) {
  ASSERT_TRUE(NameProblem(NameKind::kStream, ""));
  EXPECT_NE(NameProblem(NameKind::kStream, "")->find("stream name is empty"), std::string::npos);
  ASSERT_TRUE(NameProblem(NameKind::kTag, ""));
  EXPECT_NE(NameProblem(NameKind::kTag, "")->find("tag is empty"), std::string::npos);
  EXPECT_FALSE(NameProblem(NameKind::kEventType, ""));
}

TEST(NameRule, OverLongIsRefusedWithItsLength) {
  std::optional<std::string> problem =
      NameProblem(NameKind::kEventType, std::string(kMaxNameBytes + 1, 't'));
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("event type"), std::string::npos) << *problem;
  EXPECT_NE(problem->find("256 bytes"), std::string::npos) << *problem;
}

TEST(NameRule, ControlCharactersAreRefusedNamingCodePointAndOffset) {
  struct Case {
    std::string name;
    std::string expected;
  };
  const Case cases[] = {
      {"x\t999", "U+0009 at byte 1"},
      {"line\nbreak", "U+000A at byte 4"},
      {"nul\0byte"s, "U+0000 at byte 3"},
      {"\x1b[31mred", "U+001B at byte 0"},
      {"del\x7f", "U+007F at byte 3"},
      {"c1\xC2\x85", "U+0085 at byte 2"},   // NEL
      {"c1\xC2\x9B", "U+009B at byte 2"},   // CSI
  };
  for (const Case& c : cases) {
    std::optional<std::string> problem = NameProblem(NameKind::kStream, c.name);
    ASSERT_TRUE(problem) << EscapeForTerminal(c.name);
    EXPECT_NE(problem->find(c.expected), std::string::npos) << *problem;
    // The message itself never carries the raw control character.
    EXPECT_TRUE(IsPrintableUtf8(*problem)) << EscapeForTerminal(*problem);
  }
  // U+00A0 (just past C1) is an ordinary character.
  EXPECT_FALSE(NameProblem(NameKind::kStream, "nb\xC2\xA0sp"));
}

TEST(NameRule, InvalidUtf8IsRefusedNamingTheOffset) {
  struct Case {
    std::string name;
    std::string expected;
  };
  const Case cases[] = {
      {"a\xFF", "byte 1"},                    // never valid
      {"ab\x80", "byte 2"},                   // stray continuation
      {"\xC0\xAF", "byte 0"},                 // overlong '/'
      {"x\xE0\x80\xAF", "byte 1"},            // overlong '/' in 3 bytes
      {"\xF0\x80\x80\xAF", "byte 0"},         // overlong in 4 bytes
      {"s\xED\xA0\x80", "byte 1"},            // surrogate U+D800
      {"\xF4\x90\x80\x80", "byte 0"},         // above U+10FFFF
      {"cut\xE2\x82", "byte 3"},              // truncated
  };
  for (const Case& c : cases) {
    std::optional<std::string> problem = NameProblem(NameKind::kTag, c.name);
    ASSERT_TRUE(problem) << EscapeForTerminal(c.name);
    EXPECT_NE(problem->find("not valid UTF-8 at " + c.expected), std::string::npos) << *problem;
  }
}

TEST(NameRule, ValidateNameIsInvalidArgument) {
  EXPECT_TRUE(ValidateName(NameKind::kStream, "ok").ok());
  absl::Status s = ValidateName(NameKind::kStream, "x\t999");
  EXPECT_EQ(CodeOf(s), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_NE(s.message().find("stream name \"x\\t999\""), std::string_view::npos) << s;
}

TEST(NameRule, RecordNamesAreCheckedByKindNamingThePosition) {
  auto bytes = [](const std::string& s) {
    return cairn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  };
  const std::string good = "orders-1", bad = "x\x01", tag_ok = "t";
  cairn_event event{};
  event.size = sizeof(event);
  event.stream = bytes(good);
  cairn_bytes tags[2] = {bytes(tag_ok), bytes(bad)};
  event.tags = tags;
  event.tag_count = 1;
  cairn_log_record record{};
  record.size = sizeof(record);
  record.kind = CAIRN_RECORD_EVENT;
  record.position = 7;
  record.event = &event;
  EXPECT_TRUE(ValidateRecordNames(record).ok());
  event.tag_count = 2;  // a tag with a control character
  absl::Status s = ValidateRecordNames(record);
  EXPECT_EQ(CodeOf(s), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_EQ(s.message().find("the record at position 7: tag \"x\\x01\""), 0u)
      << s;
  event.tag_count = 1;
  event.type = bytes(bad);  // the event type
  EXPECT_FALSE(ValidateRecordNames(record).ok());

  cairn_log_record del{};
  del.size = sizeof(del);
  del.kind = CAIRN_RECORD_DELETE_TO;
  del.position = 8;
  del.stream = bytes(bad);
  s = ValidateRecordNames(del);
  EXPECT_EQ(CodeOf(s), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_NE(s.message().find("position 8: stream name"), std::string::npos)
      << s;
  del.stream = bytes(good);
  EXPECT_TRUE(ValidateRecordNames(del).ok());
  del.kind = CAIRN_RECORD_EPOCH;  // names nothing
  del.stream = bytes(bad);
  EXPECT_TRUE(ValidateRecordNames(del).ok());
}

TEST(EscapeForTerminal, KeepsPrintableTextAndEscapesTheRest) {
  EXPECT_EQ(EscapeForTerminal("order-1 caf\xC3\xA9"), "order-1 caf\xC3\xA9");
  EXPECT_EQ(EscapeForTerminal("x\t999"), "x\\t999");
  EXPECT_EQ(EscapeForTerminal("a\nb\rc"), "a\\nb\\rc");
  EXPECT_EQ(EscapeForTerminal("\x1b[2J"), "\\x1b[2J");
  EXPECT_EQ(EscapeForTerminal("nul\0"s), "nul\\x00");
  EXPECT_EQ(EscapeForTerminal("del\x7f"), "del\\x7f");
  EXPECT_EQ(EscapeForTerminal("\xC2\x9B"), "\\u009b");
  EXPECT_EQ(EscapeForTerminal("bad\xFF\xC0\xAF"), "bad\\xff\\xc0\\xaf");
  EXPECT_EQ(EscapeForTerminal("cut\xE2\x82"), "cut\\xe2\\x82");
}

TEST(EscapeForTerminal, GivesPrintableTextAndEscapingTwiceChangesNothing) {
  for (std::string text : {"x\t999"s, "\x1b[2J\xC2\x9B"s, "bad\xFF"s, "a\\b"s, "nul\0"s}) {
    const std::string once = EscapeForTerminal(text);
    EXPECT_TRUE(IsPrintableUtf8(once)) << once;
    EXPECT_EQ(EscapeForTerminal(once), once);
  }
  EXPECT_EQ(EscapeForTerminal("a\\b"), "a\\b");
}

TEST(IsPrintableUtf8, RefusesControlAndInvalidBytes) {
  EXPECT_TRUE(IsPrintableUtf8(""));
  EXPECT_TRUE(IsPrintableUtf8("{\"id\": 1, \"name\": \"caf\xC3\xA9\"}"));
  EXPECT_FALSE(IsPrintableUtf8("a\tb"));
  EXPECT_FALSE(IsPrintableUtf8("\xC2\x85"));
  EXPECT_FALSE(IsPrintableUtf8("\xFF"));
}

}  // namespace
}  // namespace cairn
