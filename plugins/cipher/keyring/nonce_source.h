// Fresh random nonces for the AEAD ciphers, fast enough for small events.
//
// OpenSSL's RAND_bytes costs about 0.5 us per call on this machine kind,
// more than sealing a 256-byte event. Each thread therefore draws 4 KiB at a
// time from RAND_bytes into a private page and hands out nonces from it,
// wiping each nonce from the page as it goes, so no byte is handed out twice.
//
// fork(): the page is marked MADV_WIPEONFORK, so a child process finds it
// zeroed (an empty pool) and draws from OpenSSL, which reseeds after fork;
// parent and child never hand out the same buffered bytes. Where the kernel
// lacks MADV_WIPEONFORK (before Linux 4.14) every nonce comes straight from
// RAND_bytes.
#ifndef CAIRN_PLUGINS_CIPHER_KEYRING_NONCE_SOURCE_H_
#define CAIRN_PLUGINS_CIPHER_KEYRING_NONCE_SOURCE_H_

#include <cairn/sdk/common.hpp>

#include <cstddef>
#include <cstdint>

namespace cairn::keyring {

// The largest nonce FillNonce hands out in one call.
inline constexpr size_t kMaxNonceBytes = 32;

// Writes `size` (<= kMaxNonceBytes) fresh random bytes to `out`. Fails with
// Internal if the random generator fails. Thread-safe (per-thread pools).
sdk::Status FillNonce(uint8_t* out, size_t size);

// True if this thread's pool is fork-safe through MADV_WIPEONFORK (false:
// every nonce comes from RAND_bytes directly). For tests and docs.
bool NoncePoolIsBuffered();

}  // namespace cairn::keyring

#endif  // CAIRN_PLUGINS_CIPHER_KEYRING_NONCE_SOURCE_H_
