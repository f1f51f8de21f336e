#include "test_certs.h"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace cairn::testing {

absl::StatusOr<std::string> MakeTestCertificates() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "cairnd-certs-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError("cannot make a temp folder for certificates");
  }
  const std::string& dir = pattern;
  // A client certificate named CN=$1 in files $2.pem/$2.key, signed by $3.
  // EC P-256 keys: far quicker to make than RSA.
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1";
  std::string script = absl::StrCat(
      "set -e; cd '", dir, "'; { ",
      "client() { openssl req ", key, " -nodes -subj /CN=$1 "
      "-keyout $2.key -out $2.csr; openssl x509 -req -in $2.csr -CA $3.pem "
      "-CAkey $3.key -CAcreateserial -days 2 -out $2.pem; };",
      "openssl req -x509 ", key, " -nodes -days 2 -subj /CN=test-ca "
      "-keyout ca.key -out ca.pem;",
      "openssl req -x509 ", key, " -nodes -days 2 -subj /CN=other-ca "
      "-keyout other-ca.key -out other-ca.pem;",
      "openssl req ", key, " -nodes -subj /CN=cairnd-test "
      "-keyout server.key -out server.csr;",
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext;",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
      "-CAcreateserial -days 2 -extfile server.ext -out server.pem;",
      "client client client ca; client orders-svc orders ca;",
      "client ops-admin admin ca; client stranger stranger other-ca;",
      "} > openssl.log 2>&1");
  if (std::system(script.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("openssl failed; see ", dir, "/openssl.log"));
  }
  return dir;
}

std::string CertificateTest::dir_;

void CertificateTest::SetUpTestSuite() {
  auto dir = MakeTestCertificates();
  ASSERT_TRUE(dir.ok()) << dir.status();
  dir_ = *dir;
}

void CertificateTest::TearDownTestSuite() {
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

}  // namespace cairn::testing
