// A small HTTP/1.1 server (Boost.Beast) for /health, /ready and /metrics.
// GET and HEAD only; request bodies above 8 KiB and requests that take
// longer than 10 s are refused; at most `max_connections` are open at once
// (more are closed at accept). Runs on the server's io_context.
#ifndef CAIRN_HOSTS_CAIRND_HTTP_SERVER_H_
#define CAIRN_HOSTS_CAIRND_HTTP_SERVER_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "accept_guard.h"
#include "metrics.h"

namespace cairn::cairnd {

struct HttpReply {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpServer {
 public:
  // Maps a request target ("/metrics") to a reply; called on an I/O thread.
  using Handler = std::function<HttpReply(const std::string& target)>;

  // `metrics` must outlive the server (sessions count themselves in it).
  HttpServer(boost::asio::io_context& io, Handler handler,
             unsigned max_connections, unsigned fd_reserve,
             ServerMetrics* metrics)
      : io_(io),
        handler_(std::move(handler)),
        acceptor_(io),
        retry_timer_(io),
        max_connections_(max_connections),
        metrics_(metrics),
        guard_("http", fd_reserve, metrics) {}

  absl::Status Listen(const std::string& address, uint16_t port);
  uint16_t port() const { return port_; }
  // Stops accepting; open sessions end on their own timeouts. Call on an
  // I/O thread (or before the threads run).
  void Close();

 private:
  void Accept();

  boost::asio::io_context& io_;
  Handler handler_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  const unsigned max_connections_;
  ServerMetrics* const metrics_;
  AcceptGuard guard_;
  uint16_t port_ = 0;
};

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_HTTP_SERVER_H_
