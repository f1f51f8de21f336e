#include "http_server.h"

#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"

namespace cairn::cairnd {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, const HttpServer::Handler& handler,
              ServerMetrics* metrics)
      : stream_(std::move(socket)), handler_(handler), metrics_(metrics) {
    metrics_->http_connections_active.fetch_add(1);
  }
  ~HttpSession() { metrics_->http_connections_active.fetch_sub(1); }

  void Read() {
    request_ = {};
    parser_.emplace();
    parser_->body_limit(8 * 1024);
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec,
                                                 size_t) {
                       self->OnRead(ec);
                     });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec) {
      Close();
      return;
    }
    request_ = parser_->release();
    auto response = std::make_shared<http::response<http::string_body>>();
    response->version(request_.version());
    response->keep_alive(request_.keep_alive());
    response->set(http::field::server, "cairnd");
    if (request_.method() != http::verb::get &&
        request_.method() != http::verb::head) {
      response->result(http::status::method_not_allowed);
      response->set(http::field::allow, "GET, HEAD");
      response->set(http::field::content_type, "text/plain; charset=utf-8");
      response->body() = "only GET and HEAD are served\n";
    } else {
      std::string target(request_.target().data(), request_.target().size());
      if (auto query = target.find('?'); query != std::string::npos) {
        target.resize(query);
      }
      HttpReply reply = handler_(target);
      response->result(reply.status);
      response->set(http::field::content_type, reply.content_type);
      response->body() = std::move(reply.body);
    }
    response->prepare_payload();
    if (request_.method() == http::verb::head) response->body().clear();
    stream_.expires_after(std::chrono::seconds(10));
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response](
                          beast::error_code ec, size_t) {
                        if (ec || !response->keep_alive()) {
                          self->Close();
                          return;
                        }
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  const HttpServer::Handler& handler_;
  ServerMetrics* const metrics_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> request_;
};

}  // namespace

absl::Status HttpServer::Listen(const std::string& address, uint16_t port) {
  boost::system::error_code ec;
  const auto ip = boost::asio::ip::make_address(address, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP listen address '", address, "': ", ec.message()));
  }
  tcp::endpoint endpoint(ip, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen for HTTP on ", address, ":", port, ": ", ec.message(),
        "; pick another [http] port or 'off'"));
  }
  port_ = acceptor_.local_endpoint().port();
  Accept();
  return absl::OkStatus();
}

void HttpServer::Close() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
}

void HttpServer::Accept() {
  acceptor_.async_accept(
      boost::asio::make_strand(io_),
      [this](boost::system::error_code ec, tcp::socket socket) {
        if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) {
          return;
        }
        if (ec) {
          // Out of descriptors (EMFILE) and the like: accepting again at once
          // would fail again at once, spinning a CPU.
          retry_timer_.expires_after(guard_.Failed(ec));
          retry_timer_.async_wait([this](boost::system::error_code wait_ec) {
            if (!wait_ec && acceptor_.is_open()) Accept();
          });
          return;
        }
        boost::system::error_code ignored;
        if (!guard_.Admit(socket.native_handle())) {
          socket.close(ignored);
        } else if (metrics_->http_connections_active.load() >=
                   static_cast<int64_t>(max_connections_)) {
          metrics_->http_connections_refused_total.fetch_add(1);
          socket.close(ignored);
        } else {
          try {
            std::make_shared<HttpSession>(std::move(socket), handler_, metrics_)
                ->Read();
          } catch (const std::exception&) {
            // Resources ran out setting the session up: drop this one, keep
            // serving.
            metrics_->accept_errors_total.fetch_add(1);
          }
        }
        Accept();
      });
}

}  // namespace cairn::cairnd
