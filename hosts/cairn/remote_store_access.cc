#include "remote_store_access.h"

#include <cairn/client.h>
#include <cairn/log_record.h>
#include <cairn/status.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cairn::cli {
namespace {

// A record a read_log page carried, or CORRUPTION naming the server.
absl::StatusOr<OwnedLogRecord> Received(const log::v1::LogRecord& proto,
                                        const std::string& address) {
  absl::StatusOr<OwnedLogRecord> record = FromProto(proto);
  if (!record.ok()) {
    return MakeStatus(
        CAIRN_E_CORRUPTION,
        absl::StrCat("cairnd at ", address, " sent a bad record at position ",
                     proto.position(), ": ", record.status().message()));
  }
  return record;
}

class RemoteStoreAccess : public StoreAccess {
 public:
  RemoteStoreAccess(std::unique_ptr<Client> client, std::string address)
      : client_(std::move(client)), address_(std::move(address)) {}

  std::string Describe() const override { return absl::StrCat("cairnd server ", address_); }

  absl::StatusOr<AppendResult> Append(std::string_view stream, ExpectedRevision expected,
                                      absl::Span<const EventData> events) override {
    return client_->Append(stream, expected, events);
  }

  absl::Status ReadStream(std::string_view stream, uint64_t from_revision,
                          uint64_t to_revision, uint64_t max_count,
                          const EventFn& on_event) override {
    return client_->ReadStream(stream, from_revision, to_revision, max_count, on_event);
  }

  absl::Status ReadTag(std::string_view tag, uint64_t after_position, uint64_t max_count,
                       const EventFn& on_event) override {
    return client_->ReadTag(tag, after_position, max_count, on_event);
  }

  absl::Status ReadAll(uint64_t after_position, uint64_t max_count,
                       const EventFn& on_event) override {
    return client_->ReadAll(after_position, max_count, on_event);
  }

  absl::StatusOr<std::vector<StreamInfo>> ListStreams(uint64_t after_ordinal,
                                                      uint64_t max_count) override {
    return client_->ListStreams(after_ordinal, max_count);
  }

  absl::StatusOr<uint64_t> HeadRevision(std::string_view stream) override {
    return client_->HeadRevision(stream);
  }

  absl::StatusOr<uint64_t> HeadPosition() override { return client_->HeadPosition(); }

  absl::Status DeleteTo(std::string_view stream, uint64_t revision) override {
    return client_->DeleteTo(stream, revision);
  }

  absl::StatusOr<std::map<std::string, double>> Stats() override { return client_->Stats(); }

  absl::StatusOr<Cluster> ClusterStatus() override {
    absl::StatusOr<v1::ServerInfoResponse> info = client_->ServerInfo();
    if (!info.ok()) return info.status();
    Cluster out;
    for (const auto& plugin : info->plugins()) {
      if (plugin.kind() == "replication") out.plugin = plugin.name();
    }
    out.leader.role = info->role() == "primary"   ? CAIRN_ROLE_PRIMARY
                      : info->role() == "replica" ? CAIRN_ROLE_REPLICA
                                                  : CAIRN_ROLE_STANDALONE;
    out.leader.epoch = info->leader().epoch();
    out.leader.known = info->leader().known();
    out.leader.node = info->leader().node();
    out.leader.address = info->leader().address();
    out.stats = ReplicationStats({info->stats().begin(), info->stats().end()});
    return out;
  }

  absl::Status Promote() override { return client_->Promote(); }

  absl::StatusOr<uint32_t> RotateKey() override { return client_->RotateKey(); }

  // Removing many segments takes a while: no request timeout.
  absl::StatusOr<std::vector<std::string>> Maintain() override {
    return client_->Maintain(std::chrono::hours(24));
  }

  absl::Status Follow(const SubscriptionFilter& filter, const EventFn& on_event,
                      const std::atomic<bool>& stop) override {
    absl::StatusOr<std::unique_ptr<RemoteSubscription>> subscription =
        client_->Subscribe(filter);
    if (!subscription.ok()) return subscription.status();
    while (!stop.load()) {
      absl::StatusOr<std::vector<RecordedEvent>> events =
          (*subscription)->Next(256, std::chrono::milliseconds(200));
      if (!events.ok()) return events.status();
      for (const RecordedEvent& event : *events) {
        if (!on_event(event)) return absl::OkStatus();
      }
    }
    return absl::OkStatus();
  }

  // The log up to the server's committed position (read_log pages; the
  // admin right), each record as the server stored it.
  absl::Status ReadLog(uint64_t after_position, uint64_t max_count,
                       const RecordFn& on_record) override {
    absl::StatusOr<uint64_t> committed = client_->HeadPosition();
    if (!committed.ok()) return committed.status();
    if (after_position >= *committed || max_count == 0) {
      return absl::OkStatus();
    }
    const uint64_t to = *committed - after_position > max_count
                            ? after_position + max_count
                            : *committed;
    bool stopped = false;
    absl::Status status = client_->ReadLog(
        after_position, to,
        [&](const log::v1::LogRecord& proto) -> absl::Status {
          absl::StatusOr<OwnedLogRecord> record = Received(proto, address_);
          if (!record.ok()) return record.status();
          if (on_record(record->View())) return absl::OkStatus();
          stopped = true;
          return absl::CancelledError("read-log stopped");
        });
    return stopped ? absl::OkStatus() : status;
  }

  // From server_info (the admin right): the plugins and, from a server of
  // protocol minor 4 on, the log's watermarks.
  absl::StatusOr<Summary> GetSummary() override {
    absl::StatusOr<v1::ServerInfoResponse> info = client_->ServerInfo();
    if (!info.ok()) return info.status();
    if (!info->has_log()) {
      return MakeStatus(
          CAIRN_E_UNSUPPORTED,
          absl::StrCat(
              Describe(),
              info->protocol_minor() < 4
                  ? absl::StrCat(" speaks cairn.v1 minor ",
                                 info->protocol_minor(),
                                 " and does not report its log's watermarks (a "
                                 "cairnd of minor 4 or later does)")
                  : std::string(" reports no log watermarks: its storage keeps "
                                "no ordered log")));
    }
    Summary summary;
    for (const auto& plugin : info->plugins()) {
      if (plugin.kind() == "storage") summary.storage = plugin.name();
      if (plugin.kind() == "codec") summary.codec = plugin.name();
      if (plugin.kind() == "cipher") summary.cipher = plugin.name();
      if (plugin.kind() == "replication") summary.replication = plugin.name();
    }
    const v1::LogState& log = info->log();
    summary.log = LogState{log.first_position(), log.written(), log.durable(),
                           log.committed(), log.epoch()};
    return summary;
  }

  // Run by the server (verify request; the admin right) while it serves;
  // waits for the answer as long as the check takes.
  absl::StatusOr<std::string> Verify(
      const std::function<void(const std::string&)>& on_problem, bool deep,
      const Store::ProgressFn&) override {
    absl::StatusOr<Client::VerifyReport> report =
        client_->Verify(deep, std::chrono::hours(24));
    if (!report.ok()) return report.status();
    uint64_t sent = 0;  // problems among the lines sent
    for (const std::string& problem : report->problems) {
      if (!IsRepairReport(problem)) ++sent;
      on_problem(problem);
    }
    if (report->problems_total > sent) {
      on_problem(
          absl::StrCat(report->problems_total - sent,
                       " more problem(s) found; the server sends the first "
                       "ones only: run 'cairn verify --data DIR' on its "
                       "machine (stop cairnd first or use a copy) to see "
                       "them all"));
    }
    return NameVerified(Describe(), std::move(report->checked));
  }

 private:
  std::unique_ptr<Client> client_;
  std::string address_;
};

// A backup's records streamed from a cairnd: backup_begin fixes the end,
// read_log pages carry the records (Client::ReadLog keeps one page ahead).
class RemoteLogSource : public backup::LogSource {
 public:
  RemoteLogSource(std::unique_ptr<Client> client, std::string address)
      : client_(std::move(client)), address_(std::move(address)) {}

  absl::StatusOr<Start> Begin(uint64_t after_position) override {
    absl::StatusOr<v1::BackupBeginResponse> begun =
        client_->BackupBegin(after_position);
    if (!begun.ok()) return begun.status();
    return Start{
        backup::PluginInfo{begun->storage().name(), begun->storage().version()},
        begun->last_position()};
  }

  absl::Status Read(uint64_t after_position, uint64_t to_position,
                    const RecordSink& on_record) override {
    return client_->ReadLog(
        after_position, to_position,
        [&](const log::v1::LogRecord& proto) -> absl::Status {
          absl::StatusOr<OwnedLogRecord> record = Received(proto, address_);
          if (!record.ok()) return record.status();
          return on_record(record->View());
        });
  }

 private:
  std::unique_ptr<Client> client_;
  std::string address_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<backup::LogSource>> OpenRemoteLogSource(
    const StoreOptions& options) {
  absl::StatusOr<ClientOptions> client_options = RemoteClientOptions(options);
  if (!client_options.ok()) return client_options.status();
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect(*client_options);
  if (!client.ok()) return client.status();
  return std::unique_ptr<backup::LogSource>(
      new RemoteLogSource(*std::move(client), options.server));
}

absl::StatusOr<uint64_t> RestoreThroughServer(
    const StoreOptions& options, const backup::VerifiedChain& chain,
    const backup::ProgressFn& progress) {
  for (const backup::Manifest& m : chain.manifests) {
    if (!m.ciphers.empty()) {
      return MakeStatus(
          CAIRN_E_UNSUPPORTED,
          absl::StrCat("the backup holds sealed records (cipher '",
                       m.ciphers.front().plugin.name,
                       "'); a running cairnd read its seal registry when it "
                       "opened the store, so a sealed backup restores with "
                       "--data only: stop cairnd, 'cairn restore SRC --data "
                       "DIR', start cairnd on DIR"));
    }
  }
  absl::StatusOr<ClientOptions> client_options = RemoteClientOptions(options);
  if (!client_options.ok()) return client_options.status();
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect(*client_options);
  if (!client.ok()) return client.status();
  if (absl::Status s = (*client)->RestoreBegin(chain.last_position); !s.ok())
    return s;
  // Requests of whole atomic batches, about half a frame each.
  const size_t budget = (*client)->hello().max_frame() / 2;
  std::vector<log::v1::LogRecord> pending;
  size_t bytes = 0;
  backup::Progress done;
  done.total_records = chain.records;
  absl::Status s = backup::ForEachRecord(
      chain,
      [&](OwnedLogRecord record) -> absl::Status {
        const bool ends_batch = backup::EndsBatch(record);
        pending.emplace_back();
        ToProto(record, &pending.back());
        bytes += pending.back().ByteSizeLong();
        if (!ends_batch || bytes < budget) return absl::OkStatus();
        absl::Status sent = (*client)->ApplyLog(pending);
        done.records += pending.size();
        pending.clear();
        bytes = 0;
        if (progress) progress(done);
        return sent;
      },
      [&](const backup::ChunkInfo& chunk) { done.bytes += chunk.bytes; });
  if (s.ok() && !pending.empty()) {
    s = (*client)->ApplyLog(pending);
    done.records += pending.size();
  }
  if (!s.ok()) return s;
  absl::StatusOr<uint64_t> head = (*client)->RestoreEnd();
  if (!head.ok()) return head.status();
  done.done = true;
  if (progress) progress(done);
  return head;
}

absl::StatusOr<ClientOptions> RemoteClientOptions(const StoreOptions& options) {
  ClientOptions client;
  absl::Status parsed = ParseServerAddress(options.server, &client.host, &client.port);
  if (!parsed.ok()) return parsed;
  client.client_name = "cairn-cli";
  StoreOptions tls = options;
  if (!options.config_file.empty()) {
    absl::StatusOr<SiteConfig> site = SiteConfig::LoadFile(
        options.config_file, HostSections(), HostPathKeys());
    if (!site.ok()) return site.status();
    auto section = site->host_sections.find("client");
    if (section != site->host_sections.end()) {
      for (const auto& [key, value] : section->second) {
        std::string* field = key == "tls-ca"            ? &tls.tls_ca
                             : key == "tls-cert"        ? &tls.tls_cert
                             : key == "tls-key"         ? &tls.tls_key
                             : key == "tls-server-name" ? &tls.tls_server_name
                                                        : nullptr;
        if (field != nullptr) {
          if (field->empty()) *field = value;  // a flag wins
        } else if (key == "tls") {
          if (value != "on" && value != "off") {
            return MakeStatus(CAIRN_E_INVALID_ARGUMENT,
                              absl::StrCat(options.config_file, ": [client] tls = ", value,
                                           ": use on or off"));
          }
          tls.tls = tls.tls || value == "on";
        } else {
          return MakeStatus(CAIRN_E_INVALID_ARGUMENT,
                            absl::StrCat(options.config_file, ": [client] ", key,
                                         ": unknown key; [client] takes tls, tls-ca, tls-cert, "
                                         "tls-key, tls-server-name"));
        }
      }
    }
  }
  if (tls.tls_cert.empty() != tls.tls_key.empty()) {
    return MakeStatus(CAIRN_E_INVALID_ARGUMENT,
                      "--tls-cert and --tls-key go together (a client certificate and its "
                      "private key, PEM)");
  }
  client.tls = tls.tls || !tls.tls_ca.empty() || !tls.tls_cert.empty();
  client.ca_file = tls.tls_ca;
  client.cert_file = tls.tls_cert;
  client.key_file = tls.tls_key;
  client.server_name = tls.tls_server_name;
  return client;
}

absl::StatusOr<std::unique_ptr<StoreAccess>> OpenRemoteStore(const StoreOptions& options) {
  absl::StatusOr<ClientOptions> client_options = RemoteClientOptions(options);
  if (!client_options.ok()) return client_options.status();
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(*client_options);
  if (!client.ok()) return client.status();
  return std::unique_ptr<StoreAccess>(
      new RemoteStoreAccess(*std::move(client), options.server));
}

}  // namespace cairn::cli
