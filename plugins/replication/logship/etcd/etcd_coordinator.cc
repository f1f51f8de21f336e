#include "etcd_coordinator.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace cairn::logship::etcd {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

bool ValidName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

std::string StateJson(const GroupState& state) {
  return json{{"primary", state.primary}, {"ack", state.ack}}.dump();
}

std::string SyncJson(const std::vector<std::string>& members,
                     const std::string& by) {
  return json{{"members", members}, {"by", by}}.dump();
}

// `key` is at `revision`: its mod_revision equals it, or, for 0, the key
// does not exist (create_revision 0).
Compare KeyAt(const std::string& key, int64_t revision) {
  return revision == 0 ? Compare{.key = key,
                                 .target = Compare::Target::kCreate,
                                 .number = 0}
                       : Compare{.key = key,
                                 .target = Compare::Target::kMod,
                                 .number = revision};
}

bool Holds(const std::vector<std::string>& members, const std::string& id) {
  return std::find(members.begin(), members.end(), id) != members.end();
}

// Attempts of a compare-and-set whose answers were lost (etcd electing a
// new leader after one member died answers late).
constexpr int kWriteAttempts = 3;

bool SameContent(const GroupState& a, const GroupState& b) {
  return a.primary == b.primary && a.ack == b.ack;
}

// Campaign's compare-and-set attempts when the state or the sync set moves
// under it; the leader key stays ours meanwhile.
constexpr int kCampaignAttempts = 5;

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdCoordinator>> EtcdCoordinator::Create(
    EtcdCoordinatorOptions options) {
  if (!ValidName(options.group)) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd coordinator: group name '", options.group,
                     "' must be [A-Za-z0-9._-]+"));
  }
  if (options.watch_window <= std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError(
        "etcd coordinator: watch_window must be positive");
  }
  auto gateway = EtcdGateway::Create(options.gateway);
  if (!gateway.ok()) return gateway.status();
  return std::unique_ptr<EtcdCoordinator>(
      new EtcdCoordinator(std::move(options), *std::move(gateway)));
}

EtcdCoordinator::EtcdCoordinator(EtcdCoordinatorOptions options,
                                 EtcdGateway gateway)
    : options_(std::move(options)),
      gateway_(std::move(gateway)),
      prefix_(absl::StrCat("/cairn/", options_.group, "/")),
      state_key_(prefix_ + "state"),
      leader_key_(prefix_ + "leader"),
      sync_key_(prefix_ + "sync") {}

EtcdCoordinator::~EtcdCoordinator() {
  StopWatch();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (renewer_.joinable()) renewer_.join();
}

std::string EtcdCoordinator::member_key(const std::string& member_id) const {
  return absl::StrCat(prefix_, "members/", member_id);
}

namespace {

std::string KeyWhere(const KeyValue& kv) {
  return absl::StrCat("etcd key ", kv.key, " (revision ", kv.mod_revision, ")");
}

// The JSON object a key holds; DataLoss naming the key otherwise.
absl::StatusOr<json> KeyObject(const KeyValue& kv) {
  json value = json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) {
    return absl::DataLossError(absl::StrCat(
        KeyWhere(kv), ": not a JSON object: '", kv.value.substr(0, 200), "'"));
  }
  return value;
}

absl::StatusOr<std::string> StringField(const json& value, const char* name,
                                        const KeyValue& kv) {
  auto field = value.find(name);
  if (field == value.end() || !field->is_string()) {
    return absl::DataLossError(absl::StrCat(KeyWhere(kv), ": '", name,
                                            "' is missing or not a string"));
  }
  return field->get<std::string>();
}

}  // namespace

absl::StatusOr<GroupState> EtcdCoordinator::Parse(const KeyValue& kv) const {
  absl::StatusOr<json> value = KeyObject(kv);
  if (!value.ok()) return value.status();
  absl::StatusOr<std::string> primary = StringField(*value, "primary", kv);
  if (!primary.ok()) return primary.status();
  absl::StatusOr<std::string> ack = StringField(*value, "ack", kv);
  if (!ack.ok()) return ack.status();
  return GroupState{.epoch = kv.mod_revision,
                    .primary = *std::move(primary),
                    .ack = *std::move(ack)};
}

absl::StatusOr<SyncSet> EtcdCoordinator::ParseSyncSet(
    const KeyValue& kv) const {
  absl::StatusOr<json> value = KeyObject(kv);
  if (!value.ok()) return value.status();
  auto members = value->find("members");
  if (members == value->end() || !members->is_array() ||
      !std::all_of(members->begin(), members->end(),
                   [](const json& item) { return item.is_string(); })) {
    return absl::DataLossError(absl::StrCat(
        KeyWhere(kv), ": 'members' is missing or not an array of strings"));
  }
  absl::StatusOr<std::string> by = StringField(*value, "by", kv);
  if (!by.ok()) return by.status();
  return SyncSet{.revision = kv.mod_revision,
                 .by = *std::move(by),
                 .members = members->get<std::vector<std::string>>()};
}

absl::StatusOr<SyncSet> EtcdCoordinator::CurrentSyncSet() {
  auto range = gateway_.Range(sync_key_);
  if (!range.ok()) return range.status();
  if (range->kvs.empty()) return SyncSet{};
  return ParseSyncSet(range->kvs.front());
}

absl::StatusOr<SyncSet> EtcdCoordinator::SetSyncSet(
    const std::string& by, int64_t epoch, int64_t expected_revision,
    std::vector<std::string> members) {
  if (epoch <= 0 || expected_revision < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "etcd coordinator: sync set write from epoch ", epoch, " and revision ",
        expected_revision, ": both must be positive"));
  }
  auto txn = gateway_.Txn(
      {KeyAt(state_key_, epoch), KeyAt(sync_key_, expected_revision)},
      {TxnOp{.kind = TxnOp::Kind::kPut,
             .key = sync_key_,
             .value = SyncJson(members, by)}},
      {TxnOp{.kind = TxnOp::Kind::kRange, .key = state_key_},
       TxnOp{.kind = TxnOp::Kind::kRange, .key = sync_key_}});
  if (!txn.ok()) return txn.status();
  if (txn->succeeded) {
    return SyncSet{
        .revision = txn->revision, .by = by, .members = std::move(members)};
  }
  auto revision_of = [&](size_t i) -> int64_t {
    return txn->ranges.size() > i && !txn->ranges[i].kvs.empty()
               ? txn->ranges[i].kvs[0].mod_revision
               : 0;
  };
  return absl::FailedPreconditionError(absl::StrCat(
      "group '", options_.group, "': sync set write by '", by, "' from epoch ",
      epoch, " and sync revision ", expected_revision,
      " lost: the group is at epoch ", revision_of(0),
      " and the sync set at revision ", revision_of(1)));
}

absl::StatusOr<GroupState> EtcdCoordinator::Current() {
  auto range = gateway_.Range(state_key_);
  if (!range.ok()) return range.status();
  if (range->kvs.empty()) return GroupState{};
  return Parse(range->kvs.front());
}

absl::StatusOr<GroupState> EtcdCoordinator::CompareAndSet(
    int64_t expected_epoch, const GroupState& next) {
  if (expected_epoch < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "etcd coordinator: expected epoch ", expected_epoch, " is negative"));
  }
  const Compare compare = KeyAt(state_key_, expected_epoch);
  // A write whose answer was lost may land now or later. Retrying from the
  // same epoch is safe (of the two, at most one passes the comparison); a
  // state found equal to `next` after a lost answer is taken as written.
  bool ambiguous = false;
  absl::Status last;
  for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
    auto txn =
        gateway_.Txn({compare},
                     {TxnOp{.kind = TxnOp::Kind::kPut,
                            .key = state_key_,
                            .value = StateJson(next)}},
                     {TxnOp{.kind = TxnOp::Kind::kRange, .key = state_key_}});
    if (!txn.ok() && !IsOutcomeUnknown(txn.status())) return txn.status();
    std::optional<GroupState> now;
    if (txn.ok() && txn->succeeded) {
      GroupState written = next;
      written.epoch = txn->revision;  // a txn with one put makes one revision
      return written;
    }
    if (txn.ok()) {
      if (!txn->ranges.empty() && !txn->ranges[0].kvs.empty()) {
        auto parsed = Parse(txn->ranges[0].kvs[0]);
        if (!parsed.ok()) return parsed.status();
        now = *parsed;
      }
    } else {
      ambiguous = true;
      last = txn.status();
      auto current = Current();
      if (!current.ok()) return last;
      if (current->epoch == expected_epoch) continue;  // not landed (yet)
      if (current->epoch != 0) now = *current;
    }
    if (ambiguous && now && SameContent(*now, next)) return *now;
    return absl::FailedPreconditionError(absl::StrCat(
        "group '", options_.group, "': compare-and-set from epoch ",
        expected_epoch, " lost: the group is now at ",
        now ? absl::StrCat("epoch ", now->epoch, " with primary '",
                           now->primary, "'")
            : std::string("no state")));
  }
  return last;
}

absl::Status EtcdCoordinator::Watch(
    std::function<void(const GroupState&)> callback) {
  if (watcher_.joinable()) {
    return absl::FailedPreconditionError(
        absl::StrCat("group '", options_.group, "': a watcher already runs"));
  }
  watch_stop_ = false;
  watcher_ = std::thread(
      [this, callback = std::move(callback)] { WatchLoop(callback); });
  return absl::OkStatus();
}

void EtcdCoordinator::StopWatch() {
  watch_stop_ = true;
  wake_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

void EtcdCoordinator::WatchLoop(
    std::function<void(const GroupState&)> callback) {
  int64_t delivered = 0;  // highest epoch handed to the callback
  auto deliver = [&](const GroupState& state) {
    if (state.epoch > delivered) {
      delivered = state.epoch;
      callback(state);
    }
  };
  while (!watch_stop_) {
    // (Re)start from a read, so a compacted or missed stretch is covered by
    // the latest state.
    auto range = gateway_.Range(state_key_);
    int64_t next_revision = 0;
    if (range.ok()) {
      if (!range->kvs.empty()) {
        auto state = Parse(range->kvs.front());
        if (state.ok()) deliver(*state);
      }
      next_revision = range->revision + 1;
    }
    absl::Status watched = range.status();
    while (watched.ok() && !watch_stop_) {
      watched = gateway_.Watch(
          state_key_, "", next_revision, options_.watch_window,
          [&](const std::vector<WatchEvent>& events) {
            const WatchEvent* latest = nullptr;
            for (const WatchEvent& event : events) {
              next_revision =
                  std::max(next_revision, event.kv.mod_revision + 1);
              latest = &event;
            }
            if (latest != nullptr) {
              if (latest->type == WatchEvent::Type::kDelete) {
                deliver(GroupState{.epoch = latest->kv.mod_revision});
              } else if (auto state = Parse(latest->kv); state.ok()) {
                deliver(*state);
              }
            }
            return !watch_stop_.load();
          });
    }
    if (watch_stop_) break;
    // etcd unreachable or the revision compacted: wait a little, re-read.
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, std::chrono::milliseconds(200),
                   [&] { return watch_stop_.load(); });
  }
}

namespace {

// Only a member of the sync set may lead under ack = sync.
absl::Status CheckSyncMember(const std::string& group, const std::string& node,
                             const SyncSet& set,
                             const std::vector<std::string>& initial) {
  const std::vector<std::string>& members =
      set.revision == 0 ? initial : set.members;
  if (Holds(members, node)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "group '", group, "': node '", node,
      "' may not campaign: it is not in the sync set [",
      absl::StrJoin(members, ", "), "]",
      set.revision == 0
          ? std::string(" (the site's sync-set: no sync key in etcd yet)")
          : absl::StrCat(" (etcd revision ", set.revision, ", written by '",
                         set.by, "')")));
}

// A node may lead only under the group's ack rule: the election and
// fencing rules differ between rules, so one node elected under another
// rule could drop records the group acknowledged.
absl::Status CheckAckRule(const std::string& group, const std::string& node,
                          const GroupState& state, const std::string& ack) {
  if (ack.empty() || state.ack.empty() || state.ack == ack) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "group '", group, "' acknowledges by ack = ", state.ack,
      " (etcd state at epoch ", state.epoch, ") but node '", node,
      "' has ack = ", ack,
      ": every node of a group must use one ack rule; fix this node's site "
      "file (docs/replication.md, \"Changing a group's ack rule\")"));
}

}  // namespace

absl::StatusOr<GroupState> EtcdCoordinator::Campaign(
    const std::string& node, std::chrono::seconds lease_ttl,
    SyncCampaign* sync) {
  if (!ValidName(node)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "etcd coordinator: node id '", node, "' must be [A-Za-z0-9._-]+"));
  }
  if (lease_ttl.count() <= 0) {
    return absl::InvalidArgumentError(
        "etcd coordinator: lease_ttl must be positive");
  }
  auto before = Current();
  if (!before.ok()) return before.status();
  // Not worth a lease either if the group acknowledges by another rule.
  absl::Status rule = CheckAckRule(options_.group, node, *before, options_.ack);
  if (!rule.ok()) return rule;
  SyncSet sync_before;
  if (sync != nullptr) {
    // Not worth a lease (or the leader key) if this node may not lead.
    auto set = CurrentSyncSet();
    if (!set.ok()) return set.status();
    absl::Status member =
        CheckSyncMember(options_.group, node, *set, sync->initial);
    if (!member.ok()) return member;
    sync_before = *std::move(set);
  }
  auto lease = gateway_.LeaseGrant(lease_ttl.count());
  if (!lease.ok()) return lease.status();
  auto taken = gateway_.Txn(
      {Compare{
          .key = leader_key_, .target = Compare::Target::kCreate, .number = 0}},
      {TxnOp{.kind = TxnOp::Kind::kPut,
             .key = leader_key_,
             .value = node,
             .lease = lease->id}},
      {TxnOp{.kind = TxnOp::Kind::kRange, .key = leader_key_}});
  if (!taken.ok() || !taken->succeeded) {
    (void)gateway_.LeaseRevoke(lease->id);
    if (!taken.ok()) return taken.status();
    std::string holder =
        taken->ranges.empty() || taken->ranges[0].kvs.empty()
            ? "another node"
            : absl::StrCat("'", taken->ranges[0].kvs[0].value, "'");
    return absl::FailedPreconditionError(absl::StrCat(
        "group '", options_.group, "': the leader key is held by ", holder));
  }
  const int64_t leader_revision = taken->revision;
  {
    std::lock_guard lock(mu_);
    leader_lease_ = HeldLease{
        lease->id, std::chrono::seconds(lease->ttl_seconds), Clock::now()};
    leader_create_revision_ = leader_revision;
    leader_node_ = node;
  }
  StartRenewer();
  auto named = NamePrimary(node, *before, sync_before, leader_revision, sync);
  if (!named.ok()) {
    // Holding the key while not leading would stop every other campaign
    // until the lease expired (and the renewer keeps it alive).
    (void)Resign();
  }
  return named;
}

// Names `node` primary, from whatever epoch the state is at, while the
// leader key is still the one it created (and, under sync, while the sync
// set it read, `sync_now`, still holds it: a stale read fails the
// transaction, whose answer carries the set to try again with).
absl::StatusOr<GroupState> EtcdCoordinator::NamePrimary(const std::string& node,
                                                        GroupState current,
                                                        SyncSet sync_now,
                                                        int64_t leader_revision,
                                                        SyncCampaign* sync) {
  for (int attempt = 0; attempt < kCampaignAttempts; ++attempt) {
    if (sync != nullptr) {
      absl::Status member =
          CheckSyncMember(options_.group, node, sync_now, sync->initial);
      if (!member.ok()) return member;
    }
    absl::Status rule =
        CheckAckRule(options_.group, node, current, options_.ack);
    if (!rule.ok()) return rule;
    GroupState next = current;
    next.primary = node;
    if (!options_.ack.empty()) next.ack = options_.ack;
    std::vector<Compare> compares = {KeyAt(state_key_, current.epoch),
                                     Compare{.key = leader_key_,
                                             .target = Compare::Target::kCreate,
                                             .number = leader_revision}};
    std::vector<TxnOp> puts = {TxnOp{.kind = TxnOp::Kind::kPut,
                                     .key = state_key_,
                                     .value = StateJson(next)}};
    if (sync != nullptr) {
      compares.push_back(KeyAt(sync_key_, sync_now.revision));
      if (sync_now.revision == 0) {
        puts.push_back(TxnOp{.kind = TxnOp::Kind::kPut,
                             .key = sync_key_,
                             .value = SyncJson(sync->initial, node)});
      }
    }
    auto set =
        gateway_.Txn(compares, puts,
                     {TxnOp{.kind = TxnOp::Kind::kRange, .key = state_key_},
                      TxnOp{.kind = TxnOp::Kind::kRange, .key = leader_key_},
                      TxnOp{.kind = TxnOp::Kind::kRange, .key = sync_key_}});
    if (!set.ok()) return set.status();
    if (set->succeeded) {
      next.epoch = set->revision;
      if (sync != nullptr) {
        sync->result = sync_now.revision != 0
                           ? sync_now
                           : SyncSet{.revision = set->revision,
                                     .by = node,
                                     .members = sync->initial};
      }
      return next;
    }
    if (set->ranges.size() < 3 || set->ranges[1].kvs.empty() ||
        set->ranges[1].kvs[0].create_revision != leader_revision) {
      std::lock_guard lock(mu_);
      leader_lease_.reset();
      return absl::AbortedError(
          absl::StrCat("group '", options_.group, "': node '", node,
                       "' lost the leader key (lease expired) while "
                       "naming itself primary"));
    }
    if (set->ranges[0].kvs.empty()) {
      current = GroupState{};
    } else {
      auto parsed = Parse(set->ranges[0].kvs[0]);
      if (!parsed.ok()) return parsed.status();
      current = *parsed;
    }
    if (set->ranges[2].kvs.empty()) {
      sync_now = SyncSet{};
    } else {
      auto parsed = ParseSyncSet(set->ranges[2].kvs[0]);
      if (!parsed.ok()) return parsed.status();
      sync_now = *parsed;
    }
  }
  return absl::AbortedError(
      absl::StrCat("group '", options_.group, "': the state changed ",
                   kCampaignAttempts, " times while node '", node,
                   "' was naming itself primary; campaign again"));
}

absl::Status EtcdCoordinator::Resign() {
  std::optional<HeldLease> lease;
  int64_t created = 0;
  {
    std::lock_guard lock(mu_);
    lease = leader_lease_;
    created = leader_create_revision_;
    leader_lease_.reset();
  }
  if (!lease) return absl::OkStatus();
  auto deleted = gateway_.Txn(
      {Compare{.key = leader_key_,
               .target = Compare::Target::kCreate,
               .number = created}},
      {TxnOp{.kind = TxnOp::Kind::kDelete, .key = leader_key_}}, {});
  absl::Status revoked = gateway_.LeaseRevoke(lease->id);
  if (!deleted.ok()) return deleted.status();
  if (!revoked.ok() && revoked.code() != absl::StatusCode::kNotFound)
    return revoked;
  return absl::OkStatus();
}

bool EtcdCoordinator::IsLeader() const {
  std::lock_guard lock(mu_);
  return leader_lease_.has_value();
}

absl::StatusOr<std::string> EtcdCoordinator::LeaderNode() {
  auto range = gateway_.Range(leader_key_);
  if (!range.ok()) return range.status();
  if (range->kvs.empty()) return std::string();
  return range->kvs.front().value;
}

absl::Status EtcdCoordinator::Register(const std::string& member_id,
                                       const MemberInfo& info,
                                       std::chrono::seconds lease_ttl) {
  if (!ValidName(member_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd coordinator: member id '", member_id,
                     "' must be [A-Za-z0-9._-]+"));
  }
  std::optional<HeldLease> lease;
  {
    std::lock_guard lock(mu_);
    if (member_lease_ && member_id_ != member_id) {
      return absl::FailedPreconditionError(
          absl::StrCat("etcd coordinator: already registered as '", member_id_,
                       "'; Deregister() first"));
    }
    lease = member_lease_;
  }
  if (!lease) {
    auto granted = gateway_.LeaseGrant(lease_ttl.count());
    if (!granted.ok()) return granted.status();
    lease = HeldLease{granted->id, std::chrono::seconds(granted->ttl_seconds),
                      Clock::now()};
  }
  const std::string value = json{
      {"address", info.address},
      {"position", info.position},
      {"epoch", info.epoch}}.dump();
  auto put = gateway_.Put(member_key(member_id), value, lease->id);
  if (!put.ok()) return put.status();
  {
    std::lock_guard lock(mu_);
    member_lease_ = lease;
    member_id_ = member_id;
  }
  StartRenewer();
  return absl::OkStatus();
}

absl::Status EtcdCoordinator::Deregister() {
  std::optional<HeldLease> lease;
  {
    std::lock_guard lock(mu_);
    lease = member_lease_;
    member_lease_.reset();
  }
  if (!lease) return absl::OkStatus();
  absl::Status revoked = gateway_.LeaseRevoke(lease->id);
  if (!revoked.ok() && revoked.code() != absl::StatusCode::kNotFound)
    return revoked;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Member>> EtcdCoordinator::Members() {
  const std::string members_prefix = prefix_ + "members/";
  auto range = gateway_.Range(members_prefix, PrefixRangeEnd(members_prefix));
  if (!range.ok()) return range.status();
  std::vector<Member> members;
  for (const KeyValue& kv : range->kvs) {
    json value = json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
    const std::string where = absl::StrCat("etcd key ", kv.key);
    if (!value.is_object() || !value.contains("address") ||
        !value["address"].is_string() || !value.contains("position") ||
        !value["position"].is_number_unsigned() || !value.contains("epoch") ||
        !value["epoch"].is_number_integer()) {
      return absl::DataLossError(absl::StrCat(
          where, ": not a member record {address, position, epoch}: '",
          kv.value.substr(0, 200), "'"));
    }
    members.push_back(Member{kv.key.substr(members_prefix.size()),
                             MemberInfo{value["address"].get<std::string>(),
                                        value["position"].get<uint64_t>(),
                                        value["epoch"].get<int64_t>()}});
  }
  return members;
}

void EtcdCoordinator::StartRenewer() {
  std::lock_guard lock(mu_);
  if (!renewer_.joinable() && !stopping_)
    renewer_ = std::thread([this] { RenewLoop(); });
}

void EtcdCoordinator::RenewLoop() {
  // After a failed renewal, the next try waits at least this long.
  constexpr auto kRetryDelay = std::chrono::milliseconds(100);
  std::unique_lock lock(mu_);
  bool failed = false;
  while (!stopping_) {
    // Renew each held lease a third of its TTL after its last renewal.
    Clock::time_point next = Clock::now() + std::chrono::seconds(1);
    for (const auto* held : {&leader_lease_, &member_lease_}) {
      if (*held)
        next = std::min(next, (*held)->last_renewed + (*held)->ttl / 3);
    }
    if (failed) next = std::max(next, Clock::now() + kRetryDelay);
    failed = false;
    wake_.wait_until(lock, next, [&] { return stopping_; });
    if (stopping_) break;
    for (auto* held : {&leader_lease_, &member_lease_}) {
      if (!*held || Clock::now() < (*held)->last_renewed + (*held)->ttl / 3)
        continue;
      const HeldLease lease = **held;
      lock.unlock();
      auto renewed = gateway_.LeaseKeepAliveOnce(lease.id);
      lock.lock();
      if (!*held || (*held)->id != lease.id) continue;  // resigned meanwhile
      const bool leader = held == &leader_lease_;
      if (renewed.ok()) {
        (*held)->last_renewed = Clock::now();
        ++renewals_;
        continue;
      }
      failed = true;
      // Gone, or unrenewable for a whole TTL: it may have expired.
      if (renewed.status().code() == absl::StatusCode::kNotFound ||
          Clock::now() >= lease.last_renewed + lease.ttl) {
        held->reset();
        if (leader && options_.on_leadership_lost) {
          lock.unlock();
          options_.on_leadership_lost();
          lock.lock();
        }
      }
    }
  }
}

}  // namespace cairn::logship::etcd
