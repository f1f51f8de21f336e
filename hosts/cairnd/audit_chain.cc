#include "audit_chain.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <cairn/sdk/secret_file.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
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

std::string Hex(const unsigned char* bytes, unsigned int length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[bytes[i] >> 4]);
    hex.push_back(kHex[bytes[i] & 0xf]);
  }
  return hex;
}

constexpr size_t kMinKeyBytes = 32;
constexpr std::string_view kHmacPrefix = "hmac-sha256:";
constexpr std::string_view kShaPrefix = "sha256:";

// What a head's MAC covers: a fixed label (so the MAC of a head is never the
// MAC of anything else made with the same key), the seq and the hash.
std::string HeadMacInput(uint64_t seq, std::string_view hash) {
  return absl::StrCat("cairn audit head\n", seq, "\n", std::string(hash));
}

// "hmac-sha256:<hex>" with `key`, "sha256:<hex>" without.
std::string HeadMac(uint64_t seq, std::string_view hash, std::string_view key) {
  const std::string input = HeadMacInput(seq, hash);
  if (key.empty()) return std::string(kShaPrefix) + AuditLineHash(input);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
       &length);
  return std::string(kHmacPrefix) + Hex(mac, length);
}

// The string value of `"name":"..."` in `text` (no escapes: head values are
// digits and hex), or nullopt.
std::optional<std::string_view> StringField(std::string_view text,
                                            std::string_view name) {
  const std::string key = "\"" + std::string(name) + "\":\"";
  const size_t at = text.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  const size_t begin = at + key.size();
  const size_t end = text.find('"', begin);
  if (end == std::string_view::npos) return std::nullopt;
  return text.substr(begin, end - begin);
}

}  // namespace

std::string AuditLineHash(std::string_view line) {
  thread_local Sha256 sha256;
  unsigned char digest[EVP_MAX_MD_SIZE];
  const unsigned int length = sha256.Digest(line, digest);
  return Hex(digest, length);
}

std::string AuditHeadPath(std::string_view log_path) {
  return std::string(log_path) + ".head";
}

absl::StatusOr<std::string> ReadAuditKey(const std::string& path) {
  const std::string name = "[audit] key-file = " + path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat(name, ": cannot open: ", std::strerror(errno)));
  }
  std::string problem = sdk::SecretFileProblem(fd, name, path);
  std::string key;
  char buffer[4096];
  while (problem.empty()) {
    const ssize_t got = ::read(fd, buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0)
      problem = absl::StrCat(name, ": cannot read: ", std::strerror(errno));
    if (got <= 0) break;
    key.append(buffer, static_cast<size_t>(got));
  }
  ::close(fd);
  if (!problem.empty()) return absl::FailedPreconditionError(problem);
  if (key.size() < kMinKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " holds ", key.size(), " bytes; the key must be at least ",
        kMinKeyBytes, " (make one with 'openssl rand -hex 32 > ", path,
        "; chmod 600 ", path, "')"));
  }
  return key;
}

std::string FormatAuditHead(uint64_t seq, std::string_view hash,
                            std::string_view key) {
  std::string text =
      absl::StrCat("{\"seq\":", seq, ",\"hash\":\"", std::string(hash),
                   "\",\"mac\":\"", HeadMac(seq, hash, key), "\"}");
  text.resize(kAuditHeadSize - 1, ' ');
  text.push_back('\n');
  return text;
}

absl::StatusOr<std::optional<AuditHead>> ReadAuditHead(const std::string& path,
                                                       std::string_view key) {
  std::error_code exists_error;
  if (!std::filesystem::exists(path, exists_error) && !exists_error) {
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the audit head '", path, "'"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  const auto bad = [&path](std::string_view what) {
    return absl::DataLossError(
        absl::StrCat("audit head '", path, "': ", std::string(what)));
  };
  AuditHead head;
  constexpr std::string_view kSeq = "{\"seq\":";
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(
      text.data() + std::min(text.size(), kSeq.size()), end, head.seq);
  if (!StartsWith(text, kSeq) || ec != std::errc() || ptr == end ||
      *ptr != ',') {
    return bad("not a head: it does not begin with {\"seq\":N,");
  }
  const auto hash = StringField(text, "hash");
  const auto mac = StringField(text, "mac");
  if (!hash.has_value() || hash->size() != kAuditGenesis.size() ||
      !IsLowerHex(*hash) || !mac.has_value()) {
    return bad("not a head: no \"hash\" of 64 hex digits and \"mac\"");
  }
  head.hash = std::string(*hash);
  head.keyed = StartsWith(*mac, kHmacPrefix);
  if (head.keyed && key.empty()) {
    return bad(
        "it is keyed (hmac-sha256); give the [audit] key-file to check it "
        "(cairn audit verify --key-file FILE)");
  }
  if (!head.keyed && !key.empty()) {
    return bad(
        "it has no HMAC although a key was given: it was replaced by an "
        "unkeyed head (or cairnd ran without [audit] key-file)");
  }
  const std::string expected = HeadMac(head.seq, head.hash, key);
  if (expected.size() != mac->size() ||
      CRYPTO_memcmp(expected.data(), mac->data(), expected.size()) != 0) {
    return bad(head.keyed ? "its HMAC does not match: the head was edited, or "
                            "the key is not the one cairnd used"
                          : "its checksum does not match: the head is damaged "
                            "or was edited");
  }
  return head;
}

absl::Status CheckAuditLastLine(const std::string& file, uint64_t seq,
                                std::string_view hash, const std::string& where,
                                const AuditHeadCheck& head) {
  if (seq == head.head.seq && hash == head.head.hash) return absl::OkStatus();
  if (seq == head.head.seq) {
    return absl::DataLossError(absl::StrCat(
        where, ": seq ", seq, " is not the line the head (", head.path,
        ") records for that seq: the log was rewritten from this line or "
        "earlier"));
  }
  return absl::DataLossError(absl::StrCat(
      file, ": truncated: ", head.head.seq - seq,
      " line(s) were removed from its end: the head (", head.path,
      ") records seq ", head.head.seq, " as written, the log ends at ",
      seq == 0 ? std::string("no line")
               : absl::StrCat("seq ", seq, " (", where, ")"),
      "; last intact seq: ", seq));
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
    const std::vector<std::string>& files,
    const std::optional<AuditHeadCheck>& head) {
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
      if (head.has_value() && link->seq == head->head.seq) {
        if (auto s = CheckAuditLastLine(files.back(), link->seq, *previous_hash,
                                        where, *head);
            !s.ok()) {
          return s;
        }
      }
    }
  }
  summary.last_seq = previous_seq;
  if (head.has_value()) {
    if (summary.lines > 0 && summary.first_seq > head->head.seq) {
      return absl::DataLossError(absl::StrCat(
          files.front(), ": the files start at seq ", summary.first_seq,
          ", after the seq the head (", head->path, ") records, ",
          head->head.seq, ": give the files that hold it"));
    }
    if (summary.last_seq < head->head.seq) {
      return CheckAuditLastLine(files.back(), summary.last_seq,
                                previous_hash.value_or(""), previous_where,
                                *head);
    }
    summary.past_head = summary.last_seq - head->head.seq;
  }
  return summary;
}

}  // namespace cairn::cairnd
