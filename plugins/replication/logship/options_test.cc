#include "options.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn::logship {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<LogshipOptions> Parse(
    std::map<std::string, std::string> values) {
  std::vector<cairn_option> items;
  for (const auto& [key, value] : values) {
    items.push_back(cairn_option{key.c_str(), value.c_str()});
  }
  cairn_options options{items.data(), items.size()};
  return ParseOptions(sdk::Options(&options));
}

std::map<std::string, std::string> Minimal() {
  return {{"node-id", "a"},
          {"listen", "127.0.0.1:7401"},
          {"state-dir", "/tmp/x"},
          {"peers", "a=127.0.0.1:7401,b=127.0.0.1:7402,c=[::1]:7403"}};
}

TEST(LogshipOptions, MinimalSetParsesAndSkipsThisNodesPeerEntry) {
  absl::StatusOr<LogshipOptions> o = Parse(Minimal());
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->node_id, "a");
  EXPECT_EQ(o->listen.port, 7401);
  ASSERT_EQ(o->peers.size(), 2u);
  EXPECT_EQ(o->peers[0].node_id, "b");
  EXPECT_EQ(o->peers[1].address.host, "::1");
  EXPECT_EQ(o->peers[1].address.port, 7403);
  EXPECT_EQ(o->ack, AckRule::kQuorum);
  EXPECT_EQ(o->role, StaticRole::kReplica);
}

TEST(LogshipOptions, MissingRequiredOptionIsNamed) {
  for (const char* key : {"node-id", "listen", "state-dir"}) {
    auto values = Minimal();
    values.erase(key);
    absl::StatusOr<LogshipOptions> o = Parse(values);
    ASSERT_FALSE(o.ok()) << key;
    EXPECT_THAT(o.status().message(),
                HasSubstr(std::string("option '") + key + "' is required"));
  }
}

using Cases = std::vector<std::pair<std::string, std::string>>;

// Each case, set over `base`, is refused (InvalidArgument) naming its option.
void ExpectEachRefusedNamingItsOption(
    const std::map<std::string, std::string>& base, const Cases& cases) {
  for (const auto& [key, value] : cases) {
    auto values = base;
    values[key] = value;
    absl::StatusOr<LogshipOptions> o = Parse(values);
    ASSERT_FALSE(o.ok()) << key << " = " << value;
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(o.status().message(), HasSubstr("option '" + key + "'"))
        << key << " = " << value;
  }
}

TEST(LogshipOptions, MalformedValuesNameTheOption) {
  ExpectEachRefusedNamingItsOption(Minimal(),
                                   {
                                       {"listen", "127.0.0.1"},
                                       {"listen", "host:99999"},
                                       {"peers", "b:127.0.0.1:1"},
                                       {"peers", "B=127.0.0.1:1"},
                                       {"peers", "b=1.2.3.4:1,b=1.2.3.4:2"},
                                       {"ack", "most"},
                                       {"role", "leader"},
                                       {"ack-timeout", "5 s"},
                                       {"heartbeat-interval", "0"},
                                       {"peer-timeout", "150ms"},
                                       {"peer-timeout", "soon"},
                                       {"position-query-timeout", "0"},
                                       {"position-query-timeout", "61s"},
                                       {"position-query-timeout", "later"},
                                       {"max-frame-size", "1KiB"},
                                       {"max-batch-records", "0"},
                                       {"node-id", "-a"},
                                       {"sync-set", "z"},
                                       {"durable-policy", "sometimes"},
                                       {"client-addresses", "z=1.2.3.4:1"},
                                   });
}

TEST(LogshipOptions, SyncNeedsASyncSet) {
  auto values = Minimal();
  values["ack"] = "sync";
  absl::StatusOr<LogshipOptions> o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("option 'sync-set'"));
  values["sync-set"] = "a,b";
  o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->sync_set, (std::vector<std::string>{"a", "b"}));
}

TEST(LogshipOptions, PeerTimeoutIsAtLeastTwoHeartbeats) {
  auto values = Minimal();
  absl::StatusOr<LogshipOptions> o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->peer_timeout, std::chrono::milliseconds(3000));
  values["heartbeat-interval"] = "1s";
  o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  values["heartbeat-interval"] = "2s";
  o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("option 'peer-timeout'"));
  EXPECT_THAT(o.status().message(), HasSubstr("twice heartbeat-interval"));
  values["peer-timeout"] = "4s";
  o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->peer_timeout, std::chrono::milliseconds(4000));
}

std::map<std::string, std::string> Etcd() {
  auto values = Minimal();
  values["coordinator"] = "etcd";
  values["etcd-endpoints"] = "127.0.0.1:2379, 127.0.0.1:2380,[::1]:2381";
  return values;
}

TEST(LogshipOptions, EtcdCoordinatorTakesDefaultsAndIgnoresRole) {
  auto values = Etcd();
  values["role"] = "primary";
  absl::StatusOr<LogshipOptions> o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->coordinator, CoordinatorKind::kEtcd);
  EXPECT_EQ(o->etcd_endpoints,
            (std::vector<std::string>{"127.0.0.1:2379", "127.0.0.1:2380",
                                      "[::1]:2381"}));
  EXPECT_EQ(o->etcd_group, "cairn");
  EXPECT_EQ(o->lease_ttl, std::chrono::seconds(5));
  EXPECT_EQ(o->etcd_timeout, std::chrono::milliseconds(1000));
  values["etcd-group"] = "Orders.eu-1_a";
  values["lease-ttl"] = "3s";
  values["etcd-timeout"] = "250ms";
  o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->etcd_group, "Orders.eu-1_a");
  EXPECT_EQ(o->lease_ttl, std::chrono::seconds(3));
  EXPECT_EQ(o->etcd_timeout, std::chrono::milliseconds(250));
}

TEST(LogshipOptions, EtcdCoordinatorNeedsEndpoints) {
  auto values = Etcd();
  values.erase("etcd-endpoints");
  absl::StatusOr<LogshipOptions> o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(),
              HasSubstr("option 'etcd-endpoints' is required"));
}

TEST(LogshipOptions, MalformedEtcdValuesNameTheOption) {
  ExpectEachRefusedNamingItsOption(
      Etcd(), {
                  {"etcd-endpoints", "127.0.0.1"},
                  {"etcd-endpoints", "127.0.0.1:2379,host:70000"},
                  {"etcd-group", "a/b"},
                  {"etcd-group", "with space"},
                  {"lease-ttl", "1s"},
                  {"lease-ttl", "301s"},
                  {"lease-ttl", "2500ms"},
                  {"lease-ttl", "soon"},
                  {"etcd-timeout", "10ms"},
                  {"etcd-timeout", "5s"},
                  {"etcd-timeout", "x"},
                  {"coordinator", "zookeeper"},
              });
}

TEST(LogshipOptions, EtcdEndpointsUnderTheStaticCoordinatorAreRefused) {
  auto values = Minimal();
  values["etcd-endpoints"] = "127.0.0.1:2379";
  absl::StatusOr<LogshipOptions> o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("option 'etcd-endpoints'"));
  EXPECT_THAT(o.status().message(), HasSubstr("coordinator = static"));
}

TEST(LogshipOptions, SlowMemberTimeoutGoesWithEtcd) {
  absl::StatusOr<LogshipOptions> o = Parse(Etcd());
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->slow_member_timeout, std::chrono::milliseconds(5000));
  auto values = Etcd();
  values["slow-member-timeout"] = "750ms";
  o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->slow_member_timeout, std::chrono::milliseconds(750));
  values["slow-member-timeout"] = "0";
  o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->slow_member_timeout.count(), 0);
  values["slow-member-timeout"] = "soon";
  o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("slow-member-timeout"));

  values = Etcd();
  values["ack"] = "sync";
  values["sync-set"] = "a,b";
  values["ack-timeout"] = "2s";
  values["slow-member-timeout"] = "2s";
  o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(),
              HasSubstr("must be shorter than ack-timeout (2000ms)"));
  values["ack-timeout"] = "0";  // waits until close: any timeout fits
  EXPECT_TRUE(Parse(values).ok());
  values["ack-timeout"] = "2s";  // the default (5 s) is checked too
  values.erase("slow-member-timeout");
  EXPECT_FALSE(Parse(values).ok());
  values["coordinator"] = "static";  // static: no slow-member rule
  values.erase("etcd-endpoints");
  EXPECT_TRUE(Parse(values).ok()) << Parse(values).status();

  values = Minimal();
  values["slow-member-timeout"] = "2s";
  o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("option 'slow-member-timeout'"));
  EXPECT_THAT(o.status().message(), HasSubstr("coordinator = static"));
}

TEST(LogshipOptions, RejoinBackoffGoesWithEtcd) {
  absl::StatusOr<LogshipOptions> o = Parse(Etcd());
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->rejoin_backoff, std::chrono::milliseconds(10000));
  auto values = Etcd();
  values["rejoin-backoff"] = "0";
  o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->rejoin_backoff.count(), 0);
  values["rejoin-backoff"] = "often";
  o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("rejoin-backoff"));

  values = Minimal();
  values["rejoin-backoff"] = "3s";
  o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(),
              HasSubstr("option 'rejoin-backoff': '3s' is set but "
                        "coordinator = static"));
}

TEST(LogshipOptions, MinSyncReplicasFitsTheSyncSetAndGoesWithEtcd) {
  auto values = Etcd();
  values["ack"] = "sync";
  values["sync-set"] = "a,b,c";
  absl::StatusOr<LogshipOptions> o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->min_sync_replicas, 0u);
  values["min-sync-replicas"] = "2";
  o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->min_sync_replicas, 2u);
  values["min-sync-replicas"] = "3";
  o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(),
              HasSubstr("at most 2 replica(s) can be in it"));
  values["min-sync-replicas"] = "one";
  o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("min-sync-replicas"));

  values = Minimal();
  values["min-sync-replicas"] = "1";
  o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("option 'min-sync-replicas'"));
  EXPECT_THAT(o.status().message(), HasSubstr("coordinator = static"));
}

TEST(LogshipOptions, PositionQueryTimeoutDefaultsToTwoSeconds) {
  absl::StatusOr<LogshipOptions> o = Parse(Minimal());
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->position_query_timeout, std::chrono::milliseconds(2000));
  auto values = Minimal();
  values["position-query-timeout"] = "300ms";
  o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->position_query_timeout, std::chrono::milliseconds(300));
}

TEST(LogshipOptions, DurationsTakeUnits) {
  EXPECT_EQ(*ParseDuration("k", "250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*ParseDuration("k", "3s"), std::chrono::milliseconds(3000));
  EXPECT_EQ(*ParseDuration("k", "2m"), std::chrono::milliseconds(120000));
  EXPECT_EQ(*ParseDuration("k", "7"), std::chrono::milliseconds(7));
  EXPECT_FALSE(ParseDuration("k", "s").ok());
  EXPECT_FALSE(ParseDuration("k", "1d").ok());
}

TEST(LogshipOptions, TlsAutoIsPlainOnLoopbackAndOnWithACertificate) {
  absl::StatusOr<LogshipOptions> o = Parse(Minimal());
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->tls);
  auto values = Minimal();
  values["tls-cert-file"] = "/etc/cairn/n1.pem";
  values["tls-key-file"] = "/etc/cairn/n1.key";
  values["tls-ca-file"] = "/etc/cairn/ca.pem";
  o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->tls);
  EXPECT_EQ(o->tls_key_file, "/etc/cairn/n1.key");
  values["peers"] = "a=127.0.0.1:7401,b=10.0.0.2:7401";
  values["tls"] = "on";
  o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->tls);
}

TEST(LogshipOptions, TlsAutoRefusesAGroupBeyondLoopbackWithoutCertificate) {
  auto values = Minimal();
  values["peers"] = "a=127.0.0.1:7401,b=10.0.0.2:7401";
  absl::StatusOr<LogshipOptions> o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(o.status().message(), HasSubstr("option 'tls'"));
  EXPECT_THAT(o.status().message(), HasSubstr("peer 'b' at 10.0.0.2"));
  EXPECT_THAT(o.status().message(), HasSubstr("tls = off"));
  values = Minimal();
  values["listen"] = "0.0.0.0:7401";
  o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("listen = 0.0.0.0"));
  // Said on purpose: plain TCP.
  values["tls"] = "off";
  values["peers"] = "a=127.0.0.1:7401,b=10.0.0.2:7401";
  o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->tls);
}

TEST(LogshipOptions, TlsNeedsAllThreeFilesAndOffTakesNone) {
  for (const char* missing : {"tls-cert-file", "tls-key-file", "tls-ca-file"}) {
    auto values = Minimal();
    values["tls"] = "on";
    for (const char* key : {"tls-cert-file", "tls-key-file", "tls-ca-file"}) {
      if (std::string(key) != missing) values[key] = "/etc/cairn/x";
    }
    absl::StatusOr<LogshipOptions> o = Parse(values);
    ASSERT_FALSE(o.ok()) << missing;
    EXPECT_THAT(o.status().message(),
                HasSubstr(std::string("option '") + missing + "' is missing"));
  }
  auto values = Minimal();
  values["tls-cert-file"] = "/etc/cairn/n1.pem";  // auto: on, so all three
  absl::StatusOr<LogshipOptions> o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("option 'tls-key-file'"));
  values["tls"] = "off";
  o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("option 'tls' = off, yet"));
  values = Minimal();
  values["tls"] = "yes";
  o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("is not one of: auto, on, off"));
}

TEST(LogshipOptions, EtcdTlsOptionsGoWithEtcdAndTogether) {
  auto values = Minimal();
  values["etcd-tls-ca-file"] = "/etc/cairn/etcd-ca.pem";
  absl::StatusOr<LogshipOptions> o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(),
              HasSubstr("option 'etcd-tls-ca-file': '/etc/cairn/etcd-ca.pem' "
                        "is set but coordinator = static"));
  values["coordinator"] = "etcd";
  values["etcd-endpoints"] = "127.0.0.1:2379";
  o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->etcd_tls_ca_file, "/etc/cairn/etcd-ca.pem");
  values["etcd-tls-cert-file"] = "/etc/cairn/n1-etcd.pem";
  o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("go together"));
  values["etcd-tls-key-file"] = "/etc/cairn/n1-etcd.key";
  o = Parse(values);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->etcd_tls_key_file, "/etc/cairn/n1-etcd.key");
  values.erase("etcd-tls-ca-file");
  o = Parse(values);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("without 'etcd-tls-ca-file'"));
}

}  // namespace
}  // namespace cairn::logship
