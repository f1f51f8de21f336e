// The conformance suite's replication cases against logship. logship is
// built in only (no plugin file: see CMakeLists.txt), so cairn-conformance
// cannot load it; this runner registers the built-in instead and runs the
// same suite, with the options a group on loopback over memory storage
// needs. Everything else (node ids, ports, peers, roles, a state folder per
// node) the suite sets through the cluster convention (docs/plugins.md,
// "Cluster conformance").
#include <cairn/plugin_registry.h>

#include <iostream>

#include <gtest/gtest.h>

#include "target.h"

extern "C" cairn_status cairn_builtin_replication_logship(
    const cairn_host_offer*, const cairn_plugin_descriptor**, cairn_error*);

int main(int argc, char** argv) {
  using cairn::conformance::Target;
  cairn::PluginRegistry registry;
  absl::StatusOr<cairn::PluginPtr> plugin =
      registry.RegisterBuiltin(&cairn_builtin_replication_logship);
  if (!plugin.ok()) {
    std::cerr << "cannot register logship: " << plugin.status() << "\n";
    return 2;
  }
  // The single-node cases open one node over this folder; the cluster
  // cases make a fresh folder per node inside it.
  cairn::conformance::TempDir state;
  Target target;
  target.path = "(built in)";
  target.plugin = *plugin;
  target.options = {
      {"node-id", "solo"},
      {"listen", "127.0.0.1:0"},
      {"state-dir", state.path()},
      // Memory storage never syncs: let replicas count toward the quorum.
      {"durable-policy", "syncs"},
      // Bounded waits, well under the cases' 10 s.
      {"ack-timeout", "5s"},
      {"heartbeat-interval", "20ms"},
      {"reconnect-interval", "20ms"},
  };
  absl::Status added = cairn::conformance::AddTarget(target);
  if (!added.ok()) {
    std::cerr << added.message() << "\n";
    return 2;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
