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
  out->push_back(static_cast<char>(envelope.cipher.empty() ? kLegacyEnvelopeVersion
                                                           : kEnvelopeVersion));
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
  if (version < kLegacyEnvelopeVersion || version > kEnvelopeVersion) {
    return corrupt(absl::StrCat("format version ", version, ", this build reads ",
                                kLegacyEnvelopeVersion, " to ", kEnvelopeVersion));
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
  envelope.version = version;
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

namespace {

void AppendSized(std::string_view bytes, std::string* out) {
  char size[4];
  PutLittleEndian(bytes.size(), 4, size);
  out->append(size, sizeof(size));
  out->append(bytes);
}

}  // namespace

void AssociatedData(uint8_t version, const SealedFields& fields, std::string* out) {
  // Fixed-size parts are put together on the stack and appended whole: this
  // runs once per sealed event, and byte-wise push_back cost ~500
  // instructions.
  if (version == kLegacyEnvelopeVersion) {
    char head[7 + 1 + 8];
    std::memcpy(head, "cairn/1", 7);
    head[7] = static_cast<char>(fields.part);
    PutLittleEndian(fields.revision, 8, head + 8);
    out->assign(head, sizeof(head));
    AppendSized(fields.stream, out);
    AppendSized(fields.type, out);
    return;
  }
  char head[7 + 1 + 8 + 8];
  std::memcpy(head, "cairn/2", 7);
  head[7] = static_cast<char>(fields.part);
  PutLittleEndian(fields.revision, 8, head + 8);
  PutLittleEndian(static_cast<uint64_t>(fields.timestamp_us), 8, head + 16);
  out->assign(head, sizeof(head));
  AppendSized(fields.stream, out);
  AppendSized(fields.type, out);
  AppendSized(fields.writer, out);
  char tag_count[4];
  PutLittleEndian(fields.tags.size(), 4, tag_count);
  out->append(tag_count, sizeof(tag_count));
  for (const std::string& tag : fields.tags) AppendSized(tag, out);
}

std::string AssociatedData(uint8_t version, const SealedFields& fields) {
  std::string aad;
  AssociatedData(version, fields, &aad);
  return aad;
}

std::string KeyCheckAssociatedData(std::string_view cipher) {
  std::string aad = "cairn/key-check/1";
  AppendSized(cipher, &aad);
  return aad;
}

}  // namespace cairn
