// SDK for replication plugins: derive from cairn::sdk::Replication, then
//
//   CAIRN_REPLICATION_PLUGIN(MyReplication, "my-replication", "1.0.0",
//                            "what it is", CAIRN_CAP_MULTI_NODE, "peers")
//
// MyReplication must provide
//   static cairn::sdk::Status Open(const cairn::sdk::Options& options,
//                                  const cairn_storage_api* storage_api,
//                                  cairn_storage* storage,
//                                  const cairn::sdk::ReplicationHost& host,
//                                  std::unique_ptr<MyReplication>* out);
// `host` wraps the host's callbacks (cairn_replication_host in plugin.h);
// keep a copy: it is valid until the instance is destroyed.
#ifndef CAIRN_SDK_REPLICATION_HPP_
#define CAIRN_SDK_REPLICATION_HPP_

#include <cairn/sdk/common.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

namespace cairn::sdk {

// The host's callbacks. Cheap to copy. Threading and contracts: see
// cairn_replication_host in plugin.h (never pause from inside Replicate,
// Role, Leader, Stats or Promote).
class ReplicationHost {
 public:
  ReplicationHost() = default;
  explicit ReplicationHost(const cairn_replication_host* host) : host_(host) {}

  // Stops host writes and waits for those in flight (see pause_writes).
  Status PauseWrites() const {
    if (!CAIRN_HAS_FIELD(cairn_replication_host, host_, pause_writes) ||
        host_->pause_writes == nullptr) {
      return Status::Ok();
    }
    char message[512] = {0};
    cairn_error error{message, sizeof(message)};
    cairn_status code = host_->pause_writes(host_->context, &error);
    if (code == CAIRN_OK) return Status::Ok();
    return Status(code, message[0] != '\0'
                            ? std::string(message)
                            : std::string("pause_writes failed"));
  }
  void ResumeWrites() const {
    if (CAIRN_HAS_FIELD(cairn_replication_host, host_, resume_writes) &&
        host_->resume_writes != nullptr) {
      host_->resume_writes(host_->context);
    }
  }
  // Only between PauseWrites and ResumeWrites.
  void RoleChanged(cairn_replication_role role, uint64_t epoch) const {
    if (CAIRN_HAS_FIELD(cairn_replication_host, host_, role_changed) &&
        host_->role_changed != nullptr) {
      host_->role_changed(host_->context, static_cast<uint32_t>(role), epoch);
    }
  }

 private:
  const cairn_replication_host* host_ = nullptr;
};

// Pauses host writes for its lifetime (resumes on destruction if the pause
// succeeded). Check status() before changing the log.
class WritePause {
 public:
  explicit WritePause(const ReplicationHost& host)
      : host_(host), status_(host.PauseWrites()) {}
  ~WritePause() {
    if (status_.ok()) host_.ResumeWrites();
  }
  WritePause(const WritePause&) = delete;
  WritePause& operator=(const WritePause&) = delete;
  const Status& status() const { return status_; }

 private:
  ReplicationHost host_;
  Status status_;
};

// What Leader() answers (cairn_leader_info in plugin.h).
struct LeaderInfo {
  cairn_replication_role role = CAIRN_ROLE_STANDALONE;
  uint64_t epoch = 0;
  bool known = false;
  std::string node;
  std::string address;
};

class Replication {
 public:
  virtual ~Replication() = default;
  // Returns once the site's acknowledgement rule holds for first..last;
  // NotLeader(...) on a replica or when deposed while waiting.
  virtual Status Replicate(uint64_t first_position, uint64_t last_position) = 0;
  virtual cairn_replication_role Role() = 0;
  virtual Status Stats(cairn_stat_fn, void*) { return Status::Ok(); }
  // Default: a single node that leads itself.
  virtual Status Leader(LeaderInfo* info) {
    info->role = Role();
    info->epoch = 0;
    info->known = true;
    return Status::Ok();
  }
  // Default: a single-node plugin has nothing to promote.
  virtual Status Promote() {
    return Unsupported(
        "this replication plugin is single-node: there is no other node to "
        "take over from, so nothing to promote");
  }
};

template <typename Impl>
struct ReplicationAdapter {
  static Replication* Self(cairn_replication* r) {
    return reinterpret_cast<Replication*>(r);
  }
  static cairn_status Open(const cairn_options* options,
                           const cairn_storage_api* storage_api,
                           cairn_storage* storage,
                           const cairn_replication_host* host,
                           cairn_replication** out, cairn_error* error) {
    return OpenInstance<Replication, Impl>(options, out, error, storage_api,
                                           storage, ReplicationHost(host));
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
  static void CopyText(const std::string& text, char* out, size_t capacity) {
    size_t n = std::min(text.size(), capacity - 1);
    std::memcpy(out, text.data(), n);
    out[n] = '\0';
  }
  static cairn_status Leader(cairn_replication* r, cairn_leader_info* info,
                             cairn_error* error) {
    return Guard(error, [&]() -> Status {
      if (info == nullptr) return InvalidArgument("leader: info is NULL");
      LeaderInfo got;
      Status s = Self(r)->Leader(&got);
      if (!s.ok()) return s;
      CAIRN_SET_FIELD(cairn_leader_info, info, role,
                      static_cast<uint32_t>(got.role));
      CAIRN_SET_FIELD(cairn_leader_info, info, epoch, got.epoch);
      CAIRN_SET_FIELD(cairn_leader_info, info, known, got.known ? 1u : 0u);
      if (CAIRN_HAS_FIELD(cairn_leader_info, info, node)) {
        CopyText(got.node, info->node, sizeof(info->node));
      }
      if (CAIRN_HAS_FIELD(cairn_leader_info, info, address)) {
        CopyText(got.address, info->address, sizeof(info->address));
      }
      return Status::Ok();
    });
  }
  static cairn_status Promote(cairn_replication* r, cairn_error* error) {
    return Guard(error, [&] { return Self(r)->Promote(); });
  }
  static const cairn_replication_api* Table() {
    static const cairn_replication_api table = {sizeof(cairn_replication_api),
                                                &Open,
                                                &Close,
                                                &Replicate,
                                                &Role,
                                                &Stats,
                                                &Leader,
                                                &Promote};
    return &table;
  }
};

}  // namespace cairn::sdk

#define CAIRN_REPLICATION_PLUGIN(Class, name, version, description, caps,  \
                                 ...)                                      \
  CAIRN_SDK_DESCRIBE(CAIRN_KIND_REPLICATION,                               \
                     ::cairn::sdk::ReplicationAdapter<Class>::Table(),     \
                     name, version, description, caps, __VA_ARGS__)

#endif  // CAIRN_SDK_REPLICATION_HPP_
