#include "envelope.h"

#include <cairn/status.h>

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

void PutU64(uint64_t v, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
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
  out->assign("cairn/1");
  out->push_back(static_cast<char>(part));
  PutU64(revision, out);
  PutU32(static_cast<uint32_t>(stream.size()), out);
  out->append(stream);
  PutU32(static_cast<uint32_t>(type.size()), out);
  out->append(type);
}

}  // namespace cairn
