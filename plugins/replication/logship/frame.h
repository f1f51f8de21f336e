// Frames on a logship connection: a 4-byte big-endian length, then that many
// bytes of one serialized cairn.logship.v1.Frame
// (schemas/cairn/logship/v1/logship.proto).
#ifndef CAIRN_LOGSHIP_FRAME_H_
#define CAIRN_LOGSHIP_FRAME_H_

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/logship/v1/logship.pb.h"

namespace cairn::logship {

inline constexpr size_t kFrameHeaderBytes = 4;

// The 4-byte header followed by `frame`. ResourceExhausted if the frame is
// larger than max_frame_size.
absl::StatusOr<std::string> EncodeFrame(const v1::Frame& frame,
                                        uint64_t max_frame_size);

// The body length a header announces. InvalidArgument naming both sizes if
// it is 0 or above max_frame_size.
absl::StatusOr<uint32_t> DecodeFrameLength(const uint8_t header[4],
                                           uint64_t max_frame_size);

// The frame a body holds. InvalidArgument if it does not parse or carries no
// body (an empty oneof).
absl::StatusOr<v1::Frame> DecodeFrameBody(std::string_view body);

// A name for a frame's body, for messages ("hello", "records", ...).
const char* FrameName(const v1::Frame& frame);

// Connects `socket` (not yet open) to host:port, giving up after
// `timeout` or as soon as `cancelled` (asked every 50 ms) returns true. A
// blocking connect to a peer that drops SYNs (a partition) would wait for
// the kernel's retries, about two minutes. DeadlineExceeded if no address
// answered within `timeout`, else Unavailable, naming `peer_name` and why;
// the socket is left blocking.
absl::Status ConnectWithin(boost::asio::ip::tcp::socket& socket,
                           const std::string& host, uint16_t port,
                           std::chrono::milliseconds timeout,
                           const std::function<bool()>& cancelled,
                           const std::string& peer_name);

// One TCP connection carrying frames, plain or (after StartTls) TLS. Write
// and Read may run on two threads at once (one each); Shutdown may be called
// from any thread and makes a blocked Read or Write return. Exceptions from
// Asio stay inside.
// A connection knows how long a Read or Write has been blocked (StalledFor),
// so a watchdog can end one whose peer went silent (Expire).
class Connection {
 public:
  Connection(boost::asio::ip::tcp::socket socket, uint64_t max_frame_size,
             std::string peer_name);
  ~Connection();

  // Makes the connection TLS: the handshake as client (the peer's
  // certificate must name `verify_host`, its address or name in 'peers') or
  // as server, with `context` (tls.h). Call once, before any Read or Write.
  // The handshake counts as a Read for StalledFor, so the watchdog ends one
  // with a silent peer, and Shutdown ends it too. Unauthenticated naming the
  // peer and OpenSSL's reason if the handshake failed (a certificate not
  // signed by the CA, not naming the peer, none at all, or a peer that does
  // not speak TLS); Unavailable if the connection broke.
  //
  // How: OpenSSL's stream may not be read and written from two threads at
  // once, so from here on the connection runs its I/O as Asio asynchronous
  // operations on an I/O thread of its own (one implicit strand), and Read
  // and Write wait for them.
  absl::Status StartTls(boost::asio::ssl::context& context, bool client,
                        const std::string& verify_host);
  bool tls() const { return tls_ != nullptr; }
  // TLS only: whether the peer's certificate (verified against the CA in
  // the handshake) names `host`, an IP address or a DNS name, by OpenSSL's
  // RFC 6125 matching (subject alternative names, else the common name).
  bool PeerCertificateNames(const std::string& host) const;

  // Sends one frame. Unavailable (naming the peer) if the connection broke.
  absl::Status Write(const v1::Frame& frame);
  // Receives one frame. Unavailable if the peer closed or the connection
  // broke; InvalidArgument (naming the peer and what was wrong) for an
  // oversized or malformed frame, after which the connection is shut down.
  absl::StatusOr<v1::Frame> Read();
  // Sends raw bytes as they are (tests of the receiver's checks).
  absl::Status WriteRaw(std::string_view bytes);
  void Shutdown();

  // How long the Read or Write blocked longest right now has waited for the
  // peer (zero while neither waits). Read waits only for the header and
  // body of a frame; time spent between calls does not count.
  std::chrono::milliseconds StalledFor() const;
  // Shuts the connection down; a Read or Write that fails from then on
  // returns Unavailable with `why`. True for the first call only (later
  // calls keep the first reason).
  bool Expire(const std::string& why);

  const std::string& peer_name() const { return peer_name_; }

 private:
  // Unavailable: `why` if the connection was expired, else `what`.
  absl::Status Broken(std::string what);
  // One read_some / write_some on the socket or, with TLS, on the TLS
  // stream through its I/O thread.
  size_t ReadSome(boost::asio::mutable_buffer buffer,
                  boost::system::error_code& error);
  size_t WriteSome(boost::asio::const_buffer buffer,
                   boost::system::error_code& error);

  boost::asio::ip::tcp::socket socket_;
  // The descriptor, for Shutdown (the socket moves into tls_ at StartTls).
  const int fd_;
  struct Tls;
  std::unique_ptr<Tls> tls_;
  const uint64_t max_frame_size_;
  const std::string peer_name_;
  std::mutex write_mutex_;
  // steady_clock nanoseconds since epoch at which the current Read / Write
  // began to wait for the peer; 0: none waits.
  std::atomic<int64_t> read_since_{0};
  std::atomic<int64_t> write_since_{0};
  std::mutex expired_mutex_;
  std::string expired_;  // guarded by expired_mutex_
};

}  // namespace cairn::logship

#endif  // CAIRN_LOGSHIP_FRAME_H_
