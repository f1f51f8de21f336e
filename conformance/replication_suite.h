// Replication conformance. What a single node can show runs against any
// replication plugin over an in-memory storage instance. Multi-node checks
// (replication_cluster_cases.cc) need running peers: a ClusterHarness starts
// them. A multi-node plugin (CAIRN_CAP_MULTI_NODE) that declares the cluster
// options of docs/plugins.md ("Cluster conformance") gets the suite's own
// harness, which starts every node in this process on loopback; a plugin
// may instead register a harness of its own (RegisterClusterHarness).
#ifndef CAIRN_CONFORMANCE_REPLICATION_SUITE_H_
#define CAIRN_CONFORMANCE_REPLICATION_SUITE_H_

#include <cairn/plugin.h>

#include <chrono>
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
  // Stops node `index` abruptly (as a crash would): its replication
  // instance goes; its storage stays open, so a test can read what the node
  // had stored and write the tail a crashed primary leaves.
  virtual absl::Status Kill(int index) = 0;
  virtual void Stop() = 0;
  // Opens a killed node's replication again over its storage and state, as
  // a restart with the node's options would, asking for the primary role
  // (as_primary) or a replica's.
  virtual absl::Status Reopen(int index, bool as_primary) = 0;
  // The node id node `index` was given (what leader() names).
  virtual std::string NodeId(int index) = 0;
  // Waits, at most `limit`, until node `index`'s role() is not `role`
  // (woken by the plugin's role_changed calls). False on timeout.
  virtual bool WaitUntilRoleIsNot(int index, uint32_t role,
                                  std::chrono::milliseconds limit) = 0;
};

using ClusterHarnessFactory =
    std::function<std::unique_ptr<ClusterHarness>(const Target& target)>;

// Registers the harness for plugins named `plugin_name`. Call before
// ::testing::InitGoogleTest().
void RegisterClusterHarness(const std::string& plugin_name,
                            ClusterHarnessFactory factory);

// The harness for `target`: a registered one, else the suite's own if the
// plugin declares the cluster options; else nullptr with *why_not saying
// what is missing.
std::unique_ptr<ClusterHarness> MakeClusterHarness(const Target& target,
                                                   std::string* why_not);

// The built-in memory storage's table (the storage the replication tests
// run over); nullptr if it will not load.
const cairn_storage_api* MemoryStorageApi();

}  // namespace cairn::conformance

#endif  // CAIRN_CONFORMANCE_REPLICATION_SUITE_H_
