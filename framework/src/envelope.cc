#include "envelope.h"

#include <cairn/status.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace cairn {
namespace {

constexpr uint8_t kCodecFlag = 1;
constexpr uint8_t kCipherFlag = 2;
constexpr uint8_t kMetadataInsideFlag = 4;

void PutName(std::string_view name, std::string* out) {
  out->push_back(static_cast<char>(name.size()));
  out->append(name);
}

void PutU32(uint32_t v, std::string* out) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Writes the low `bytes` bytes of `v`, little endian.
void PutLittleEndian(uint64_t v, int bytes, char* out) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

}  // namespace

void WriteEnvelope(const Envelope& envelope, std::string* out) {
  uint8_t flags = (envelope.codec.empty() ? 0 : kCodecFlag) |
                  (envelope.cipher.empty() ? 0 : kCipherFlag) |
                  (envelope.metadata_inside ? kMetadataInsideFlag : 0);
  out->push_back(static_cast<char>(kEnvelopeVersion));
  out->push_back(static_cast<char>(flags));
  if (!envelope.codec.empty()) PutName(envelope.codec, out);
  if (!envelope.cipher.empty()) {
    PutName(envelope.cipher, out);
    PutU32(envelope.key_id, out);
  }
}

absl::StatusOr<Envelope> ReadEnvelope(std::string_view stored,
                                      std::string_view* payload,
                                      std::string_view what) {
  auto corrupt = [&](std::string_view why) {
    return MakeStatus(CAIRN_E_CORRUPTION,
                      absl::StrCat(absl::string_view(what.data(), what.size()),
                                   ": stored bytes are not a Cairn envelope (",
                                   absl::string_view(why.data(), why.size()), ")"));
  };
  if (stored.size() < 2) return corrupt("shorter than 2 bytes");
  auto version = static_cast<uint8_t>(stored[0]);
  auto flags = static_cast<uint8_t>(stored[1]);
  if (version != kEnvelopeVersion) {
    return corrupt(absl::StrCat("format version ", version, ", this build reads ",
                                kEnvelopeVersion));
  }
  if (flags & ~(kCodecFlag | kCipherFlag | kMetadataInsideFlag)) {
    return corrupt("unknown flags");
  }
  size_t at = 2;
  auto take_name = [&](std::string* name) -> bool {
    if (at >= stored.size()) return false;
    size_t n = static_cast<uint8_t>(stored[at++]);
    if (n == 0 || stored.size() - at < n) return false;
    name->assign(stored.substr(at, n));
    at += n;
    return true;
  };
  Envelope envelope;
  envelope.metadata_inside = (flags & kMetadataInsideFlag) != 0;
  if ((flags & kCodecFlag) && !take_name(&envelope.codec)) {
    return corrupt("truncated codec name");
  }
  if (flags & kCipherFlag) {
    if (!take_name(&envelope.cipher) || stored.size() - at < 4) {
      return corrupt("truncated cipher name or key id");
    }
    uint32_t key = 0;
    for (int i = 0; i < 4; ++i) {
      key |= static_cast<uint32_t>(static_cast<uint8_t>(stored[at + i])) << (8 * i);
    }
    envelope.key_id = key;
    at += 4;
  }
  *payload = stored.substr(at);
  return envelope;
}

std::string AssociatedData(SealedPart part, std::string_view stream,
                           uint64_t revision, std::string_view type) {
  std::string aad;
  AssociatedData(part, stream, revision, type, &aad);
  return aad;
}

void AssociatedData(SealedPart part, std::string_view stream,
                    uint64_t revision, std::string_view type,
                    std::string* out) {
  // Fixed-size parts are put together on the stack and appended whole: this
  // runs once per sealed event, and byte-wise push_back cost ~500
  // instructions.
  char head[7 + 1 + 8 + 4];
  std::memcpy(head, "cairn/1", 7);
  head[7] = static_cast<char>(part);
  PutLittleEndian(revision, 8, head + 8);
  PutLittleEndian(stream.size(), 4, head + 16);
  char type_size[4];
  PutLittleEndian(type.size(), 4, type_size);
  out->assign(head, sizeof(head));
  out->append(stream);
  out->append(type_size, sizeof(type_size));
  out->append(type);
}

}  // namespace cairn
