// The aes-gcm cipher: AES-256-GCM (OpenSSL EVP) under keys from a keyring
// file, a fresh random 96-bit nonce per seal, 128-bit tags. The sealed
// format, key handling and nonce policy are those of keyring/aead_cipher.h
// and docs/security.md.
#include <cairn/sdk/cipher.hpp>

#include "aead_cipher.h"

namespace cairn::aesgcm {

inline constexpr keyring::AeadAlgorithm kAes256Gcm = {
    "aes-gcm", &EVP_aes_256_gcm, &sdk::LogWarn};

class AesGcmCipher : public keyring::AeadCipher {
 public:
  // Options: keyring = PATH (required), max-seals-per-key = N (default
  // 2^32).
  static sdk::Status Open(const sdk::Options& options,
                          std::unique_ptr<AesGcmCipher>* out) {
    std::unique_ptr<AesGcmCipher> cipher(new AesGcmCipher());
    sdk::Status status = cipher->LoadKeyring(options);
    if (!status.ok()) return status;
    *out = std::move(cipher);
    return sdk::Status::Ok();
  }

 private:
  AesGcmCipher() : AeadCipher(kAes256Gcm) {}
};

}  // namespace cairn::aesgcm

CAIRN_CIPHER_PLUGIN(cairn::aesgcm::AesGcmCipher, "aes-gcm", "1.0.0",
                    "AES-256-GCM authenticated encryption, keys from a "
                    "rotating keyring file",
                    CAIRN_CAP_KEY_ROTATION, CAIRN_KEYRING_CIPHER_OPTIONS)
