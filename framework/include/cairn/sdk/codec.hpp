// SDK for codec plugins: derive from cairn::sdk::Codec, then
//
//   CAIRN_CODEC_PLUGIN(MyCodec, "my-codec", "1.0.0", "what it is", 0, "level")
//
// MyCodec must provide
//   static cairn::sdk::Status Open(const cairn::sdk::Options& options,
//                                  std::unique_ptr<MyCodec>* out);
#ifndef CAIRN_SDK_CODEC_HPP_
#define CAIRN_SDK_CODEC_HPP_

#include <cairn/sdk/common.hpp>

#include <memory>

namespace cairn::sdk {

class Codec {
 public:
  virtual ~Codec() = default;
  // Appends the encoding of `input` to `output`. Called from many threads.
  virtual Status Encode(std::string_view input, BufferWriter& output) = 0;
  // Appends the decoding of `input`; input that is not this codec's output
  // fails with Corruption().
  virtual Status Decode(std::string_view input, BufferWriter& output) = 0;
};

template <typename Impl>
struct CodecAdapter {
  static Codec* Self(cairn_codec* c) { return reinterpret_cast<Codec*>(c); }
  static cairn_status Open(const cairn_options* options, cairn_codec** out,
                           cairn_error* error) {
    return OpenInstance<Codec, Impl>(options, out, error);
  }
  static void Close(cairn_codec* c) { CloseInstance<Codec>(c); }
  static cairn_status Encode(cairn_codec* c, cairn_bytes input,
                             cairn_buffer* output, cairn_error* error) {
    return Guard(error, [&] {
      BufferWriter w(output);
      return Self(c)->Encode(View(input), w);
    });
  }
  static cairn_status Decode(cairn_codec* c, cairn_bytes input,
                             cairn_buffer* output, cairn_error* error) {
    return Guard(error, [&] {
      BufferWriter w(output);
      return Self(c)->Decode(View(input), w);
    });
  }
  static const cairn_codec_api* Table() {
    static const cairn_codec_api table = {sizeof(cairn_codec_api), &Open,
                                          &Close, &Encode, &Decode};
    return &table;
  }
};

}  // namespace cairn::sdk

#define CAIRN_CODEC_PLUGIN(Class, name, version, description, ...)     \
  CAIRN_SDK_DESCRIBE(CAIRN_KIND_CODEC,                                 \
                     ::cairn::sdk::CodecAdapter<Class>::Table(), name, \
                     version, description, __VA_ARGS__)

#endif  // CAIRN_SDK_CODEC_HPP_
