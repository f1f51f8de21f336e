#include "server_options.h"

#include <gtest/gtest.h>

namespace cairn::cairnd {
namespace {

SiteConfig Site(const std::string& text) {
  auto site = SiteConfig::Parse(text, "test.ini", HostSections());
  EXPECT_TRUE(site.ok()) << site.status();
  return site.ok() ? *site : SiteConfig();
}

TEST(ServerOptions, DefaultsServePlainTcpOnLoopback) {
  auto options = ServerOptionsFromSite(SiteConfig());
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->listen, "127.0.0.1");
  EXPECT_EQ(options->port, 7600);
  EXPECT_FALSE(options->tls());
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

TEST(ServerOptions, AutoInlineAppendsOnlyWhenAppendsNeverWaitForSync) {
  struct Case {
    const char* site;
    bool inline_appends;
  } cases[] = {
      {"", false},  // mmaplog's default fsync is always
      {"[storage]\nplugin = mmaplog\nfsync = always\n", false},
      {"[storage]\nplugin = mmaplog\nfsync = never\n", true},
      {"[storage]\nplugin = mmaplog\nfsync = interval:50\n", true},
      {"[storage]\nplugin = memory\n", true},
      {"[storage]\nplugin = some-other\n", false},
  };
  for (const Case& c : cases) {
    auto options = ServerOptionsFromSite(Site(c.site));
    ASSERT_TRUE(options.ok()) << c.site << ": " << options.status();
    EXPECT_EQ(options->inline_appends, c.inline_appends)
        << c.site << ": " << options->inline_appends_reason;
    EXPECT_FALSE(options->inline_appends_reason.empty());
  }
}

TEST(ServerOptions, ReplicationTurnsAutoInlineAppendsOff) {
  SiteConfig site;
  site.storage = {"memory", {}};
  site.replication = {"primary", {}};
  EXPECT_TRUE(AppendsWaitForSync(site, nullptr));
}

TEST(ServerOptions, HttpCanBeTurnedOff) {
  auto options = ServerOptionsFromSite(Site("[http]\nport = off\n"));
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_FALSE(options->http_enabled);
}

}  // namespace
}  // namespace cairn::cairnd
