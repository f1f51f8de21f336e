// TLS between logship nodes (docs/replication.md, "TLS between nodes"):
// every node holds one context, used as client when it dials a peer and as
// server when a peer dials it; both ends present a certificate and verify
// the other's against the group's CA (mutual TLS).
#ifndef CAIRN_LOGSHIP_TLS_H_
#define CAIRN_LOGSHIP_TLS_H_

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace cairn::logship {

struct TlsFiles {
  std::string cert_file;  // PEM chain: this node's certificate first
  std::string key_file;   // PEM private key, private to this process
  std::string ca_file;    // PEM: the CA(s) that sign the group's nodes
};

// The context: TLS 1.2 or newer, this node's certificate chain and key (the
// key file is checked as cairn/sdk/secret_file.hpp says and wiped from
// memory once loaded), peers verified against ca-file, and a peer that
// presents no certificate refused. InvalidArgument naming the option
// (tls-cert-file, tls-key-file, tls-ca-file) and what was wrong.
absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeTlsContext(
    const TlsFiles& files);

}  // namespace cairn::logship

#endif  // CAIRN_LOGSHIP_TLS_H_
