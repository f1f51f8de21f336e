// One client connection of the protocol port: framing, hello, request
// checks, pipelining to the worker pool, subscriptions with credit, limits
// and timeouts. Everything a connection owns runs on its executor (one I/O
// thread's io_context), one handler at a time.
#ifndef CAIRN_HOSTS_CAIRND_CONNECTION_H_
#define CAIRN_HOSTS_CAIRND_CONNECTION_H_

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "access_gate.h"
#include "cairn/store.h"
#include "commit_notifier.h"
#include "metrics.h"
#include "request_executor.h"
#include "server_options.h"

namespace cairn::cairnd {

class Connection {
 public:
  virtual ~Connection() = default;
  // Begins the TLS handshake (if any), then serving.
  virtual void Start() = 0;
  // Server shutdown: ends subscriptions, sends SHUTTING_DOWN and closes once
  // in-flight requests are answered. Thread-safe (posts to the strand).
  virtual void Drain() = 0;
  // Closes the connection at once if it has not said hello yet (the server
  // needs room for a newer one: max-pending-connections). Thread-safe.
  virtual void Evict() = 0;
};

// What every connection shares with the server.
struct ServerContext {
  ServerContext(const ServerOptions& options, Store* store,
                ServerMetrics* metrics, boost::asio::thread_pool* workers,
                boost::asio::thread_pool* write_workers,
                CommitNotifier* notifier)
      : options(options),
        store(store),
        metrics(metrics),
        executor(store, options.limits, metrics),
        gate(options.access, options.audit),
        workers(workers),
        write_workers(write_workers),
        notifier(notifier) {}

  const ServerOptions options;
  Store* const store;
  ServerMetrics* const metrics;
  const RequestExecutor executor;
  AccessGate gate;  // opened by the server before it accepts
  // Reads, subscriptions, admin requests.
  boost::asio::thread_pool* const workers;
  // Writes (append, delete-to, snapshot save and delete): they may wait for
  // replication's acknowledgement for as long as its ack timeout, so they
  // get threads of their own and cannot leave reads, status and promote
  // without a worker.
  boost::asio::thread_pool* const write_workers;
  CommitNotifier* const notifier;

  std::atomic<bool> draining{false};
  std::atomic<int64_t> inflight{0};  // requests on workers, all connections
  // Connections past hello: what max-connections bounds.
  std::atomic<int64_t> authenticated{0};

  std::mutex mutex;  // guards connections and pending
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections;
  // Connections not yet past hello, oldest first. `listed` points into the
  // connection; whoever removes the entry clears it (under `mutex`).
  struct PendingEntry {
    std::weak_ptr<Connection> connection;
    bool* listed;
  };
  std::list<PendingEntry> pending;
};

// `socket`'s executor must run one handler at a time (an io_context run by
// one thread, or a strand). The connection counts as pending until its
// hello; when that makes more than max-pending-connections, the oldest
// pending one is evicted. A hello past max-connections (authenticated
// connections) is answered TOO_MANY_CONNECTIONS and the connection closes.
// May throw what Asio or OpenSSL throw when out of resources (the caller
// drops the socket then).
std::shared_ptr<Connection> MakePlainConnection(
    ServerContext* context, boost::asio::ip::tcp::socket socket);
std::shared_ptr<Connection> MakeTlsConnection(
    ServerContext* context, boost::asio::ip::tcp::socket socket,
    boost::asio::ssl::context& tls);

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_CONNECTION_H_
