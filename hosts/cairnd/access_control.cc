#include "access_control.h"

#include <openssl/x509.h>

#include <boost/asio/ip/address.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace cairn::cairnd {
namespace {

using Scope = Requirement::Scope;

Requirement Need(Scope scope, Right right, const char* operation,
                 std::string stream = "") {
  Requirement requirement;
  requirement.scope = scope;
  requirement.right = right;
  requirement.operation = operation;
  requirement.stream = std::move(stream);
  return requirement;
}

// The UTF-8 common name of `name`, or "" when it has none.
std::string CommonName(X509_NAME* name) {
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) return "";
  std::string text(reinterpret_cast<char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  return text;
}

// The subject as one RFC 2253 line, for certificates without a CN.
std::string SubjectLine(X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string text(data, length > 0 ? static_cast<size_t>(length) : 0);
  BIO_free(bio);
  return text;
}

bool IdentityMatches(const std::string& pattern, const Identity& identity) {
  if (pattern == "*") return true;
  if (pattern == "anonymous") {
    return !identity.authenticated &&
           absl::StartsWith(identity.name, "anonymous@");
  }
  return pattern == identity.name;
}

absl::StatusOr<Right> ParseRight(const std::string& word) {
  if (word == "read") return Right::kRead;
  if (word == "write") return Right::kWrite;
  if (word == "admin") return Right::kAdmin;
  return absl::InvalidArgumentError(absl::StrCat(
      "'", word, "' is not a right; use read, write or admin"));
}

absl::StatusOr<AccessRule> ParseRule(const std::string& label,
                                     const std::string& value) {
  AccessRule rule;
  rule.label = label;
  // The identity ends at the first ": " (a colon, then a space): names hold
  // '=' and ',' (CN=orders-svc) and may hold ':' (anonymous@::1).
  const size_t colon = value.find(": ");
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        "expected 'IDENTITY: RIGHT PREFIX...' (a colon and a space after the "
        "identity), e.g. 'CN=orders-svc: write orders-'");
  }
  rule.identity = std::string(absl::StripAsciiWhitespace(value.substr(0, colon)));
  if (rule.identity.empty()) {
    return absl::InvalidArgumentError(
        "the identity before ': ' is empty; use CN=NAME, anonymous, "
        "anonymous@ADDRESS or *");
  }
  if (absl::StartsWith(rule.identity, "anonymous@")) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(rule.identity.substr(10), ec);
    if (ec) {
      return absl::InvalidArgumentError(absl::StrCat(
          "identity '", rule.identity, "': '", rule.identity.substr(10),
          "' is not an IP address"));
    }
  }
  std::vector<std::string> words =
      absl::StrSplit(value.substr(colon + 2), ' ', absl::SkipWhitespace());
  if (words.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no right after '", rule.identity, ": '; use read, write or admin"));
  }
  auto right = ParseRight(words[0]);
  if (!right.ok()) return right.status();
  rule.right = *right;
  if (words.size() == 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no stream prefix after '", words[0],
        "'; give one or more prefixes, or * for every stream"));
  }
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& prefix = words[i];
    if (prefix == "*") {
      rule.prefixes.push_back("");
    } else if (prefix.find('*') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prefix '", prefix,
          "': '*' stands alone (every stream); a prefix matches every stream "
          "name that starts with it, no wildcard needed"));
    } else if (prefix.size() > 255) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prefix of ", prefix.size(), " bytes is longer than any stream name "
          "(255)"));
    } else {
      rule.prefixes.push_back(prefix);
    }
  }
  return rule;
}

std::string Where(const Requirement& requirement) {
  switch (requirement.scope) {
    case Scope::kStream:
      return absl::StrCat("on stream '", requirement.stream, "'");
    case Scope::kEveryStream:
      return "on every stream (prefix *)";
    case Scope::kAnyStream:
      return "on any stream prefix";
    case Scope::kNone:
      break;
  }
  return "";
}

}  // namespace

const char* RightName(Right right) {
  switch (right) {
    case Right::kRead: return "read";
    case Right::kWrite: return "write";
    case Right::kAdmin: return "admin";
    case Right::kNone: break;
  }
  return "none";
}

Identity IdentityOf(X509* certificate, const std::string& peer_address) {
  Identity identity;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(peer_address, ec);
  identity.loopback = !ec && address.is_loopback();
  if (certificate != nullptr) {
    X509_NAME* subject = X509_get_subject_name(certificate);
    std::string common_name = subject ? CommonName(subject) : "";
    identity.name = common_name.empty()
                        ? (subject ? SubjectLine(subject) : "")
                        : absl::StrCat("CN=", common_name);
    identity.authenticated = !identity.name.empty();
  }
  if (!identity.authenticated) identity.name = "anonymous@" + peer_address;
  return identity;
}

Identity IdentityOfTls(SSL* ssl, const std::string& peer_address) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
  X509* certificate = SSL_get1_peer_certificate(ssl);
#else
  X509* certificate = SSL_get_peer_certificate(ssl);
#endif
  const bool verified =
      certificate != nullptr && SSL_get_verify_result(ssl) == X509_V_OK;
  Identity identity = IdentityOf(verified ? certificate : nullptr, peer_address);
  X509_free(certificate);
  return identity;
}

Requirement RequirementFor(const v1::Request& request) {
  switch (request.body_case()) {
    case v1::Request::kAppend:
      return Need(Scope::kStream, Right::kWrite, "append",
                  request.append().stream());
    case v1::Request::kReadStream:
      return Need(Scope::kStream, Right::kRead, "read_stream",
                  request.read_stream().stream());
    case v1::Request::kReadTag:
      return Need(Scope::kEveryStream, Right::kRead, "read_tag");
    case v1::Request::kReadAll:
      return Need(Scope::kEveryStream, Right::kRead, "read_all");
    case v1::Request::kSubscribe:
      if (request.subscribe().kind() == v1::SUBSCRIBE_STREAM) {
        return Need(Scope::kStream, Right::kRead, "subscribe",
                    request.subscribe().name());
      }
      return Need(Scope::kEveryStream, Right::kRead, "subscribe");
    case v1::Request::kDeleteTo:
      return Need(Scope::kStream, Right::kAdmin, "delete_to",
                  request.delete_to().stream());
    case v1::Request::kSaveSnapshot:
      return Need(Scope::kStream, Right::kWrite, "save_snapshot",
                  request.save_snapshot().snapshot().stream());
    case v1::Request::kLoadSnapshot:
      return Need(Scope::kStream, Right::kRead, "load_snapshot",
                  request.load_snapshot().stream());
    case v1::Request::kDeleteSnapshot:
      return Need(Scope::kStream, Right::kWrite, "delete_snapshot",
                  request.delete_snapshot().stream());
    case v1::Request::kDeleteSnapshots:
      return Need(Scope::kStream, Right::kWrite, "delete_snapshots",
                  request.delete_snapshots().stream());
    case v1::Request::kListStreams:
      return Need(Scope::kEveryStream, Right::kRead, "list_streams");
    case v1::Request::kHead:
      if (!request.head().stream().empty()) {
        return Need(Scope::kStream, Right::kRead, "head",
                    request.head().stream());
      }
      return Need(Scope::kAnyStream, Right::kRead, "head");
    case v1::Request::kServerInfo:
      return Need(Scope::kEveryStream, Right::kAdmin, "server_info");
    case v1::Request::kFlush:
      return Need(Scope::kAnyStream, Right::kWrite, "flush");
    case v1::Request::kPromote:
      return Need(Scope::kEveryStream, Right::kAdmin, "promote");
    // A backup copies every stream, deleted events and snapshots included.
    case v1::Request::kBackupBegin:
      return Need(Scope::kEveryStream, Right::kAdmin, "backup");
    case v1::Request::kReadLog: {
      Requirement page = Need(Scope::kEveryStream, Right::kAdmin, "read_log");
      page.record_outcome = false;
      return page;
    }
    // A restore writes every stream.
    case v1::Request::kRestoreBegin:
      return Need(Scope::kEveryStream, Right::kAdmin, "restore");
    case v1::Request::kApplyLog: {
      Requirement records =
          Need(Scope::kEveryStream, Right::kAdmin, "apply_log");
      records.record_outcome = false;
      return records;
    }
    case v1::Request::kRestoreEnd:
      return Need(Scope::kEveryStream, Right::kAdmin, "restore_end");
    // A verify reads every stream; a new key seals every stream's appends.
    case v1::Request::kVerify:
      return Need(Scope::kEveryStream, Right::kAdmin, "verify");
    case v1::Request::kRotateKey:
      return Need(Scope::kEveryStream, Right::kAdmin, "rotate_key");
    // Retention may remove the events of every stream.
    case v1::Request::kMaintain:
      return Need(Scope::kEveryStream, Right::kAdmin, "maintain");
    case v1::Request::kHello:
      return Need(Scope::kNone, Right::kNone, "hello");
    case v1::Request::kCredit:
      return Need(Scope::kNone, Right::kNone, "credit");
    case v1::Request::kCancel:
      return Need(Scope::kNone, Right::kNone, "cancel");
    case v1::Request::BODY_NOT_SET:
      break;
  }
  return Need(Scope::kNone, Right::kNone, "unknown");
}

absl::StatusOr<AccessPolicy> AccessPolicy::FromSection(
    const std::map<std::string, std::string>& section) {
  AccessPolicy policy;
  policy.configured_ = true;
  for (const auto& [label, value] : section) {
    auto rule = ParseRule(label, value);
    if (!rule.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "[access] ", label, " = ", value, ": ", rule.status().message()));
    }
    policy.rules_.push_back(*std::move(rule));
  }
  return policy;
}

absl::Status AccessPolicy::Check(const Identity& identity,
                                 const Requirement& requirement) const {
  if (requirement.scope == Scope::kNone) return absl::OkStatus();
  if (!configured_) {
    if (identity.loopback || identity.authenticated) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat(
        identity.name, " has no ", RightName(requirement.right), " right ",
        Where(requirement), " (", requirement.operation,
        "): without an [access] section only loopback clients and clients "
        "with a verified certificate have rights; add an [access] rule to the "
        "server's site file"));
  }
  for (const AccessRule& rule : rules_) {
    if (rule.right < requirement.right || !IdentityMatches(rule.identity, identity)) {
      continue;
    }
    for (const std::string& prefix : rule.prefixes) {
      const bool covers =
          requirement.scope == Scope::kAnyStream ||
          (requirement.scope == Scope::kEveryStream && prefix.empty()) ||
          (requirement.scope == Scope::kStream &&
           absl::StartsWith(requirement.stream, prefix));
      if (covers) return absl::OkStatus();
    }
  }
  return absl::PermissionDeniedError(absl::StrCat(
      identity.name, " has no ", RightName(requirement.right), " right ",
      Where(requirement), " (", requirement.operation,
      "); the server's [access] section grants it nowhere that covers this"));
}

}  // namespace cairn::cairnd
