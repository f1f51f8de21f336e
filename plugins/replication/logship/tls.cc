#include "tls.h"

#include <cairn/sdk/secret_file.hpp>
#include <openssl/crypto.h>

#include <boost/asio/buffer.hpp>

#include "absl/strings/str_cat.h"
#include "x509_cache.h"

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
  boost::system::error_code error;
  context->use_certificate_chain_file(files.cert_file, error);
  if (error) {
    return absl::InvalidArgumentError(absl::StrCat(
        "option 'tls-cert-file' = ", files.cert_file,
        ": cannot load a PEM certificate chain: ", error.message()));
  }
  std::string key;
  std::string why;
  if (!sdk::ReadSecretFile(files.key_file,
                           "option 'tls-key-file' = " + files.key_file, &key,
                           &why)) {
    return absl::InvalidArgumentError(why);
  }
  context->use_private_key(asio::buffer(key), asio::ssl::context::pem, error);
  OPENSSL_cleanse(key.data(), key.size());
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat("option 'tls-key-file' = ", files.key_file,
                     ": cannot load a PEM private key matching tls-cert-file: ",
                     error.message()));
  }
  context->load_verify_file(files.ca_file, error);
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat("option 'tls-ca-file' = ", files.ca_file,
                     ": cannot load PEM CA certificates: ", error.message()));
  }
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
