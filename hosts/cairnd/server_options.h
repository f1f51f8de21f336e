// cairnd's own settings: the [server], [http], [tls], [limits], [access] and
// [audit] sections of the site file (flags override them through SiteConfig::Override). Every
// key is listed in docs/server.md; an unknown key is an error naming it.
#ifndef CAIRN_HOSTS_CAIRND_SERVER_OPTIONS_H_
#define CAIRN_HOSTS_CAIRND_SERVER_OPTIONS_H_

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "access_control.h"
#include "audit_log.h"
#include "cairn/config.h"
#include "cairn/store.h"

namespace cairn::cairnd {

// The host sections cairnd declares to SiteConfig.
const std::set<std::string>& HostSections();

struct Limits {
  uint32_t max_frame = 4u << 20;          // bytes in one frame
  uint32_t max_batch = 1000;              // events in one append
  uint32_t max_connections = 1024;        // past hello (authenticated)
  // Accepted but not yet past hello (TLS handshake included). When full, the
  // oldest of them is closed to make room, so silent sockets cannot lock
  // clients out (docs/server.md, "Connection limits").
  uint32_t max_pending_connections = 128;
  uint32_t max_inflight = 256;            // requests in flight, per connection
  uint32_t max_subscriptions = 64;        // open, per connection
  uint64_t max_credit = 100000;           // outstanding, per subscription
  uint32_t max_read_events = 1000;        // events in one read page
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  // From accept to a successful hello (the TLS handshake included).
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
};

enum class TlsMode {
  kAuto,  // TLS when cert-file is set; else plain, on loopback addresses only
  kOn,    // TLS required
  kOff,   // plain TCP, the site says so explicitly
};

enum class InlineAppends { kAuto, kOn, kOff };

struct ServerOptions {
  std::string listen = "127.0.0.1";
  uint16_t port = 7600;                   // 0: pick a free port
  std::string port_file;                  // written with the bound port
  unsigned io_threads = 2;
  unsigned workers = 8;                   // threads running store calls
  // Microseconds an I/O thread keeps polling after its last piece of work
  // before it sleeps (0: never): docs/server.md, "Busy polling".
  unsigned busy_poll_us = 50;
  // Whether appends and head requests run on the connection's I/O thread
  // instead of a worker: two thread hand-offs fewer per request, but an
  // append that blocks (fsync = always) then stalls every connection of
  // that I/O thread. `[server] inline-appends = auto` (the default) turns it
  // on only when the opened store says its appends never block
  // (ResolveInlineAppends); `on` / `off` force it (ServerOptionsFromSite).
  InlineAppends inline_appends_setting = InlineAppends::kAuto;
  bool inline_appends = false;
  std::string inline_appends_reason;  // why, for the start-up log
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(10)};
  // File descriptors kept free for existing work (store files, answers):
  // a connection accepted into the last `fd_reserve` descriptors of
  // RLIMIT_NOFILE is closed at once.
  unsigned fd_reserve = 64;

  bool http_enabled = true;
  std::string http_listen = "127.0.0.1";
  uint16_t http_port = 7601;
  std::string http_port_file;
  unsigned http_max_connections = 64;     // open HTTP connections

  TlsMode tls_mode = TlsMode::kAuto;
  std::string tls_cert_file;              // PEM chain
  std::string tls_key_file;               // PEM private key
  std::string tls_ca_file;                // set: clients must present a cert
                                          // signed by this CA (mutual TLS)

  Limits limits;

  AccessPolicy access;  // [access]; the default without one: access_control.h
  AuditOptions audit;   // [audit]

  // Whether the protocol port speaks TLS (after Resolve).
  bool tls() const { return tls_mode == TlsMode::kOn; }
};

// Reads cairnd's sections of `site` (byte sizes by the grammar of
// cairn/sdk/size.hpp), rejecting unknown keys and bad values
// with a message naming the section, key and value, and resolves kAuto:
// TLS when a certificate is configured; plain TCP when none is and the
// listen address is loopback; otherwise an error asking for a certificate or
// an explicit `[tls] mode = off`.
absl::StatusOr<ServerOptions> ServerOptionsFromSite(const SiteConfig& site);

// Reads the PEM private key `path` ([tls] key-file) after checking, on the
// open file, that it is private to this process
// (cairn/sdk/secret_file.hpp): a regular file with no permission bit for
// group or others, owned by the effective user (root too gets no exception
// for a file another user owns). A refusal is kInvalidArgument naming the
// key file and the fix ('chmod 600', 'chown'). The caller wipes the text
// (OPENSSL_cleanse) once the key is loaded.
absl::StatusOr<std::string> ReadTlsPrivateKey(const std::string& path);

// Resolves `[server] inline-appends = auto` for the opened `store`: inline
// unless Store::AppendMayBlock() (the plugins' CAIRN_CAP_APPEND_MAY_BLOCK,
// narrowed by the storage instance), with a reason for the start-up log
// naming the plugins. `on` and `off` are left as ServerOptionsFromSite set
// them.
void ResolveInlineAppends(const Store& store, ServerOptions& options);

// Where a ServerOptionsFromSite error that begins "[SECTION] KEY" points in
// the site file `path`: "PATH:LINE" of that key in that section, or "" when
// the message names no key or the file does not hold it (a --set flag).
std::string SiteFileLineOf(const std::string& path, const std::string& error);

// "30s", "500ms", "5m", "100" (ms) -> duration.
absl::StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& text);

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_SERVER_OPTIONS_H_
