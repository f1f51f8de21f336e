// Test helper: a RawConnection (test_server.h) over TLS, with OpenSSL on
// the socket directly, so a test controls how the client closes its side:
// with a close_notify alert, or with a bare TCP FIN.
#ifndef CAIRN_HOSTS_CAIRND_TEST_TLS_CONNECTION_H_
#define CAIRN_HOSTS_CAIRND_TEST_TLS_CONNECTION_H_

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "test_server.h"

namespace cairn::testing {

class TlsRawConnection final : public RawConnection {
 public:
  // How ShutdownWrite closes the client's sending side.
  enum class HalfClose {
    kCloseNotify,  // SSL_shutdown once: a close_notify alert, TCP left open
    kTcpFin,       // shutdown(SHUT_WR) with no close_notify
  };

  // Connects to 127.0.0.1:port and completes a TLS handshake, verifying the
  // server against `ca_file`. Reads time out after 10 s (SO_RCVTIMEO), so a
  // test cannot hang on a record that never completes.
  static absl::StatusOr<std::unique_ptr<TlsRawConnection>> Open(
      uint16_t port, const std::string& ca_file, HalfClose half_close);
  ~TlsRawConnection() override;

  void ShutdownWrite() override;

  // Whether the server's close_notify has been read (by ReadFramePayload
  // or WaitClosed): the server ended its side cleanly, not by a bare FIN.
  bool ReceivedCloseNotify() const;

 protected:
  ssize_t SendSome(const char* data, size_t size) override;
  ssize_t ReceiveSome(char* data, size_t size) override;
  bool HasBuffered() const override;

 private:
  explicit TlsRawConnection(HalfClose half_close) : half_close_(half_close) {}

  const HalfClose half_close_;
  SSL_CTX* context_ = nullptr;
  SSL* ssl_ = nullptr;
};

}  // namespace cairn::testing

#endif  // CAIRN_HOSTS_CAIRND_TEST_TLS_CONNECTION_H_
