#include "server.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <openssl/crypto.h>

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "accept_guard.h"
#include "connection.h"
#include "http_server.h"
#include "log.h"
#include "protocol/busy_poll.h"

namespace cairn::cairnd {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

absl::Status WritePortFile(const std::string& path, uint16_t port) {
  if (path.empty()) return absl::OkStatus();
  // Written to a temporary name and renamed, so a reader polling for the
  // file never sees it half written.
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << port << "\n";
    if (!out) {
      return absl::UnavailableError(
          absl::StrCat("cannot write port file ", path));
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot write port file ", path,
                                               ": ", ec.message()));
  }
  return absl::OkStatus();
}

uint64_t DiskUse(const std::string& path) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const auto size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

// One io_context per I/O thread, each run by that thread alone (concurrency
// hint 1): a connection lives on one context, so its handlers never hop
// between I/O threads and no other I/O thread is woken to take over the
// reactor, which a shared io_context run by several threads does on every
// event.
std::vector<std::unique_ptr<asio::io_context>> MakeContexts(unsigned count) {
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (unsigned i = 0; i < std::max(1u, count); ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
  }
  return contexts;
}

const char* RoleName(cairn_replication_role role) {
  switch (role) {
    case CAIRN_ROLE_PRIMARY: return "primary";
    case CAIRN_ROLE_REPLICA: return "replica";
    default: return "standalone";
  }
}

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, Store* store, ServerMetrics* metrics)
      : options_(std::move(options)),
        store_(store),
        metrics_(metrics),
        workers_(options_.workers),
        write_workers_(options_.workers),
        notifier_(store),
        context_(options_, store, metrics, &workers_, &write_workers_,
                 &notifier_),
        contexts_(MakeContexts(options_.io_threads)),
        io_(*contexts_[0]),
        acceptor_(io_),
        signals_(io_, SIGTERM, SIGINT),
        drain_timer_(io_),
        retry_timer_(io_),
        accept_guard_("protocol", options_.fd_reserve, metrics),
        http_(
            io_, [this](const std::string& target) { return Http(target); },
            options_.http_max_connections, options_.fd_reserve, metrics) {}

  ~Impl() { Stop(); }

  absl::Status Start(const std::string& store_path) {
    store_path_ = store_path;
    if (auto s = context_.gate.Open(); !s.ok()) return s;
    if (options_.tls()) {
      if (auto s = SetUpTls(); !s.ok()) return s;
    }
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(options_.listen, ec);
    if (ec) {
      return absl::InvalidArgumentError(absl::StrCat(
          "[server] listen = ", options_.listen, ": ", ec.message()));
    }
    tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on ", options_.listen, ":", options_.port, ": ",
          ec.message(), "; pick another [server] port (0 picks a free one)"));
    }
    port_ = acceptor_.local_endpoint().port();
    if (options_.http_enabled) {
      if (auto s = http_.Listen(options_.http_listen, options_.http_port);
          !s.ok()) {
        return s;
      }
    }
    notifier_.Start();
    signals_.async_wait([this](boost::system::error_code ec, int signal) {
      if (ec) return;
      Log(spdlog::level::info, "signal received; draining",
          {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
      BeginDrain();
    });
    Accept();
    for (auto& context : contexts_) {
      work_.push_back(asio::make_work_guard(*context));
      io_threads_.emplace_back(
          [&context = *context,
           spin = std::chrono::microseconds(options_.busy_poll_us)] {
            // A handler that throws (Asio and OpenSSL throw when out of
            // descriptors or memory) costs its own connection, not the
            // process: log it and keep running the others.
            while (true) {
              try {
                protocol::RunWithBusyPoll(context, spin);
                return;
              } catch (const std::exception& e) {
                Log(spdlog::level::err, "I/O handler failed; continuing",
                    {{"error", e.what()}});
              }
            }
          });
    }
    if (auto s = WritePortFile(options_.port_file, port_); !s.ok()) return s;
    if (options_.http_enabled) {
      if (auto s = WritePortFile(options_.http_port_file, http_.port());
          !s.ok()) {
        return s;
      }
    }
    Log(spdlog::level::info, "cairnd listening",
        {{"address", absl::StrCat(options_.listen, ":", port_)},
         {"transport", options_.tls()
                           ? (options_.tls_ca_file.empty() ? "tls" : "mtls")
                           : "tcp"},
         {"http", options_.http_enabled
                      ? absl::StrCat("http://", options_.http_listen, ":",
                                     http_.port(), "/metrics")
                      : "off"},
         {"store", store_path_},
         {"appends", options_.inline_appends ? "inline" : "workers"},
         {"appends_reason", options_.inline_appends_reason},
         {"access", options_.access.has_rules()
                        ? absl::StrCat(options_.access.rules().size(),
                                       " [access] rules")
                        : "default: loopback and certified clients only"},
         {"audit", options_.audit.path.empty() ? "off" : options_.audit.path}});
    return absl::OkStatus();
  }

  uint16_t port() const { return port_; }
  uint16_t http_port() const {
    return options_.http_enabled ? http_.port() : 0;
  }

  void Run() {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      done_cv_.wait(lock, [this] { return done_; });
    }
    Stop();
  }

  void Shutdown() {
    asio::post(io_, [this] { BeginDrain(); });
  }

 private:
  absl::Status SetUpTls() {
    tls_.emplace(asio::ssl::context::tls_server);
    try {
      tls_->set_options(asio::ssl::context::default_workarounds |
                        asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 |
                        asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1 |
                        asio::ssl::context::single_dh_use);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("TLS set-up: ", e.what()));
    }
    boost::system::error_code ec;
    tls_->use_certificate_chain_file(options_.tls_cert_file, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("[tls] cert-file = ", options_.tls_cert_file,
                       ": cannot load a PEM certificate chain (",
                       ec.message(), ")"));
    }
    absl::StatusOr<std::string> key = ReadTlsPrivateKey(options_.tls_key_file);
    if (!key.ok()) return key.status();
    tls_->use_private_key(asio::buffer(*key), asio::ssl::context::pem, ec);
    OPENSSL_cleanse(key->data(), key->size());
    if (ec) {
      return absl::InvalidArgumentError(absl::StrCat(
          "[tls] key-file = ", options_.tls_key_file,
          ": cannot load a PEM private key matching cert-file (", ec.message(),
          ")"));
    }
    if (!options_.tls_ca_file.empty()) {
      tls_->load_verify_file(options_.tls_ca_file, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("[tls] ca-file = ", options_.tls_ca_file,
                         ": cannot load PEM CA certificates (", ec.message(),
                         ")"));
      }
      tls_->set_verify_mode(asio::ssl::verify_peer |
                                asio::ssl::verify_fail_if_no_peer_cert,
                            ec);
      if (ec) {
        return absl::InternalError(
            absl::StrCat("TLS verify mode: ", ec.message()));
      }
    }
    return absl::OkStatus();
  }

  void Accept() {
    // Connections go to the I/O threads in turn. A context run by one
    // thread runs one handler at a time, so it serves as the connection's
    // strand without a strand's lock.
    asio::io_context& home = *contexts_[next_context_++ % contexts_.size()];
    acceptor_.async_accept(
        home.get_executor(),
        [this](boost::system::error_code ec, tcp::socket socket) {
          // Runs on io_, like BeginDrain, which closes the acceptor: the
          // abort that close causes is expected, not a failure.
          if (ec) {
            if (ec == asio::error::operation_aborted ||
                context_.draining.load() || !acceptor_.is_open()) {
              return;
            }
            // Out of file descriptors and the like: back off (logged once
            // per episode) so the loop does not spin, then accept again.
            retry_timer_.expires_after(accept_guard_.Failed(ec));
            retry_timer_.async_wait([this](boost::system::error_code wait_ec) {
              if (!wait_ec && acceptor_.is_open()) Accept();
            });
            return;
          }
          boost::system::error_code ignored;
          if (!accept_guard_.Admit(socket.native_handle())) {
            socket.close(ignored);
          } else {
            try {
              std::shared_ptr<Connection> connection =
                  options_.tls()
                      ? MakeTlsConnection(&context_, std::move(socket), *tls_)
                      : MakePlainConnection(&context_, std::move(socket));
              connection->Start();
            } catch (const std::exception& e) {
              // Setting the connection up ran out of something (an SSL
              // object, memory): this client is dropped, the server goes on.
              metrics_->accept_errors_total.fetch_add(1);
              Log(spdlog::level::warn, "connection set-up failed",
                  {{"error", e.what()}});
            }
          }
          Accept();
        });
  }

  // Runs on an I/O thread.
  void BeginDrain() {
    if (context_.draining.exchange(true)) return;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    retry_timer_.cancel();
    signals_.cancel(ignored);
    drain_deadline_ = Clock::now() + options_.drain_timeout;
    WaitForInflight();
  }

  void WaitForInflight() {
    if (context_.inflight.load() > 0 && Clock::now() < drain_deadline_) {
      drain_timer_.expires_after(std::chrono::milliseconds(5));
      drain_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) WaitForInflight();
      });
      return;
    }
    if (context_.inflight.load() > 0) {
      Log(spdlog::level::warn, "drain timeout with requests still running",
          {{"inflight", std::to_string(context_.inflight.load())}});
    }
    // Copy the weak pointers out first: a connection's destructor takes the
    // same mutex.
    std::vector<std::weak_ptr<Connection>> open;
    {
      std::lock_guard<std::mutex> lock(context_.mutex);
      for (auto& [raw, weak] : context_.connections) open.push_back(weak);
    }
    Log(spdlog::level::info, "closing connections",
        {{"connections", std::to_string(open.size())}});
    for (auto& weak : open) {
      if (auto connection = weak.lock()) connection->Drain();
    }
    close_deadline_ = Clock::now() + std::chrono::seconds(2);
    WaitForConnections();
  }

  void WaitForConnections() {
    bool empty = false;
    {
      std::lock_guard<std::mutex> lock(context_.mutex);
      empty = context_.connections.empty();
    }
    if (!empty && Clock::now() < close_deadline_) {
      drain_timer_.expires_after(std::chrono::milliseconds(5));
      drain_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) WaitForConnections();
      });
      return;
    }
    http_.Close();
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
    done_cv_.notify_all();
  }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    work_.clear();
    for (auto& context : contexts_) context->stop();
    for (auto& thread : io_threads_) thread.join();
    io_threads_.clear();
    workers_.join();
    write_workers_.join();
    notifier_.Stop();
    Log(spdlog::level::info, "cairnd stopped",
        {{"connections_total",
          std::to_string(metrics_->connections_total.load())}});
  }

  // /health's "replication": role, epoch, leader and the replication
  // plugin's stats (members, positions, lag: whatever it reports).
  nlohmann::ordered_json ReplicationHealth() {
    const LeaderInfo leader = store_->Leader();
    nlohmann::ordered_json out;
    out["plugin"] = store_->replication_plugin()->name();
    out["role"] = RoleName(leader.role);
    out["epoch"] = leader.epoch;
    out["leader_known"] = leader.known;
    out["leader"] = leader.node;
    out["leader_address"] = leader.address;
    out["role_changes"] = store_->role_changes();
    nlohmann::ordered_json stats = nlohmann::ordered_json::object();
    if (auto all = store_->Stats(); all.ok()) {
      for (const auto& [key, value] : *all) {
        constexpr std::string_view kPrefix = "replication.";
        if (key.compare(0, kPrefix.size(), kPrefix) == 0) {
          stats[key.substr(kPrefix.size())] = value;
        }
      }
    }
    out["stats"] = std::move(stats);
    return out;
  }

  HttpReply Http(const std::string& target) {
    HttpReply reply;
    if (target == "/health") {
      auto head = store_->HeadPosition();
      const bool draining = context_.draining.load();
      reply.content_type = "application/json";
      reply.status = head.ok() ? 200 : 503;
      nlohmann::ordered_json body;
      body["status"] = !head.ok() ? "error" : (draining ? "draining" : "ok");
      body["store_open"] = head.ok();
      body["head_position"] = head.ok() ? *head : 0;
      body["last_write_unix_us"] = metrics_->last_append_unix_us.load();
      body["role"] = RoleName(store_->role());
      body["connections"] = metrics_->connections_active.load();
      body["replication"] = ReplicationHealth();
      if (!head.ok()) body["error"] = std::string(head.status().message());
      reply.body =
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
          "\n";
      return reply;
    }
    if (target == "/ready") {
      const bool draining = context_.draining.load();
      const bool leader_known = store_->Leader().known;
      const bool ready = !draining && leader_known;
      reply.status = ready ? 200 : 503;
      reply.body = ready      ? "ready\n"
                   : draining ? "draining\n"
                              : "no leader known\n";
      return reply;
    }
    if (target == "/metrics") {
      std::map<std::string, double> stats;
      if (auto s = store_->Stats(); s.ok()) stats = *std::move(s);
      std::vector<GaugeValue> gauges = {
          {"cairnd_resident_memory_bytes",
           "Resident memory of the cairnd process (/proc/self/statm).",
           static_cast<double>(ResidentMemoryBytes())},
          {"cairnd_disk_use_bytes", "Bytes of all files under the store path.",
           static_cast<double>(DiskUse(store_path_))},
          {"cairnd_requests_inflight", "Requests running on workers now.",
           static_cast<double>(context_.inflight.load())},
          {"cairnd_draining", "1 while the server drains for shutdown.",
           context_.draining.load() ? 1.0 : 0.0},
      };
      const LeaderInfo leader = store_->Leader();
      gauges.push_back({"cairnd_replication_role",
                        "This node's role: 1 primary, 2 replica, 3 standalone.",
                        static_cast<double>(leader.role)});
      gauges.push_back({"cairnd_replication_epoch",
                        "The newest replication epoch this node knows.",
                        static_cast<double>(leader.epoch)});
      gauges.push_back({"cairnd_replication_leader_known",
                        "1 while this node knows a leader, else 0.",
                        leader.known ? 1.0 : 0.0});
      // A counter: exported as cairn_store_role_changes_total.
      stats["store.role_changes_total"] =
          static_cast<double>(store_->role_changes());
      if (auto head = store_->HeadPosition(); head.ok()) {
        gauges.push_back({"cairnd_head_position",
                          "The store's head position.",
                          static_cast<double>(*head)});
      }
      reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
      reply.body = metrics_->Render(stats, gauges);
      return reply;
    }
    reply.status = 404;
    reply.body = "not found; try /health, /ready or /metrics\n";
    return reply;
  }

  ServerOptions options_;
  Store* store_;
  ServerMetrics* metrics_;
  std::string store_path_;
  asio::thread_pool workers_;
  asio::thread_pool write_workers_;  // ServerContext::write_workers
  CommitNotifier notifier_;
  ServerContext context_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  // contexts_[0]: also runs the acceptor, signals, HTTP and the drain.
  asio::io_context& io_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>>
      work_;
  size_t next_context_ = 0;  // io_ only
  std::optional<asio::ssl::context> tls_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer drain_timer_;
  asio::steady_timer retry_timer_;  // accept back-off
  AcceptGuard accept_guard_;        // io_ only
  HttpServer http_;
  uint16_t port_ = 0;
  std::vector<std::thread> io_threads_;
  Clock::time_point drain_deadline_;
  Clock::time_point close_deadline_;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  bool stopped_ = false;
};

Server::Server(ServerOptions options, std::string store_path, Store* store,
               ServerMetrics* metrics)
    : store_path_(std::move(store_path)),
      impl_(std::make_unique<Impl>(std::move(options), store, metrics)) {}

Server::~Server() = default;

absl::Status Server::Start() { return impl_->Start(store_path_); }

uint16_t Server::port() const { return impl_->port(); }
uint16_t Server::http_port() const { return impl_->http_port(); }
void Server::Run() { impl_->Run(); }
void Server::Shutdown() { impl_->Shutdown(); }

}  // namespace cairn::cairnd
