// The seal registry: the ciphers and keys a store has been sealed with,
// recorded in the store itself so that opening it with no cipher, or with a
// keyring whose key id N is not the key that sealed its events, is refused
// at open instead of silently writing plaintext or unreadable events.
//
// The Store keeps it as a snapshot of the reserved stream
// kSealRegistryStream, through the storage ABI only, so any storage plugin
// with CAIRN_CAP_SNAPSHOTS keeps it (snapshots stay out of the event log:
// no position, no stream in the directory, untouched by retention). Each
// time a (cipher, key id) is first used the Store saves the whole list at
// the next revision (a new snapshot, never a replaced one) before the
// events sealed under it are stored; the highest revision is the registry.
//
// Text, one entry a line:
//   # cairn seal registry v1
//   key <cipher> <key id> <check value, hex> <recorded at, µs since epoch>
// The check value is the cipher's seal of kKeyCheckBlock under that key
// (envelope.h); it holds no key material a reader could use.
#ifndef CAIRN_FRAMEWORK_SEAL_REGISTRY_H_
#define CAIRN_FRAMEWORK_SEAL_REGISTRY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cairn {

// Stream names beginning with this are the Store's own; snapshot calls on
// them from outside the Store are refused.
inline constexpr std::string_view kReservedStreamPrefix = "$cairn/";
inline constexpr std::string_view kSealRegistryStream = "$cairn/seal-registry";

inline bool IsReservedStreamName(std::string_view name) {
  return name.substr(0, kReservedStreamPrefix.size()) == kReservedStreamPrefix;
}

struct SealKey {
  std::string cipher;       // plugin name
  uint32_t key_id = 0;
  std::string check_value;  // seal of kKeyCheckBlock under the key
  int64_t recorded_us = 0;  // when it was first used
};

std::string FormatSealRegistry(const std::vector<SealKey>& keys);

// Parses FormatSealRegistry's text. Fails with Corruption naming `what` and
// the line if a line is not an entry or a '#' comment.
absl::StatusOr<std::vector<SealKey>> ParseSealRegistry(std::string_view text,
                                                       std::string_view what);

}  // namespace cairn

#endif  // CAIRN_FRAMEWORK_SEAL_REGISTRY_H_
