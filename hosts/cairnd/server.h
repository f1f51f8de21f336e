// cairnd's server: the protocol listener (plain TCP or TLS), the HTTP
// listener, the I/O threads, the worker pool that runs store calls, and the
// graceful shutdown.
//
// Threads: `io-threads` threads run every socket, each its own io_context;
// a connection stays on one of them. Store calls run on `workers` threads,
// so an append that waits for fsync (fsync=always) never holds up an I/O
// thread; a connection can keep up to max-inflight requests running there at
// once. Appends run on the I/O thread instead when ServerOptions says
// inline_appends (the store's appends never wait for a sync). One more
// thread waits for commits and wakes live subscriptions (CommitNotifier).
#ifndef CAIRN_HOSTS_CAIRND_SERVER_H_
#define CAIRN_HOSTS_CAIRND_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "cairn/store.h"
#include "metrics.h"
#include "server_options.h"

namespace cairn::cairnd {

class Server {
 public:
  // `store` and `metrics` must outlive the Server. `store_path` is the
  // store's folder (for the disk-use gauge).
  Server(ServerOptions options, std::string store_path, Store* store,
         ServerMetrics* metrics);
  ~Server();

  // Binds both listeners, writes the port files, starts the threads. Fails
  // with a message naming the address or file when it cannot.
  absl::Status Start();

  uint16_t port() const;
  uint16_t http_port() const;  // 0 when HTTP is off

  // Blocks until SIGTERM or SIGINT arrives (or Shutdown is called), then
  // drains: stops accepting, answers new requests with SHUTTING_DOWN, waits
  // up to drain-timeout for in-flight requests, ends subscriptions, closes
  // connections and joins every thread. The caller then flushes and closes
  // the store.
  void Run();

  // Starts the drain from any thread (what the signal handler does).
  void Shutdown();

  class Impl;

 private:
  std::string store_path_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_SERVER_H_
