// Test helper: runs a real cairnd process on loopback ports it picks itself
// (port 0, read back from --port-file), over a store in a fresh temp folder.
#ifndef CAIRN_HOSTS_CAIRND_TEST_SERVER_H_
#define CAIRN_HOSTS_CAIRND_TEST_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cairn/client.h"

namespace cairn::testing {

class TestServer {
 public:
  // Starts $CAIRN_BIN_DIR/cairnd (mmaplog, fsync=never, small segments) with
  // `extra_args` appended, and waits until it has written its port files.
  // `data_dir`: serve this store folder instead of a fresh one (it is not
  // removed afterwards). `max_open_files` > 0: the process runs with that
  // RLIMIT_NOFILE (soft and hard), set in the child before exec.
  static absl::StatusOr<std::unique_ptr<TestServer>> Start(
      const std::vector<std::string>& extra_args = {},
      const std::string& data_dir = "", uint64_t max_open_files = 0);
  ~TestServer();  // SIGKILL if still running; removes the folder

  uint16_t port() const { return port_; }
  uint16_t http_port() const { return http_port_; }
  const std::string& dir() const { return dir_; }
  pid_t pid() const { return pid_; }

  // Plain-TCP client options for this server.
  ClientOptions client_options() const;
  absl::StatusOr<std::unique_ptr<Client>> Connect() const;

  // Sends SIGTERM and waits up to `timeout_s` seconds; returns the exit
  // status (as from waitpid's WEXITSTATUS), or -1 if it had to be killed or
  // died from a signal.
  int Terminate(int timeout_s = 20);

  // Whether the process is still running (reaps it if not).
  bool Running();

  // Everything cairnd wrote on stderr so far.
  std::string Log() const;
  // Waits up to `timeout_ms` for `text` to appear in the log (the server
  // may log an event just after the client has seen its effect).
  bool WaitForLog(const std::string& text, int timeout_ms = 5000) const;

  // Resident memory of the process in bytes (/proc/<pid>/statm).
  uint64_t ResidentBytes() const;

 private:
  TestServer() = default;
  std::string dir_;
  pid_t pid_ = -1;
  int exit_status_ = -2;
  uint16_t port_ = 0;
  uint16_t http_port_ = 0;
};

// GET http://127.0.0.1:port/target; returns the status line code and body.
absl::StatusOr<std::pair<int, std::string>> HttpGet(uint16_t port,
                                                    const std::string& target);

// The value of the unlabelled metric `name` in GET /metrics; an error when
// the endpoint does not answer or has no such line.
absl::StatusOr<double> MetricValue(uint16_t http_port, const std::string& name);

// `request` as one frame (length prefix + message), for RawConnection::Send.
std::string RequestFrame(const v1::Request& request);

// How often `text` occurs in `log`.
int CountOccurrences(const std::string& log, const std::string& text);

// A raw TCP connection for bad-input tests: send bytes, read frames.
// Subclasses change the transport (test_tls_connection.h: TLS).
class RawConnection {
 public:
  static absl::StatusOr<std::unique_ptr<RawConnection>> Open(uint16_t port);
  virtual ~RawConnection();
  absl::Status Send(const std::string& bytes);
  // shutdown(SHUT_WR): the server reads EOF; this side can still read.
  virtual void ShutdownWrite();
  // Reads one Response frame within `timeout_ms`; an error when the server
  // closed the connection (kUnavailable) or sent bad bytes.
  absl::StatusOr<std::string> ReadFramePayload(int timeout_ms = 5000);
  // Waits up to `timeout_ms` for EOF from the server (after any frames).
  bool WaitClosed(int timeout_ms = 5000);

 protected:
  RawConnection() = default;
  // Connects fd() to 127.0.0.1:port.
  absl::Status Connect(uint16_t port);
  int fd() const { return fd_; }
  // The transport: like send(2) and recv(2) (<= 0: closed or failed).
  virtual ssize_t SendSome(const char* data, size_t size);
  virtual ssize_t ReceiveSome(char* data, size_t size);
  // Bytes the transport already holds, readable without waiting on fd().
  virtual bool HasBuffered() const { return false; }

 private:
  // Waits up to `timeout_ms` for something to read; then reads it.
  // 0: nothing in time; < 0: closed or failed.
  ssize_t ReceiveWithin(int timeout_ms, char* data, size_t size);

  int fd_ = -1;
  std::string buffer_;
};

// The half-close exchange: sends hello and `count` requests in one go
// (every third an append of one event to `append_stream`, the others reads
// of `read_stream`), then connection.ShutdownWrite(), and reads count + 1
// answers. Returns the request ids answered; an error says how many answers
// came before the connection closed or 10 s passed without one, or which
// answer was an error.
absl::StatusOr<std::set<uint64_t>> PipelineThenHalfClose(
    RawConnection& connection, int count, const std::string& append_stream,
    const std::string& read_stream);

}  // namespace cairn::testing

#endif  // CAIRN_HOSTS_CAIRND_TEST_SERVER_H_
