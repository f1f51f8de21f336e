#include "audit_chain.h"

#include <openssl/evp.h>

#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace cairn::cairnd {
namespace {

constexpr std::string_view kSeqField = "{\"seq\":";
constexpr std::string_view kPrevField = ",\"prev\":\"";
constexpr std::string_view kEnd = "\"}";

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.substr(text.size() - suffix.size()) == suffix;
}

bool IsLowerHex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// SHA-256 with the algorithm fetched and the context made once per thread:
// EVP_Digest(..., EVP_sha256(), ...) looks the algorithm up on every call
// in OpenSSL 3, which doubled the cost of hashing a ~250-byte line.
class Sha256 {
 public:
  Sha256()
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
      : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)),
#else
      : md_(EVP_sha256()),
#endif
        context_(EVP_MD_CTX_new()) {
  }
  ~Sha256() {
    EVP_MD_CTX_free(context_);
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    EVP_MD_free(md_);
#endif
  }

  unsigned int Digest(std::string_view data, unsigned char* out) {
    unsigned int length = 0;
    EVP_DigestInit_ex(context_, md_, nullptr);
    EVP_DigestUpdate(context_, data.data(), data.size());
    EVP_DigestFinal_ex(context_, out, &length);
    return length;
  }

 private:
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
  EVP_MD* md_;
#else
  const EVP_MD* md_;
#endif
  EVP_MD_CTX* context_;
};

}  // namespace

std::string AuditLineHash(std::string_view line) {
  thread_local Sha256 sha256;
  unsigned char digest[EVP_MAX_MD_SIZE];
  const unsigned int length = sha256.Digest(line, digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

absl::StatusOr<AuditLink> ParseAuditLink(std::string_view line) {
  if (!StartsWith(line, kSeqField)) {
    return absl::DataLossError("does not begin with {\"seq\":");
  }
  AuditLink link;
  const char* begin = line.data() + kSeqField.size();
  const char* end = line.data() + line.size();
  auto [ptr, ec] = std::from_chars(begin, end, link.seq);
  if (ec != std::errc() || ptr == begin || ptr == end || *ptr != ',') {
    return absl::DataLossError("its seq is not a number followed by ','");
  }
  const size_t hash_length = kAuditGenesis.size();
  const size_t tail = kPrevField.size() + hash_length + kEnd.size();
  if (line.size() < tail ||
      line.substr(line.size() - tail, kPrevField.size()) != kPrevField ||
      !EndsWith(line, kEnd)) {
    return absl::DataLossError(
        "does not end with ,\"prev\":\"<64 hex digits>\"}");
  }
  link.prev = std::string(line.substr(line.size() - kEnd.size() - hash_length,
                                      hash_length));
  if (!IsLowerHex(link.prev)) {
    return absl::DataLossError("its prev is not 64 lowercase hex digits");
  }
  return link;
}

absl::StatusOr<AuditChainSummary> VerifyAuditChain(
    const std::vector<std::string>& files) {
  AuditChainSummary summary;
  std::optional<std::string> previous_hash;
  std::string previous_where;
  uint64_t previous_seq = 0;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(absl::StrCat("cannot read '", file, "'"));
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();
    size_t start = 0;
    uint64_t number = 0;
    while (start < text.size()) {
      ++number;
      const std::string where = absl::StrCat(file, ":", number);
      const size_t newline = text.find('\n', start);
      if (newline == std::string::npos) {
        return absl::DataLossError(absl::StrCat(
            where, ": the last line is cut off (no newline at its end): the "
                   "file was truncated or is being written"));
      }
      const std::string_view line(text.data() + start, newline - start);
      start = newline + 1;
      auto link = ParseAuditLink(line);
      if (!link.ok()) {
        return absl::DataLossError(absl::StrCat(
            where, ": not an audit line: it ", link.status().message()));
      }
      if (previous_hash.has_value()) {
        if (link->seq != previous_seq + 1) {
          return absl::DataLossError(
              link->seq > previous_seq + 1
                  ? absl::StrCat(where, ": seq ", link->seq, " follows seq ",
                                 previous_seq, " (", previous_where, "): ",
                                 link->seq - previous_seq - 1,
                                 " line(s) were removed before this line")
                  : absl::StrCat(where, ": seq ", link->seq, " follows seq ",
                                 previous_seq, " (", previous_where,
                                 "): lines are repeated, reordered or "
                                 "edited"));
        }
        if (link->prev != *previous_hash) {
          return absl::DataLossError(absl::StrCat(
              previous_where,
              ": this line was changed: its SHA-256 is not the prev that "
              "the next line (",
              where, ") recorded"));
        }
      } else {
        summary.first_seq = link->seq;
        summary.starts_at_genesis =
            link->seq == 1 && link->prev == kAuditGenesis;
      }
      previous_hash = AuditLineHash(line);
      previous_seq = link->seq;
      previous_where = where;
      ++summary.lines;
    }
  }
  summary.last_seq = previous_seq;
  return summary;
}

}  // namespace cairn::cairnd
