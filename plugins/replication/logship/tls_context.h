// The pieces of a TLS context that logship's connections between nodes
// (tls.cc, frame.cc) and its etcd gateway (etcd/etcd_gateway.cc) share:
// loading a certificate chain, its private key and CA certificates, naming
// the option and file in every error; filling OpenSSL's certificate caches
// before handshakes share the context; and what a failed verification says.
// Header-only, since the two are libraries of their own.
//
// Why the caches: OpenSSL computes some facts about a certificate (its
// extensions, key identifiers, purposes) on first use and caches them in the
// X509 object. Handshakes that share one SSL_CTX share its CA and own
// certificates, so two handshakes at once could both fill that cache:
// ThreadSanitizer saw one handshake write a CA certificate's cached key
// identifier (ASN1_STRING_set) while another read it (ASN1_STRING_cmp) in
// logship's cluster test. Filling the caches once, before the context is
// shared, leaves the handshakes only reading them.
#ifndef CAIRN_LOGSHIP_TLS_CONTEXT_H_
#define CAIRN_LOGSHIP_TLS_CONTEXT_H_

#include <cairn/sdk/secret_file.hpp>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cairn::logship {

// Loads the PEM certificate chain `cert_file` and its private key
// `key_file` into `context`; the key file is read as a secret
// (cairn/sdk/secret_file.hpp) and its text wiped once loaded. `cert_label`
// and `key_label` name the options in messages ("option 'tls-cert-file'",
// "etcd-tls-key-file"), `cert_option` the certificate's option alone.
// InvalidArgument naming the option, the file and what was wrong.
inline absl::Status LoadCertificateAndKey(boost::asio::ssl::context& context,
                                          const std::string& cert_label,
                                          const std::string& cert_file,
                                          const std::string& cert_option,
                                          const std::string& key_label,
                                          const std::string& key_file) {
  boost::system::error_code error;
  context.use_certificate_chain_file(cert_file, error);
  if (error) {
    return absl::InvalidArgumentError(absl::StrCat(
        cert_label, " = ", cert_file,
        ": cannot load a PEM certificate chain: ", error.message()));
  }
  std::string key;
  std::string why;
  if (!sdk::ReadSecretFile(key_file, key_label + " = " + key_file, &key,
                           &why)) {
    return absl::InvalidArgumentError(why);
  }
  context.use_private_key(boost::asio::buffer(key),
                          boost::asio::ssl::context::pem, error);
  OPENSSL_cleanse(key.data(), key.size());
  if (error) {
    return absl::InvalidArgumentError(absl::StrCat(
        key_label, " = ", key_file, ": cannot load a PEM private key matching ",
        cert_option, ": ", error.message()));
  }
  return absl::OkStatus();
}

// Loads the PEM CA certificates `ca_file` into `context`'s trust store.
// InvalidArgument naming the option (`label`) and the file.
inline absl::Status LoadCaFile(boost::asio::ssl::context& context,
                               const std::string& label,
                               const std::string& ca_file) {
  boost::system::error_code error;
  context.load_verify_file(ca_file, error);
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, " = ", ca_file,
                     ": cannot load PEM CA certificates: ", error.message()));
  }
  return absl::OkStatus();
}

// "certificate verification failed: <OpenSSL's reason>" if `ssl`'s peer
// certificate failed verification, else "".
inline std::string CertificateVerifyFailure(SSL* ssl) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify == X509_V_OK) return std::string();
  return absl::StrCat("certificate verification failed: ",
                      X509_verify_cert_error_string(verify));
}

// Fills the caches of every certificate in `ctx`'s trust store and of its
// own certificate chain. Call before any handshake uses `ctx`.
inline void FillCertificateCaches(SSL_CTX* ctx) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  if (store != nullptr) {
    STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
    for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
      X509* cert = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
      if (cert != nullptr) X509_check_purpose(cert, -1, 0);
    }
  }
  if (X509* own = SSL_CTX_get0_certificate(ctx)) X509_check_purpose(own, -1, 0);
  STACK_OF(X509)* chain = nullptr;
  if (SSL_CTX_get0_chain_certs(ctx, &chain) == 1 && chain != nullptr) {
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      X509_check_purpose(sk_X509_value(chain, i), -1, 0);
    }
  }
}

}  // namespace cairn::logship

#endif  // CAIRN_LOGSHIP_TLS_CONTEXT_H_
