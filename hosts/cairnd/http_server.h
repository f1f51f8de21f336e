// A small HTTP/1.1 server (Boost.Beast) for /health, /ready and /metrics.
// GET and HEAD only; request bodies above 8 KiB and requests that take
// longer than 10 s are refused. Runs on the server's io_context.
#ifndef CAIRN_HOSTS_CAIRND_HTTP_SERVER_H_
#define CAIRN_HOSTS_CAIRND_HTTP_SERVER_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <string>

#include "absl/status/status.h"

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

  HttpServer(boost::asio::io_context& io, Handler handler)
      : io_(io), handler_(std::move(handler)), acceptor_(io) {}

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
  uint16_t port_ = 0;
};

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_HTTP_SERVER_H_
