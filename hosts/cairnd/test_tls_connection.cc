#include "test_tls_connection.h"

#include <openssl/err.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <csignal>

#include "absl/strings/str_cat.h"

namespace cairn::testing {
namespace {

std::string OpenSslErrors() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    absl::StrAppend(&text, text.empty() ? "" : "; ", buffer);
  }
  return text.empty() ? std::string("no OpenSSL error queued") : text;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsRawConnection>> TlsRawConnection::Open(
    uint16_t port, const std::string& ca_file, HalfClose half_close) {
  // OpenSSL writes to the socket with write(2) (an alert, say, after the
  // server closed): that must fail with EPIPE, not kill the test.
  std::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<TlsRawConnection> connection(
      new TlsRawConnection(half_close));
  if (auto s = connection->Connect(port); !s.ok()) return s;
  timeval timeout{10, 0};
  setsockopt(connection->fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout,
             sizeof(timeout));
  connection->context_ = SSL_CTX_new(TLS_client_method());
  if (connection->context_ == nullptr ||
      SSL_CTX_load_verify_locations(connection->context_, ca_file.c_str(),
                                    nullptr) != 1) {
    return absl::InternalError(
        absl::StrCat("TLS context with CA ", ca_file, ": ", OpenSslErrors()));
  }
  SSL_CTX_set_verify(connection->context_, SSL_VERIFY_PEER, nullptr);
  connection->ssl_ = SSL_new(connection->context_);
  if (connection->ssl_ == nullptr ||
      SSL_set_fd(connection->ssl_, connection->fd()) != 1 ||
      SSL_connect(connection->ssl_) != 1) {
    return absl::UnavailableError(
        absl::StrCat("TLS handshake with port ", port, ": ", OpenSslErrors()));
  }
  return connection;
}

TlsRawConnection::~TlsRawConnection() {
  SSL_free(ssl_);
  SSL_CTX_free(context_);
}

void TlsRawConnection::ShutdownWrite() {
  if (half_close_ == HalfClose::kCloseNotify) {
    // Sends close_notify; returns 0 as the server's has not come yet.
    SSL_shutdown(ssl_);
  } else {
    RawConnection::ShutdownWrite();
  }
}

ssize_t TlsRawConnection::SendSome(const char* data, size_t size) {
  size_t written = 0;
  if (SSL_write_ex(ssl_, data, size, &written) != 1) return -1;
  return static_cast<ssize_t>(written);
}

ssize_t TlsRawConnection::ReceiveSome(char* data, size_t size) {
  size_t read = 0;
  if (SSL_read_ex(ssl_, data, size, &read) != 1) return -1;
  return static_cast<ssize_t>(read);
}

bool TlsRawConnection::ReceivedCloseNotify() const {
  return (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) != 0;
}

bool TlsRawConnection::HasBuffered() const { return SSL_pending(ssl_) > 0; }

}  // namespace cairn::testing
