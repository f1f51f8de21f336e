// Compile test (issue #19): every SDK header, and each plugin macro with and
// without options, builds as C++17 and as C++20 with -Wall -Wextra
// -Wpedantic -Werror (framework/tests/CMakeLists.txt builds this file once
// per standard and per CAIRN_CHECK_WITH_OPTIONS). It is compiled, not run:
// the build is the test.
#include <cairn/plugin.h>
#include <cairn/sdk/cipher.hpp>
#include <cairn/sdk/codec.hpp>
#include <cairn/sdk/common.hpp>
#include <cairn/sdk/expected.hpp>
#include <cairn/sdk/replication.hpp>
#include <cairn/sdk/secret_file.hpp>
#include <cairn/sdk/size.hpp>
#include <cairn/sdk/storage.hpp>
#include <cairn/sdk/thread_cache.hpp>

#include <memory>
#include <string_view>

namespace {

class CheckCodec : public cairn::sdk::Codec {
 public:
  static cairn::sdk::Status Open(const cairn::sdk::Options&,
                                 std::unique_ptr<CheckCodec>* out) {
    *out = std::make_unique<CheckCodec>();
    return cairn::sdk::Status::Ok();
  }
  cairn::sdk::Status Encode(std::string_view input,
                            cairn::sdk::BufferWriter& output) override {
    return output.Append(input.data(), input.size());
  }
  cairn::sdk::Status Decode(std::string_view input,
                            cairn::sdk::BufferWriter& output) override {
    return output.Append(input.data(), input.size());
  }
};

// CAIRN_HAS_FIELD on the address of a reference (used to trip
// -Werror=nonnull-compare).
bool ResultHasPositions(const cairn_append_result& result) {
  return CAIRN_HAS_FIELD(cairn_append_result, &result, last_position);
}

}  // namespace

// Referenced so that -Wunused-function has nothing to say.
bool (*const cairn_sdk_check_has_field)(const cairn_append_result&) =
    &ResultHasPositions;

#ifdef CAIRN_CHECK_WITH_OPTIONS
CAIRN_CODEC_PLUGIN(
    CheckCodec, "check", "1.0.0", "compile check", CAIRN_CAP_PASSTHROUGH,
    cairn::sdk::OptionDesc("level", CAIRN_OPT_UINT, "3", "a level"),
    cairn::sdk::OptionDesc("name", CAIRN_OPT_STRING, nullptr, "a name"))
#else
CAIRN_CODEC_PLUGIN(CheckCodec, "check", "1.0.0", "compile check",
                   CAIRN_CAP_PASSTHROUGH)
#endif
