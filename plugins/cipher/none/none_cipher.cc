// The "none" cipher: no encryption. Sealing copies the plaintext; opening
// copies it back. Key id 0. The default for sites that do not encrypt.
#include <cairn/sdk/cipher.hpp>

namespace cairn::nocipher {

class NoneCipher : public sdk::Cipher {
 public:
  static sdk::Status Open(const sdk::Options&,
                          std::unique_ptr<NoneCipher>* out) {
    *out = std::make_unique<NoneCipher>();
    return sdk::Status::Ok();
  }
  sdk::Status Seal(std::string_view, std::string_view plaintext,
                   sdk::BufferWriter& output, uint32_t* key_id) override {
    *key_id = 0;
    return output.Append(plaintext.data(), plaintext.size());
  }
  sdk::Status Open(uint32_t key_id, std::string_view, std::string_view sealed,
                   sdk::BufferWriter& output) override {
    if (key_id != 0) {
      return sdk::NotFound("cipher 'none' has only key 0, not key " +
                           std::to_string(key_id));
    }
    return output.Append(sealed.data(), sealed.size());
  }
};

}  // namespace cairn::nocipher

CAIRN_CIPHER_PLUGIN(cairn::nocipher::NoneCipher, "none", "1.0.0",
                    "no encryption (bytes stored as the codec left them)",
                    CAIRN_CAP_PASSTHROUGH)
