#include "server_options.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <cairn/builtins.h>
#include <gtest/gtest.h>

#include <fstream>

namespace cairn::cairnd {
namespace {

SiteConfig Site(const std::string& text) {
  auto site = SiteConfig::Parse(text, "test.ini", HostSections());
  EXPECT_TRUE(site.ok()) << site.status();
  return site.ok() ? *site : SiteConfig();
}

// A key file with `mode` in a fresh folder (removed with it).
class TlsKeyFile {
 public:
  explicit TlsKeyFile(mode_t mode) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "cairnd-key-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
    path_ = dir_ + "/server.key";
    std::ofstream(path_) << "-----BEGIN PRIVATE KEY-----\n";
    ::chmod(path_.c_str(), mode);
  }
  ~TlsKeyFile() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

TEST(TlsPrivateKey, AKeyFileGroupOrOthersCanReadIsRefusedNamingTheFix) {
  TlsKeyFile key(0644);
  auto pem = ReadTlsPrivateKey(key.path());
  ASSERT_FALSE(pem.ok());
  EXPECT_EQ(pem.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(pem.status().message());
  EXPECT_NE(message.find("[tls] key-file = " + key.path()), std::string::npos) << message;
  EXPECT_NE(message.find("mode 0644"), std::string::npos) << message;
  EXPECT_NE(message.find("chmod 600 " + key.path()), std::string::npos) << message;
  ::chmod(key.path().c_str(), 0620);
  EXPECT_FALSE(ReadTlsPrivateKey(key.path()).ok());
}

TEST(TlsPrivateKey, APrivateKeyFileIsRead) {
  TlsKeyFile key(0600);
  auto pem = ReadTlsPrivateKey(key.path());
  ASSERT_TRUE(pem.ok()) << pem.status();
  EXPECT_EQ(*pem, "-----BEGIN PRIVATE KEY-----\n");
}

TEST(TlsPrivateKey, AKeyFileAnotherUserOwnsIsRefused) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "only root can make a file another user owns; "
                    "SecretFile.RefusesAnotherOwnerAlsoForRoot covers the rule";
  }
  TlsKeyFile key(0600);
  ASSERT_EQ(::chown(key.path().c_str(), 65534, static_cast<gid_t>(-1)), 0);
  auto pem = ReadTlsPrivateKey(key.path());
  ASSERT_FALSE(pem.ok());
  EXPECT_NE(pem.status().message().find("is owned by uid 65534, not by uid 0"),
            absl::string_view::npos)
      << pem.status();
}

TEST(TlsPrivateKey, AMissingKeyFileIsNamed) {
  auto pem = ReadTlsPrivateKey("/nonexistent/cairnd.key");
  ASSERT_FALSE(pem.ok());
  EXPECT_NE(pem.status().message().find("[tls] key-file = /nonexistent/cairnd.key: cannot open"),
            absl::string_view::npos)
      << pem.status();
}

TEST(ServerOptions, DefaultsServePlainTcpOnLoopback) {
  auto options = ServerOptionsFromSite(SiteConfig());
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->listen, "127.0.0.1");
  EXPECT_EQ(options->port, 7600);
  EXPECT_FALSE(options->tls());
  // The HTTP port (/health, /metrics: no identity) is loopback-only too
  // unless the site says otherwise (issue #13).
  EXPECT_EQ(options->http_listen, "127.0.0.1");
}

TEST(ServerOptions, NetworkAddressWithoutCertificateIsRefused) {
  auto options = ServerOptionsFromSite(Site("[server]\nlisten = 0.0.0.0\n"));
  ASSERT_FALSE(options.ok());
  EXPECT_NE(options.status().message().find("[tls] mode = off"),
            std::string::npos)
      << options.status();
}

TEST(ServerOptions, PlainTcpOnTheNetworkWhenTheSiteSaysSo) {
  auto options = ServerOptionsFromSite(
      Site("[server]\nlisten = 0.0.0.0\n[tls]\nmode = off\n"));
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_FALSE(options->tls());
}

TEST(ServerOptions, CertificateTurnsTlsOn) {
  auto options = ServerOptionsFromSite(
      Site("[tls]\ncert-file = a.pem\nkey-file = a.key\nca-file = ca.pem\n"));
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->tls());
  EXPECT_EQ(options->tls_ca_file, "ca.pem");
}

TEST(ServerOptions, LimitsParseUnits) {
  auto options = ServerOptionsFromSite(
      Site("[limits]\nmax-frame = 1MiB\nidle-timeout = 30s\n"
           "handshake-timeout = 500ms\nmax-batch = 10\n"
           "max-pending-connections = 7\n[http]\nmax-connections = 9\n"
           "[server]\nfd-reserve = 32\n"));
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->limits.max_pending_connections, 7u);
  EXPECT_EQ(options->http_max_connections, 9u);
  EXPECT_EQ(options->fd_reserve, 32u);
  EXPECT_EQ(options->limits.max_frame, 1u << 20);
  EXPECT_EQ(options->limits.idle_timeout.count(), 30000);
  EXPECT_EQ(options->limits.handshake_timeout.count(), 500);
  EXPECT_EQ(options->limits.max_batch, 10u);
}

// One size grammar for every host (cairn/sdk/size.hpp): binary units are
// powers of 1024, k/M/G powers of 1000, and 'kb' is refused as ambiguous.
TEST(ServerOptions, SizesUseTheOneGrammar) {
  auto options =
      ServerOptionsFromSite(Site("[limits]\nmax-frame = 2M\n"
                                 "[audit]\nmax-size = 64KiB\n"));
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->limits.max_frame, 2000000u);
  EXPECT_EQ(options->audit.max_size, 64u << 10);
  for (const char* bad : {"max-frame = 64kb", "max-frame = 64K"}) {
    auto refused =
        ServerOptionsFromSite(Site(std::string("[limits]\n") + bad + "\n"));
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.status().message().find("ambiguous; write 64KiB"),
              std::string::npos)
        << refused.status();
    EXPECT_NE(refused.status().message().find("[limits] max-frame"),
              std::string::npos);
  }
}

TEST(ServerOptions, UnknownKeyIsNamed) {
  auto options = ServerOptionsFromSite(Site("[limits]\nmax-frames = 1\n"));
  ASSERT_FALSE(options.ok());
  EXPECT_NE(options.status().message().find("[limits] max-frames: unknown key"),
            std::string::npos)
      << options.status();
}

TEST(ServerOptions, BadValueIsNamed) {
  auto options = ServerOptionsFromSite(Site("[server]\nport = 70000\n"));
  ASSERT_FALSE(options.ok());
  EXPECT_NE(options.status().message().find("[server] port = 70000"),
            std::string::npos)
      << options.status();
}

TEST(ServerOptions, BusyPollDefaultsTo50MicrosecondsAndIsBounded) {
  auto defaults = ServerOptionsFromSite(Site(""));
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->busy_poll_us, 50u);
  auto off = ServerOptionsFromSite(Site("[server]\nbusy-poll-us = 0\n"));
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->busy_poll_us, 0u);
  auto bad = ServerOptionsFromSite(Site("[server]\nbusy-poll-us = 20000\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("[server] busy-poll-us = 20000"),
            std::string::npos)
      << bad.status();
}

TEST(ServerOptions, InlineAppendsIsAutoOnOrOff) {
  auto on = ServerOptionsFromSite(Site("[server]\ninline-appends = on\n"));
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_TRUE(on->inline_appends);
  auto off = ServerOptionsFromSite(
      Site("[storage]\nplugin = memory\n[server]\ninline-appends = off\n"));
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->inline_appends);
  auto bad = ServerOptionsFromSite(Site("[server]\ninline-appends = yes\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not auto, on or off"),
            std::string::npos);
}

// `auto` is decided by the opened store's capabilities
// (Store::AppendMayBlock), not by plugin names or options cairnd knows.
TEST(ServerOptions, AutoInlineAppendsFollowsTheOpenedStore) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "cairnd-inline-XXXXXX")
          .string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  PluginRegistry registry;
  ASSERT_TRUE(RegisterBuiltinPlugins(registry).ok());
  struct Case {
    const char* site;
    bool inline_appends;
  } cases[] = {
      {"", false},  // mmaplog, whose default fsync = always blocks
      {"[storage]\nplugin = mmaplog\nfsync = never\n", true},
      {"[storage]\nplugin = memory\n", true},
      {"[storage]\nplugin = memory\n[server]\ninline-appends = off\n", false},
      {"[server]\ninline-appends = on\n", true},
  };
  int n = 0;
  for (const Case& c : cases) {
    SiteConfig site = Site(c.site);
    site.path = pattern + "/" + std::to_string(n++);
    auto options = ServerOptionsFromSite(site);
    ASSERT_TRUE(options.ok()) << c.site << ": " << options.status();
    auto store = Store::Open(site, registry);
    ASSERT_TRUE(store.ok()) << c.site << ": " << store.status();
    ResolveInlineAppends(**store, *options);
    EXPECT_EQ(options->inline_appends, c.inline_appends)
        << c.site << ": " << options->inline_appends_reason;
    if (options->inline_appends_setting == InlineAppends::kAuto) {
      EXPECT_NE(options->inline_appends_reason.find(site.storage.plugin),
                std::string::npos)
          << options->inline_appends_reason;
    }
  }
  std::filesystem::remove_all(pattern);
}

TEST(ServerOptions, HttpCanBeTurnedOff) {
  auto options = ServerOptionsFromSite(Site("[http]\nport = off\n"));
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_FALSE(options->http_enabled);
}

TEST(ServerOptions, AccessAuditAndClientSectionsAreRead) {
  auto options = ServerOptionsFromSite(
      Site("[access]\nops = CN=ops: admin *\n[audit]\npath = /tmp/a.log\n"
           "max-size = 1MiB\nkeep = 3\nfsync = on\nkey-file = /etc/a.key\n"
           "[client]\ntls-ca = ca.pem\n"));
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->access.has_rules());
  EXPECT_EQ(options->audit.path, "/tmp/a.log");
  EXPECT_EQ(options->audit.max_size, 1u << 20);
  EXPECT_EQ(options->audit.keep, 3u);
  EXPECT_TRUE(options->audit.fsync);
  EXPECT_EQ(options->audit.key_file, "/etc/a.key");
}

TEST(ServerOptions, BadAuditOrAccessValueIsRefusedNamingTheKey) {
  auto audit = ServerOptionsFromSite(Site("[audit]\nfsync = sometimes\n"));
  ASSERT_FALSE(audit.ok());
  EXPECT_NE(audit.status().message().find("[audit] fsync = sometimes: "),
            std::string::npos)
      << audit.status();
  auto access = ServerOptionsFromSite(Site("[access]\nops = CN=ops admin *\n"));
  ASSERT_FALSE(access.ok());
  EXPECT_NE(access.status().message().find("[access] ops = CN=ops admin *: "),
            std::string::npos)
      << access.status();
}

TEST(ServerOptions, ErrorsArePlacedOnTheirSiteFileLine) {
  const std::string path = ::testing::TempDir() + "/site-line.ini";
  const std::string text =
      "[server]\nport = 7600\n\n[access]\nops = CN=ops: admin *\n"
      "orders = CN=orders write orders-\n";
  {
    std::ofstream out(path);
    out << text;
  }
  auto options = ServerOptionsFromSite(Site(text));
  ASSERT_FALSE(options.ok());
  EXPECT_EQ(SiteFileLineOf(path, std::string(options.status().message())), path + ":6");
  EXPECT_EQ(SiteFileLineOf(path, "[server] port = x: bad"), path + ":2");
  EXPECT_EQ(SiteFileLineOf(path, "[audit] path = x: bad"), "");
  EXPECT_EQ(SiteFileLineOf("", "[server] port = x: bad"), "");
}

}  // namespace
}  // namespace cairn::cairnd
