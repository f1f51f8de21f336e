// Test helper: a real etcd cluster (Debian's etcd-server, /usr/bin/etcd) of
// N members on 127.0.0.1, on free ports, with data in a fresh temp folder.
// Members can be killed with SIGKILL one by one; the destructor kills what
// is left and removes the folder.
#ifndef CAIRN_PLUGINS_REPLICATION_LOGSHIP_ETCD_ETCD_TEST_CLUSTER_H_
#define CAIRN_PLUGINS_REPLICATION_LOGSHIP_ETCD_ETCD_TEST_CLUSTER_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cairn::logship::etcd::testing {

// Serving etcd's client URLs over HTTPS with client certificates required
// (--client-cert-auth): the members' certificate and key, the CA they trust
// for clients, and the client certificate the readiness check presents.
struct EtcdTls {
  std::string server_cert_file;
  std::string server_key_file;
  std::string ca_file;
  std::string client_cert_file;
  std::string client_key_file;
};

class EtcdTestCluster {
 public:
  // The etcd binary: $CAIRN_ETCD if set, else /usr/bin/etcd. Empty if
  // neither exists.
  static std::string EtcdBinary();

  // Starts `members` etcd processes forming one cluster and waits up to
  // `ready_within` until every member serves a read through the gateway.
  // On failure, kills what it started and returns an error quoting the
  // members' logs.
  // With `tls`, the client URLs are https (peers stay plain on loopback).
  static absl::StatusOr<std::unique_ptr<EtcdTestCluster>> Start(
      int members = 3,
      std::chrono::seconds ready_within = std::chrono::seconds(30),
      const EtcdTls* tls = nullptr);
  ~EtcdTestCluster();

  // "127.0.0.1:port" of each member's client URL, in member order.
  const std::vector<std::string>& endpoints() const { return endpoints_; }
  // SIGKILL of member `index` (and reaping it). No-op if already dead.
  void Kill(int index);
  bool Running(int index);
  // The tail of member `index`'s log, for failure messages.
  std::string Log(int index) const;

 private:
  EtcdTestCluster() = default;
  std::string dir_;
  std::vector<pid_t> pids_;
  std::vector<std::string> endpoints_;
};

}  // namespace cairn::logship::etcd::testing

// In a test body: skips (locally) or fails (CI=true) when etcd is not
// installed, so CI cannot pass without running the etcd tests.
#define CAIRN_REQUIRE_ETCD()                                                  \
  do {                                                                        \
    if (::cairn::logship::etcd::testing::EtcdTestCluster::EtcdBinary()        \
            .empty()) {                                                       \
      const char* ci = std::getenv("CI");                                     \
      if (ci != nullptr && std::string(ci) == "true") {                       \
        FAIL()                                                                \
            << "etcd is not installed (CI=true): scripts/packages.txt lists " \
               "etcd-server; run scripts/test or scripts/lib/setup.sh "       \
               "install_packages";                                            \
      }                                                                       \
      GTEST_SKIP()                                                            \
          << "etcd is not installed (apt-get install etcd-server, or set "    \
             "CAIRN_ETCD); CI=true turns this skip into a failure";           \
    }                                                                         \
  } while (0)

#endif  // CAIRN_PLUGINS_REPLICATION_LOGSHIP_ETCD_ETCD_TEST_CLUSTER_H_
