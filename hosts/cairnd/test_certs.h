// Test helper: a small PKI made with the openssl command line (Debian
// package openssl) for the TLS, mutual-TLS and access-control tests.
#ifndef CAIRN_HOSTS_CAIRND_TEST_CERTS_H_
#define CAIRN_HOSTS_CAIRND_TEST_CERTS_H_

#include <gtest/gtest.h>

#include <string>

#include "absl/status/statusor.h"

namespace cairn::testing {

// Makes a fresh temp folder holding, as PEM files:
//   ca.pem/.key (CN=test-ca), other-ca.pem/.key (CN=other-ca);
//   server.pem/.key: CN=cairnd-test, SAN DNS:localhost, IP:127.0.0.1, by ca;
//   client.pem/.key (CN=client), orders.pem/.key (CN=orders-svc) and
//   admin.pem/.key (CN=ops-admin), by ca;
//   stranger.pem/.key (CN=stranger), by other-ca.
// Returns the folder (the caller removes it), or an error naming the log.
absl::StatusOr<std::string> MakeTestCertificates();

// A test suite whose tests share one MakeTestCertificates folder.
class CertificateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  // The path of `name` in the certificates' folder.
  static std::string File(const std::string& name) { return dir_ + "/" + name; }

 private:
  static std::string dir_;
};

}  // namespace cairn::testing

#endif  // CAIRN_HOSTS_CAIRND_TEST_CERTS_H_
