// How many seals each key of a keyring has made, kept across restarts.
//
// With random 96-bit nonces, NIST SP 800-38D allows one key at most 2^32
// seals (the chance of a repeated nonce then stays below 2^-32). The AEAD
// ciphers therefore count seals per key id in a usage file beside the
// keyring, `<keyring>.usage`, and refuse to seal past a limit
// (`max-seals-per-key`, default 2^32) until the key is rotated.
//
// File format (text, one directive a line; docs/security.md):
//
//   # comment lines and blank lines are ignored
//   seals 1 4294967296
//   seals 2 65536
//
// A count is an upper bound on the seals the key made: a process reserves
// a block of seals in the file (under an flock on `<keyring>.lock`, written
// atomically and fsynced) before using them from memory, and gives back the
// unused rest when it closes cleanly. A crash therefore can only over-count,
// never under-count; several processes sharing a keyring stay correct.
//
// Only sealing touches the file. Opening (reading) never does, so replicas
// and readers need neither the file nor write access to its folder.
#ifndef CAIRN_PLUGINS_CIPHER_KEYRING_SEAL_USAGE_H_
#define CAIRN_PLUGINS_CIPHER_KEYRING_SEAL_USAGE_H_

#include <cairn/sdk/common.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace cairn::keyring {

// NIST SP 800-38D's limit for random 96-bit nonces: the default limit.
inline constexpr uint64_t kDefaultMaxSealsPerKey = 1ull << 32;

// The usage file that belongs to the keyring at `keyring_path`.
std::string SealUsagePath(const std::string& keyring_path);

// Seal counts by key id, as the usage file holds them.
struct SealUsage {
  std::map<uint32_t, uint64_t> seals;

  // Parses usage file text. `origin` names the file in messages. Fails with
  // InvalidArgument naming origin and line, and saying how to recover, for:
  // an unknown directive, a wrong number of words, a malformed key id or
  // count, a duplicate key id.
  static sdk::Status Parse(std::string_view text, const std::string& origin,
                           SealUsage* out);
  // Reads the usage file of `keyring_path`. A missing file is no seals yet
  // (Ok, empty). Fails naming the file if it is not a regular file, cannot
  // be read or does not parse.
  static sdk::Status Load(const std::string& keyring_path, SealUsage* out);

  std::string Serialize(const std::string& keyring_path) const;

  uint64_t Of(uint32_t key_id) const {
    auto it = seals.find(key_id);
    return it == seals.end() ? 0 : it->second;
  }
};

// Reserves up to `wanted` more seals of `key_id` in the usage file of
// `keyring_path`, never letting the count pass `limit`. Sets *granted (0
// when the key has reached its limit) and *count_after (the key's count
// with this reservation). Holds the keyring's lock while it reads, updates
// and atomically rewrites the file.
sdk::Status ReserveSeals(const std::string& keyring_path, uint32_t key_id,
                         uint64_t wanted, uint64_t limit, uint64_t* granted,
                         uint64_t* count_after);

// Gives back `unused` reserved seals of `key_id` (lowers its count by that
// much, never below zero). Same locking as ReserveSeals.
sdk::Status ReturnSeals(const std::string& keyring_path, uint32_t key_id,
                        uint64_t unused);

// A number that changes in a child process right after fork(). Seals a
// process reserved before it forked belong to the parent: the child must
// neither use them nor give them back, or a seal would go uncounted. Budgets
// and per-thread batches remember the generation they were reserved in.
inline std::atomic<uint64_t> fork_generation{0};  // see seal_usage.cc
inline uint64_t ForkGeneration() {
  return fork_generation.load(std::memory_order_relaxed);
}

// One key's seal budget inside one cipher instance: hands out seals from
// the current reservation and reserves the next block when it runs out.
// Blocks start at kFirstBlock and double (up to kMaxBlock) while a block
// lasts less than a second, so the file is written a few times a second at
// most, whatever the seal rate; a crash loses at most one block.
//
// Callers may take several seals at once and use them from a thread's own
// counter (the AEAD cipher takes kThreadBatch), giving back what they do not
// use. Within kNearLimit seals of the limit every Take hands out one seal,
// so threads never hold seals that another thread would need to reach the
// limit exactly.
class SealBudget {
 public:
  static constexpr uint64_t kFirstBlock = 4096;
  static constexpr uint64_t kMaxBlock = 1ull << 22;  // 0.1% of 2^32
  static constexpr uint64_t kNearLimit = 1ull << 20;
  // The fraction of the limit at which a warning is logged (once).
  static constexpr double kWarnFraction = 0.9;

  using WarnFn = void (*)(const std::string& message);

  // `plugin` names the cipher in messages; `warn` (may be null) receives the
  // warning when the key's count passes kWarnFraction of `limit`.
  SealBudget(std::string plugin, std::string keyring_path, uint32_t key_id,
             uint64_t limit, WarnFn warn);
  // Gives the unused rest of the reservation back to the usage file (errors
  // are ignored: a count that stays too high is safe).
  ~SealBudget();
  SealBudget(const SealBudget&) = delete;
  SealBudget& operator=(const SealBudget&) = delete;

  uint32_t key_id() const { return key_id_; }

  // Takes at least one and at most `most` seals (one when near the limit);
  // sets *taken. Fails with ResourceExhausted naming the key id (never the
  // key) and saying to rotate once the key's count reached the limit, or
  // with the usage file's error (naming the file). Thread-safe; the common
  // case is one compare-and-swap.
  sdk::Status Take(uint64_t most, uint64_t* taken);
  // Takes one seal.
  sdk::Status Take() {
    uint64_t taken = 0;
    return Take(1, &taken);
  }
  // Returns seals taken and not used, if they were taken in this process
  // (`generation` is the ForkGeneration() they were taken in). Thread-safe.
  void GiveBack(uint64_t unused, uint64_t generation) {
    if (unused != 0 && generation == ForkGeneration()) {
      available_.fetch_add(unused, std::memory_order_relaxed);
    }
  }

 private:
  sdk::Status Refill();
  // In a child after fork: forgets the parent's reservation.
  void ForgetParentsSeals();

  const std::string plugin_;
  const std::string keyring_path_;
  const uint32_t key_id_;
  const uint64_t limit_;
  const WarnFn warn_;
  std::atomic<uint64_t> available_{0};  // reserved and not yet taken
  std::atomic<bool> near_limit_{false};
  std::atomic<uint64_t> generation_;    // ForkGeneration() of available_
  std::mutex refill_mutex_;             // guards the members below
  uint64_t next_block_ = kFirstBlock;
  std::chrono::steady_clock::time_point last_refill_{};
  bool exhausted_ = false;
  bool warned_ = false;
};

}  // namespace cairn::keyring

#endif  // CAIRN_PLUGINS_CIPHER_KEYRING_SEAL_USAGE_H_
