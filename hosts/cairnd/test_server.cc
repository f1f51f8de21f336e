#include "test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "protocol/frame.h"

namespace cairn::testing {
namespace {

std::string BinDir() {
  const char* dir = std::getenv("CAIRN_BIN_DIR");
  return dir ? dir : ".";
}

bool ReadPort(const std::string& path, uint16_t* port) {
  std::ifstream in(path);
  unsigned value = 0;
  if (!(in >> value) || value == 0 || value > 65535) return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestServer>> TestServer::Start(
    const std::vector<std::string>& extra_args, const std::string& data_dir,
    uint64_t max_open_files) {
  std::unique_ptr<TestServer> server(new TestServer());
  std::string pattern =
      (std::filesystem::temp_directory_path() / "cairnd-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError("mkdtemp failed");
  }
  server->dir_ = pattern;
  const std::string binary = BinDir() + "/cairnd";
  // Each flag with its value on one line.
  // clang-format off
  std::vector<std::string> args = {
      binary,
      "--data", data_dir.empty() ? server->dir_ + "/data" : data_dir,
      "--port", "0",
      "--port-file", server->dir_ + "/port",
      "--http-port", "0",
      "--http-port-file", server->dir_ + "/http-port",
      "--set", "storage.fsync=never",
      "--set", "storage.segment-size=8MiB"};
  // clang-format on
  // These two unless the test sets them.
  for (const char* flag : {"--io-threads", "--workers"}) {
    if (std::find(extra_args.begin(), extra_args.end(), flag) ==
        extra_args.end()) {
      args.push_back(flag);
      args.push_back(std::string(flag) == "--io-threads" ? "2" : "4");
    }
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  const std::string log_path = server->dir_ + "/stderr.log";

  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    if (max_open_files > 0) {
      const rlimit limit{max_open_files, max_open_files};
      if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(126);
    }
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log >= 0) {
      dup2(log, 2);
      dup2(log, 1);
    }
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  server->pid_ = pid;
  // Wait for both port files (cairnd writes them once it is serving) or for
  // the process to die; bounded at 20 s.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadPort(server->dir_ + "/port", &server->port_) &&
        ReadPort(server->dir_ + "/http-port", &server->http_port_)) {
      return server;
    }
    if (!server->Running()) {
      return absl::InternalError(absl::StrCat(
          "cairnd exited with status ", server->exit_status_,
          " before serving; its log:\n", server->Log()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("cairnd did not write its port files in 20 s; log:\n",
                   server->Log()));
}

TestServer::~TestServer() {
  if (Running()) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

bool TestServer::Running() {
  if (pid_ <= 0 || exit_status_ != -2) return false;
  int status = 0;
  pid_t done = waitpid(pid_, &status, WNOHANG);
  if (done == 0) return true;
  exit_status_ = (done == pid_ && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  return false;
}

int TestServer::Terminate(int timeout_s) {
  if (!Running()) return exit_status_;
  kill(pid_, SIGTERM);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!Running()) return exit_status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_status_ = -1;
  return -1;
}

std::string TestServer::Log() const {
  std::ifstream in(dir_ + "/stderr.log");
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

bool TestServer::WaitForLog(const std::string& text, int timeout_ms) const {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(timeout_ms);
  while (true) {
    if (Log().find(text) != std::string::npos) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

uint64_t TestServer::ResidentBytes() const {
  std::ifstream statm(absl::StrCat("/proc/", pid_, "/statm"));
  uint64_t size = 0;
  uint64_t resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

ClientOptions TestServer::client_options() const {
  ClientOptions options;
  options.host = "127.0.0.1";
  options.port = port_;
  options.client_name = "cairnd-test";
  options.request_timeout = std::chrono::seconds(30);
  return options;
}

absl::StatusOr<std::unique_ptr<Client>> TestServer::Connect() const {
  return Client::Connect(client_options());
}

// ---------------------------------------------------------------- raw --

absl::StatusOr<std::unique_ptr<RawConnection>> RawConnection::Open(
    uint16_t port) {
  auto connection = std::unique_ptr<RawConnection>(new RawConnection());
  if (auto s = connection->Connect(port); !s.ok()) return s;
  return connection;
}

absl::Status RawConnection::Connect(uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    return absl::UnavailableError(absl::StrCat("connect to port ", port));
  }
  return absl::OkStatus();
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) close(fd_);
}

ssize_t RawConnection::SendSome(const char* data, size_t size) {
  return send(fd_, data, size, MSG_NOSIGNAL);
}

ssize_t RawConnection::ReceiveSome(char* data, size_t size) {
  return recv(fd_, data, size, 0);
}

absl::Status RawConnection::Send(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = SendSome(bytes.data() + sent, bytes.size() - sent);
    if (n <= 0) return absl::UnavailableError("send failed (server closed?)");
    sent += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

void RawConnection::ShutdownWrite() { shutdown(fd_, SHUT_WR); }

ssize_t RawConnection::ReceiveWithin(int timeout_ms, char* data, size_t size) {
  if (!HasBuffered()) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return 0;
  }
  const ssize_t n = ReceiveSome(data, size);
  return n <= 0 ? -1 : n;
}

absl::StatusOr<std::string> RawConnection::ReadFramePayload(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(timeout_ms);
  while (true) {
    if (buffer_.size() >= 4) {
      const auto* h = reinterpret_cast<const unsigned char*>(buffer_.data());
      const uint32_t length = (uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) |
                              (uint32_t{h[2]} << 8) | uint32_t{h[3]};
      if (buffer_.size() >= 4 + length) {
        std::string payload = buffer_.substr(4, length);
        buffer_.erase(0, 4 + length);
        return payload;
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return absl::DeadlineExceededError("no frame in time");
    char chunk[65536];
    const ssize_t n =
        ReceiveWithin(static_cast<int>(left), chunk, sizeof(chunk));
    if (n < 0) return absl::UnavailableError("server closed the connection");
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

bool RawConnection::WaitClosed(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    char chunk[65536];
    if (ReceiveWithin(50, chunk, sizeof(chunk)) < 0) return true;
  }
  return false;
}

absl::StatusOr<std::set<uint64_t>> PipelineThenHalfClose(
    RawConnection& connection, int count, const std::string& append_stream,
    const std::string& read_stream) {
  v1::Request hello;
  hello.set_request_id(1);
  hello.mutable_hello()->set_protocol_major(1);
  hello.mutable_hello()->set_client_name("half-close-test");
  std::string bytes = RequestFrame(hello);
  for (int i = 0; i < count; ++i) {
    v1::Request request;
    request.set_request_id(2 + i);
    if (i % 3 == 0) {
      auto* append = request.mutable_append();
      append->set_stream(append_stream);
      auto* event = append->add_events();
      event->set_type("Sent");
      event->set_data("then shut down");
    } else {
      request.mutable_read_stream()->set_stream(read_stream);
    }
    bytes += RequestFrame(request);
  }
  if (auto s = connection.Send(bytes); !s.ok()) return s;
  connection.ShutdownWrite();
  std::set<uint64_t> answered;
  for (int i = 0; i < count + 1; ++i) {
    auto payload = connection.ReadFramePayload(10000);
    if (!payload.ok()) {
      return absl::Status(
          payload.status().code(),
          absl::StrCat("after ", i, " of ", count + 1,
                       " answers: ", payload.status().message()));
    }
    v1::Response response;
    if (!response.ParseFromString(*payload)) {
      return absl::DataLossError(
          absl::StrCat("answer ", i + 1, " is not a cairn.v1.Response"));
    }
    if (response.has_error()) {
      return absl::InternalError(absl::StrCat(
          "answer ", i + 1, " is an error: ", response.DebugString()));
    }
    answered.insert(response.request_id());
  }
  return answered;
}

absl::StatusOr<std::pair<int, std::string>> HttpGet(uint16_t port,
                                                    const std::string& target) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("HTTP connect to port ", port));
  }
  const std::string request =
      absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                   "Connection: close\r\n\r\n");
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char chunk[65536];
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) break;
    response.append(chunk, static_cast<size_t>(n));
  }
  close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
  const size_t space = response.find(' ');
  const size_t body = response.find("\r\n\r\n");
  if (space == std::string::npos || body == std::string::npos) {
    return absl::DataLossError("not an HTTP response: " + response);
  }
  return std::make_pair(std::atoi(response.c_str() + space + 1),
                        response.substr(body + 4));
}

}  // namespace cairn::testing

namespace cairn::testing {

absl::StatusOr<double> MetricValue(uint16_t http_port,
                                   const std::string& name) {
  auto reply = HttpGet(http_port, "/metrics");
  if (!reply.ok()) return reply.status();
  const std::string prefix = "\n" + name + " ";
  const std::string text = "\n" + reply->second;
  const size_t at = text.find(prefix);
  if (at == std::string::npos) {
    return absl::NotFoundError(absl::StrCat("no metric ", name, " in:\n",
                                            reply->second));
  }
  return std::strtod(text.c_str() + at + prefix.size(), nullptr);
}

std::string RequestFrame(const v1::Request& request) {
  std::string out;
  protocol::AppendFrame(request, &out);
  return out;
}

int CountOccurrences(const std::string& log, const std::string& text) {
  int count = 0;
  for (size_t at = log.find(text); at != std::string::npos;
       at = log.find(text, at + text.size())) {
    ++count;
  }
  return count;
}

}  // namespace cairn::testing
