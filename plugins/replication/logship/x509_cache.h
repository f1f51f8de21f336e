// OpenSSL computes some facts about a certificate (its extensions, key
// identifiers, purposes) on first use and caches them in the X509 object.
// Handshakes that share one SSL_CTX share its CA and own certificates, so
// two handshakes at once could both fill that cache: ThreadSanitizer saw one
// handshake write a CA certificate's cached key identifier
// (ASN1_STRING_set) while another read it (ASN1_STRING_cmp) in logship's
// cluster test. Filling the caches once, before the context is shared,
// leaves the handshakes only reading them. Header-only: logship's TLS
// (tls.cc) and its etcd gateway (etcd/etcd_gateway.cc) both use it.
#ifndef CAIRN_LOGSHIP_X509_CACHE_H_
#define CAIRN_LOGSHIP_X509_CACHE_H_

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace cairn::logship {

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

#endif  // CAIRN_LOGSHIP_X509_CACHE_H_
