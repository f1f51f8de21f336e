#include "etcd_gateway.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <optional>
#include <utility>

#include "../tls_context.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cairn::logship::etcd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

// Payload marking a write whose outcome is unknown (IsOutcomeUnknown).
constexpr char kOutcomeUnknown[] = "cairn.etcd/outcome-unknown";

// A bounded excerpt of an answer for an error message.
std::string Excerpt(std::string_view text) {
  constexpr size_t kMax = 200;
  std::string out(text.substr(0, kMax));
  if (text.size() > kMax)
    absl::StrAppend(&out, "... (", text.size(), " bytes)");
  return absl::CHexEscape(out);
}

absl::string_view Absl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

std::string B64(std::string_view text) {
  return absl::Base64Escape(Absl(text));
}

// Reads an int64 field etcd may write as a string ("5") or a number; an
// absent field is 0 (proto3 leaves out defaults).
absl::StatusOr<int64_t> IntField(const json& object, const char* name,
                                 const std::string& where) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return 0;
  int64_t value = 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string() && absl::SimpleAtoi(it->get<std::string>(), &value))
    return value;
  return absl::InvalidArgumentError(absl::StrCat(
      where, ": field '", name, "' is not an integer: ", Excerpt(it->dump())));
}

absl::StatusOr<std::string> BytesField(const json& object, const char* name,
                                       const std::string& where) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::string();
  std::string decoded;
  if (!it->is_string() ||
      !absl::Base64Unescape(it->get<std::string>(), &decoded)) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": field '", name, "' is not base64: ", Excerpt(it->dump())));
  }
  return decoded;
}

absl::StatusOr<KeyValue> ParseKeyValue(const json& object,
                                       const std::string& where) {
  if (!object.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": a key-value is not an object: ", Excerpt(object.dump())));
  }
  KeyValue kv;
  auto key = BytesField(object, "key", where);
  auto value = BytesField(object, "value", where);
  auto create = IntField(object, "create_revision", where);
  auto mod = IntField(object, "mod_revision", where);
  auto version = IntField(object, "version", where);
  auto lease = IntField(object, "lease", where);
  for (const absl::Status& s :
       {key.status(), value.status(), create.status(), mod.status(),
        version.status(), lease.status()}) {
    if (!s.ok()) return s;
  }
  kv.key = *std::move(key);
  kv.value = *std::move(value);
  kv.create_revision = *create;
  kv.mod_revision = *mod;
  kv.version = *version;
  kv.lease = *lease;
  return kv;
}

absl::StatusOr<int64_t> HeaderRevision(const json& answer,
                                       const std::string& where) {
  auto header = answer.find("header");
  if (header == answer.end() || !header->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where,
        ": the answer has no 'header' object: ", Excerpt(answer.dump())));
  }
  return IntField(*header, "revision", where);
}

absl::StatusOr<RangeResult> ParseRange(const json& answer,
                                       const std::string& where) {
  RangeResult result;
  auto revision = HeaderRevision(answer, where);
  if (!revision.ok()) return revision.status();
  result.revision = *revision;
  auto kvs = answer.find("kvs");
  if (kvs == answer.end() || kvs->is_null()) return result;
  if (!kvs->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": field 'kvs' is not an array: ", Excerpt(kvs->dump())));
  }
  for (const json& item : *kvs) {
    auto kv = ParseKeyValue(item, where);
    if (!kv.ok()) return kv.status();
    result.kvs.push_back(*std::move(kv));
  }
  return result;
}

// An etcd (gRPC) error body: {"error": "...", "message": "...", "code": N}.
// gRPC codes and absl codes share their numbers.
absl::Status EtcdError(const json& error, const std::string& where,
                       unsigned http_status) {
  std::string message = "(no message)";
  int code = static_cast<int>(absl::StatusCode::kUnknown);
  if (error.is_object()) {
    if (auto m = error.find("message"); m != error.end() && m->is_string()) {
      message = m->get<std::string>();
    } else if (auto e = error.find("error");
               e != error.end() && e->is_string()) {
      message = e->get<std::string>();
    }
    if (auto c = error.find("code");
        c != error.end() && c->is_number_integer()) {
      code = c->get<int>();
    }
  }
  if (code <= 0 || code > 16)
    code = static_cast<int>(absl::StatusCode::kUnknown);
  return absl::Status(
      static_cast<absl::StatusCode>(code),
      absl::StrCat(
          where, ": etcd answered ",
          http_status != 0 ? absl::StrCat("HTTP ", http_status, " ") : "", "'",
          message, "' (gRPC code ", code, ")"));
}

// Runs one asynchronous Beast/Asio operation to completion on `ioc`; the
// stream's own expiry bounds it.
template <class Start>
beast::error_code RunOne(asio::io_context& ioc, Start start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

// How far one exchange with one endpoint got.
enum class Reach { kNotReached, kNoAnswer, kAnswered };

// One connection to one endpoint, carrying one request: plain HTTP, or
// HTTPS when `tls` is given.
class Exchange {
 public:
  Exchange(std::string_view host, std::string_view port,
           Clock::time_point deadline, asio::ssl::context* tls)
      : host_(host), port_(port), deadline_(deadline), stream_(ioc_) {
    if (tls != nullptr) tls_.emplace(ioc_, *tls);
  }

  // Connects and sends a POST of `body` to `path`. On failure, the request
  // did not go out whole (kNotReached).
  absl::Status Send(std::string_view path, std::string body) {
    beast::error_code ec;
    asio::ip::address address = asio::ip::make_address(host_, ec);
    std::vector<tcp::endpoint> targets;
    if (!ec) {
      targets.emplace_back(address, Port());
    } else {
      // A host name: resolved synchronously (the deadline does not cover
      // name resolution; use addresses where that matters).
      tcp::resolver resolver(ioc_);
      auto results = resolver.resolve(host_, port_, ec);
      if (ec)
        return absl::UnavailableError(
            absl::StrCat("cannot resolve: ", ec.message()));
      for (const auto& entry : results) targets.push_back(entry.endpoint());
    }
    Tcp().expires_at(deadline_);
    ec = RunOne(ioc_,
                [&](auto handler) { Tcp().async_connect(targets, handler); });
    if (ec)
      return absl::UnavailableError(
          absl::StrCat("cannot connect: ", ec.message()));
    if (tls_) {
      SSL* ssl = tls_->native_handle();
      beast::error_code not_ip;
      asio::ip::make_address(host_, not_ip);
      if (not_ip) SSL_set_tlsext_host_name(ssl, host_.c_str());
      tls_->set_verify_callback(asio::ssl::host_name_verification(host_));
      ec = RunOne(ioc_, [&](auto handler) {
        tls_->async_handshake(asio::ssl::stream_base::client, handler);
      });
      if (ec) {
        const std::string verify = CertificateVerifyFailure(ssl);
        return absl::UnavailableError(absl::StrCat(
            "TLS handshake failed: ", verify.empty() ? ec.message() : verify));
      }
    }
    http::request<http::string_body> request{http::verb::post,
                                             std::string(path), 11};
    request.set(http::field::host, absl::StrCat(host_, ":", port_));
    request.set(http::field::content_type, "application/json");
    request.body() = std::move(body);
    request.prepare_payload();
    ec = Io([&](auto& stream, auto handler) {
      http::async_write(stream, request, handler);
    });
    if (ec)
      return absl::UnavailableError(
          absl::StrCat("cannot send the request: ", ec.message()));
    return absl::OkStatus();
  }

  // Reads the whole answer. Fails if none came back complete in time.
  absl::Status Receive(unsigned* status, std::string* body) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    beast::error_code ec = Io([&](auto& stream, auto handler) {
      http::async_read(stream, buffer_, parser, handler);
    });
    if (ec) return NoAnswer(ec);
    *status = parser.get().result_int();
    *body = std::move(parser.get().body());
    return absl::OkStatus();
  }

  // Reads a streamed answer: its header, then chunks, handing each complete
  // line (one JSON message) to `on_line` until `stop` (a time before the
  // call deadline) or `on_line` returns false. A non-200 answer is read
  // whole into *status / *error_body.
  absl::Status ReceiveLines(
      Clock::time_point stop,
      const std::function<absl::StatusOr<bool>(std::string_view)>& on_line,
      unsigned* status, std::string* error_body) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    Tcp().expires_at(deadline_);
    beast::error_code ec = Io([&](auto& stream, auto handler) {
      http::async_read_header(stream, buffer_, parser, handler);
    });
    if (ec) return NoAnswer(ec);
    *status = parser.get().result_int();
    if (*status != 200 || !parser.chunked()) {
      ec = Io([&](auto& stream, auto handler) {
        http::async_read(stream, buffer_, parser, handler);
      });
      if (ec) return NoAnswer(ec);
      if (*status != 200) {
        *error_body = std::move(parser.get().body());
        return absl::OkStatus();
      }
      // A whole (not chunked) 200 body: lines all at once.
      pending_ = std::move(parser.get().body());
      pending_.push_back('\n');
      absl::StatusOr<bool> more = DrainLines(on_line);
      return more.status();
    }
    absl::Status line_status;
    bool keep_going = true;
    auto on_chunk = [&](std::uint64_t, beast::string_view data,
                        beast::error_code&) -> std::size_t {
      pending_.append(data.data(), data.size());
      if (keep_going && line_status.ok()) {
        absl::StatusOr<bool> more = DrainLines(on_line);
        if (!more.ok()) {
          line_status = more.status();
        } else {
          keep_going = *more;
        }
      }
      return data.size();
    };
    parser.on_chunk_body(on_chunk);
    Tcp().expires_at(std::min(stop, deadline_));
    while (!parser.is_done() && keep_going && line_status.ok()) {
      ec = Io([&](auto& stream, auto handler) {
        http::async_read_some(stream, buffer_, parser, handler);
      });
      if (ec == beast::error::timeout && Clock::now() >= stop)
        return absl::OkStatus();
      if (ec) return NoAnswer(ec);
    }
    return line_status;
  }

 private:
  // The TCP stream (under TLS, the TLS stream's lowest layer).
  beast::tcp_stream& Tcp() {
    return tls_ ? beast::get_lowest_layer(*tls_) : stream_;
  }
  // Runs `op(stream, handler)` on the stream requests and answers travel
  // on: the TLS stream or the TCP one.
  template <class Op>
  beast::error_code Io(Op op) {
    if (tls_) {
      return RunOne(ioc_, [&](auto handler) { op(*tls_, handler); });
    }
    return RunOne(ioc_, [&](auto handler) { op(stream_, handler); });
  }

  unsigned short Port() const {
    int port = 0;
    (void)absl::SimpleAtoi(Absl(port_), &port);
    return static_cast<unsigned short>(port);
  }

  absl::Status NoAnswer(beast::error_code ec) const {
    if (ec == beast::error::timeout) {
      return absl::DeadlineExceededError(
          "no complete answer before the call timeout");
    }
    return absl::UnavailableError(
        absl::StrCat("no complete answer: ", ec.message()));
  }

  absl::StatusOr<bool> DrainLines(
      const std::function<absl::StatusOr<bool>(std::string_view)>& on_line) {
    size_t start = 0;
    bool more = true;
    while (more) {
      size_t end = pending_.find('\n', start);
      if (end == std::string::npos) break;
      std::string_view line(pending_.data() + start, end - start);
      start = end + 1;
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
      absl::StatusOr<bool> result = on_line(line);
      if (!result.ok()) return result.status();
      more = *result;
    }
    pending_.erase(0, start);
    return more;
  }

  std::string host_;
  std::string port_;
  Clock::time_point deadline_;
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  std::string pending_;
};

json TxnOpJson(const TxnOp& op) {
  switch (op.kind) {
    case TxnOp::Kind::kPut: {
      json put = {{"key", B64(op.key)}, {"value", B64(op.value)}};
      if (op.lease != 0) put["lease"] = std::to_string(op.lease);
      return json{{"request_put", put}};
    }
    case TxnOp::Kind::kRange:
      return json{{"request_range", {{"key", B64(op.key)}}}};
    case TxnOp::Kind::kDelete:
      return json{{"request_delete_range", {{"key", B64(op.key)}}}};
  }
  return json::object();
}

json CompareJson(const Compare& compare) {
  static constexpr const char* kResults[] = {"EQUAL", "NOT_EQUAL", "GREATER",
                                             "LESS"};
  json out = {{"key", B64(compare.key)},
              {"result", kResults[static_cast<int>(compare.result)]}};
  // etcd's name of each target and the field holding what it is compared to.
  static constexpr const char* kTargets[][2] = {{"CREATE", "create_revision"},
                                                {"MOD", "mod_revision"},
                                                {"VERSION", "version"},
                                                {"VALUE", "value"}};
  const auto& [target, field] = kTargets[static_cast<int>(compare.target)];
  out["target"] = target;
  out[field] = compare.target == Compare::Target::kValue
                   ? B64(compare.value)
                   : std::to_string(compare.number);
  return out;
}

}  // namespace

bool IsOutcomeUnknown(const absl::Status& status) {
  return status.GetPayload(kOutcomeUnknown).has_value();
}

std::string PrefixRangeEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key: etcd's "\0" range end
}

namespace {
// The TLS context of a gateway: TLS 1.2 or newer, members verified against
// tls_ca_file, and this node's client certificate when one is given.
absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeClientContext(
    const GatewayOptions& options) {
  std::shared_ptr<asio::ssl::context> context;
  try {
    context =
        std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    context->set_options(
        asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
        asio::ssl::context::no_tlsv1_1);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("etcd TLS set-up: ", e.what()));
  }
  absl::Status loaded =
      LoadCaFile(*context, "etcd-tls-ca-file", options.tls_ca_file);
  if (!loaded.ok()) return loaded;
  beast::error_code ec;
  context->set_verify_mode(asio::ssl::verify_peer, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("etcd TLS verify mode: ", ec.message()));
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "etcd-tls-cert-file and etcd-tls-key-file go together: give both "
        "(a client certificate) or neither");
  }
  if (!options.tls_cert_file.empty()) {
    loaded = LoadCertificateAndKey(*context, "etcd-tls-cert-file",
                                   options.tls_cert_file, "etcd-tls-cert-file",
                                   "etcd-tls-key-file", options.tls_key_file);
    if (!loaded.ok()) return loaded;
  }
  FillCertificateCaches(context->native_handle());
  return context;
}
}  // namespace

absl::StatusOr<EtcdGateway> EtcdGateway::Create(GatewayOptions options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("etcd gateway: no endpoint given");
  }
  if (options.call_timeout <= std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError(
        "etcd gateway: call_timeout must be positive");
  }
  const bool tls = !options.tls_ca_file.empty();
  std::vector<Endpoint> endpoints;
  for (const std::string& given : options.endpoints) {
    std::string_view text = given;
    if (text.substr(0, 7) == "http://") {
      if (tls) {
        return absl::InvalidArgumentError(absl::StrCat(
            "etcd endpoint '", given,
            "' is http, but a TLS CA is set: every endpoint is https then"));
      }
      text.remove_prefix(7);
    } else if (text.substr(0, 8) == "https://") {
      if (!tls) {
        return absl::InvalidArgumentError(
            absl::StrCat("etcd endpoint '", given,
                         "' is https: set the CA that signs the members' "
                         "certificates (etcd-tls-ca-file)"));
      }
      text.remove_prefix(8);
    }
    while (!text.empty() && text.back() == '/') text.remove_suffix(1);
    size_t colon = text.rfind(':');
    int port = 0;
    if (colon == std::string_view::npos || colon == 0 ||
        text.find('/') != std::string_view::npos ||
        !absl::SimpleAtoi(Absl(text.substr(colon + 1)), &port) || port <= 0 ||
        port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("etcd endpoint '", given,
                       "' is not host:port (or http://host:port, or "
                       "https://host:port with a TLS CA)"));
    }
    endpoints.push_back(Endpoint{std::string(text.substr(0, colon)),
                                 std::string(text.substr(colon + 1))});
  }
  std::shared_ptr<asio::ssl::context> context;
  if (tls) {
    absl::StatusOr<std::shared_ptr<asio::ssl::context>> made =
        MakeClientContext(options);
    if (!made.ok()) return made.status();
    context = std::move(*made);
  } else if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "etcd client certificate given without the CA (etcd-tls-ca-file) "
        "that turns TLS on");
  }
  EtcdGateway gateway(std::move(options), std::move(endpoints));
  gateway.tls_ = std::move(context);
  return gateway;
}

EtcdGateway::EtcdGateway(GatewayOptions options,
                         std::vector<Endpoint> endpoints)
    : options_(std::move(options)), endpoints_(std::move(endpoints)) {
  for (const Endpoint& e : endpoints_)
    endpoint_names_.push_back(e.host + ":" + e.port);
}

EtcdGateway::EtcdGateway(EtcdGateway&& other) noexcept
    : options_(std::move(other.options_)),
      tls_(std::move(other.tls_)),
      endpoints_(std::move(other.endpoints_)),
      endpoint_names_(std::move(other.endpoint_names_)),
      preferred_(other.preferred_.load()) {}

absl::StatusOr<json> EtcdGateway::Post(std::string_view path, const json& body,
                                       bool idempotent) {
  const std::string payload = body.dump();
  const std::string path_name(path);
  const size_t first = preferred_.load();
  std::vector<std::string> failures;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const size_t index = (first + i) % endpoints_.size();
    const Endpoint& endpoint = endpoints_[index];
    const std::string where =
        absl::StrCat("etcd ", endpoint_names_[index], " ", path_name);
    Exchange exchange(endpoint.host, endpoint.port,
                      Clock::now() + options_.call_timeout, tls_.get());
    absl::Status sent = exchange.Send(path, payload);
    if (!sent.ok()) {
      failures.push_back(
          absl::StrCat(endpoint_names_[index], ": ", sent.message()));
      continue;
    }
    unsigned status = 0;
    std::string answer;
    absl::Status received = exchange.Receive(&status, &answer);
    if (!received.ok()) {
      failures.push_back(
          absl::StrCat(endpoint_names_[index], ": ", received.message()));
      if (idempotent) continue;
      absl::Status unknown = absl::UnavailableError(absl::StrCat(
          where, ": the request went out but ", received.message(),
          "; its outcome is unknown (re-read before retrying)",
          failures.size() > 1
              ? absl::StrCat(
                    "; before that: ",
                    absl::StrJoin(failures.begin(), failures.end() - 1, "; "))
              : ""));
      unknown.SetPayload(kOutcomeUnknown, absl::Cord("1"));
      return unknown;
    }
    json parsed = json::parse(answer, nullptr, /*allow_exceptions=*/false);
    if (status != 200) {
      absl::Status error =
          parsed.is_object() &&
                  (parsed.contains("error") || parsed.contains("message"))
              ? EtcdError(parsed, where, status)
              : absl::UnavailableError(absl::StrCat(
                    where, ": answered HTTP ", status, ": ", Excerpt(answer)));
      // Another member may have a leader when this one has none.
      const bool transient =
          error.code() == absl::StatusCode::kUnavailable ||
          error.code() == absl::StatusCode::kDeadlineExceeded;
      if (idempotent && transient) {
        failures.push_back(std::string(error.message()));
        continue;
      }
      return error;
    }
    if (parsed.is_discarded() || !parsed.is_object()) {
      return absl::DataLossError(absl::StrCat(
          where, ": answered HTTP 200 with no JSON object: ", Excerpt(answer)));
    }
    if (auto e = parsed.find("error");
        e != parsed.end() && !parsed.contains("header")) {
      return EtcdError(parsed, where, 0);
    }
    preferred_.store(index);
    return parsed;
  }
  return absl::UnavailableError(
      absl::StrCat("etcd ", path_name, ": no endpoint answered (",
                   absl::StrJoin(failures, "; "), ")"));
}

absl::StatusOr<RangeResult> EtcdGateway::Range(std::string_view key,
                                               std::string_view range_end) {
  json body = {{"key", B64(key)}};
  if (!range_end.empty()) body["range_end"] = B64(range_end);
  auto answer = Post("/v3/kv/range", body, /*idempotent=*/true);
  if (!answer.ok()) return answer.status();
  return ParseRange(*answer, "etcd /v3/kv/range answer");
}

absl::StatusOr<int64_t> EtcdGateway::Put(std::string_view key,
                                         std::string_view value,
                                         int64_t lease) {
  json body = {{"key", B64(key)}, {"value", B64(value)}};
  if (lease != 0) body["lease"] = std::to_string(lease);
  auto answer = Post("/v3/kv/put", body, /*idempotent=*/false);
  if (!answer.ok()) return answer.status();
  return HeaderRevision(*answer, "etcd /v3/kv/put answer");
}

absl::StatusOr<int64_t> EtcdGateway::DeleteRange(std::string_view key,
                                                 std::string_view range_end) {
  json body = {{"key", B64(key)}};
  if (!range_end.empty()) body["range_end"] = B64(range_end);
  auto answer = Post("/v3/kv/deleterange", body, /*idempotent=*/false);
  if (!answer.ok()) return answer.status();
  return IntField(*answer, "deleted", "etcd /v3/kv/deleterange answer");
}

absl::StatusOr<TxnResult> EtcdGateway::Txn(const std::vector<Compare>& compares,
                                           const std::vector<TxnOp>& success,
                                           const std::vector<TxnOp>& failure) {
  json body = {{"compare", json::array()},
               {"success", json::array()},
               {"failure", json::array()}};
  for (const Compare& c : compares) body["compare"].push_back(CompareJson(c));
  for (const TxnOp& op : success) body["success"].push_back(TxnOpJson(op));
  for (const TxnOp& op : failure) body["failure"].push_back(TxnOpJson(op));
  const std::string kWhere = "etcd /v3/kv/txn answer";
  auto answer = Post("/v3/kv/txn", body, /*idempotent=*/false);
  if (!answer.ok()) return answer.status();
  TxnResult result;
  auto revision = HeaderRevision(*answer, kWhere);
  if (!revision.ok()) return revision.status();
  result.revision = *revision;
  if (auto s = answer->find("succeeded"); s != answer->end()) {
    if (!s->is_boolean()) {
      return absl::InvalidArgumentError(absl::StrCat(
          kWhere,
          ": field 'succeeded' is not a boolean: ", Excerpt(s->dump())));
    }
    result.succeeded = s->get<bool>();
  }
  const std::vector<TxnOp>& ran = result.succeeded ? success : failure;
  result.ranges.resize(ran.size());
  auto responses = answer->find("responses");
  const size_t count = responses != answer->end() && responses->is_array()
                           ? responses->size()
                           : 0;
  if (count != ran.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(kWhere, ": ", count, " responses for ", ran.size(),
                     " operations: ", Excerpt(answer->dump())));
  }
  for (size_t i = 0; i < ran.size(); ++i) {
    if (ran[i].kind != TxnOp::Kind::kRange) continue;
    const json& item = (*responses)[i];
    auto range = item.find("response_range");
    if (!item.is_object() || range == item.end() || !range->is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(kWhere, ": response ", i,
                       " is not a response_range: ", Excerpt(item.dump())));
    }
    json with_header = *range;
    if (!with_header.contains("header"))
      with_header["header"] = (*answer)["header"];
    auto parsed = ParseRange(with_header, kWhere);
    if (!parsed.ok()) return parsed.status();
    result.ranges[i] = *std::move(parsed);
  }
  return result;
}

absl::StatusOr<Lease> EtcdGateway::LeaseGrant(int64_t ttl_seconds) {
  const std::string kWhere = "etcd /v3/lease/grant answer";
  auto answer =
      Post("/v3/lease/grant", json{{"TTL", std::to_string(ttl_seconds)}},
           /*idempotent=*/false);
  if (!answer.ok()) return answer.status();
  if (auto e = answer->find("error");
      e != answer->end() && e->is_string() && !e->empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        kWhere, ": etcd refused the lease: ", e->get<std::string>()));
  }
  auto id = IntField(*answer, "ID", kWhere);
  auto ttl = IntField(*answer, "TTL", kWhere);
  if (!id.ok()) return id.status();
  if (!ttl.ok()) return ttl.status();
  if (*id == 0 || *ttl <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        kWhere, ": no lease ID or TTL: ", Excerpt(answer->dump())));
  }
  return Lease{*id, *ttl};
}

absl::StatusOr<int64_t> EtcdGateway::LeaseKeepAliveOnce(int64_t id) {
  const std::string kWhere = "etcd /v3/lease/keepalive answer";
  // A bidirectional stream through the gateway: one request in, one
  // {"result": {...}} line back.
  auto answer = Post("/v3/lease/keepalive", json{{"ID", std::to_string(id)}},
                     /*idempotent=*/true);
  if (!answer.ok()) return answer.status();
  auto result = answer->find("result");
  if (result == answer->end() || !result->is_object()) {
    if (auto e = answer->find("error"); e != answer->end())
      return EtcdError(*e, kWhere, 0);
    return absl::InvalidArgumentError(absl::StrCat(
        kWhere, ": no 'result' object: ", Excerpt(answer->dump())));
  }
  auto ttl = IntField(*result, "TTL", kWhere);
  if (!ttl.ok()) return ttl.status();
  if (*ttl <= 0) {
    return absl::NotFoundError(
        absl::StrCat("etcd lease ", id, " has expired or was revoked"));
  }
  return *ttl;
}

absl::Status EtcdGateway::LeaseRevoke(int64_t id) {
  auto answer = Post("/v3/lease/revoke", json{{"ID", std::to_string(id)}},
                     /*idempotent=*/true);
  return answer.status();
}

absl::Status EtcdGateway::Watch(
    std::string_view key, std::string_view range_end, int64_t start_revision,
    std::chrono::milliseconds window,
    const std::function<bool(const std::vector<WatchEvent>&)>& on_events) {
  json create = {{"key", B64(key)},
                 {"start_revision", std::to_string(start_revision)}};
  if (!range_end.empty()) create["range_end"] = B64(range_end);
  const std::string payload = json{{"create_request", create}}.dump();
  const std::string kPath = "/v3/watch";
  std::vector<std::string> failures;
  const size_t first = preferred_.load();
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const size_t index = (first + i) % endpoints_.size();
    const std::string where =
        absl::StrCat("etcd ", endpoint_names_[index], " ", kPath);
    const Clock::time_point stop = Clock::now() + window;
    // The window may be longer than a call: the connection's deadline is
    // the window plus one call timeout.
    Exchange exchange(endpoints_[index].host, endpoints_[index].port,
                      stop + options_.call_timeout, tls_.get());
    absl::Status sent = exchange.Send(kPath, payload);
    if (!sent.ok()) {
      failures.push_back(
          absl::StrCat(endpoint_names_[index], ": ", sent.message()));
      continue;
    }
    auto on_line = [&](std::string_view line) -> absl::StatusOr<bool> {
      json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (message.is_discarded() || !message.is_object()) {
        return absl::DataLossError(absl::StrCat(
            where, ": a watch message is not JSON: ", Excerpt(line)));
      }
      if (auto e = message.find("error"); e != message.end()) {
        return EtcdError(e->is_object() ? *e : message, where, 0);
      }
      auto result = message.find("result");
      if (result == message.end() || !result->is_object()) {
        return absl::DataLossError(absl::StrCat(
            where, ": a watch message has no 'result': ", Excerpt(line)));
      }
      auto compact = IntField(*result, "compact_revision", where);
      if (!compact.ok()) return compact.status();
      if (*compact != 0) {
        return absl::OutOfRangeError(
            absl::StrCat(where, ": revision ", start_revision,
                         " was compacted (compact revision ", *compact, ")"));
      }
      if (auto c = result->find("canceled");
          c != result->end() && c->is_boolean() && c->get<bool>()) {
        std::string reason =
            result->value("cancel_reason", std::string("no reason given"));
        return absl::AbortedError(
            absl::StrCat(where, ": etcd canceled the watch: ", reason));
      }
      auto events = result->find("events");
      if (events == result->end() || events->is_null()) return true;
      if (!events->is_array()) {
        return absl::DataLossError(absl::StrCat(
            where, ": field 'events' is not an array: ", Excerpt(line)));
      }
      std::vector<WatchEvent> batch;
      for (const json& item : *events) {
        WatchEvent event;
        if (!item.is_object()) {
          return absl::DataLossError(absl::StrCat(
              where, ": an event is not an object: ", Excerpt(item.dump())));
        }
        std::string type = item.value("type", std::string("PUT"));
        if (type == "DELETE") {
          event.type = WatchEvent::Type::kDelete;
        } else if (type != "PUT") {
          return absl::DataLossError(
              absl::StrCat(where, ": unknown event type '", type, "'"));
        }
        auto kv = ParseKeyValue(item.value("kv", json::object()), where);
        if (!kv.ok()) return kv.status();
        event.kv = *std::move(kv);
        batch.push_back(std::move(event));
      }
      return on_events(batch);
    };
    unsigned status = 0;
    std::string error_body;
    absl::Status read =
        exchange.ReceiveLines(stop, on_line, &status, &error_body);
    if (!read.ok() && status == 0) {
      // Nothing came back: a watch is a read, try the next member.
      failures.push_back(
          absl::StrCat(endpoint_names_[index], ": ", read.message()));
      continue;
    }
    if (status != 200) {
      json parsed =
          json::parse(error_body, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_object() &&
          (parsed.contains("error") || parsed.contains("message"))) {
        return EtcdError(parsed, where, status);
      }
      return absl::UnavailableError(absl::StrCat(
          where, ": answered HTTP ", status, ": ", Excerpt(error_body)));
    }
    if (read.ok()) preferred_.store(index);
    return read;
  }
  return absl::UnavailableError(
      absl::StrCat("etcd ", kPath, ": no endpoint answered (",
                   absl::StrJoin(failures, "; "), ")"));
}

}  // namespace cairn::logship::etcd
