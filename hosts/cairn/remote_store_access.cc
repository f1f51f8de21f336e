#include "remote_store_access.h"

#include <cairn/client.h>
#include <cairn/status.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cairn::cli {
namespace {

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

  absl::StatusOr<std::string> Verify(const std::function<void(const std::string&)>&) override {
    return MakeStatus(CAIRN_E_UNSUPPORTED,
                      absl::StrCat("verify reads the store's files and cannot run through ",
                                   Describe(), "; run 'cairn verify --data DIR' on the server's "
                                   "machine (stop cairnd first or use a copy)"));
  }

 private:
  std::unique_ptr<Client> client_;
  std::string address_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<StoreAccess>> OpenRemoteStore(const std::string& address) {
  ClientOptions options;
  absl::Status parsed = ParseServerAddress(address, &options.host, &options.port);
  if (!parsed.ok()) return parsed;
  options.client_name = "cairn-cli";
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  if (!client.ok()) return client.status();
  return std::unique_ptr<StoreAccess>(new RemoteStoreAccess(*std::move(client), address));
}

}  // namespace cairn::cli
