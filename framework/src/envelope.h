// The envelope at the front of every stored event's data (and snapshot):
// which codec and cipher produced the bytes behind it, and with which key.
//
//   byte 0      format version (1)
//   byte 1      flags: bit 0 codec applied, bit 1 cipher applied,
//               bit 2 metadata travels inside the payload
//   [codec]     u8 length + codec plugin name          (if bit 0)
//   [cipher]    u8 length + cipher plugin name,
//               u32 little-endian key id               (if bit 1)
//   payload     seal(encode(bytes)), or the bytes as they are
//
// When a codec or cipher applies, an event's metadata goes inside the payload
// (u32 little-endian length, metadata, data) so that it is compressed and
// sealed with the data under the same key, and storage's metadata is empty.
//
// Storage sees only this; a replica copies it as is and needs no keys.
#ifndef CAIRN_FRAMEWORK_ENVELOPE_H_
#define CAIRN_FRAMEWORK_ENVELOPE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cairn {

struct Envelope {
  std::string codec;   // empty: identity (no codec applied)
  std::string cipher;  // empty: none (no cipher applied)
  uint32_t key_id = 0;
  bool metadata_inside = false;
};

inline constexpr uint8_t kEnvelopeVersion = 1;

// Appends the envelope header to `out`.
void WriteEnvelope(const Envelope& envelope, std::string* out);

// Parses the header at the front of `stored`; sets *payload to the rest.
// Fails with Corruption naming `what` (e.g. "stream 'x' revision 3") if the
// bytes are not an envelope this version understands.
absl::StatusOr<Envelope> ReadEnvelope(std::string_view stored,
                                      std::string_view* payload,
                                      std::string_view what);

// Associated data that binds sealed bytes to their place: a record moved to
// another stream or revision, or data swapped with metadata, fails to open.
enum class SealedPart : uint8_t { kData = 0, kMetadata = 1, kSnapshot = 2 };
std::string AssociatedData(SealedPart part, std::string_view stream,
                           uint64_t revision, std::string_view type);
// The same bytes, written over *out (which keeps its capacity: the write
// path reuses one string per thread instead of allocating per event).
void AssociatedData(SealedPart part, std::string_view stream,
                    uint64_t revision, std::string_view type,
                    std::string* out);

}  // namespace cairn

#endif  // CAIRN_FRAMEWORK_ENVELOPE_H_
