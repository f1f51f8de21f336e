// Replication conformance. What a single node can show runs against any
// replication plugin over an in-memory storage instance. Multi-node checks
// need running peers: a multi-node plugin (CAIRN_CAP_MULTI_NODE) provides a
// ClusterHarness that starts them, and the cluster tests run against it.
#ifndef CAIRN_CONFORMANCE_REPLICATION_SUITE_H_
#define CAIRN_CONFORMANCE_REPLICATION_SUITE_H_

#include <cairn/plugin.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "target.h"

namespace cairn::conformance {

// One node of a test cluster: a storage instance and the replication
// instance opened over it.
struct ClusterNode {
  const cairn_storage_api* storage_api = nullptr;
  cairn_storage* storage = nullptr;
  const cairn_replication_api* replication_api = nullptr;
  cairn_replication* replication = nullptr;
};

// Starts and stops the nodes of a cluster for one test. Implemented per
// multi-node plugin (its peers, ports and roles are its own business).
class ClusterHarness {
 public:
  virtual ~ClusterHarness() = default;
  // Starts `nodes` nodes; node 0 is the primary.
  virtual absl::Status Start(int nodes) = 0;
  virtual ClusterNode Node(int index) = 0;
  // Stops node `index` abruptly (as a crash would).
  virtual absl::Status Kill(int index) = 0;
  virtual void Stop() = 0;
};

using ClusterHarnessFactory =
    std::function<std::unique_ptr<ClusterHarness>(const Target& target)>;

// Registers the harness for plugins named `plugin_name`. Call before
// ::testing::InitGoogleTest().
void RegisterClusterHarness(const std::string& plugin_name,
                            ClusterHarnessFactory factory);

}  // namespace cairn::conformance

#endif  // CAIRN_CONFORMANCE_REPLICATION_SUITE_H_
