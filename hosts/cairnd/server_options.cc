#include "server_options.h"

#include <cairn/sdk/secret_file.hpp>
#include <cairn/sdk/size.hpp>

#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"

namespace cairn::cairnd {
namespace {

absl::StatusOr<uint64_t> ParseUnsigned(const std::string& text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a non-negative integer"));
  }
  return value;
}

// Splits "123abc" into 123 and "abc".
absl::Status SplitNumber(const std::string& text, uint64_t* number,
                         std::string* suffix) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' does not start with a number"));
  }
  auto parsed = ParseUnsigned(text.substr(0, digits));
  if (!parsed.ok()) return parsed.status();
  *number = *parsed;
  *suffix = text.substr(digits);
  while (!suffix->empty() && suffix->front() == ' ') suffix->erase(0, 1);
  return absl::OkStatus();
}

using Setter = std::function<absl::Status(const std::string&, ServerOptions&)>;

// A byte size by the one grammar (cairn/sdk/size.hpp).
absl::StatusOr<uint64_t> ParseSize(const std::string& text) {
  std::string error;
  std::optional<uint64_t> bytes = sdk::ParseByteSize(text, &error);
  if (!bytes) return absl::InvalidArgumentError(error);
  return *bytes;
}

absl::Status Range(uint64_t value, uint64_t min, uint64_t max) {
  if (value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(value, " is outside ", min, "..", max));
  }
  return absl::OkStatus();
}

template <typename T>
Setter UnsignedKey(T ServerOptions::*field, uint64_t min, uint64_t max) {
  return [=](const std::string& text, ServerOptions& options) {
    auto value = ParseUnsigned(text);
    if (!value.ok()) return value.status();
    if (auto s = Range(*value, min, max); !s.ok()) return s;
    options.*field = static_cast<T>(*value);
    return absl::OkStatus();
  };
}

template <typename T>
Setter LimitKey(T Limits::*field, uint64_t min, uint64_t max, bool bytes) {
  return [=](const std::string& text, ServerOptions& options) {
    auto value = bytes ? ParseSize(text) : ParseUnsigned(text);
    if (!value.ok()) return value.status();
    if (auto s = Range(*value, min, max); !s.ok()) return s;
    options.limits.*field = static_cast<T>(*value);
    return absl::OkStatus();
  };
}

Setter LimitDuration(std::chrono::milliseconds Limits::*field) {
  return [=](const std::string& text, ServerOptions& options) {
    auto value = ParseDuration(text);
    if (!value.ok()) return value.status();
    if (value->count() <= 0) {
      return absl::InvalidArgumentError("a timeout must be above 0");
    }
    options.limits.*field = *value;
    return absl::OkStatus();
  };
}

// A key taking auto, on or off into an enum with kAuto, kOn and kOff.
template <typename Mode>
Setter AutoOnOffKey(Mode ServerOptions::*field) {
  return [=](const std::string& text, ServerOptions& options) {
    if (text == "auto") {
      options.*field = Mode::kAuto;
    } else if (text == "on") {
      options.*field = Mode::kOn;
    } else if (text == "off") {
      options.*field = Mode::kOff;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' is not auto, on or off"));
    }
    return absl::OkStatus();
  };
}

Setter StringKey(std::string ServerOptions::*field) {
  return [=](const std::string& text, ServerOptions& options) {
    options.*field = text;
    return absl::OkStatus();
  };
}

Setter AddressKey(std::string ServerOptions::*field) {
  return [=](const std::string& text, ServerOptions& options) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(text, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' is not an IP address (", ec.message(),
                       ")"));
    }
    options.*field = text;
    return absl::OkStatus();
  };
}

const std::map<std::string, std::map<std::string, Setter>>& Keys() {
  static const auto* keys =
      new std::map<std::string, std::map<std::string, Setter>>{
          {"server",
           {{"listen", AddressKey(&ServerOptions::listen)},
            {"port", UnsignedKey(&ServerOptions::port, 0, 65535)},
            {"port-file", StringKey(&ServerOptions::port_file)},
            {"io-threads", UnsignedKey(&ServerOptions::io_threads, 1, 64)},
            {"workers", UnsignedKey(&ServerOptions::workers, 1, 256)},
            {"busy-poll-us",
             UnsignedKey(&ServerOptions::busy_poll_us, 0, 10000)},
            {"inline-appends",
             AutoOnOffKey(&ServerOptions::inline_appends_setting)},
            {"fd-reserve", UnsignedKey(&ServerOptions::fd_reserve, 0, 65536)},
            {"drain-timeout",
             [](const std::string& text, ServerOptions& options) {
               auto value = ParseDuration(text);
               if (!value.ok()) return value.status();
               options.drain_timeout = *value;
               return absl::OkStatus();
             }}}},
          {"http",
           {{"listen", AddressKey(&ServerOptions::http_listen)},
            {"port",
             [](const std::string& text, ServerOptions& options) {
               if (text == "off") {
                 options.http_enabled = false;
                 return absl::OkStatus();
               }
               auto value = ParseUnsigned(text);
               if (!value.ok()) return value.status();
               if (auto s = Range(*value, 0, 65535); !s.ok()) return s;
               options.http_enabled = true;
               options.http_port = static_cast<uint16_t>(*value);
               return absl::OkStatus();
             }},
            {"port-file", StringKey(&ServerOptions::http_port_file)},
            {"max-connections",
             UnsignedKey(&ServerOptions::http_max_connections, 1, 100000)}}},
          {"tls",
           {{"mode", AutoOnOffKey(&ServerOptions::tls_mode)},
            {"cert-file", StringKey(&ServerOptions::tls_cert_file)},
            {"key-file", StringKey(&ServerOptions::tls_key_file)},
            {"ca-file", StringKey(&ServerOptions::tls_ca_file)}}},
          {"limits",
           {{"max-frame", LimitKey(&Limits::max_frame, 1024, 1u << 30, true)},
            {"max-batch", LimitKey(&Limits::max_batch, 1, 1000000, false)},
            {"max-connections",
             LimitKey(&Limits::max_connections, 1, 1000000, false)},
            {"max-pending-connections",
             LimitKey(&Limits::max_pending_connections, 1, 1000000, false)},
            {"max-inflight", LimitKey(&Limits::max_inflight, 1, 65536, false)},
            {"max-subscriptions",
             LimitKey(&Limits::max_subscriptions, 0, 65536, false)},
            {"max-credit", LimitKey(&Limits::max_credit, 1, 100000000, false)},
            {"max-read-events",
             LimitKey(&Limits::max_read_events, 1, 1000000, false)},
            {"idle-timeout", LimitDuration(&Limits::idle_timeout)},
            {"handshake-timeout", LimitDuration(&Limits::handshake_timeout)}}},
          {"audit",
           {{"path",
             [](const std::string& text, ServerOptions& options) {
               options.audit.path = text;
               return absl::OkStatus();
             }},
            {"key-file",
             [](const std::string& text, ServerOptions& options) {
               options.audit.key_file = text;
               return absl::OkStatus();
             }},
            {"max-size",
             [](const std::string& text, ServerOptions& options) {
               auto value = ParseSize(text);
               if (!value.ok()) return value.status();
               if (auto s = Range(*value, 4096, uint64_t{1} << 40); !s.ok()) {
                 return s;
               }
               options.audit.max_size = *value;
               return absl::OkStatus();
             }},
            {"keep",
             [](const std::string& text, ServerOptions& options) {
               auto value = ParseUnsigned(text);
               if (!value.ok()) return value.status();
               if (auto s = Range(*value, 0, 1000); !s.ok()) return s;
               options.audit.keep = static_cast<unsigned>(*value);
               return absl::OkStatus();
             }},
            {"fsync",
             [](const std::string& text, ServerOptions& options) {
               if (text != "on" && text != "off") {
                 return absl::InvalidArgumentError(
                     absl::StrCat("'", text, "' is not on or off"));
               }
               options.audit.fsync = text == "on";
               return absl::OkStatus();
             }}}},
      };
  return *keys;
}

bool IsLoopback(const std::string& address) {
  boost::system::error_code ec;
  auto parsed = boost::asio::ip::make_address(address, ec);
  return !ec && parsed.is_loopback();
}

}  // namespace

const std::set<std::string>& HostSections() {
  static const auto* sections =
      new std::set<std::string>{"server", "http",  "tls",   "limits",
                                "access", "audit", "client"};
  return *sections;
}

absl::StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  uint64_t number = 0;
  std::string suffix;
  if (auto s = SplitNumber(text, &number, &suffix); !s.ok()) return s;
  if (number > 1000000000) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is too long"));
  }
  const auto n = static_cast<int64_t>(number);
  if (suffix.empty() || suffix == "ms") return std::chrono::milliseconds(n);
  if (suffix == "s") return std::chrono::milliseconds(n * 1000);
  if (suffix == "m" || suffix == "min") {
    return std::chrono::milliseconds(n * 60000);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "'", text, "': unknown duration unit '", suffix, "' (use ms, s, m)"));
}

std::string SiteFileLineOf(const std::string& path, const std::string& message) {
  // "[section] key ..." -> section, key.
  const std::string_view error(message);
  if (path.empty() || error.empty() || error.front() != '[') return "";
  const size_t close = error.find(']');
  if (close == std::string_view::npos || close + 1 >= error.size()) return "";
  const std::string section(error.substr(1, close - 1));
  std::string_view rest = error.substr(close + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const size_t end = rest.find_first_of(" =:");
  const std::string key(rest.substr(0, end));
  if (key.empty()) return "";
  std::ifstream in(path);
  std::string line;
  std::string current;
  for (int number = 1; std::getline(in, line); ++number) {
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    std::string_view text(line);
    text.remove_prefix(first);
    if (text.front() == '[') {
      const size_t bracket = text.find(']');
      current = std::string(text.substr(1, bracket == std::string_view::npos
                                               ? std::string_view::npos
                                               : bracket - 1));
      continue;
    }
    if (current != section) continue;
    const size_t equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    std::string_view name = text.substr(0, equals);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) {
      name.remove_suffix(1);
    }
    if (name == key) return absl::StrCat(path, ":", number);
  }
  return "";
}

void ResolveInlineAppends(const Store& store, ServerOptions& options) {
  if (options.inline_appends_setting != InlineAppends::kAuto) return;
  const bool blocks = store.AppendMayBlock();
  options.inline_appends = !blocks;
  options.inline_appends_reason =
      absl::StrCat("storage ", store.storage_plugin()->name(),
                   " and replication ", store.replication_plugin()->name(),
                   blocks ? ": an append may block (append-may-block)"
                          : ": appends never block");
}

absl::StatusOr<ServerOptions> ServerOptionsFromSite(const SiteConfig& site) {
  ServerOptions options;
  for (const auto& [section, values] : site.host_sections) {
    // [client] belongs to the cairn command line (one site file can serve
    // both); [access] is a list of rules, not keys.
    if (section == "client") continue;
    if (section == "access") {
      auto policy = AccessPolicy::FromSection(values);
      if (!policy.ok()) return policy.status();
      options.access = *std::move(policy);
      continue;
    }
    auto known = Keys().find(section);
    if (known == Keys().end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "section [", section, "] is not one cairnd reads (server, http, "
          "tls, limits, access, audit, client)"));
    }
    for (const auto& [key, value] : values) {
      auto setter = known->second.find(key);
      if (setter == known->second.end()) {
        std::string list;
        for (const auto& [name, unused] : known->second) {
          absl::StrAppend(&list, list.empty() ? "" : ", ", name);
        }
        return absl::InvalidArgumentError(
            absl::StrCat("[", section, "] ", key, ": unknown key; [", section,
                         "] takes ", list));
      }
      if (auto s = setter->second(value, options); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("[", section, "] ", key, " = ", value, ": ",
                         s.message()));
      }
    }
  }

  switch (options.inline_appends_setting) {
    case InlineAppends::kOn:
      options.inline_appends = true;
      options.inline_appends_reason = "[server] inline-appends = on";
      break;
    case InlineAppends::kOff:
      options.inline_appends = false;
      options.inline_appends_reason = "[server] inline-appends = off";
      break;
    case InlineAppends::kAuto:  // ResolveInlineAppends, once open
      options.inline_appends = false;
      options.inline_appends_reason = "[server] inline-appends = auto";
      break;
  }

  const bool have_cert = !options.tls_cert_file.empty();
  if (options.tls_mode == TlsMode::kAuto) {
    if (have_cert) {
      options.tls_mode = TlsMode::kOn;
    } else if (IsLoopback(options.listen)) {
      options.tls_mode = TlsMode::kOff;
    } else {
      return absl::FailedPreconditionError(absl::StrCat(
          "[server] listen = ", options.listen,
          " is reachable from the network but no TLS certificate is set: "
          "set [tls] cert-file and key-file, or [tls] mode = off to serve "
          "plain TCP on purpose"));
    }
  }
  if (options.tls_mode == TlsMode::kOn &&
      (options.tls_cert_file.empty() || options.tls_key_file.empty())) {
    return absl::InvalidArgumentError(
        "[tls] mode = on needs cert-file and key-file (PEM)");
  }
  if (options.tls_mode == TlsMode::kOff && !options.tls_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "[tls] ca-file (mutual TLS) is set but TLS is off; set cert-file and "
        "key-file too, or remove ca-file");
  }
  return options;
}

absl::StatusOr<std::string> ReadTlsPrivateKey(const std::string& path) {
  std::string pem;
  std::string error;
  if (!sdk::ReadSecretFile(path, "[tls] key-file = " + path, &pem, &error)) {
    return absl::InvalidArgumentError(error);
  }
  return pem;
}

}  // namespace cairn::cairnd
