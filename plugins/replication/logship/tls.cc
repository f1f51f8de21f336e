#include "tls.h"

#include "absl/strings/str_cat.h"
#include "tls_context.h"

namespace cairn::logship {

namespace asio = boost::asio;

absl::StatusOr<std::unique_ptr<asio::ssl::context>> MakeTlsContext(
    const TlsFiles& files) {
  std::unique_ptr<asio::ssl::context> context;
  try {
    context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls);
    context->set_options(
        asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
        asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("TLS set-up: ", e.what()));
  }
  absl::Status loaded = LoadCertificateAndKey(
      *context, "option 'tls-cert-file'", files.cert_file, "tls-cert-file",
      "option 'tls-key-file'", files.key_file);
  if (loaded.ok()) {
    loaded = LoadCaFile(*context, "option 'tls-ca-file'", files.ca_file);
  }
  if (!loaded.ok()) return loaded;
  boost::system::error_code error;
  context->set_verify_mode(
      asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("TLS verify mode: ", error.message()));
  }
  FillCertificateCaches(context->native_handle());
  return context;
}

}  // namespace cairn::logship
