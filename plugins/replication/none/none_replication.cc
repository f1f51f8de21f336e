// The "none" replication plugin: a single node. Every append is acknowledged
// as soon as storage has it with the durability the site configured.
#include <cairn/sdk/replication.hpp>

namespace cairn::noreplication {

class NoneReplication : public sdk::Replication {
 public:
  static sdk::Status Open(const sdk::Options&, const cairn_storage_api*,
                          cairn_storage*, const sdk::ReplicationHost&,
                          std::unique_ptr<NoneReplication>* out) {
    *out = std::make_unique<NoneReplication>();
    return sdk::Status::Ok();
  }
  sdk::Status Replicate(uint64_t first, uint64_t last) override {
    if (first > last) {
      return sdk::InvalidArgument("replicate: first position " +
                                  std::to_string(first) + " > last " +
                                  std::to_string(last));
    }
    return sdk::Status::Ok();
  }
  cairn_replication_role Role() override { return CAIRN_ROLE_STANDALONE; }
  // Leader (itself) and Promote (unsupported: single node) are the SDK's
  // defaults.
};

}  // namespace cairn::noreplication

CAIRN_REPLICATION_PLUGIN(cairn::noreplication::NoneReplication, "none",
                         "1.0.0", "single node: no replication", 0)
