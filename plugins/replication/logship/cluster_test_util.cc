#include <cairn/builtins.h>
#include <cairn/log_record.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cairn/log/v1/log.pb.h"
#include "cluster_test.h"

namespace cairn::logship::testing {
namespace {

// The helper serves tests and the replication bench, so it cannot use
// gtest's assertions: a failure here means the group cannot be built or
// read at all, and stops the process naming what failed.
void CheckOr(bool ok, const std::string& what) {
  if (ok) return;
  fprintf(stderr, "logship cluster: %s\n", what.c_str());
  abort();
}

}  // namespace

uint16_t FreeLoopbackPort() {
  // Below the kernel's ephemeral range, so no outgoing connection (ours or
  // any other process's) is given the port between this check and the
  // node's bind; a port bound to 0 comes from that range and was taken in
  // between about once in 30 runs. Only another listener picking the same
  // random port can collide now.
  int ephemeral_start = 32768;
  if (FILE* f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (fscanf(f, "%d", &ephemeral_start) != 1) ephemeral_start = 32768;
    fclose(f);
  }
  const int low = std::max(1024, ephemeral_start - 12000);
  const int high = std::max(low, ephemeral_start - 1);
  static std::mutex mu;
  static std::mt19937 random(std::random_device{}());
  boost::asio::io_context io;
  for (int attempt = 0; attempt < 200; ++attempt) {
    int port = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      port = std::uniform_int_distribution<int>(low, high)(random);
    }
    boost::asio::ip::tcp::acceptor acceptor(io);
    boost::system::error_code ec;
    acceptor.open(boost::asio::ip::tcp::v4(), ec);
    if (!ec) {
      acceptor.bind({boost::asio::ip::make_address("127.0.0.1"),
                     static_cast<uint16_t>(port)},
                    ec);
    }
    if (!ec) return static_cast<uint16_t>(port);
  }
  CheckOr(false, absl::StrCat("no free loopback port in ", low, "..", high,
                              " after 200 tries"));
  return 0;
}

bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds limit) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < give_up) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return condition();
}

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {
  std::string pattern = options_.parent_dir + "/logship-cluster-XXXXXX";
  CheckOr(mkdtemp(pattern.data()) != nullptr,
          absl::StrCat("mkdtemp ", pattern, " failed"));
  root_ = pattern;
  registry_ = std::make_unique<PluginRegistry>();
  absl::Status s = RegisterBuiltinPlugins(*registry_);
  CheckOr(s.ok(),
          absl::StrCat("registering the built-in plugins: ", s.ToString()));
  if (options_.more_plugins) {
    s = options_.more_plugins(*registry_);
    CheckOr(s.ok(), absl::StrCat("registering more plugins: ", s.ToString()));
  }
  nodes_.resize(options_.nodes);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    nodes_[i].port = FreeLoopbackPort();
    nodes_[i].dir = absl::StrCat(root_, "/", Id(i));
    nodes_[i].state_dir = nodes_[i].dir + "/logship";
    std::filesystem::create_directories(nodes_[i].dir);
  }
}

Cluster::~Cluster() {
  for (size_t i = 0; i < nodes_.size(); ++i) Close(i);
  std::filesystem::remove_all(root_);
}

std::string Cluster::Id(size_t i) const { return absl::StrCat("n", i); }

absl::Status Cluster::Open(size_t i, const std::string& role,
                           std::map<std::string, std::string> extra) {
  SiteConfig config;
  config.path = nodes_[i].dir + "/store";
  config.storage.plugin = options_.storage;
  for (const auto& [k, v] : options_.storage_options) {
    config.storage.options.emplace_back(k, v);
  }
  // "none": a single node without replication, the bench's baseline.
  if (options_.replication != "none") {
    std::string peers;
    for (size_t j = 0; j < nodes_.size(); ++j) {
      absl::StrAppend(&peers, j == 0 ? "" : ",", Id(j),
                      "=127.0.0.1:", nodes_[j].port);
    }
    std::map<std::string, std::string> options = {
        {"node-id", Id(i)},
        {"listen", absl::StrCat("127.0.0.1:", nodes_[i].port)},
        {"peers", peers},
        {"role", role},
        {"ack", options_.ack},
        {"state-dir", nodes_[i].state_dir},
        {"heartbeat-interval", "5ms"},
        {"reconnect-interval", "10ms"},
        {"ack-timeout", "0"}};
    if (!options_.sync_set.empty()) options["sync-set"] = options_.sync_set;
    for (const auto& [k, v] : options_.logship_options) options[k] = v;
    for (const auto& [k, v] : extra) options[k] = v;
    config.replication.plugin = "logship";
    for (const auto& [k, v] : options)
      config.replication.options.emplace_back(k, v);
  }
  absl::StatusOr<std::unique_ptr<Store>> store =
      Store::Open(config, *registry_);
  if (!store.ok()) return store.status();
  nodes_[i].store = std::move(*store);
  return absl::OkStatus();
}

void Cluster::Close(size_t i) { nodes_[i].store.reset(); }

std::vector<std::string> Cluster::Log(size_t i) {
  Store& s = store(i);
  const cairn_storage_api* api = s.storage_plugin()->storage();
  std::vector<std::string> out;
  char message[256] = {0};
  cairn_error error{message, sizeof(message)};
  cairn_status code = api->read_log(
      s.raw_storage(), 0, UINT64_MAX,
      [](void* context, const cairn_log_record* record) -> int {
        log::v1::LogRecord proto;
        ToProto(OwnedLogRecord(*record), &proto);
        std::string bytes;
        proto.SerializeToString(&bytes);
        static_cast<std::vector<std::string>*>(context)->push_back(bytes);
        return 0;
      },
      &out, &error);
  CheckOr(code == CAIRN_OK, absl::StrCat("read_log of ", Id(i), ": ", message));
  return out;
}

LogState Cluster::State(size_t i) {
  absl::StatusOr<LogState> state = store(i).GetLogState();
  CheckOr(state.ok(), absl::StrCat("log state of ", Id(i), ": ",
                                   state.status().ToString()));
  return *state;
}

double Cluster::Stat(size_t i, const std::string& key) {
  absl::StatusOr<std::map<std::string, double>> stats = store(i).Stats();
  if (!stats.ok() || stats->count(key) == 0) return -1;
  return stats->at(key);
}

}  // namespace cairn::logship::testing
