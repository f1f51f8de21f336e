// A logship group of nodes in one process on loopback, each a cairn::Store
// over its own storage (memory or mmaplog) with the logship plugin built in.
// Used by logship_cluster_test and by bench/replication (logship_bench);
// library cairn_logship_cluster.
#ifndef CAIRN_LOGSHIP_CLUSTER_TEST_H_
#define CAIRN_LOGSHIP_CLUSTER_TEST_H_

#include <cairn/store.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cairn::logship::testing {

// A loopback port nobody listens on now, picked at random below the
// kernel's ephemeral port range (so no outgoing connection takes it before
// the node binds it), checked by a bind and released.
uint16_t FreeLoopbackPort();

struct ClusterOptions {
  std::string storage = "mmaplog";  // or "memory"
  std::map<std::string, std::string> storage_options;
  std::string ack = "quorum";
  std::string sync_set;
  size_t nodes = 3;
  // "logship", or "none": Open gives node i a Store without replication.
  std::string replication = "logship";
  // Where the group's temporary folder is made (removed with the Cluster).
  std::string parent_dir = "/tmp";
  // More logship options for every node (Open's `extra` wins over them).
  std::map<std::string, std::string> logship_options;
  // Registers more plugins (after the built-in ones), e.g. a storage that
  // wraps one of them with a fault; `storage` may then name it.
  std::function<absl::Status(PluginRegistry&)> more_plugins;
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options);
  ~Cluster();

  // Node i's id: "n0", "n1", ...
  std::string Id(size_t i) const;
  // Opens node i's Store (role as the static coordinator option), with
  // extra logship options.
  absl::Status Open(size_t i, const std::string& role,
                    std::map<std::string, std::string> extra = {});
  void Close(size_t i);
  Store& store(size_t i) { return *nodes_[i].store; }
  bool is_open(size_t i) const { return nodes_[i].store != nullptr; }
  const std::string& state_dir(size_t i) const { return nodes_[i].state_dir; }
  uint16_t port(size_t i) const { return nodes_[i].port; }

  // Every record of node i's log, each as a serialized cairn.log.v1.LogRecord
  // (read_log from position 1 to written).
  std::vector<std::string> Log(size_t i);
  LogState State(size_t i);
  double Stat(size_t i, const std::string& key);

 private:
  struct Node {
    uint16_t port = 0;
    std::string dir;
    std::string state_dir;
    std::unique_ptr<Store> store;
  };
  ClusterOptions options_;
  std::string root_;
  std::unique_ptr<PluginRegistry> registry_;
  std::vector<Node> nodes_;
};

// Polls `condition` until it holds, for at most `limit`.
bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds limit = std::chrono::seconds(60));

}  // namespace cairn::logship::testing

#endif  // CAIRN_LOGSHIP_CLUSTER_TEST_H_
