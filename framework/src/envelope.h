// The envelope at the front of every stored event's data (and snapshot):
// which codec and cipher produced the bytes behind it, and with which key.
//
//   byte 0      format version: 2 for sealed events and snapshots (associated
//               data v2, below), 1 for unsealed ones; 1 on a sealed payload
//               means it was sealed by an older build with associated data
//               v1 (a "legacy seal"), which still opens
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
#include "absl/types/span.h"

namespace cairn {

struct Envelope {
  std::string codec;   // empty: identity (no codec applied)
  std::string cipher;  // empty: none (no cipher applied)
  uint32_t key_id = 0;
  bool metadata_inside = false;
  // Set by ReadEnvelope; WriteEnvelope derives it (2 if a cipher applies).
  uint8_t version = 0;
};

// The version this build writes for sealed records, and the oldest it reads.
inline constexpr uint8_t kEnvelopeVersion = 2;
inline constexpr uint8_t kLegacyEnvelopeVersion = 1;

// Appends the envelope header to `out`: version 2 if a cipher applies, else
// 1 (an unsealed record is the same in both, so older builds keep reading
// stores that never used a cipher).
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

// Every field storage keeps beside a sealed payload. Position is not here:
// storage assigns it after sealing (and a replica keeps the primary's).
struct SealedFields {
  SealedPart part = SealedPart::kData;
  std::string_view stream;
  uint64_t revision = 0;
  std::string_view type;
  int64_t timestamp_us = 0;
  std::string_view writer;
  absl::Span<const std::string> tags;
};

// The associated data of envelope `version`, written over *out (which keeps
// its capacity: the write path reuses one string per thread).
//   v2 (kEnvelopeVersion): "cairn/2", part (u8), revision (u64 LE),
//      timestamp_us (i64 LE), then stream, type, writer, each as u32 LE
//      length + bytes, then the tag count (u32 LE) and each tag as u32 LE
//      length + bytes: a changed tag, timestamp or writer id fails to open.
//   v1 (legacy): "cairn/1", part, revision (u64 LE), stream and type as
//      u32 LE length + bytes; tags, timestamp and writer id are not bound.
void AssociatedData(uint8_t version, const SealedFields& fields,
                    std::string* out);
std::string AssociatedData(uint8_t version, const SealedFields& fields);

// A key check value proves that a keyring's key `id` is the key that sealed
// a store's events: at the first seal under a key the Store seals
// kKeyCheckBlock with KeyCheckAssociatedData(cipher) and records the result
// (seal_registry.h); opening it later with another key of the same id fails.
inline constexpr std::string_view kKeyCheckBlock = "cairn key check value v1";
std::string KeyCheckAssociatedData(std::string_view cipher);

}  // namespace cairn

#endif  // CAIRN_FRAMEWORK_ENVELOPE_H_
