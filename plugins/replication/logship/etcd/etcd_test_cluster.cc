#include "etcd_test_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "etcd_gateway.h"

extern char** environ;

namespace cairn::logship::etcd::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// `count` distinct free loopback ports: all bound at once (so distinct),
// then released for etcd to take. Another process could take one in
// between; Start() retries the whole cluster when a member fails to start.
absl::StatusOr<std::vector<int>> FreePorts(int count) {
  std::vector<int> sockets;
  std::vector<int> ports;
  absl::Status status;
  for (int i = 0; i < count && status.ok(); ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd < 0 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
            0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) !=
            0) {
      status = absl::InternalError(
          absl::StrCat("cannot pick a free port: ", std::strerror(errno)));
    } else {
      ports.push_back(ntohs(address.sin_port));
    }
    if (fd >= 0) sockets.push_back(fd);
  }
  for (int fd : sockets) ::close(fd);
  if (!status.ok()) return status;
  return ports;
}

std::string Tail(const fs::path& file, size_t bytes = 3000) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  std::string text = content.str();
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

}  // namespace

std::string EtcdTestCluster::EtcdBinary() {
  const char* configured = std::getenv("CAIRN_ETCD");
  std::string binary = configured != nullptr && *configured != '\0'
                           ? configured
                           : "/usr/bin/etcd";
  return ::access(binary.c_str(), X_OK) == 0 ? binary : "";
}

absl::StatusOr<std::unique_ptr<EtcdTestCluster>> EtcdTestCluster::Start(
    int members, std::chrono::seconds ready_within, const EtcdTls* tls) {
  const std::string binary = EtcdBinary();
  if (binary.empty()) {
    return absl::FailedPreconditionError("etcd is not installed (etcd-server)");
  }
  if (members < 1)
    return absl::InvalidArgumentError("an etcd cluster needs a member");
  absl::Status last_error;
  constexpr int kAttempts = 3;  // a port taken between pick and bind
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    std::unique_ptr<EtcdTestCluster> cluster(new EtcdTestCluster());
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(
        tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/cairn-etcd-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(absl::StrCat(
          "cannot create a temp folder ", pattern, ": ", std::strerror(errno)));
    }
    cluster->dir_ = pattern;
    auto ports = FreePorts(2 * members);
    if (!ports.ok()) return ports.status();
    std::vector<std::string> peers;
    for (int i = 0; i < members; ++i) {
      peers.push_back(
          absl::StrCat("m", i, "=http://127.0.0.1:", (*ports)[2 * i + 1]));
      cluster->endpoints_.push_back(
          absl::StrCat("127.0.0.1:", (*ports)[2 * i]));
    }
    const std::string initial_cluster = absl::StrJoin(peers, ",");
    for (int i = 0; i < members; ++i) {
      const std::string client = absl::StrCat(
          tls != nullptr ? "https://" : "http://", cluster->endpoints_[i]);
      const std::string peer =
          absl::StrCat("http://127.0.0.1:", (*ports)[2 * i + 1]);
      std::vector<std::string> args = {
          binary, "--name", absl::StrCat("m", i), "--data-dir",
          absl::StrCat(cluster->dir_, "/m", i), "--listen-client-urls", client,
          "--advertise-client-urls", client, "--listen-peer-urls", peer,
          "--initial-advertise-peer-urls", peer, "--initial-cluster",
          initial_cluster, "--initial-cluster-token",
          absl::StrCat("cairn-test-", ::getpid(), "-", attempt),
          "--initial-cluster-state", "new",
          // Fast elections on loopback: a killed leader is replaced in
          // about a second.
          "--heartbeat-interval", "50", "--election-timeout", "500"};
      if (tls != nullptr) {
        for (const std::string& arg :
             {std::string("--cert-file"), tls->server_cert_file,
              std::string("--key-file"), tls->server_key_file,
              std::string("--trusted-ca-file"), tls->ca_file,
              std::string("--client-cert-auth")}) {
          args.push_back(arg);
        }
      }
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      const std::string log = absl::StrCat(cluster->dir_, "/m", i, ".log");
      posix_spawn_file_actions_t actions;
      posix_spawn_file_actions_init(&actions);
      posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                       O_RDONLY, 0);
      posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                       O_WRONLY | O_CREAT | O_TRUNC, 0644);
      posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
      pid_t pid = -1;
      int spawned = posix_spawn(&pid, binary.c_str(), &actions, nullptr,
                                argv.data(), environ);
      posix_spawn_file_actions_destroy(&actions);
      if (spawned != 0) {
        return absl::InternalError(absl::StrCat("cannot start ", binary, ": ",
                                                std::strerror(spawned)));
      }
      cluster->pids_.push_back(pid);
    }

    // Ready when every member answers a linearizable read (which needs a
    // leader and a quorum).
    const Clock::time_point deadline = Clock::now() + ready_within;
    std::vector<bool> ready(members, false);
    absl::Status waiting;
    bool exited = false;
    while (true) {
      bool all = true;
      for (int i = 0; i < members && !exited; ++i) {
        if (ready[i]) continue;
        if (!cluster->Running(i)) {
          exited = true;
          waiting = absl::UnavailableError(absl::StrCat(
              "etcd member m", i, " exited while starting; its log:\n",
              cluster->Log(i)));
          break;
        }
        GatewayOptions options{.endpoints = {cluster->endpoints_[i]},
                               .call_timeout = std::chrono::seconds(1)};
        if (tls != nullptr) {
          options.tls_ca_file = tls->ca_file;
          options.tls_cert_file = tls->client_cert_file;
          options.tls_key_file = tls->client_key_file;
        }
        auto gateway = EtcdGateway::Create(std::move(options));
        if (!gateway.ok()) return gateway.status();
        auto read = gateway->Range("/cairn-test/health");
        ready[i] = read.ok();
        if (!read.ok()) {
          all = false;
          waiting = read.status();
        }
      }
      if (exited) break;
      if (all) return cluster;
      if (Clock::now() >= deadline) {
        waiting = absl::DeadlineExceededError(absl::StrCat(
            "etcd cluster not ready within ", ready_within.count(),
            " s: ", waiting.message(), "\nm0's log:\n", cluster->Log(0)));
        break;
      }
      // Polling a starting process: there is no event to wait on.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    last_error = waiting;
  }
  return last_error;
}

EtcdTestCluster::~EtcdTestCluster() {
  for (size_t i = 0; i < pids_.size(); ++i) Kill(static_cast<int>(i));
  std::error_code ignored;
  if (!dir_.empty()) fs::remove_all(dir_, ignored);
}

void EtcdTestCluster::Kill(int index) {
  pid_t& pid = pids_.at(index);
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  pid = -1;
}

bool EtcdTestCluster::Running(int index) {
  pid_t& pid = pids_.at(index);
  if (pid <= 0) return false;
  if (::waitpid(pid, nullptr, WNOHANG) == pid) {
    pid = -1;
    return false;
  }
  return true;
}

std::string EtcdTestCluster::Log(int index) const {
  return Tail(absl::StrCat(dir_, "/m", index, ".log"));
}

}  // namespace cairn::logship::etcd::testing
