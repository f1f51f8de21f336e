// The identity codec: stores bytes as they are. The default codec, and the
// plainest example of a codec plugin.
#include <cairn/sdk/codec.hpp>

namespace cairn::identity {

class IdentityCodec : public sdk::Codec {
 public:
  static sdk::Status Open(const sdk::Options&,
                          std::unique_ptr<IdentityCodec>* out) {
    *out = std::make_unique<IdentityCodec>();
    return sdk::Status::Ok();
  }
  sdk::Status Encode(std::string_view input,
                     sdk::BufferWriter& output) override {
    return output.Append(input.data(), input.size());
  }
  sdk::Status Decode(std::string_view input,
                     sdk::BufferWriter& output) override {
    return output.Append(input.data(), input.size());
  }
};

}  // namespace cairn::identity

CAIRN_CODEC_PLUGIN(cairn::identity::IdentityCodec, "identity", "1.0.0",
                   "stores event bytes unchanged", CAIRN_CAP_PASSTHROUGH)
