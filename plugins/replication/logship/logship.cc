// The logship replication plugin (docs/replication.md): the primary ships
// its ordered log, records as stored, to every replica over its own TCP
// listener; replicate() returns when the site's ack rule holds.
//
// Threads: one listener (every node: a replica serves the primary's
// connection on it; a primary refuses or yields to a newer epoch there),
// one session thread per accepted connection, and on the primary one
// shipper thread per replica (plus a reader for its acks while connected).
#include <cairn/log_record.h>
#include <cairn/sdk/absl_status.hpp>
#include <cairn/sdk/replication.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ack_tracker.h"
#include "cairn/log/v1/log.pb.h"
#include "etcd_coordinator.h"
#include "frame.h"
#include "options.h"
#include "static_coordinator.h"
#include "tls.h"

namespace cairn::logship {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

using HostCallbacks = sdk::ReplicationHost;
using WritePause = sdk::WritePause;
using LeaderInfo = sdk::LeaderInfo;

namespace {

// The SDK's one mapping of absl codes (kDeadlineExceeded: a timeout).
sdk::Status ToSdk(const absl::Status& s) { return sdk::FromAbsl(s); }

bool Contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// An error buffer for one storage call.
struct CallError {
  char message[512] = {0};
  cairn_error error{message, sizeof(message)};
};

absl::Status StorageStatus(cairn_status code, const CallError& e,
                           absl::string_view what) {
  if (code == CAIRN_OK) return absl::OkStatus();
  std::string m = absl::StrCat(what, ": ", e.message);
  switch (code) {
    case CAIRN_E_NOT_FOUND:
      return absl::NotFoundError(m);
    case CAIRN_E_FAILED_PRECONDITION:
      return absl::FailedPreconditionError(m);
    case CAIRN_E_INVALID_ARGUMENT:
      return absl::InvalidArgumentError(m);
    default:
      return absl::InternalError(m);
  }
}

}  // namespace

// How long promote waits for its peers' answers to a position query.

class Logship : public sdk::Replication {
 public:
  static sdk::Status Open(const sdk::Options& raw,
                          const cairn_storage_api* storage_api,
                          cairn_storage* storage, const HostCallbacks& host,
                          std::unique_ptr<Logship>* out) {
    absl::StatusOr<LogshipOptions> options = ParseOptions(raw);
    if (!options.ok()) return ToSdk(options.status());
    absl::Status usable = CheckStorage(storage_api);
    if (!usable.ok()) return ToSdk(usable);
    std::unique_ptr<asio::ssl::context> tls;
    if (options->tls) {
      absl::StatusOr<std::unique_ptr<asio::ssl::context>> context =
          MakeTlsContext({options->tls_cert_file, options->tls_key_file,
                          options->tls_ca_file});
      if (!context.ok()) return ToSdk(context.status());
      tls = std::move(*context);
    }
    absl::StatusOr<std::unique_ptr<StaticCoordinator>> coordinator =
        StaticCoordinator::Open(*options);
    if (!coordinator.ok()) return ToSdk(coordinator.status());
    std::unique_ptr<Logship> logship(new Logship(std::move(*options),
                                                 storage_api, storage, host,
                                                 std::move(*coordinator)));
    logship->tls_ = std::move(tls);
    absl::Status started = logship->Start();
    if (!started.ok()) return ToSdk(started);
    *out = std::move(logship);
    return sdk::Status::Ok();
  }

  ~Logship() override { Stop(); }

  sdk::Status Replicate(uint64_t first, uint64_t last) override {
    if (first > last) {
      return sdk::InvalidArgument(
          absl::StrCat("replicate: first position ", first, " > last ", last));
    }
    std::shared_ptr<AckTracker> tracker;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (role_.load() != CAIRN_ROLE_PRIMARY || tracker_ == nullptr) {
        return NotLeader();
      }
      tracker = tracker_;
      ++generation_;
    }
    wake_.notify_all();
    if (options_.ack == AckRule::kAsync) return sdk::Status::Ok();
    absl::Status s = tracker->WaitFor(last, options_.ack_timeout);
    if (absl::IsCancelled(s)) return NotLeader();
    if (!s.ok()) {
      return ToSdk(absl::Status(
          s.code(),
          absl::StrCat("positions ", first, "..", last, ": ", s.message())));
    }
    return sdk::Status::Ok();
  }

  cairn_replication_role Role() override {
    // The Store asks for the role at the end of its open, once its commit
    // tracking is set up: from then on a role change may reach it.
    host_ready_.store(true);
    return static_cast<cairn_replication_role>(role_.load());
  }

  sdk::Status Leader(LeaderInfo* info) override {
    GroupState state = coordinator_->Current();
    info->role = Role();
    info->epoch = state.epoch;
    if (options_.coordinator == CoordinatorKind::kEtcd &&
        info->role != CAIRN_ROLE_PRIMARY) {
      // The state may name a candidate whose checks failed: the holder of
      // the leader key (as the elector last read it) is the better hint;
      // none while an election runs.
      std::lock_guard<std::mutex> lock(mutex_);
      state.primary = etcd_leader_;
    }
    info->known = !state.primary.empty();
    info->node = state.primary;
    auto it = options_.client_addresses.find(state.primary);
    if (it != options_.client_addresses.end()) info->address = it->second;
    return sdk::Status::Ok();
  }

  sdk::Status Promote() override {
    if (options_.coordinator == CoordinatorKind::kEtcd) {
      return ToSdk(CampaignThisNode(/*by_operator=*/true));
    }
    return ToSdk(PromoteThisNode());
  }

  sdk::Status Stats(cairn_stat_fn on_stat, void* context) override {
    auto stat = [&](const std::string& name, double value) {
      on_stat(context, name.c_str(), value);
    };
    GroupState state = coordinator_->Current();
    stat("role", static_cast<double>(role_.load()));
    stat("primary_of_epoch", static_cast<double>(led_epoch_.load()));
    stat("epoch", static_cast<double>(state.epoch));
    stat("listen_port", static_cast<double>(listen_port_));
    absl::StatusOr<cairn_log_state> log = LogState();
    if (log.ok()) {
      stat("written", static_cast<double>(log->written));
      stat("durable", static_cast<double>(log->durable));
      stat("committed", static_cast<double>(log->committed));
    }
    stat("records_shipped_total", static_cast<double>(records_shipped_.load()));
    stat("records_applied_total", static_cast<double>(records_applied_.load()));
    stat("frames_refused_total", static_cast<double>(frames_refused_.load()));
    stat("peer_timeouts_total", static_cast<double>(peer_timeouts_.load()));
    stat("tls_failures_total", static_cast<double>(tls_failures_.load()));
    stat("majority_lost_total", static_cast<double>(majority_lost_.load()));
    if (etcd_ != nullptr) {
      stat("ack_rule_mismatch", ack_rule_mismatch_.load() ? 1.0 : 0.0);
    }
    stat("truncations_total", static_cast<double>(truncations_.load()));
    stat("replicas_connected", static_cast<double>(replicas_connected_.load()));
    stat("primary_committed_seen",
         static_cast<double>(primary_committed_seen_.load()));
    if (options_.ack == AckRule::kSync) {
      stat("sync_set_size", static_cast<double>(SyncMembers().size()));
      stat("sync_set_changes_total",
           static_cast<double>(sync_set_changes_.load()));
      stat("sync_rejoins_held_total",
           static_cast<double>(sync_rejoins_held_.load()));
    }
    std::shared_ptr<AckTracker> tracker;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tracker = tracker_;
    }
    if (tracker != nullptr && log.ok()) {
      for (const Peer& peer : options_.peers) {
        const uint64_t durable = tracker->Durable(peer.node_id);
        stat("member." + peer.node_id + ".position",
             static_cast<double>(durable));
        stat("member." + peer.node_id + ".lag_positions",
             static_cast<double>(log->written > durable ? log->written - durable
                                                        : 0));
      }
    }
    return sdk::Status::Ok();
  }

 private:
  Logship(LogshipOptions options, const cairn_storage_api* st,
          cairn_storage* storage, const HostCallbacks& host,
          std::unique_ptr<StaticCoordinator> coordinator)
      : options_(std::move(options)),
        st_(st),
        storage_(storage),
        host_(host),
        coordinator_(std::move(coordinator)) {}

  static absl::Status CheckStorage(const cairn_storage_api* st) {
    struct Need {
      const char* name;
      bool present;
    };
    const size_t size = st == nullptr ? 0 : st->size;
    auto has = [&](size_t offset, const void* fn) {
      return size >= offset + sizeof(void*) && fn != nullptr;
    };
#define LOGSHIP_NEED(fn)                                             \
  Need {                                                             \
#fn, st != nullptr&& has(offsetof(cairn_storage_api, fn),        \
                             reinterpret_cast <const void*>(st->fn)) \
  }
    for (const Need& need :
         {LOGSHIP_NEED(read_log), LOGSHIP_NEED(apply_log),
          LOGSHIP_NEED(log_state), LOGSHIP_NEED(set_committed),
          LOGSHIP_NEED(truncate_after), LOGSHIP_NEED(begin_epoch),
          LOGSHIP_NEED(epoch_end)}) {
      if (!need.present) {
        return absl::FailedPreconditionError(absl::StrCat(
            "replication 'logship' needs a storage plugin with an ordered "
            "log, apply, host commit, truncation and epochs; this one lacks ",
            need.name));
      }
    }
#undef LOGSHIP_NEED
    return absl::OkStatus();
  }

  bool StorageSyncs() const {
    switch (options_.durable_policy) {
      case LogshipOptions::DurablePolicy::kSyncs:
        return true;
      case LogshipOptions::DurablePolicy::kNever:
        return false;
      case LogshipOptions::DurablePolicy::kAuto:
        break;
    }
    if (st_->instance_capabilities == nullptr) return true;
    return (st_->instance_capabilities(storage_) &
            CAIRN_CAP_APPEND_MAY_BLOCK) != 0;
  }

  sdk::Status NotLeader() {
    GroupState state = coordinator_->Current();
    return sdk::Status(CAIRN_E_NOT_LEADER,
                       absl::StrCat("node '", options_.node_id,
                                    "' is not the primary: epoch ", state.epoch,
                                    state.primary.empty()
                                        ? std::string(" has no known primary")
                                        : absl::StrCat("'s primary is '",
                                                       state.primary, "'")));
  }

  // ---- Storage helpers ----

  absl::StatusOr<cairn_log_state> LogState() {
    cairn_log_state state{};
    state.size = sizeof(state);
    CallError e;
    absl::Status s = StorageStatus(st_->log_state(storage_, &state, &e.error),
                                   e, "storage log_state");
    if (!s.ok()) return s;
    return state;
  }

  absl::StatusOr<uint64_t> EpochEnd(uint64_t epoch) {
    uint64_t position = 0;
    CallError e;
    absl::Status s =
        StorageStatus(st_->epoch_end(storage_, epoch, &position, &e.error), e,
                      absl::StrCat("storage epoch_end(", epoch, ")"));
    if (!s.ok()) return s;
    return position;
  }

  // ---- Start and stop ----

  absl::Status Start() {
    absl::Status s = Listen();
    if (!s.ok()) return s;
    watchdog_ = std::thread([this] { WatchLoop(); });
    if (options_.coordinator == CoordinatorKind::kEtcd) {
      // etcd elects the primary: every node opens as a replica and the
      // elector thread campaigns once the host is ready.
      role_.store(CAIRN_ROLE_REPLICA);
      s = StartEtcd();
      if (!s.ok()) Stop();
      return s;
    }
    GroupState state = coordinator_->Current();
    if (state.primary == options_.node_id) {
      s = BecomePrimary(/*paused=*/true);
      if (!s.ok()) {
        Stop();
        return s;
      }
    } else {
      role_.store(CAIRN_ROLE_REPLICA);
    }
    listener_ = std::thread([this] { AcceptLoop(); });
    return absl::OkStatus();
  }

  absl::Status Listen() {
    try {
      const asio::ip::address address =
          asio::ip::make_address(options_.listen.host);
      tcp::endpoint endpoint(address, options_.listen.port);
      acceptor_ = std::make_unique<tcp::acceptor>(io_);
      acceptor_->open(endpoint.protocol());
      acceptor_->set_option(asio::socket_base::reuse_address(true));
      acceptor_->bind(endpoint);
      acceptor_->listen();
      listen_port_ = acceptor_->local_endpoint().port();
    } catch (const std::exception& e) {
      return absl::FailedPreconditionError(absl::StrCat(
          "option 'listen': cannot listen on ", options_.listen.host, ":",
          options_.listen.port, ": ", e.what()));
    }
    return absl::OkStatus();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
      if (tracker_ != nullptr) tracker_->Close();
    }
    wake_.notify_all();
    StopEtcd();
    if (acceptor_ != nullptr) {
      ::shutdown(acceptor_->native_handle(), SHUT_RDWR);
    }
    ShutdownConnections(/*shippers_only=*/false);
    if (listener_.joinable()) listener_.join();
    if (watchdog_.joinable()) watchdog_.join();
    std::vector<Worker> threads;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      threads.swap(threads_);
    }
    for (Worker& w : threads) w.thread.join();
    if (acceptor_ != nullptr) {
      boost::system::error_code ignored;
      acceptor_->close(ignored);
    }
    // Sessions (which may read etcd) are joined: end the lease renewal.
    etcd_.reset();
  }

  bool Stopping() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stopping_;
  }

  // Runs `body` on a new thread joined at close (or, once it ended, at the
  // next Spawn); false if closing.
  template <typename Body>
  bool Spawn(Body&& body) {
    std::vector<Worker> ended;
    bool spawned = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = threads_.begin(); it != threads_.end();) {
        if (it->done->load()) {
          ended.push_back(std::move(*it));
          it = threads_.erase(it);
        } else {
          ++it;
        }
      }
      if (!stopping_) {
        auto done = std::make_shared<std::atomic<bool>>(false);
        threads_.push_back(Worker{
            std::thread([body = std::forward<Body>(body), done]() mutable {
              body();
              done->store(true);
            }),
            done});
        spawned = true;
      }
    }
    for (Worker& w : ended) w.thread.join();
    return spawned;
  }

  // Live connections, shut down at close and on a change of role.
  void Register(const std::shared_ptr<Connection>& c, bool shipper) {
    std::lock_guard<std::mutex> lock(mutex_);
    connections_[c.get()] = {c, shipper};
    if (stopping_) c->Shutdown();
  }
  void Unregister(const std::shared_ptr<Connection>& c) {
    std::lock_guard<std::mutex> lock(mutex_);
    connections_.erase(c.get());
  }
  void ShutdownConnections(bool shippers_only) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [raw, entry] : connections_) {
      if (!shippers_only || entry.shipper) entry.connection->Shutdown();
    }
  }

  // The watchdog: ends every connection on which a Read or Write has waited
  // peer-timeout for the peer. The primary sends a frame at least every
  // heartbeat-interval and a replica acks each, so a live peer never stalls
  // that long; a silent one (stopped, cut off by a partition that drops
  // packets, its host gone) would otherwise hold the connection until TCP
  // gives up, about 15 minutes: a shipper blocked on it ships nothing, a
  // replica waits for a primary that is gone. The shipper dials again.
  void WatchLoop() {
    const auto period =
        std::max(std::chrono::milliseconds(1), options_.peer_timeout / 8);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, period, [&] { return stopping_; });
      std::vector<std::string> expired;
      for (auto& [raw, entry] : connections_) {
        const std::chrono::milliseconds stalled =
            entry.connection->StalledFor();
        if (stalled < options_.peer_timeout) continue;
        std::string why =
            absl::StrCat("nothing moved on the connection with ",
                         entry.connection->peer_name(), " for ",
                         stalled.count(), "ms (peer-timeout ",
                         options_.peer_timeout.count(), "ms); closed it");
        if (entry.connection->Expire(why)) {
          peer_timeouts_.fetch_add(1);
          expired.push_back(std::move(why));
        }
      }
      if (expired.empty()) continue;
      lock.unlock();  // the host's log sink runs without logship's lock
      for (const std::string& why : expired) sdk::LogWarn(why);
      lock.lock();
    }
  }

  // ---- Roles ----

  // Makes this node the primary: a new epoch unless the log already holds
  // this node's current one (a restarted primary), then shippers. With
  // `paused` the caller holds host writes paused (or is inside open).
  // `won_epoch` (coordinator = etcd): the epoch etcd gave this node, already
  // recorded as this node's (Learn); 0: the static coordinator's next one.
  absl::Status BecomePrimary(bool paused, uint64_t won_epoch = 0) {
    (void)paused;
    GroupState state = coordinator_->Current();
    absl::StatusOr<cairn_log_state> log = LogState();
    if (!log.ok()) return log.status();
    uint64_t epoch = state.epoch;
    if (!(state.primary == options_.node_id && state.epoch > 0 &&
          log->epoch == state.epoch)) {
      GroupState next = state;
      next.epoch = std::max(state.epoch, log->epoch) + 1;
      next.primary = options_.node_id;
      absl::Status s;
      if (won_epoch == 0) {
        s = coordinator_->CompareAndSet(state.epoch, next);
      } else if (state.epoch != won_epoch || state.primary != next.primary ||
                 log->epoch >= won_epoch) {
        s = absl::FailedPreconditionError(absl::StrCat(
            "node '", options_.node_id, "' won epoch ", won_epoch,
            " but has since seen epoch ", state.epoch, " (primary '",
            state.primary, "') and its log holds epoch ", log->epoch));
      }
      if (!s.ok()) return s;
      if (won_epoch != 0) next.epoch = won_epoch;
      uint64_t position = 0;
      CallError e;
      const std::string& id = options_.node_id;
      s = StorageStatus(st_->begin_epoch(storage_, next.epoch, sdk::Bytes(id),
                                         &position, &e.error),
                        e,
                        absl::StrCat("storage begin_epoch(", next.epoch, ")"));
      if (!s.ok()) return s;
      epoch = next.epoch;
      sdk::LogInfo(absl::StrCat("node '", id, "' is primary of epoch ", epoch,
                                " (EPOCH record at position ", position, ")"));
    }
    std::vector<std::string> replica_ids;
    for (const Peer& peer : options_.peers) replica_ids.push_back(peer.node_id);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      std::vector<std::string> sync_set;
      const std::vector<std::string>& members =
          SyncSetInEtcd() && etcd_sync_.revision != 0 ? etcd_sync_.members
                                                      : options_.sync_set;
      for (const std::string& id : members) {
        if (id != options_.node_id) sync_set.push_back(id);
      }
      if (won_epoch != 0 && coordinator_->Current().epoch != epoch) {
        // A newer epoch arrived meanwhile (Adopt found this node not yet
        // primary, so this check is what stops it).
        return absl::FailedPreconditionError(
            absl::StrCat("node '", options_.node_id, "' won epoch ", epoch,
                         " but a newer one arrived before it could lead"));
      }
      tracker_ = std::make_shared<AckTracker>(options_.ack, replica_ids,
                                              std::move(sync_set));
      // A peer that did not answer the take-over's position query has been
      // unreachable for that long already: under etcd and sync it leaves
      // the sync set at the next tick rather than after peer-timeout (a
      // failover need not wait for the old primary).
      for (const std::string& id : unanswered_) {
        tracker_->SetDownSince(
            id, std::chrono::steady_clock::now() - options_.peer_timeout);
      }
      unanswered_.clear();
      role_.store(CAIRN_ROLE_PRIMARY);
      led_epoch_.store(epoch);
      ++generation_;
    }
    for (const Peer& peer : options_.peers) {
      Spawn([this, peer, epoch] { ShipLoop(peer, epoch); });
    }
    return absl::OkStatus();
  }

  bool IsPrimaryOf(uint64_t epoch) {
    return role_.load() == CAIRN_ROLE_PRIMARY &&
           coordinator_->Current().epoch == epoch;
  }

  // A peer showed epoch `epoch` led by `primary`: adopt it; a primary of an
  // older epoch steps down (its waiting replicate calls fail NOT_LEADER
  // first, then host writes pause while the role changes).
  absl::Status Adopt(uint64_t epoch, const std::string& primary) {
    absl::StatusOr<bool> changed = coordinator_->Learn(epoch, primary);
    if (!changed.ok()) return changed.status();
    if (role_.load() != CAIRN_ROLE_PRIMARY ||
        coordinator_->Current().primary == options_.node_id) {
      return absl::OkStatus();
    }
    StepDown(absl::StrCat("deposed: epoch ", epoch, " is led by '", primary,
                          "'; rejoining as a replica"));
    return absl::OkStatus();
  }

  // Stops acting as primary (if it is): waiting replicate calls return
  // NOT_LEADER, shippers stop, then host writes pause while the role
  // changes. `why` is logged.
  void StepDown(const std::string& why) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (role_.load() != CAIRN_ROLE_PRIMARY) return;
      role_.store(CAIRN_ROLE_REPLICA);
      led_epoch_.store(0);
      if (tracker_ != nullptr) tracker_->Close();
      tracker_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    ShutdownConnections(/*shippers_only=*/true);
    sdk::LogWarn(absl::StrCat("node '", options_.node_id, "' ", why));
    WritePause pause(host_);
    if (pause.status().ok()) {
      host_.RoleChanged(CAIRN_ROLE_REPLICA, coordinator_->Current().epoch);
    }
  }

  absl::Status PromoteThisNode() {
    std::lock_guard<std::mutex> promoting(promote_mutex_);
    if (role_.load() == CAIRN_ROLE_PRIMARY) return absl::OkStatus();
    absl::Status s = CheckInSyncSet();
    if (!s.ok()) return s;
    // Stop applying: no session may write while the epoch begins.
    ShutdownConnections(/*shippers_only=*/false);
    std::lock_guard<std::mutex> applying(apply_mutex_);
    absl::StatusOr<cairn_log_state> log = LogState();
    if (!log.ok()) return log.status();
    s = CheckNotBehindCommitted(*log);
    if (!s.ok()) return s;
    absl::Status peers =
        CheckPeerPositions(*log, coordinator_->Current().epoch, false);
    if (!peers.ok()) return peers;
    WritePause pause(host_);
    if (!pause.status().ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "promote: cannot pause writes: ", pause.status().message()));
    }
    s = BecomePrimary(/*paused=*/true);
    if (!s.ok()) return s;
    host_.RoleChanged(CAIRN_ROLE_PRIMARY, coordinator_->Current().epoch);
    return absl::OkStatus();
  }

  // coordinator = etcd and ack = sync: the sync set lives in etcd and
  // changes (docs/replication.md, "The sync set under etcd").
  bool SyncSetInEtcd() const {
    return options_.coordinator == CoordinatorKind::kEtcd &&
           options_.ack == AckRule::kSync;
  }

  // The sync set: etcd's as last read or written (SyncSetInEtcd), else the
  // site's option.
  std::vector<std::string> SyncMembers() {
    if (SyncSetInEtcd()) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (etcd_sync_.revision != 0) return etcd_sync_.members;
    }
    return options_.sync_set;
  }

  bool InSyncSet(const std::string& node_id) {
    return Contains(SyncMembers(), node_id);
  }

  // Under ack = sync only a sync-set member holds every acknowledged
  // record. Under etcd the set is read there first (the primary may have
  // taken this node out).
  absl::Status CheckInSyncSet() {
    if (options_.ack != AckRule::kSync) return absl::OkStatus();
    if (SyncSetInEtcd() && etcd_ != nullptr) {
      absl::StatusOr<etcd::SyncSet> set = etcd_->CurrentSyncSet();
      if (!set.ok()) return set.status();
      std::lock_guard<std::mutex> lock(mutex_);
      etcd_sync_ = *set;
    }
    if (!InSyncSet(options_.node_id)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "promote: node '", options_.node_id, "' is not in the sync set [",
          absl::StrJoin(SyncMembers(), ", "),
          "] (ack = sync): it may lack acknowledged records"));
    }
    return absl::OkStatus();
  }

  // A node must hold what the last primary told it was committed.
  absl::Status CheckNotBehindCommitted(const cairn_log_state& log) {
    const uint64_t known = primary_committed_seen_.load();
    if (log.written >= known) return absl::OkStatus();
    GroupState state = coordinator_->Current();
    return absl::FailedPreconditionError(absl::StrCat(
        "promote: node '", options_.node_id, "' holds positions up to ",
        log.written, " but primary '", state.primary, "' (epoch ", state.epoch,
        ") reported position ", known,
        " committed; promote a node that has it"));
  }

  // What a peer answered to a position query, or why it did not.
  struct PeerPosition {
    std::string node_id;
    bool answered = false;
    v1::Hello hello;
    std::string error;
  };

  // Asks every peer at once where its log ends (a PositionQuery on a
  // connection of its own, one thread per peer). A peer that has not
  // answered within position-query-timeout counts as unreachable: its
  // connection is expired then, which ends its thread's wait.
  std::vector<PeerPosition> QueryPeerPositions(const cairn_log_state& log,
                                               uint64_t epoch) {
    v1::Frame frame;
    v1::PositionQuery* query = frame.mutable_position_query();
    query->set_node_id(options_.node_id);
    query->set_epoch(epoch);
    query->set_log_epoch(log.epoch);
    query->set_written(log.written);
    query->set_coordinator(OwnCoordinator());
    if (options_.coordinator == CoordinatorKind::kEtcd) {
      query->set_etcd_group(options_.etcd_group);
    }
    const auto deadline =
        std::chrono::steady_clock::now() + options_.position_query_timeout;
    constexpr const char* kNoAnswer = "no answer within the time allowed";
    struct Query {
      PeerPosition result;
      std::shared_ptr<Connection> connection;
      bool done = false;
    };
    std::mutex mutex;
    std::condition_variable finished;
    bool expired = false;
    std::vector<Query> queries(options_.peers.size());
    auto ask = [&](size_t i) {
      const Peer& peer = options_.peers[i];
      PeerPosition r;
      r.node_id = peer.node_id;
      const std::string name =
          absl::StrCat("peer '", peer.node_id, "' at ", peer.address.host, ":",
                       peer.address.port);
      tcp::socket socket(io_);
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      absl::Status s = ConnectWithin(
          socket, peer.address.host, peer.address.port,
          std::max(left, std::chrono::milliseconds(1)),
          [&] {
            if (Stopping()) return true;
            std::lock_guard<std::mutex> lock(mutex);
            return expired;
          },
          name);
      if (s.ok()) {
        auto connection = std::make_shared<Connection>(
            std::move(socket), options_.max_frame_size, name);
        {
          std::lock_guard<std::mutex> lock(mutex);
          queries[i].connection = connection;
          if (expired) connection->Expire(kNoAnswer);
        }
        Register(connection, /*shipper=*/false);  // closing ends it too
        s = SecureAsClient(*connection, peer.address.host);
        if (s.ok()) s = connection->Write(frame);
        absl::StatusOr<v1::Frame> answer =
            s.ok() ? connection->Read() : absl::StatusOr<v1::Frame>(s);
        connection->Shutdown();
        Unregister(connection);
        if (!answer.ok()) {
          s = answer.status();
        } else if (!answer->has_hello()) {
          s = absl::InvalidArgumentError(absl::StrCat(
              "answered with ", FrameName(*answer),
              answer->has_refusal() ? ": " + answer->refusal().message()
                                    : std::string(", not hello")));
        } else if (answer->hello().node_id() != peer.node_id) {
          s = absl::InvalidArgumentError(absl::StrCat(
              "answers as node '", answer->hello().node_id(), "'"));
        } else if (std::string other =
                       OtherGroup(answer->hello().coordinator(),
                                  answer->hello().etcd_group(), name);
                   !other.empty()) {
          s = absl::FailedPreconditionError(other);
        } else {
          r.answered = true;
          r.hello = answer->hello();
        }
      }
      if (!s.ok()) r.error = std::string(s.message());
      std::lock_guard<std::mutex> lock(mutex);
      if (!expired) queries[i].result = std::move(r);
      queries[i].done = true;
      finished.notify_all();
    };
    std::vector<std::thread> threads;
    for (size_t i = 0; i < queries.size(); ++i) {
      queries[i].result.node_id = options_.peers[i].node_id;
      queries[i].result.error = kNoAnswer;
      threads.emplace_back(ask, i);
    }
    {
      std::unique_lock<std::mutex> lock(mutex);
      finished.wait_until(lock, deadline, [&] {
        for (const Query& q : queries) {
          if (!q.done) return false;
        }
        return true;
      });
      expired = true;
      for (Query& q : queries) {
        if (!q.done && q.connection != nullptr) q.connection->Expire(kNoAnswer);
      }
    }
    for (std::thread& t : threads) t.join();
    std::vector<PeerPosition> positions;
    for (Query& q : queries) positions.push_back(std::move(q.result));
    return positions;
  }

  // Refuses (FAILED_PRECONDITION) to promote this node, whose log is `log`,
  // when a reachable peer holds more of the log (a newer epoch, or the same
  // epoch further), or, under ack = quorum, when fewer than a majority of
  // the nodes (this one included) answered: records acknowledged by a
  // majority may then be on none of them. The query carries `epoch`; with
  // `fenced` (coordinator = etcd, `epoch` won in etcd) a peer counts toward
  // the majority only if it answered from that epoch, which it adopts
  // before answering: from then on it refuses the old primary's frames, so
  // no record the old primary acknowledges later can be missing here.
  //
  // A peer ahead does not stop the take-over when what it holds beyond this
  // node cannot have been acknowledged (this node then holds every
  // acknowledged record); it drops the rest when it follows this epoch and
  // logs the positions:
  // - under sync, a peer outside the sync set: every acknowledged record is
  //   durable on every sync-set member, and only sync-set members get here
  //   (CheckInSyncSet). Without this, such a peer that ran ahead of the
  //   sync-set members blocked every promote and election for good, since
  //   it cannot lead itself;
  // - fenced, under quorum or sync, a peer that answered from an older
  //   epoch (it cannot reach etcd: typically the old primary, cut from etcd
  //   while its peers still reach it): under quorum every acknowledged
  //   record is on a majority, so on a node counted here, which may not be
  //   ahead. Without this, such a peer blocked every election for as long
  //   as it could not reach etcd.
  // Under async a peer ahead still refuses: the old primary may hold
  // acknowledged records no replica has.
  absl::Status CheckPeerPositions(const cairn_log_state& log, uint64_t epoch,
                                  bool fenced) {
    const std::string& self = options_.node_id;
    size_t answered = 0;
    std::string unreachable;
    unanswered_.clear();
    for (const PeerPosition& p : QueryPeerPositions(log, epoch)) {
      if (!p.answered) {
        absl::StrAppend(&unreachable, unreachable.empty() ? "" : "; ", "'",
                        p.node_id, "': ", p.error);
        unanswered_.push_back(p.node_id);
        continue;
      }
      const v1::Hello& theirs = p.hello;
      if (fenced && theirs.epoch() > epoch) {
        return absl::FailedPreconditionError(absl::StrCat(
            "promote: peer '", p.node_id, "' has seen epoch ", theirs.epoch(),
            ", newer than epoch ", epoch, " that node '", self, "' won"));
      }
      const bool counted = !fenced || theirs.epoch() == epoch;
      if (!counted) {
        absl::StrAppend(&unreachable, unreachable.empty() ? "" : "; ", "'",
                        p.node_id, "': answered from epoch ", theirs.epoch(),
                        ", not ", epoch);
      } else {
        ++answered;
      }
      const bool ahead =
          theirs.log_epoch() > log.epoch ||
          (theirs.log_epoch() == log.epoch && theirs.written() > log.written);
      const bool outside_sync_set =
          options_.ack == AckRule::kSync && !InSyncSet(p.node_id);
      const bool uncounted = !counted && options_.ack != AckRule::kAsync;
      if (ahead && (outside_sync_set || uncounted)) {
        sdk::LogWarn(absl::StrCat(
            "node '", self, "' becoming primary: peer '", p.node_id,
            "' holds positions up to ", theirs.written(), " of epoch ",
            theirs.log_epoch(), ", beyond this node's ", log.written,
            " of epoch ", log.epoch, "; ",
            outside_sync_set
                ? "it is not in the sync set"
                : absl::StrCat("it answered from epoch ", theirs.epoch(),
                               " and is not counted"),
            ", so those records were never acknowledged: it drops them "
            "when it follows"));
        continue;
      }
      if (ahead) {
        return absl::FailedPreconditionError(absl::StrCat(
            "promote: peer '", p.node_id, "' holds positions up to ",
            theirs.written(), " of epoch ", theirs.log_epoch(), " but node '",
            self, "' only up to ", log.written, " of epoch ", log.epoch,
            ": promoting it would drop records '", p.node_id,
            "' holds (maybe acknowledged); promote '", p.node_id, "' instead"));
      }
    }
    if (options_.ack == AckRule::kQuorum) {
      const size_t members = options_.peers.size() + 1;
      const size_t majority = members / 2 + 1;
      if (answered + 1 < majority) {
        return absl::FailedPreconditionError(absl::StrCat(
            "promote: node '", self, "' reached ", answered, " of its ",
            options_.peers.size(), " peers (", unreachable,
            "); with ack = quorum it needs ", majority, " of the ", members,
            " nodes, itself included, to know it holds every acknowledged "
            "record: bring peers up or promote another node"));
      }
    }
    return absl::OkStatus();
  }

  // ---- coordinator = etcd: election ----

  absl::Status StartEtcd() {
    etcd::EtcdCoordinatorOptions o;
    o.gateway.endpoints = options_.etcd_endpoints;
    o.gateway.call_timeout = options_.etcd_timeout;
    o.gateway.tls_ca_file = options_.etcd_tls_ca_file;
    o.gateway.tls_cert_file = options_.etcd_tls_cert_file;
    o.gateway.tls_key_file = options_.etcd_tls_key_file;
    o.group = options_.etcd_group;
    o.ack = AckRuleName(options_.ack);
    o.watch_window = std::chrono::milliseconds(1000);
    o.on_leadership_lost = [this] {
      if (Stopping()) return;
      StepDown(
          "lost its etcd lease (expired or not renewable): stepping "
          "down; a newer epoch will fence anything it still sends");
      WakeElector();
    };
    absl::StatusOr<std::unique_ptr<etcd::EtcdCoordinator>> created =
        etcd::EtcdCoordinator::Create(std::move(o));
    if (!created.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("coordinator = etcd: ", created.status().message()));
    }
    etcd_ = std::move(*created);
    listener_ = std::thread([this] { AcceptLoop(); });
    absl::Status s = etcd_->Watch([this](const etcd::GroupState& state) {
      CheckGroupAckRule(state);
      // A newer epoch from etcd: follow it (a primary of an older one steps
      // down at once; the new primary's frames will reach this node).
      if (state.epoch > 0 && !state.primary.empty() &&
          static_cast<uint64_t>(state.epoch) > coordinator_->Current().epoch) {
        absl::Status adopted =
            Adopt(static_cast<uint64_t>(state.epoch), state.primary);
        if (!adopted.ok()) {
          sdk::LogWarn(absl::StrCat("etcd epoch ", state.epoch, ": ",
                                    adopted.message()));
        }
      }
      WakeElector();
    });
    if (!s.ok()) return s;
    elector_ = std::thread([this] { ElectLoop(); });
    return absl::OkStatus();
  }

  // The group's ack rule, as the state in etcd names it, against this
  // node's: a node under another rule still follows, but may not lead
  // (EtcdCoordinator::Campaign refuses it). Said once an epoch, as an
  // error, and counted in stat replication.ack_rule_mismatch.
  void CheckGroupAckRule(const etcd::GroupState& state) {
    const std::string own = AckRuleName(options_.ack);
    const bool mismatch = !state.ack.empty() && state.ack != own;
    ack_rule_mismatch_.store(mismatch);
    if (!mismatch || ack_rule_warned_epoch_ == state.epoch) return;
    ack_rule_warned_epoch_ = state.epoch;
    sdk::LogError(absl::StrCat(
        "node '", options_.node_id, "' has ack = ", own, " but group '",
        options_.etcd_group, "' acknowledges by ack = ", state.ack,
        " (etcd state at epoch ", state.epoch,
        "): it follows, but will not lead; fix its site file "
        "(docs/replication.md, \"Changing a group's ack rule\")"));
  }

  // Ends the elector and the watch. A primary that closes gives up its
  // leader key at once, so another node can take over without waiting for
  // the lease to expire.
  void StopEtcd() {
    WakeElector();
    if (elector_.joinable()) elector_.join();
    if (etcd_ == nullptr) return;
    etcd_->StopWatch();
    ResignLeaderKey();
    absl::Status s = etcd_->Deregister();
    if (!s.ok()) sdk::LogWarn(absl::StrCat("etcd deregister: ", s.message()));
    // The coordinator itself (its lease renewal) ends at the end of Stop,
    // once no session can ask it anything.
  }

  // Gives up the etcd leader key if this node holds it; a failure is
  // logged (the lease then expires on its own).
  void ResignLeaderKey() {
    absl::Status s = etcd_->Resign();
    if (!s.ok()) sdk::LogWarn(absl::StrCat("etcd resign: ", s.message()));
  }

  void WakeElector() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      elector_woken_ = true;
    }
    wake_.notify_all();
  }

  // Tells etcd where this node listens and how far its log goes.
  absl::Status RegisterMember() {
    absl::StatusOr<cairn_log_state> log = LogState();
    if (!log.ok()) return log.status();
    etcd::MemberInfo info;
    info.address = absl::StrCat(options_.listen.host, ":", listen_port_);
    info.position = log->written;
    info.epoch = static_cast<int64_t>(coordinator_->Current().epoch);
    absl::Status s =
        etcd_->Register(options_.node_id, info, options_.lease_ttl);
    if (!s.ok()) {
      return absl::Status(s.code(),
                          absl::StrCat("etcd register of '", options_.node_id,
                                       "': ", s.message()));
    }
    return absl::OkStatus();
  }

  // The elector thread: registers this node, and whenever no node holds
  // the leader key, campaigns (with a jittered, bounded back-off after a
  // failed try). A primary that finds it no longer holds the key steps down.
  void ElectLoop() {
    using Clock = std::chrono::steady_clock;
    const auto tick = std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds(200),
        std::chrono::duration_cast<std::chrono::milliseconds>(
            options_.lease_ttl) /
            5);
    const std::chrono::milliseconds max_backoff = options_.lease_ttl;
    std::mt19937_64 random(std::random_device{}());
    std::chrono::milliseconds backoff{0};
    Clock::time_point not_before = Clock::now();
    // Under ack = quorum: since when this primary has been connected to
    // fewer counting replicas than a majority needs (none: it is not).
    std::optional<Clock::time_point> short_of_majority;
    Clock::time_point next_register = Clock::now();
    std::string last_error;
    // Logs an etcd failure once until it changes (the elector retries every
    // tick; an unreachable etcd would otherwise flood the log).
    std::string last_etcd_error;
    auto etcd_failed = [&](const absl::Status& s) {
      if (std::string(s.message()) == last_etcd_error) return;
      last_etcd_error = std::string(s.message());
      sdk::LogWarn(absl::StrCat("node '", options_.node_id,
                                "': coordinator = etcd: ", last_etcd_error));
    };
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait_for(lock, tick, [&] { return stopping_ || elector_woken_; });
        if (stopping_) return;
        elector_woken_ = false;
      }
      if (Clock::now() >= next_register) {
        absl::Status registered = RegisterMember();
        if (!registered.ok()) etcd_failed(registered);
        next_register = Clock::now() + std::chrono::seconds(1);
      }
      if (!host_ready_.load()) continue;
      if (role_.load() == CAIRN_ROLE_PRIMARY) {
        if (!etcd_->IsLeader()) {
          StepDown("no longer holds the etcd leader key: stepping down");
          continue;
        }
        if (GiveUpWithoutMajority(short_of_majority)) {
          // Let a node that reaches a majority campaign first.
          not_before = Clock::now() + options_.lease_ttl;
        }
        if (SyncSetInEtcd()) {
          absl::Status kept = MaintainSyncSet();
          if (!kept.ok()) etcd_failed(kept);
        }
        continue;
      }
      short_of_majority.reset();
      absl::StatusOr<std::string> leader = etcd_->LeaderNode();
      if (!leader.ok()) {
        etcd_failed(leader.status());
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        etcd_leader_ = *leader;
      }
      if (!leader->empty() || Clock::now() < not_before) continue;
      absl::Status s = CampaignThisNode(/*by_operator=*/false);
      if (s.ok()) {
        backoff = std::chrono::milliseconds(0);
        last_error.clear();
        continue;
      }
      if (std::string(s.message()) != last_error) {
        last_error = std::string(s.message());
        sdk::LogWarn(absl::StrCat("node '", options_.node_id,
                                  "' did not take over: ", last_error));
      }
      // Back off, doubling up to the lease TTL, by a random 50..150%: a
      // node that failed its checks lets a better one campaign first.
      backoff =
          std::clamp(backoff * 2, std::chrono::milliseconds(200), max_backoff);
      std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2,
                                                    backoff.count() * 3 / 2);
      not_before = Clock::now() + std::chrono::milliseconds(jitter(random));
    }
  }

  // Why sync-set member `id` should leave the set now, or "": it has had
  // no session for peer-timeout, or it has held an append back (connected
  // or not) for slow-member-timeout. *slow, if given, is set if it held
  // one back while connected (a slow member, not a lost one).
  std::string WhyLeaveSyncSet(const AckTracker& tracker, const std::string& id,
                              bool* slow = nullptr) const {
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    const auto down = tracker.DownFor(id);
    if (down >= options_.peer_timeout) {
      return absl::StrCat(
          "no session with it for ", duration_cast<milliseconds>(down).count(),
          " ms (peer-timeout ", options_.peer_timeout.count(), " ms)");
    }
    const auto held = tracker.HoldingBackFor(id);
    if (options_.slow_member_timeout.count() > 0 &&
        held >= options_.slow_member_timeout) {
      if (slow != nullptr) {
        *slow = down == std::chrono::steady_clock::duration::zero();
      }
      return absl::StrCat("it has held an append back for ",
                          duration_cast<milliseconds>(held).count(),
                          " ms (durable ", tracker.Durable(id), ", ",
                          down == std::chrono::steady_clock::duration::zero()
                              ? "connected"
                              : "no session",
                          "; slow-member-timeout ",
                          options_.slow_member_timeout.count(), " ms)");
    }
    return "";
  }

  // Counts a leave of sync-set member `id` for slowness (taken out, or
  // dropped on its way back, for holding appends back while connected) and
  // holds it out of the set per rejoin-backoff: its first such leave, or
  // one after it stayed in the set for the cap since it last rejoined, is
  // not held; each further one doubles the hold, up to the cap. A member
  // out for want of a session is not held: it may be needed to lead.
  // Returns what the log line about the leave should add ("" if not held).
  // On the elector thread.
  std::string HoldAfterLeave(const std::string& id) {
    const auto now = std::chrono::steady_clock::now();
    constexpr int kDoublings = LogshipOptions::kRejoinBackoffDoublings;
    const std::chrono::milliseconds cap =
        options_.rejoin_backoff * (int64_t{1} << kDoublings);
    SyncLeaves& leaves = sync_leaves_[id];
    if (leaves.rejoined != std::chrono::steady_clock::time_point{} &&
        now - leaves.rejoined >= cap) {
      leaves.in_a_row = 0;
    }
    std::chrono::milliseconds hold{0};
    if (leaves.in_a_row > 0) {
      hold = options_.rejoin_backoff *
             (int64_t{1} << std::min(leaves.in_a_row - 1, kDoublings));
    }
    ++leaves.in_a_row;
    leaves.rejoined = {};
    leaves.held_until = now + hold;
    if (hold.count() == 0) return "";
    sync_rejoins_held_.fetch_add(1);
    return absl::StrCat("; it left ", leaves.in_a_row,
                        " times in a row (never staying in for ", cap.count(),
                        " ms), so it may not rejoin for ", hold.count(),
                        " ms (rejoin-backoff ", options_.rejoin_backoff.count(),
                        " ms, doubling)");
  }

  // Whether rejoin-backoff still holds `id` out of the sync set.
  bool HeldOut(const std::string& id) const {
    auto leaves = sync_leaves_.find(id);
    return leaves != sync_leaves_.end() &&
           std::chrono::steady_clock::now() < leaves->second.held_until;
  }

  // coordinator = etcd, ack = sync, on the primary's elector thread (one
  // change a tick):
  // - a member without a session for peer-timeout, or one that has held an
  //   append back for slow-member-timeout, leaves the sync set: in
  //   etcd first (a compare-and-swap that also requires this node still to
  //   lead its epoch), and only then does the tracker stop waiting for it;
  //   an election that ran meanwhile makes the write fail, and a member
  //   that has left may no longer lead (the campaign compares the set);
  // - a member of the site's sync-set that is outside it comes back once
  //   it is connected, holds what is committed and rejoin-backoff does not
  //   hold it out: the tracker waits for it first, and once it holds
  //   durably every position written when that began (so every
  //   acknowledged one), it is written back into etcd.
  // The tracker's set always holds every member etcd names.
  absl::Status MaintainSyncSet() {
    std::shared_ptr<AckTracker> tracker;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tracker = tracker_;
    }
    const uint64_t epoch = led_epoch_.load();
    if (tracker == nullptr || epoch == 0) return absl::OkStatus();
    if (sync_rejoining_epoch_ != epoch) {
      sync_rejoining_.clear();  // a tracker of an earlier term waited
      sync_kept_.clear();
      sync_leaves_.clear();
      sync_rejoining_epoch_ = epoch;
    }
    absl::StatusOr<etcd::SyncSet> known = etcd_->CurrentSyncSet();
    if (!known.ok()) return known.status();
    const std::string& self = options_.node_id;
    // Wait for every member etcd names, and for a member being brought
    // back; no other (a removal whose answer was lost may have landed).
    std::vector<std::string> waited;
    for (const std::string& id : known->members) {
      if (id != self) waited.push_back(id);
    }
    for (const auto& [id, position] : sync_rejoining_) {
      if (!Contains(waited, id)) waited.push_back(id);
    }
    tracker->SetSyncSet(waited);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      etcd_sync_ = *known;
    }
    auto write = [&](std::vector<std::string> members) {
      absl::StatusOr<etcd::SyncSet> written =
          etcd_->SetSyncSet(self, static_cast<int64_t>(epoch), known->revision,
                            std::move(members));
      if (written.ok()) {
        std::lock_guard<std::mutex> lock(mutex_);
        etcd_sync_ = *written;
        sync_set_changes_.fetch_add(1);
      }
      return written;
    };

    for (const std::string& id : known->members) {
      if (id == self) continue;
      bool slow = false;
      const std::string why = WhyLeaveSyncSet(*tracker, id, &slow);
      if (why.empty()) {
        sync_kept_.erase(id);
        continue;
      }
      std::vector<std::string> members;
      size_t replicas_left = 0;
      for (const std::string& m : known->members) {
        if (m != id) members.push_back(m);
        if (m != id && m != self) ++replicas_left;
      }
      if (replicas_left < options_.min_sync_replicas) {
        // Strict: appends wait for it (up to ack-timeout) rather than the
        // set falling below the minimum. Said once a stall.
        if (sync_kept_.insert(id).second) {
          sdk::LogWarn(absl::StrCat(
              "node '", self, "' (primary of epoch ", epoch, ") keeps '", id,
              "' in the sync set though ", why, ": without it ", replicas_left,
              " replica(s) would be left, under "
              "min-sync-replicas ",
              options_.min_sync_replicas, "; appends wait for it ",
              options_.ack_timeout.count() == 0
                  ? std::string("until it is back (ack-timeout 0)")
                  : absl::StrCat("up to ack-timeout ",
                                 options_.ack_timeout.count(), " ms")));
        }
        continue;
      }
      sync_kept_.erase(id);
      absl::StatusOr<etcd::SyncSet> written = write(members);
      if (!written.ok()) return written.status();
      waited.erase(std::find(waited.begin(), waited.end(), id));
      tracker->SetSyncSet(waited);
      sdk::LogWarn(absl::StrCat(
          "node '", self, "' (primary of epoch ", epoch, ") took '", id,
          "' out of the sync set: ", why, "; acknowledging without it",
          slow ? HoldAfterLeave(id) : "", ". Sync set now [",
          absl::StrJoin(written->members, ", "), "] (etcd revision ",
          written->revision, ")"));
      return absl::OkStatus();
    }

    absl::StatusOr<cairn_log_state> log = LogState();
    if (!log.ok()) return log.status();
    for (const std::string& id : options_.sync_set) {
      if (id == self || Contains(known->members, id)) {
        sync_rejoining_.erase(id);
        continue;
      }
      const std::optional<uint64_t> durable = tracker->CountingDurable(id);
      auto rejoining = sync_rejoining_.find(id);
      bool slow = false;
      const std::string why = rejoining == sync_rejoining_.end()
                                  ? ""
                                  : WhyLeaveSyncSet(*tracker, id, &slow);
      if (tracker->DownFor(id) > std::chrono::steady_clock::duration::zero() ||
          !durable.has_value() || !why.empty()) {
        if (rejoining != sync_rejoining_.end()) {
          // Gone again, or slow, before it caught up: stop waiting for it
          // (it is not in etcd's set, so it cannot lead). Slow while
          // connected, that is a leave for rejoin-backoff too.
          sync_rejoining_.erase(rejoining);
          waited.erase(std::find(waited.begin(), waited.end(), id));
          tracker->SetSyncSet(waited);
          if (!why.empty()) {
            sdk::LogWarn(absl::StrCat("node '", self, "' (primary of epoch ",
                                      epoch, ") stopped waiting for '", id,
                                      "' on its way back into the sync set: ",
                                      why, slow ? HoldAfterLeave(id) : ""));
          }
        }
        continue;
      }
      if (rejoining == sync_rejoining_.end()) {
        // Not while rejoin-backoff holds it out; then only once it holds
        // what is committed, so appends do not wait for a long catch-up.
        if (HeldOut(id)) continue;
        if (*durable < log->committed) continue;
        if (!Contains(waited, id)) waited.push_back(id);
        tracker->SetSyncSet(waited);
        // Read after the tracker waits for it: a position acknowledged
        // before that is written by now.
        absl::StatusOr<cairn_log_state> now = LogState();
        if (!now.ok()) return now.status();
        sync_rejoining_[id] = now->written;
        continue;
      }
      if (*durable < rejoining->second) continue;
      std::vector<std::string> members = known->members;
      members.push_back(id);
      absl::StatusOr<etcd::SyncSet> written = write(members);
      if (!written.ok()) return written.status();
      sync_rejoining_.erase(id);
      sync_leaves_[id].rejoined = std::chrono::steady_clock::now();
      sdk::LogInfo(absl::StrCat(
          "node '", self, "' (primary of epoch ", epoch, ") brought '", id,
          "' back into the sync set: it holds every position up to ", *durable,
          " durably. Sync set now [", absl::StrJoin(written->members, ", "),
          "] (etcd revision ", written->revision, ")"));
      return absl::OkStatus();
    }
    return absl::OkStatus();
  }

  // coordinator = etcd, ack = quorum: a primary cut off from its replicas
  // but not from etcd would keep renewing its lease, so nothing would fail
  // over while it can acknowledge nothing. Once it has been connected to
  // fewer counting replicas than a majority needs for a whole lease TTL (a
  // silent replica's connection ends after peer-timeout), it steps down and
  // resigns the leader key; true if it did. The nodes that still reach each
  // other elect one of them (a candidate needs a majority to answer it).
  bool GiveUpWithoutMajority(
      std::optional<std::chrono::steady_clock::time_point>& since) {
    if (options_.ack != AckRule::kQuorum) return false;
    const uint64_t group = options_.peers.size() + 1;
    const uint64_t reached = 1 + counting_connected_.load();
    const auto now = std::chrono::steady_clock::now();
    if (reached * 2 > group) {
      since.reset();
      return false;
    }
    if (!since.has_value()) since = now;
    if (now - *since < options_.lease_ttl) return false;
    since.reset();
    StepDown(absl::StrCat(
        "reaches ", reached, " of the group's ", group,
        " nodes (itself included), no majority, for ",
        options_.lease_ttl.count(),
        "s under ack = quorum: stepping down and giving up the etcd leader "
        "key so a node that reaches a majority can lead"));
    ResignLeaderKey();
    majority_lost_.fetch_add(1);
    return true;
  }

  // coordinator = etcd: takes the leader key and a new epoch in etcd, then
  // runs promote's checks from that epoch; becomes primary if they pass,
  // else gives the key up. `by_operator`: promote asked (its errors say so).
  absl::Status CampaignThisNode(bool by_operator) {
    std::lock_guard<std::mutex> promoting(promote_mutex_);
    if (role_.load() == CAIRN_ROLE_PRIMARY) return absl::OkStatus();
    if (etcd_ == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("node '", options_.node_id, "' is closing"));
    }
    absl::Status s = CheckInSyncSet();
    if (!s.ok()) return s;
    {
      // Not worth an epoch if this node lacks what it knows was committed.
      absl::StatusOr<cairn_log_state> log = LogState();
      if (!log.ok()) return log.status();
      s = CheckNotBehindCommitted(*log);
      if (!s.ok()) return s;
    }
    etcd::SyncCampaign sync{.initial = options_.sync_set};
    absl::StatusOr<etcd::GroupState> won =
        etcd_->Campaign(options_.node_id, options_.lease_ttl,
                        SyncSetInEtcd() ? &sync : nullptr);
    if (!won.ok()) {
      if (!by_operator) return won.status();
      return absl::Status(
          won.status().code(),
          absl::StrCat(
              "promote: node '", options_.node_id,
              "' cannot lead (coordinator = etcd): ", won.status().message(),
              absl::IsFailedPrecondition(won.status())
                  ? "; while its lease lives that node leads (stop "
                    "it, or wait for its lease to expire)"
                  : ""));
    }
    const uint64_t epoch = static_cast<uint64_t>(won->epoch);
    if (SyncSetInEtcd()) {
      // The set this epoch starts with: only its primary changes it.
      std::lock_guard<std::mutex> lock(mutex_);
      etcd_sync_ = sync.result;
    }
    s = TakeOverAt(epoch);
    if (!s.ok()) {
      ResignLeaderKey();
      return s;
    }
    if (!etcd_->IsLeader()) {
      StepDown("lost its etcd lease while taking over: stepping down");
      return absl::AbortedError(absl::StrCat("node '", options_.node_id,
                                             "' lost its etcd lease "
                                             "while becoming primary of epoch ",
                                             epoch));
    }
    return absl::OkStatus();
  }

  // Holding the leader key of etcd epoch `epoch`: fence (record the epoch,
  // stop applying the old primary's frames), check as promote does, with
  // each peer adopting the epoch before it answers, and become primary.
  absl::Status TakeOverAt(uint64_t epoch) {
    ShutdownConnections(/*shippers_only=*/false);
    std::lock_guard<std::mutex> applying(apply_mutex_);
    absl::StatusOr<bool> learnt = coordinator_->Learn(epoch, options_.node_id);
    if (!learnt.ok()) return learnt.status();
    GroupState state = coordinator_->Current();
    if (state.epoch != epoch || state.primary != options_.node_id) {
      return absl::FailedPreconditionError(
          absl::StrCat("node '", options_.node_id, "' won epoch ", epoch,
                       " in etcd but has seen epoch ", state.epoch,
                       " (primary '", state.primary, "')"));
    }
    absl::StatusOr<cairn_log_state> log = LogState();
    if (!log.ok()) return log.status();
    absl::Status s = CheckNotBehindCommitted(*log);
    if (!s.ok()) return s;
    s = CheckPeerPositions(*log, epoch, /*fenced=*/true);
    if (!s.ok()) return s;
    WritePause pause(host_);
    if (!pause.status().ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot pause writes to take over: ", pause.status().message()));
    }
    s = BecomePrimary(/*paused=*/true, epoch);
    if (!s.ok()) return s;
    host_.RoleChanged(CAIRN_ROLE_PRIMARY, epoch);
    return absl::OkStatus();
  }

  // ---- Primary: one shipper per replica ----

  void ShipLoop(const Peer& peer, uint64_t epoch) {
    std::string last_error;
    while (!Stopping() && IsPrimaryOf(epoch)) {
      absl::Status s = ShipOnce(peer, epoch);
      if (!s.ok() && std::string(s.message()) != last_error) {
        last_error = std::string(s.message());
        sdk::LogWarn(
            absl::StrCat("shipping to '", peer.node_id, "': ", last_error));
      }
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, options_.reconnect_interval,
                     [&] { return stopping_; });
    }
  }

  absl::Status ShipOnce(const Peer& peer, uint64_t epoch) {
    const std::string name =
        absl::StrCat("replica '", peer.node_id, "' at ", peer.address.host, ":",
                     peer.address.port);
    tcp::socket socket(io_);
    absl::Status connected = ConnectWithin(
        socket, peer.address.host, peer.address.port, options_.peer_timeout,
        [this] { return Stopping(); }, name);
    if (absl::IsDeadlineExceeded(connected)) peer_timeouts_.fetch_add(1);
    if (!connected.ok()) return connected;
    auto connection = std::make_shared<Connection>(
        std::move(socket), options_.max_frame_size, name);
    Register(connection, /*shipper=*/true);
    absl::Status s = SecureAsClient(*connection, peer.address.host);
    if (s.ok()) s = Ship(*connection, peer, epoch);
    connection->Shutdown();
    Unregister(connection);
    return s;
  }

  // With TLS: the handshake as the side that dialed `host` (a name or
  // address from 'peers', which the peer's certificate must carry).
  absl::Status SecureAsClient(Connection& connection, const std::string& host) {
    if (tls_ == nullptr) return absl::OkStatus();
    absl::Status s = connection.StartTls(*tls_, /*client=*/true, host);
    if (absl::IsUnauthenticated(s)) tls_failures_.fetch_add(1);
    return s;
  }

  // With TLS, on a connection a peer dialed: the peer's certificate must
  // name the address 'peers' gives for `node`, the node its first frame
  // says it is. Any certificate of the CA passes the handshake (a client's
  // too, if one CA signs both), so without this a holder of one could act
  // as primary. Refuses (REASON_NOT_AUTHORIZED) otherwise.
  absl::Status CheckPeerIdentity(Connection& connection,
                                 const std::string& node) {
    if (tls_ == nullptr) return absl::OkStatus();
    const Peer* peer = nullptr;
    for (const Peer& p : options_.peers) {
      if (p.node_id == node) peer = &p;
    }
    std::string why;
    if (peer == nullptr) {
      why = absl::StrCat(connection.peer_name(), " says it is node '", node,
                         "', which is not in option 'peers' of node '",
                         options_.node_id, "'");
    } else if (!connection.PeerCertificateNames(peer->address.host)) {
      why = absl::StrCat(connection.peer_name(), " says it is node '", node,
                         "', but its certificate does not name ",
                         peer->address.host,
                         " (that node's address in option 'peers')");
    } else {
      return absl::OkStatus();
    }
    tls_failures_.fetch_add(1);
    absl::Status refused =
        Refuse(connection, v1::Refusal::REASON_NOT_AUTHORIZED, why);
    return absl::UnauthenticatedError(refused.message());
  }

  absl::Status Refuse(Connection& connection, v1::Refusal::Reason reason,
                      const std::string& message) {
    SendRefusal(connection, reason, message, /*with_group_state=*/true);
    return absl::FailedPreconditionError(message);
  }

  // Sends a refusal and ends the session. With `with_group_state` the frame
  // names this group's epoch and primary (a peer of the group adopts them);
  // a peer of another group is told neither.
  void SendRefusal(Connection& connection, v1::Refusal::Reason reason,
                   const std::string& message, bool with_group_state) {
    frames_refused_.fetch_add(1);
    v1::Frame frame;
    v1::Refusal* refusal = frame.mutable_refusal();
    refusal->set_reason(reason);
    if (with_group_state) {
      GroupState state = coordinator_->Current();
      refusal->set_epoch(state.epoch);
      refusal->set_primary(state.primary);
    }
    refusal->set_message(message);
    (void)connection.Write(frame);
    connection.Shutdown();
  }

  // A refusal from the other side: adopt a newer epoch; the error says why.
  absl::Status Refused(const v1::Refusal& refusal, const std::string& from) {
    if (refusal.reason() == v1::Refusal::REASON_STALE_EPOCH &&
        refusal.epoch() > coordinator_->Current().epoch) {
      absl::Status s = Adopt(refusal.epoch(), refusal.primary());
      if (!s.ok()) return s;
    }
    return absl::FailedPreconditionError(
        absl::StrCat(from, " refused: ", refusal.message()));
  }

  // This node's hello: `epoch` (the one it leads or follows) and its log.
  v1::Frame HelloFrame(uint64_t epoch, const cairn_log_state& log) {
    v1::Frame frame;
    v1::Hello* hello = frame.mutable_hello();
    hello->set_node_id(options_.node_id);
    hello->set_epoch(epoch);
    hello->set_log_epoch(log.epoch);
    hello->set_durable_policy(StorageSyncs() ? v1::DURABLE_POLICY_SYNCS
                                             : v1::DURABLE_POLICY_NEVER);
    hello->set_written(log.written);
    hello->set_durable(log.durable);
    hello->set_committed(log.committed);
    hello->set_first_position(log.first_position);
    hello->set_coordinator(OwnCoordinator());
    if (options_.coordinator == CoordinatorKind::kEtcd) {
      hello->set_etcd_group(options_.etcd_group);
    }
    return frame;
  }

  v1::Coordinator OwnCoordinator() const {
    return options_.coordinator == CoordinatorKind::kEtcd
               ? v1::COORDINATOR_ETCD
               : v1::COORDINATOR_STATIC;
  }

  // Why `peer` (whose hello or query named `coordinator` and `etcd_group`)
  // is not of this node's group, or "" if it is (or predates the fields).
  std::string OtherGroup(v1::Coordinator coordinator,
                         const std::string& etcd_group,
                         const std::string& peer) const {
    if (coordinator == v1::COORDINATOR_UNSPECIFIED) return "";
    auto name = [](v1::Coordinator c) {
      return c == v1::COORDINATOR_ETCD ? "etcd" : "static";
    };
    if (coordinator != OwnCoordinator()) {
      return absl::StrCat(
          peer, " uses coordinator = ", name(coordinator), " but node '",
          options_.node_id, "' uses coordinator = ", name(OwnCoordinator()),
          ": the nodes of a group must share one coordinator; check both "
          "site files");
    }
    if (coordinator == v1::COORDINATOR_ETCD &&
        etcd_group != options_.etcd_group) {
      return absl::StrCat(peer, " is in etcd group '", etcd_group,
                          "' but node '", options_.node_id,
                          "' is in etcd group '", options_.etcd_group,
                          "': nodes of one group share option etcd-group; "
                          "check both site files");
    }
    return "";
  }

  // Refuses a peer of another group: says nothing of this group's epoch
  // or primary, and logs why as an error (a site-file mistake).
  absl::Status RefuseOtherGroup(Connection& connection,
                                const std::string& why) {
    bool first_time;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      first_time = other_groups_logged_.insert(why).second;
    }
    // Once for each reason: the peer dials again every reconnect-interval.
    if (first_time) {
      sdk::LogError(absl::StrCat("node '", options_.node_id,
                                 "' refused a session: ", why));
    }
    SendRefusal(connection, v1::Refusal::REASON_OTHER_GROUP, why,
                /*with_group_state=*/false);
    // Unavailable: said once above, not again by the session's warning on
    // every dial.
    return absl::UnavailableError(why);
  }

  absl::Status Ship(Connection& connection, const Peer& peer, uint64_t epoch) {
    absl::StatusOr<cairn_log_state> log = LogState();
    if (!log.ok()) return log.status();
    absl::Status s = connection.Write(HelloFrame(epoch, *log));
    if (!s.ok()) return s;
    absl::StatusOr<v1::Frame> reply = connection.Read();
    if (!reply.ok()) return reply.status();
    if (reply->has_refusal()) {
      return Refused(reply->refusal(), connection.peer_name());
    }
    if (!reply->has_hello()) {
      return Refuse(connection, v1::Refusal::REASON_PROTOCOL,
                    absl::StrCat("expected hello from ", connection.peer_name(),
                                 ", got ", FrameName(*reply)));
    }
    const v1::Hello& theirs = reply->hello();
    if (theirs.node_id() != peer.node_id) {
      return Refuse(connection, v1::Refusal::REASON_PROTOCOL,
                    absl::StrCat(connection.peer_name(), " says it is node '",
                                 theirs.node_id(), "'; check option 'peers'"));
    }
    if (std::string other = OtherGroup(
            theirs.coordinator(), theirs.etcd_group(), connection.peer_name());
        !other.empty()) {
      return RefuseOtherGroup(connection, other);
    }
    if (theirs.epoch() > epoch) {
      // It would have refused us; a newer primary will reach this node.
      return absl::FailedPreconditionError(
          absl::StrCat(connection.peer_name(), " has seen epoch ",
                       theirs.epoch(), ", newer than this primary's ", epoch));
    }
    // Where the replica's log and this one agree: within one epoch only its
    // primary wrote, so up to the replica's end; in an older epoch, up to
    // that epoch's end here (records past it were never this log's).
    uint64_t agree = 0;
    if (theirs.log_epoch() > log->epoch) {
      return Refuse(
          connection, v1::Refusal::REASON_CANNOT_FOLLOW,
          absl::StrCat(connection.peer_name(), " holds epoch ",
                       theirs.log_epoch(), ", newer than epoch ", log->epoch,
                       " of primary '", options_.node_id, "'"));
    }
    if (theirs.log_epoch() == log->epoch) {
      if (theirs.written() > log->written) {
        return Refuse(
            connection, v1::Refusal::REASON_CANNOT_FOLLOW,
            absl::StrCat(connection.peer_name(), " holds positions up to ",
                         theirs.written(), " of epoch ", log->epoch,
                         ", primary '", options_.node_id, "' only up to ",
                         log->written,
                         ": the primary lost records; promote that replica"));
      }
      agree = theirs.written();
    } else {
      absl::StatusOr<uint64_t> end = EpochEnd(theirs.log_epoch());
      if (!end.ok()) return end.status();
      agree = std::min(theirs.written(), *end);
    }
    if (agree < log->written &&
        (log->first_position == 0 || agree + 1 < log->first_position)) {
      return Refuse(
          connection, v1::Refusal::REASON_CANNOT_FOLLOW,
          absl::StrCat(connection.peer_name(), " needs records from position ",
                       agree + 1, " but primary '", options_.node_id,
                       "' holds only from ", log->first_position,
                       " (retention dropped the rest); seed the replica from "
                       "a backup (cairn backup / cairn restore)"));
    }
    v1::Frame start;
    start.mutable_start()->set_epoch(epoch);
    start.mutable_start()->set_from_position(agree + 1);
    s = connection.Write(start);
    if (!s.ok()) return s;

    std::shared_ptr<AckTracker> tracker;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tracker = tracker_;
    }
    if (tracker == nullptr) return absl::OkStatus();
    const bool counts = theirs.durable_policy() == v1::DURABLE_POLICY_SYNCS;
    tracker->Update(peer.node_id, std::min(theirs.durable(), agree), counts);
    tracker->SetConnected(peer.node_id, true);
    replicas_connected_.fetch_add(1);
    if (counts) counting_connected_.fetch_add(1);

    // Acks arrive on their own thread.
    std::atomic<bool> reader_done{false};
    uint64_t acks = 0;  // guarded by mutex_: acks received (one per frame)
    absl::Status reader_status;
    std::thread reader([&] {
      while (true) {
        absl::StatusOr<v1::Frame> frame = connection.Read();
        if (!frame.ok()) {
          reader_status = frame.status();
          break;
        }
        if (frame->has_ack()) {
          tracker->Update(peer.node_id, frame->ack().durable(), counts);
          {
            std::lock_guard<std::mutex> lock(mutex_);
            ++acks;
          }
          wake_.notify_all();
          continue;
        }
        if (frame->has_refusal()) {
          reader_status = Refused(frame->refusal(), connection.peer_name());
        } else {
          reader_status =
              Refuse(connection, v1::Refusal::REASON_PROTOCOL,
                     absl::StrCat("expected ack from ", connection.peer_name(),
                                  ", got ", FrameName(*frame)));
        }
        break;
      }
      connection.Shutdown();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        reader_done = true;
      }
      wake_.notify_all();
    });
    s = SendLoop(connection, epoch, agree + 1, reader_done, acks);
    connection.Shutdown();
    reader.join();
    tracker->SetConnected(peer.node_id, false);
    replicas_connected_.fetch_sub(1);
    if (counts) counting_connected_.fetch_sub(1);
    return s.ok() ? reader_status : s;
  }

  // Ships records as they are written; when there is nothing new, an empty
  // Records frame (the committed and written watermarks) at least every
  // heartbeat-interval, which the replica acks: both sides see traffic, so
  // the watchdog can tell a silent peer from an idle one.
  //
  // At most kFramesInFlight frames are unacknowledged (`acks`, guarded by
  // mutex_, counts the replica's acks: one per frame). A replica applies a
  // frame with one sync, so while it syncs, what the writers add gathers
  // here and goes out as one frame: its group commit. Without the bound
  // the shipper sent each batch as it was written, and the replica synced
  // once per batch.
  static constexpr uint64_t kFramesInFlight = 2;
  absl::Status SendLoop(Connection& connection, uint64_t epoch, uint64_t next,
                        const std::atomic<bool>& reader_done,
                        const uint64_t& acks) {
    using Clock = std::chrono::steady_clock;
    uint64_t committed_sent = std::numeric_limits<uint64_t>::max();
    Clock::time_point last_sent = Clock::now();
    uint64_t sent = 0;  // frames
    while (true) {
      uint64_t generation = 0;
      uint64_t acked = 0;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_ || reader_done) return absl::OkStatus();
        generation = generation_;
        acked = acks;
      }
      if (!IsPrimaryOf(epoch)) return absl::OkStatus();
      if (sent - acked >= kFramesInFlight) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait_for(lock, options_.heartbeat_interval, [&] {
          return stopping_ || reader_done || acks != acked;
        });
        continue;
      }
      absl::StatusOr<cairn_log_state> log = LogState();
      if (!log.ok()) return log.status();
      if (log->written >= next) {
        absl::StatusOr<uint64_t> last =
            SendRecords(connection, epoch, next, *log);
        if (!last.ok()) return last.status();
        if (*last >= next) ++sent;
        next = *last + 1;
        committed_sent = log->committed;
        last_sent = Clock::now();
        continue;
      }
      if (log->committed != committed_sent ||
          Clock::now() - last_sent >= options_.heartbeat_interval) {
        v1::Frame frame;
        v1::Records* records = frame.mutable_records();
        records->set_epoch(epoch);
        records->set_committed(log->committed);
        records->set_written(log->written);
        absl::Status s = connection.Write(frame);
        if (!s.ok()) return s;
        ++sent;
        committed_sent = log->committed;
        last_sent = Clock::now();
        continue;  // the window may be full now
      }
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, options_.heartbeat_interval, [&] {
        return stopping_ || reader_done || generation_ != generation;
      });
    }
  }

  // Ships records from `next` on, whole batches, up to the frame limits.
  // Returns the last position sent.
  absl::StatusOr<uint64_t> SendRecords(Connection& connection, uint64_t epoch,
                                       uint64_t next,
                                       const cairn_log_state& log) {
    v1::Frame frame;
    v1::Records* records = frame.mutable_records();
    records->set_epoch(epoch);
    records->set_committed(log.committed);
    records->set_written(log.written);
    struct Reading {
      v1::Records* records;
      uint64_t max_records;
      uint64_t max_bytes;
      uint64_t bytes = 0;
      uint64_t last = 0;
    } reading{records, options_.max_batch_records, options_.max_frame_size / 2};
    CallError e;
    cairn_status code = st_->read_log(
        storage_, next - 1, std::numeric_limits<uint64_t>::max(),
        [](void* context, const cairn_log_record* record) -> int {
          auto* r = static_cast<Reading*>(context);
          log::v1::LogRecord* proto = r->records->add_records();
          ToProto(OwnedLogRecord(*record), proto);
          r->bytes += proto->ByteSizeLong() + 8;
          r->last = record->position;
          const bool batch_ends = record->kind != CAIRN_RECORD_EVENT ||
                                  record->batch_index + 1 >= record->batch_size;
          return batch_ends &&
                         (static_cast<uint64_t>(r->records->records_size()) >=
                              r->max_records ||
                          r->bytes >= r->max_bytes)
                     ? 1
                     : 0;
        },
        &reading, &e.error);
    absl::Status s = StorageStatus(
        code, e, absl::StrCat("storage read_log after position ", next - 1));
    if (!s.ok()) return s;
    if (records->records_size() == 0) return next - 1;
    s = connection.Write(frame);
    if (!s.ok()) return s;
    records_shipped_.fetch_add(records->records_size());
    return reading.last;
  }

  // ---- Every node: the listener and the replica side ----

  void AcceptLoop() {
    while (!Stopping()) {
      tcp::socket socket(io_);
      boost::system::error_code error;
      acceptor_->accept(socket, error);
      if (error) {
        if (Stopping()) return;
        sdk::LogWarn(absl::StrCat("accept on ", options_.listen.host, ":",
                                  listen_port_, ": ", error.message()));
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait_for(lock, options_.reconnect_interval,
                       [&] { return stopping_; });
        continue;
      }
      std::string name = "a peer";
      boost::system::error_code ignored;
      tcp::endpoint remote = socket.remote_endpoint(ignored);
      if (!ignored) {
        name = absl::StrCat("peer at ", remote.address().to_string(), ":",
                            remote.port());
      }
      auto connection = std::make_shared<Connection>(
          std::move(socket), options_.max_frame_size, name);
      Register(connection, /*shipper=*/false);
      const bool spawned = Spawn([this, connection] {
        absl::Status s = absl::OkStatus();
        if (tls_ != nullptr) {
          s = connection->StartTls(*tls_, /*client=*/false, "");
          if (absl::IsUnauthenticated(s)) tls_failures_.fetch_add(1);
        }
        if (s.ok()) s = Serve(*connection);
        if (!s.ok() && !absl::IsUnavailable(s)) {
          sdk::LogWarn(absl::StrCat("session with ", connection->peer_name(),
                                    ": ", s.message()));
        }
        connection->Shutdown();
        Unregister(connection);
      });
      if (!spawned) {
        connection->Shutdown();
        Unregister(connection);
      }
    }
  }

  // Decides whether `node` may lead epoch `epoch` here; adopts a newer
  // epoch (stepping down if this node was primary).
  absl::Status AcceptPrimary(Connection& connection, const std::string& node,
                             uint64_t epoch) {
    GroupState state = coordinator_->Current();
    if (epoch < state.epoch) {
      return Refuse(
          connection, v1::Refusal::REASON_STALE_EPOCH,
          absl::StrCat("node '", options_.node_id, "' has seen epoch ",
                       state.epoch, " (primary '", state.primary, "'); '", node,
                       "' offers older epoch ", epoch));
    }
    if (epoch == state.epoch && !state.primary.empty() &&
        state.primary != node) {
      return Refuse(connection, v1::Refusal::REASON_NOT_PRIMARY,
                    absl::StrCat("epoch ", epoch, " is led by '", state.primary,
                                 "', not '", node, "'"));
    }
    return Adopt(epoch, node);
  }

  absl::Status Serve(Connection& connection) {
    absl::StatusOr<v1::Frame> first = connection.Read();
    if (!first.ok()) {
      if (absl::IsInvalidArgument(first.status())) frames_refused_.fetch_add(1);
      return first.status();
    }
    const std::string claimed = first->has_position_query()
                                    ? first->position_query().node_id()
                                    : first->hello().node_id();
    if (first->has_position_query() || first->has_hello()) {
      absl::Status s = CheckPeerIdentity(connection, claimed);
      if (!s.ok()) return s;
      // Before anything adopts an epoch the peer names: another group's
      // epochs mean nothing here. The peer is named by its id only: the
      // message is logged once, so it must not name each dial's port.
      const std::string peer = absl::StrCat("node '", claimed, "'");
      const std::string other =
          first->has_position_query()
              ? OtherGroup(first->position_query().coordinator(),
                           first->position_query().etcd_group(), peer)
              : OtherGroup(first->hello().coordinator(),
                           first->hello().etcd_group(), peer);
      if (!other.empty()) return RefuseOtherGroup(connection, other);
    }
    if (first->has_position_query()) {
      // A node about to be promoted asks where this log ends; whatever this
      // node's role, it answers. Under the static coordinator it adopts
      // nothing; under etcd the asker won the query's epoch in etcd, so
      // this node adopts it and ends its sessions with the old primary
      // before it reads its log (the answer then holds all it will ever
      // hold of older epochs).
      const bool fenced =
          options_.coordinator == CoordinatorKind::kEtcd &&
          FenceForCandidate(connection, first->position_query());
      std::unique_lock<std::mutex> applying(apply_mutex_, std::defer_lock);
      if (fenced) applying.lock();
      absl::StatusOr<cairn_log_state> log = LogState();
      if (!log.ok()) return log.status();
      return connection.Write(HelloFrame(coordinator_->Current().epoch, *log));
    }
    if (!first->has_hello()) {
      return Refuse(connection, v1::Refusal::REASON_PROTOCOL,
                    absl::StrCat("expected hello from ", connection.peer_name(),
                                 ", got ", FrameName(*first)));
    }
    const v1::Hello theirs = first->hello();
    absl::Status s =
        AcceptPrimary(connection, theirs.node_id(), theirs.epoch());
    if (!s.ok()) return s;
    // One primary session at a time: a newer one shuts the older one down.
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& [raw, entry] : connections_) {
        if (!entry.shipper && raw != &connection && entry.serving) {
          entry.connection->Shutdown();
        }
      }
    }
    std::lock_guard<std::mutex> applying(apply_mutex_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = connections_.find(&connection);
      if (it != connections_.end()) it->second.serving = true;
    }
    GroupState state = coordinator_->Current();
    if (state.epoch != theirs.epoch() || state.primary != theirs.node_id() ||
        role_.load() == CAIRN_ROLE_PRIMARY) {
      return Refuse(
          connection, v1::Refusal::REASON_STALE_EPOCH,
          absl::StrCat("node '", options_.node_id, "' moved on to epoch ",
                       state.epoch, " (primary '", state.primary, "')"));
    }
    absl::StatusOr<cairn_log_state> log = LogState();
    if (!log.ok()) return log.status();
    s = connection.Write(HelloFrame(state.epoch, *log));
    if (!s.ok()) return s;
    absl::StatusOr<v1::Frame> start = connection.Read();
    if (!start.ok()) return start.status();
    if (!start->has_start() || start->start().epoch() != theirs.epoch() ||
        start->start().from_position() == 0 ||
        start->start().from_position() - 1 > log->written) {
      return Refuse(
          connection, v1::Refusal::REASON_PROTOCOL,
          absl::StrCat(
              "expected start of epoch ", theirs.epoch(),
              " from a position in 1..", log->written + 1, ", got ",
              FrameName(*start),
              start->has_start()
                  ? absl::StrCat(" of epoch ", start->start().epoch(), " from ",
                                 start->start().from_position())
                  : ""));
    }
    const uint64_t keep = start->start().from_position() - 1;
    if (keep < log->written) {
      s = Truncate(keep, *log, theirs.node_id());
      if (!s.ok()) {
        return Refuse(connection, v1::Refusal::REASON_CANNOT_FOLLOW,
                      std::string(s.message()));
      }
    }
    return Follow(connection, theirs.epoch());
  }

  // coordinator = etcd: a candidate asks where this log ends. If etcd's
  // state is at the query's epoch or beyond and this node is behind it,
  // adopt etcd's state (deposing this node if it was primary). If this
  // node now follows the query's epoch and asker, shut down every session
  // with a primary and return true: the caller waits for any frame being
  // applied before it answers. A query etcd does not back fences nothing
  // (its answer then shows another epoch, which the asker does not count).
  bool FenceForCandidate(Connection& connection,
                         const v1::PositionQuery& query) {
    auto failed = [&](absl::string_view what) {
      sdk::LogWarn(absl::StrCat("position query of '", query.node_id(),
                                "' for epoch ", query.epoch(), ": ", what));
    };
    if (query.epoch() > coordinator_->Current().epoch) {
      absl::StatusOr<etcd::GroupState> state = etcd_->Current();
      if (!state.ok()) {
        failed(state.status().message());
        return false;
      }
      if (state->epoch > 0 &&
          static_cast<uint64_t>(state->epoch) >= query.epoch() &&
          !state->primary.empty()) {
        absl::Status s =
            Adopt(static_cast<uint64_t>(state->epoch), state->primary);
        if (!s.ok()) failed(s.message());
      }
    }
    GroupState now = coordinator_->Current();
    if (now.epoch != query.epoch() || now.primary != query.node_id()) {
      return false;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [raw, entry] : connections_) {
      if (!entry.shipper && raw != &connection && entry.serving) {
        entry.connection->Shutdown();
      }
    }
    return true;
  }

  absl::Status Truncate(uint64_t keep, const cairn_log_state& log,
                        const std::string& primary) {
    const uint32_t flags = keep < log.committed ? CAIRN_TRUNCATE_COMMITTED : 0;
    WritePause pause(host_);
    if (!pause.status().ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot pause writes to truncate: ", pause.status().message()));
    }
    CallError e;
    absl::Status s =
        StorageStatus(st_->truncate_after(storage_, keep, flags, &e.error), e,
                      absl::StrCat("storage truncate_after(", keep, ")"));
    if (!s.ok()) return s;
    truncations_.fetch_add(1);
    sdk::LogWarn(absl::StrCat(
        "node '", options_.node_id, "' dropped positions ", keep + 1, "..",
        log.written, " (committed here up to ", log.committed, "): primary '",
        primary, "' never had them"));
    host_.RoleChanged(CAIRN_ROLE_REPLICA, coordinator_->Current().epoch);
    return absl::OkStatus();
  }

  // Applies the primary's frames until the connection ends.
  absl::Status Follow(Connection& connection, uint64_t epoch) {
    while (true) {
      absl::StatusOr<v1::Frame> frame = connection.Read();
      if (!frame.ok()) {
        if (absl::IsInvalidArgument(frame.status())) {
          frames_refused_.fetch_add(1);
        }
        return frame.status();
      }
      if (frame->has_refusal()) {
        return Refused(frame->refusal(), connection.peer_name());
      }
      if (!frame->has_records()) {
        return Refuse(
            connection, v1::Refusal::REASON_PROTOCOL,
            absl::StrCat("expected records from ", connection.peer_name(),
                         ", got ", FrameName(*frame)));
      }
      const v1::Records& records = frame->records();
      const uint64_t current = coordinator_->Current().epoch;
      if (records.epoch() != epoch || current != epoch) {
        return Refuse(connection, v1::Refusal::REASON_STALE_EPOCH,
                      absl::StrCat("records of epoch ", records.epoch(),
                                   " refused: node '", options_.node_id,
                                   "' follows epoch ", current));
      }
      absl::Status s = Apply(records);
      if (!s.ok()) {
        return Refuse(connection, v1::Refusal::REASON_PROTOCOL,
                      std::string(s.message()));
      }
      absl::StatusOr<cairn_log_state> log = LogState();
      if (!log.ok()) return log.status();
      const uint64_t commit = std::min(records.committed(), log->durable);
      if (commit > log->committed) {
        CallError e;
        s = StorageStatus(st_->set_committed(storage_, commit, &e.error), e,
                          absl::StrCat("storage set_committed(", commit, ")"));
        if (!s.ok()) return s;
      }
      uint64_t seen = primary_committed_seen_.load();
      while (records.committed() > seen &&
             !primary_committed_seen_.compare_exchange_weak(
                 seen, records.committed())) {
      }
      v1::Frame ack;
      ack.mutable_ack()->set_epoch(epoch);
      ack.mutable_ack()->set_written(log->written);
      ack.mutable_ack()->set_durable(log->durable);
      s = connection.Write(ack);
      if (!s.ok()) return s;
    }
  }

  absl::Status Apply(const v1::Records& frame) {
    if (frame.records_size() == 0) return absl::OkStatus();
    std::vector<OwnedLogRecord> records;
    records.reserve(frame.records_size());
    for (const log::v1::LogRecord& proto : frame.records()) {
      absl::StatusOr<OwnedLogRecord> record = FromProto(proto);
      if (!record.ok()) return record.status();
      records.push_back(std::move(*record));
    }
    std::vector<const cairn_log_record*> views = LogRecordViews(records);
    CallError e;
    absl::Status s = StorageStatus(
        st_->apply_log(storage_, views.data(), views.size(), &e.error), e,
        absl::StrCat("storage apply_log of positions ",
                     records.front().position, "..", records.back().position));
    if (!s.ok()) return s;
    records_applied_.fetch_add(records.size());
    return absl::OkStatus();
  }

  const LogshipOptions options_;
  const cairn_storage_api* const st_;
  cairn_storage* const storage_;
  const HostCallbacks host_;
  const std::unique_ptr<StaticCoordinator> coordinator_;

  asio::io_context io_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  // Mutual TLS between nodes (options tls*), or null: plain TCP.
  std::unique_ptr<asio::ssl::context> tls_;
  uint16_t listen_port_ = 0;
  std::thread listener_;
  std::thread watchdog_;

  std::atomic<uint32_t> role_{CAIRN_ROLE_REPLICA};
  std::mutex promote_mutex_;
  // The peers the last take-over's position query did not reach (guarded
  // by promote_mutex_).
  std::vector<std::string> unanswered_;
  std::mutex apply_mutex_;  // one primary session applies at a time

  std::mutex mutex_;  // guards what follows
  std::condition_variable wake_;
  bool stopping_ = false;
  uint64_t generation_ = 0;  // bumped by replicate: new records to ship
  std::shared_ptr<AckTracker> tracker_;  // primary only
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Worker> threads_;
  struct ConnectionEntry {
    std::shared_ptr<Connection> connection;
    bool shipper = false;
    bool serving = false;
  };
  std::map<const Connection*, ConnectionEntry> connections_;

  std::atomic<uint64_t> records_shipped_{0};
  std::atomic<uint64_t> records_applied_{0};
  std::atomic<uint64_t> frames_refused_{0};
  // Connections the watchdog ended and connects that got no answer, each
  // after peer-timeout.
  std::atomic<uint64_t> peer_timeouts_{0};
  // TLS handshakes that failed and peers refused for their certificate.
  std::atomic<uint64_t> tls_failures_{0};
  // Times this primary stepped down for want of a majority (etcd, quorum).
  std::atomic<uint64_t> majority_lost_{0};
  std::atomic<uint64_t> truncations_{0};
  std::atomic<uint64_t> replicas_connected_{0};
  // Of those, the ones whose durable position counts toward an ack.
  std::atomic<uint64_t> counting_connected_{0};
  std::atomic<uint64_t> primary_committed_seen_{0};
  // The epoch this node leads; 0 while it is not primary (set and cleared
  // with role_ under mutex_, so two nodes reporting one epoch would be two
  // primaries of it).
  std::atomic<uint64_t> led_epoch_{0};
  std::atomic<bool> host_ready_{false};  // the host asked role() after open

  // coordinator = etcd only. Declared last: destroyed first, so its threads
  // (watch, lease renewal) end while the members they use still live.
  bool elector_woken_ = false;  // guarded by mutex_
  std::string etcd_leader_;     // guarded by mutex_: leader key, last read
  // ack = sync: the sync set in etcd as this node last read or wrote it
  // (revision 0: none read yet; the site's sync-set applies).
  etcd::SyncSet etcd_sync_;  // guarded by mutex_
  // The state in etcd names another ack rule than this node's, and the
  // epoch that was last said for (both written by the watcher thread).
  std::atomic<bool> ack_rule_mismatch_{false};
  int64_t ack_rule_warned_epoch_ = -1;
  // Why peers of another group were refused, each logged once (mutex_).
  std::set<std::string> other_groups_logged_;
  // Members kept in the sync set by min-sync-replicas though due to leave
  // (each logged once). Elector thread only.
  std::set<std::string> sync_kept_;
  // Each member's leaves in a row (rejoin-backoff); cleared with
  // sync_rejoining_. Elector thread only.
  struct SyncLeaves {
    int in_a_row = 0;
    std::chrono::steady_clock::time_point rejoined{};  // last written back
    std::chrono::steady_clock::time_point held_until{};
  };
  std::map<std::string, SyncLeaves> sync_leaves_;
  // Primary, elector thread only: configured members being brought back,
  // each with the position it must hold durably before it is written back
  // into the set.
  std::map<std::string, uint64_t> sync_rejoining_;
  uint64_t sync_rejoining_epoch_ = 0;  // the epoch those were waited in
  std::atomic<uint64_t> sync_set_changes_{0};
  std::atomic<uint64_t> sync_rejoins_held_{0};  // holds by rejoin-backoff
  std::thread elector_;
  std::unique_ptr<etcd::EtcdCoordinator> etcd_;
};

}  // namespace cairn::logship

namespace {
const char* const kCoordinators[] = {"static", "etcd", nullptr};
const char* const kRoles[] = {"primary", "replica", nullptr};
const char* const kDurablePolicies[] = {"auto", "syncs", "never", nullptr};
const char* const kTlsModes[] = {"auto", "on", "off", nullptr};
}  // namespace

CAIRN_REPLICATION_PLUGIN(
    cairn::logship::Logship, "logship", "0.1.0",
    "ships the ordered log to replicas over TCP (async, sync or quorum acks)",
    CAIRN_CAP_MULTI_NODE | CAIRN_CAP_APPEND_MAY_BLOCK,
    cairn::sdk::OptionDesc("node-id", CAIRN_OPT_STRING, nullptr,
                           "this node's id in the group ([a-z0-9][a-z0-9-]*)",
                           nullptr, CAIRN_OPT_REQUIRED),
    cairn::sdk::OptionDesc(
        "listen", CAIRN_OPT_STRING, nullptr,
        "host:port this node accepts the primary's connection on", nullptr,
        CAIRN_OPT_REQUIRED),
    cairn::sdk::OptionDesc("peers", CAIRN_OPT_STRING, "",
                           "the group: id=host:port,... (this node's entry is "
                           "skipped)"),
    cairn::sdk::OptionDesc(
        "coordinator", CAIRN_OPT_ENUM, "static",
        "who decides the primary: static (roles from the site "
        "file and promote) or etcd (elected through etcd, automatic "
        "failover)",
        kCoordinators),
    cairn::sdk::OptionDesc(
        "etcd-endpoints", CAIRN_OPT_STRING, "",
        "coordinator = etcd: host:port,... of the etcd members' client URLs"),
    cairn::sdk::OptionDesc(
        "etcd-group", CAIRN_OPT_STRING, "cairn",
        "coordinator = etcd: the group's name ([A-Za-z0-9._-]+); its keys "
        "live under /cairn/<group>/"),
    cairn::sdk::OptionDesc(
        "lease-ttl", CAIRN_OPT_DURATION, "5s",
        "coordinator = etcd: TTL of this node's etcd leases (whole seconds, "
        "2s..300s); a primary that stops renewing is replaced after it"),
    cairn::sdk::OptionDesc(
        "etcd-timeout", CAIRN_OPT_DURATION, "1s",
        "coordinator = etcd: bound on each call to one etcd member "
        "(50ms..lease-ttl)"),
    cairn::sdk::OptionDesc(
        "etcd-tls-ca-file", CAIRN_OPT_PATH, nullptr,
        "coordinator = etcd: PEM CA of the etcd members' certificates; set, "
        "etcd is reached over HTTPS and each member's certificate must name "
        "its host"),
    cairn::sdk::OptionDesc(
        "etcd-tls-cert-file", CAIRN_OPT_PATH, nullptr,
        "coordinator = etcd: PEM client certificate for members started "
        "with --client-cert-auth (with etcd-tls-key-file)"),
    cairn::sdk::OptionDesc(
        "etcd-tls-key-file", CAIRN_OPT_PATH, nullptr,
        "coordinator = etcd: PEM private key of etcd-tls-cert-file (mode "
        "600, owned by the process's user)"),
    cairn::sdk::OptionDesc(
        "role", CAIRN_OPT_ENUM, "replica",
        "static coordinator: this node's role when the state "
        "folder records no newer epoch (ignored with coordinator = etcd)",
        kRoles),
    cairn::sdk::OptionDesc(
        "ack", CAIRN_OPT_ENUM, "quorum",
        "when an append is acknowledged: async (primary has it), "
        "sync (every sync-set member has it durable), quorum (a "
        "majority including the primary)",
        cairn::logship::kAckRuleNames),
    cairn::sdk::OptionDesc(
        "sync-set", CAIRN_OPT_STRING, "",
        "ack = sync: comma-separated node ids that must hold an "
        "append durably before it is acknowledged"),
    cairn::sdk::OptionDesc(
        "client-addresses", CAIRN_OPT_STRING, "",
        "id=host:port,... of each node's server, for leader() "
        "(clients are sent there)"),
    cairn::sdk::OptionDesc("state-dir", CAIRN_OPT_PATH, nullptr,
                           "folder for the highest epoch seen (fsync + rename)",
                           nullptr, CAIRN_OPT_REQUIRED),
    cairn::sdk::OptionDesc(
        "ack-timeout", CAIRN_OPT_DURATION, "30s",
        "how long replicate waits for its ack rule before failing "
        "(0: until close)"),
    cairn::sdk::OptionDesc(
        "heartbeat-interval", CAIRN_OPT_DURATION, "100ms",
        "an idle primary sends its committed watermark this often (each "
        "replica acks it)"),
    cairn::sdk::OptionDesc(
        "position-query-timeout", CAIRN_OPT_DURATION, "2s",
        "how long promote and an etcd candidate wait for the peers to say "
        "where their logs end (1ms..60s); a peer that has not answered counts "
        "as unreachable"),
    cairn::sdk::OptionDesc(
        "peer-timeout", CAIRN_OPT_DURATION, "3s",
        "a replication connection whose peer sends or takes nothing for this "
        "long is closed, and a connect gives up after it (at least twice "
        "heartbeat-interval)"),
    cairn::sdk::OptionDesc(
        "slow-member-timeout", CAIRN_OPT_DURATION, "5s",
        "coordinator = etcd, ack = sync: a sync-set member that has held an "
        "append back this long while connected (a slow disk or link) leaves "
        "the sync set; 0: only for want of a session (peer-timeout)"),
    cairn::sdk::OptionDesc(
        "min-sync-replicas", CAIRN_OPT_UINT, "0",
        "coordinator = etcd, ack = sync: never take a member out of the "
        "sync set if fewer than this many replicas would be left in it; "
        "appends wait for it instead (up to ack-timeout)"),
    cairn::sdk::OptionDesc(
        "rejoin-backoff", CAIRN_OPT_DURATION, "10s",
        "coordinator = etcd, ack = sync: a member that leaves the sync set "
        "for holding appends back again soon after it rejoined is held out "
        "this long before it may rejoin, doubling with each such leave up "
        "to 32 times this; 0: it rejoins as soon as it has caught up"),
    cairn::sdk::OptionDesc(
        "reconnect-interval", CAIRN_OPT_DURATION, "200ms",
        "pause before the primary dials a lost replica again"),
    cairn::sdk::OptionDesc("max-frame-size", CAIRN_OPT_SIZE, "16MiB",
                           "largest frame sent or accepted"),
    cairn::sdk::OptionDesc(
        "max-batch-records", CAIRN_OPT_UINT, "4096",
        "records per frame (an atomic batch is never split)"),
    cairn::sdk::OptionDesc(
        "tls", CAIRN_OPT_ENUM, "auto",
        "mutual TLS between nodes: on, off, or auto (on when tls-cert-file "
        "is set; off when it is not and every node is on loopback; else "
        "refused)",
        kTlsModes),
    cairn::sdk::OptionDesc(
        "tls-cert-file", CAIRN_OPT_PATH, nullptr,
        "PEM certificate chain this node presents; peers check it names "
        "this node's address in 'peers'"),
    cairn::sdk::OptionDesc(
        "tls-key-file", CAIRN_OPT_PATH, nullptr,
        "PEM private key of tls-cert-file (mode 600, owned by the process's "
        "user)"),
    cairn::sdk::OptionDesc(
        "tls-ca-file", CAIRN_OPT_PATH, nullptr,
        "PEM CA certificates that sign the group's nodes; a peer without a "
        "certificate they verify is refused"),
    cairn::sdk::OptionDesc(
        "durable-policy", CAIRN_OPT_ENUM, "auto",
        "whether this node's durable position counts toward sync "
        "and quorum acks: auto (storage's appends wait for a "
        "sync), syncs, never",
        kDurablePolicies))
