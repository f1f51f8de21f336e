// An append's expected revision as plugins and test harnesses hold it: the
// pair cairn_append_request carries (expected_kind, expected_revision), with
// the check every storage makes and its text for messages. One definition
// for the SDK's AppendBatch, mmaplog, the memory storage and the conformance
// suite.
#ifndef CAIRN_SDK_EXPECTED_HPP_
#define CAIRN_SDK_EXPECTED_HPP_

#include <cairn/plugin.h>

#include <cstdint>
#include <string>

namespace cairn::sdk {

struct Expected {
  uint32_t kind = CAIRN_EXPECT_ANY;  // cairn_expected_kind
  uint64_t revision = 0;             // for CAIRN_EXPECT_EXACT

  // Whether a stream whose head revision is `head` (0: no events) meets it:
  // NO_STREAM needs 0, EXACT its revision; ANY (and an unknown kind, which
  // the host never sends) anything.
  bool Holds(uint64_t head) const {
    switch (kind) {
      case CAIRN_EXPECT_NO_STREAM:
        return head == 0;
      case CAIRN_EXPECT_EXACT:
        return head == revision;
      default:
        return true;
    }
  }

  // "no stream", "revision N" or "any", for a conflict's message.
  std::string Text() const {
    switch (kind) {
      case CAIRN_EXPECT_NO_STREAM:
        return "no stream";
      case CAIRN_EXPECT_EXACT:
        return "revision " + std::to_string(revision);
      default:
        return "any";
    }
  }
};

}  // namespace cairn::sdk

#endif  // CAIRN_SDK_EXPECTED_HPP_
