// SDK for replication plugins: derive from cairn::sdk::Replication, then
//
//   CAIRN_REPLICATION_PLUGIN(MyReplication, "my-replication", "1.0.0",
//                            "what it is", CAIRN_CAP_MULTI_NODE, "peers")
//
// MyReplication must provide
//   static cairn::sdk::Status Open(const cairn::sdk::Options& options,
//                                  const cairn_storage_api* storage_api,
//                                  cairn_storage* storage,
//                                  std::unique_ptr<MyReplication>* out);
#ifndef CAIRN_SDK_REPLICATION_HPP_
#define CAIRN_SDK_REPLICATION_HPP_

#include <cairn/sdk/common.hpp>

#include <memory>

namespace cairn::sdk {

class Replication {
 public:
  virtual ~Replication() = default;
  // Returns once the site's acknowledgement rule holds for first..last.
  virtual Status Replicate(uint64_t first_position, uint64_t last_position) = 0;
  virtual cairn_replication_role Role() = 0;
  virtual Status Stats(cairn_stat_fn, void*) { return Status::Ok(); }
};

template <typename Impl>
struct ReplicationAdapter {
  static Replication* Self(cairn_replication* r) {
    return reinterpret_cast<Replication*>(r);
  }
  static cairn_status Open(const cairn_options* options,
                           const cairn_storage_api* storage_api,
                           cairn_storage* storage, cairn_replication** out,
                           cairn_error* error) {
    return OpenInstance<Replication, Impl>(options, out, error, storage_api,
                                           storage);
  }
  static void Close(cairn_replication* r) {
    CloseInstance<Replication>(r);
  }
  static cairn_status Replicate(cairn_replication* r, uint64_t first,
                                uint64_t last, cairn_error* error) {
    return Guard(error, [&] { return Self(r)->Replicate(first, last); });
  }
  static uint32_t Role(cairn_replication* r) {
    try {
      return static_cast<uint32_t>(Self(r)->Role());
    } catch (...) {
      return CAIRN_ROLE_STANDALONE;
    }
  }
  static cairn_status Stats(cairn_replication* r, cairn_stat_fn fn, void* ctx,
                            cairn_error* error) {
    return Guard(error, [&] { return Self(r)->Stats(fn, ctx); });
  }
  static const cairn_replication_api* Table() {
    static const cairn_replication_api table = {
        sizeof(cairn_replication_api), &Open, &Close, &Replicate, &Role,
        &Stats};
    return &table;
  }
};

}  // namespace cairn::sdk

#define CAIRN_REPLICATION_PLUGIN(Class, name, version, description, ...)     \
  CAIRN_SDK_DESCRIBE(CAIRN_KIND_REPLICATION,                                 \
                     ::cairn::sdk::ReplicationAdapter<Class>::Table(), name, \
                     version, description, __VA_ARGS__)

#endif  // CAIRN_SDK_REPLICATION_HPP_
