#include "nonce_source.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

namespace cairn::keyring {
namespace {

constexpr size_t kPageBytes = 4096;
// The first 64 bytes hold the count of unused random bytes (zero after
// fork, as the whole page is); the rest holds the random bytes.
constexpr size_t kHeaderBytes = 64;
constexpr size_t kPoolBytes = kPageBytes - kHeaderBytes;

class NoncePool {
 public:
  NoncePool() {
    void* page = ::mmap(nullptr, kPageBytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return;
#ifdef MADV_WIPEONFORK
    if (::madvise(page, kPageBytes, MADV_WIPEONFORK) == 0) {
      page_ = static_cast<uint8_t*>(page);
      return;
    }
#endif
    ::munmap(page, kPageBytes);
  }
  ~NoncePool() {
    if (page_ != nullptr) {
      OPENSSL_cleanse(page_, kPageBytes);
      ::munmap(page_, kPageBytes);
    }
  }
  NoncePool(const NoncePool&) = delete;
  NoncePool& operator=(const NoncePool&) = delete;

  bool buffered() const { return page_ != nullptr; }

  sdk::Status Fill(uint8_t* out, size_t size) {
    if (page_ == nullptr) return Direct(out, size);
    uint32_t available;
    std::memcpy(&available, page_, sizeof(available));
    if (available < size || available > kPoolBytes) {
      if (RAND_bytes(page_ + kHeaderBytes, static_cast<int>(kPoolBytes)) != 1) {
        return sdk::Internal("the random generator (RAND_bytes) failed");
      }
      available = kPoolBytes;
    }
    uint8_t* next = page_ + kHeaderBytes + (kPoolBytes - available);
    std::memcpy(out, next, size);
    std::memset(next, 0, size);
    available -= static_cast<uint32_t>(size);
    std::memcpy(page_, &available, sizeof(available));
    return sdk::Status::Ok();
  }

 private:
  static sdk::Status Direct(uint8_t* out, size_t size) {
    if (RAND_bytes(out, static_cast<int>(size)) != 1) {
      return sdk::Internal("the random generator (RAND_bytes) failed");
    }
    return sdk::Status::Ok();
  }

  uint8_t* page_ = nullptr;
};

NoncePool& ThisThreadPool() {
  thread_local NoncePool pool;
  return pool;
}

}  // namespace

sdk::Status FillNonce(uint8_t* out, size_t size) {
  if (size > kMaxNonceBytes) {
    return sdk::Internal("nonce of " + std::to_string(size) +
                         " bytes requested; at most " +
                         std::to_string(kMaxNonceBytes));
  }
  return ThisThreadPool().Fill(out, size);
}

bool NoncePoolIsBuffered() { return ThisThreadPool().buffered(); }

}  // namespace cairn::keyring
