// SDK for cipher plugins: derive from cairn::sdk::Cipher, then
//
//   CAIRN_CIPHER_PLUGIN(MyCipher, "my-cipher", "1.0.0", "what it is",
//                       CAIRN_CAP_KEY_ROTATION, "keyring")
//
// MyCipher must provide
//   static cairn::sdk::Status Open(const cairn::sdk::Options& options,
//                                  std::unique_ptr<MyCipher>* out);
#ifndef CAIRN_SDK_CIPHER_HPP_
#define CAIRN_SDK_CIPHER_HPP_

#include <cairn/sdk/common.hpp>

#include <memory>

namespace cairn::sdk {

class Cipher {
 public:
  virtual ~Cipher() = default;
  // Seals `plaintext` with `associated` under the active key and a fresh
  // nonce; appends nonce, ciphertext and tag; sets *key_id. Thread-safe.
  virtual Status Seal(std::string_view associated, std::string_view plaintext,
                      BufferWriter& output, uint32_t* key_id) = 0;
  // Opens what Seal produced under `key_id`; any tampering is Integrity().
  virtual Status Open(uint32_t key_id, std::string_view associated,
                      std::string_view sealed, BufferWriter& output) = 0;
  // Optional (CAIRN_CAP_KEY_ROTATION): makes a new key active.
  virtual Status Rotate(uint32_t*) {
    return Unsupported("key rotation is not supported by this plugin");
  }
};

template <typename Impl>
struct CipherAdapter {
  static Cipher* Self(cairn_cipher* c) { return reinterpret_cast<Cipher*>(c); }
  static cairn_status OpenCipher(const cairn_options* options,
                                 cairn_cipher** out, cairn_error* error) {
    return OpenInstance<Cipher, Impl>(options, out, error);
  }
  static void Close(cairn_cipher* c) { CloseInstance<Cipher>(c); }
  static cairn_status Seal(cairn_cipher* c, cairn_bytes associated,
                           cairn_bytes plaintext, cairn_buffer* output,
                           uint32_t* key_id, cairn_error* error) {
    return Guard(error, [&] {
      BufferWriter w(output);
      return Self(c)->Seal(View(associated), View(plaintext), w, key_id);
    });
  }
  static cairn_status OpenSealed(cairn_cipher* c, uint32_t key_id,
                                 cairn_bytes associated, cairn_bytes sealed,
                                 cairn_buffer* output, cairn_error* error) {
    return Guard(error, [&] {
      BufferWriter w(output);
      return Self(c)->Open(key_id, View(associated), View(sealed), w);
    });
  }
  static cairn_status Rotate(cairn_cipher* c, uint32_t* key_id,
                             cairn_error* error) {
    return Guard(error, [&] { return Self(c)->Rotate(key_id); });
  }
  static const cairn_cipher_api* Table() {
    static const cairn_cipher_api table = {sizeof(cairn_cipher_api),
                                           &OpenCipher, &Close, &Seal,
                                           &OpenSealed, &Rotate};
    return &table;
  }
};

}  // namespace cairn::sdk

#define CAIRN_CIPHER_PLUGIN(Class, name, version, description, ...)     \
  CAIRN_SDK_DESCRIBE(CAIRN_KIND_CIPHER,                                 \
                     ::cairn::sdk::CipherAdapter<Class>::Table(), name, \
                     version, description, __VA_ARGS__)

#endif  // CAIRN_SDK_CIPHER_HPP_
