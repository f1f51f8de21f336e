#include "access_control.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/match.h"
#include "test_certs.h"

namespace cairn::cairnd {
namespace {

using Scope = Requirement::Scope;

AccessPolicy Policy(const std::map<std::string, std::string>& section) {
  auto policy = AccessPolicy::FromSection(section);
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? *policy : AccessPolicy();
}

Identity Certified(const std::string& name) {
  return Identity{name, /*authenticated=*/true, /*loopback=*/false};
}

Requirement On(const std::string& stream, Right right) {
  return Requirement{Scope::kStream, right, stream, "test"};
}

TEST(AccessPolicy, RightsApplyPerPrefixAndIncludeLowerRights) {
  AccessPolicy policy = Policy({{"orders", "CN=orders-svc: write orders- invoices-"},
                                {"shared", "CN=orders-svc: read shared-"}});
  const Identity orders = Certified("CN=orders-svc");
  EXPECT_TRUE(policy.Check(orders, On("orders-1", Right::kWrite)).ok());
  EXPECT_TRUE(policy.Check(orders, On("invoices-7", Right::kRead)).ok());
  EXPECT_TRUE(policy.Check(orders, On("shared-x", Right::kRead)).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(policy.Check(orders, On("shared-x", Right::kWrite))));
  EXPECT_TRUE(absl::IsPermissionDenied(policy.Check(orders, On("orders-1", Right::kAdmin))));
  EXPECT_TRUE(absl::IsPermissionDenied(policy.Check(orders, On("payments-1", Right::kRead))));
  // Another identity gets nothing from these rules.
  EXPECT_TRUE(absl::IsPermissionDenied(
      policy.Check(Certified("CN=other"), On("orders-1", Right::kRead))));
}

TEST(AccessPolicy, DenialNamesIdentityRightStreamAndOperation) {
  AccessPolicy policy = Policy({{"orders", "CN=orders-svc: read orders-"}});
  absl::Status denied = policy.Check(
      Certified("CN=orders-svc"),
      Requirement{Scope::kStream, Right::kWrite, "orders-1", "append"});
  ASSERT_TRUE(absl::IsPermissionDenied(denied));
  EXPECT_TRUE(absl::StrContains(denied.message(),
                                "CN=orders-svc has no write right on stream 'orders-1' (append)"))
      << denied;
}

TEST(AccessPolicy, EveryStreamScopeNeedsTheStarPrefix) {
  AccessPolicy policy = Policy({{"orders", "CN=a: read orders-"}, {"all", "CN=b: read *"}});
  const Requirement read_all{Scope::kEveryStream, Right::kRead, "", "read_all"};
  const Requirement head{Scope::kAnyStream, Right::kRead, "", "head"};
  EXPECT_TRUE(absl::IsPermissionDenied(policy.Check(Certified("CN=a"), read_all)));
  EXPECT_TRUE(policy.Check(Certified("CN=a"), head).ok());
  EXPECT_TRUE(policy.Check(Certified("CN=b"), read_all).ok());
  EXPECT_TRUE(policy.Check(Certified("CN=b"), On("anything", Right::kRead)).ok());
}

TEST(AccessPolicy, AnonymousAndStarPatterns) {
  AccessPolicy policy = Policy({{"local", "anonymous@127.0.0.1: write *"},
                                {"anon", "anonymous: read public-"},
                                {"any", "*: read news-"}});
  const Identity local{"anonymous@127.0.0.1", false, true};
  const Identity remote{"anonymous@10.0.0.9", false, false};
  EXPECT_TRUE(policy.Check(local, On("x", Right::kWrite)).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(policy.Check(remote, On("x", Right::kRead))));
  EXPECT_TRUE(policy.Check(remote, On("public-1", Right::kRead)).ok());
  EXPECT_TRUE(policy.Check(Certified("CN=z"), On("news-1", Right::kRead)).ok());
  // "anonymous" never matches a certified identity.
  EXPECT_TRUE(absl::IsPermissionDenied(
      policy.Check(Certified("CN=z"), On("public-1", Right::kRead))));
}

TEST(AccessPolicy, DefaultWithoutSectionServesLoopbackAndCertifiedClientsOnly) {
  AccessPolicy open;
  EXPECT_FALSE(open.has_rules());
  const Requirement admin{Scope::kEveryStream, Right::kAdmin, "", "server_info"};
  EXPECT_TRUE(open.Check(Identity{"anonymous@127.0.0.1", false, true}, admin).ok());
  EXPECT_TRUE(open.Check(Certified("CN=client"), admin).ok());
  absl::Status remote = open.Check(Identity{"anonymous@10.0.0.9", false, false}, admin);
  EXPECT_TRUE(absl::IsPermissionDenied(remote));
  EXPECT_TRUE(absl::StrContains(remote.message(), "without an [access] section")) << remote;
}

TEST(AccessPolicy, RequestsThatNeedNoRightPassEvenWithNoRights) {
  AccessPolicy policy = Policy({{"x", "CN=x: read x-"}});
  v1::Request credit;
  credit.mutable_credit()->set_subscription_id(1);
  EXPECT_TRUE(policy.Check(Certified("CN=y"), RequirementFor(credit)).ok());
}

TEST(AccessPolicy, BadRulesAreRefusedNamingSectionKeyAndWhatIsWrong) {
  const std::pair<std::string, std::string> cases[] = {
      {"CN=x write orders-", "a colon and a space after the identity"},
      {": write orders-", "the identity before ': ' is empty"},
      {"CN=x: ", "no right after 'CN=x: '"},
      {"CN=x: own orders-", "'own' is not a right"},
      {"CN=x: read", "no stream prefix after 'read'"},
      {"CN=x: read orders-*", "'*' stands alone"},
      {"anonymous@nowhere: read *", "'nowhere' is not an IP address"},
  };
  for (const auto& [value, expected] : cases) {
    auto policy = AccessPolicy::FromSection({{"rule-7", value}});
    ASSERT_FALSE(policy.ok()) << value;
    EXPECT_TRUE(absl::StrContains(policy.status().message(),
                                  "[access] rule-7 = " + value + ": "))
        << policy.status();
    EXPECT_TRUE(absl::StrContains(policy.status().message(), expected)) << policy.status();
  }
}

TEST(RequirementFor, EveryRequestTypeMapsToARight) {
  v1::Request request;
  request.mutable_append()->set_stream("s");
  EXPECT_EQ(RequirementFor(request).right, Right::kWrite);
  EXPECT_EQ(RequirementFor(request).stream, "s");
  request.mutable_read_stream()->set_stream("s");
  EXPECT_EQ(RequirementFor(request).right, Right::kRead);
  request.mutable_read_all();
  EXPECT_EQ(RequirementFor(request).scope, Scope::kEveryStream);
  request.mutable_read_tag();
  EXPECT_EQ(RequirementFor(request).scope, Scope::kEveryStream);
  request.mutable_list_streams();
  EXPECT_EQ(RequirementFor(request).scope, Scope::kEveryStream);
  request.mutable_subscribe()->set_kind(v1::SUBSCRIBE_STREAM);
  request.mutable_subscribe()->set_name("s");
  EXPECT_EQ(RequirementFor(request).scope, Scope::kStream);
  request.mutable_subscribe()->set_kind(v1::SUBSCRIBE_ALL);
  EXPECT_EQ(RequirementFor(request).scope, Scope::kEveryStream);
  request.mutable_delete_to()->set_stream("s");
  EXPECT_EQ(RequirementFor(request).right, Right::kAdmin);
  request.mutable_server_info();
  EXPECT_EQ(RequirementFor(request).right, Right::kAdmin);
  request.mutable_verify();
  EXPECT_EQ(RequirementFor(request).right, Right::kAdmin);
  EXPECT_EQ(RequirementFor(request).scope, Scope::kEveryStream);
  EXPECT_TRUE(RequirementFor(request).record_outcome);
  request.mutable_rotate_key();
  EXPECT_EQ(RequirementFor(request).right, Right::kAdmin);
  EXPECT_EQ(RequirementFor(request).scope, Scope::kEveryStream);
  request.mutable_maintain();
  EXPECT_EQ(RequirementFor(request).right, Right::kAdmin);
  EXPECT_EQ(RequirementFor(request).scope, Scope::kEveryStream);
  EXPECT_STREQ(RequirementFor(request).operation, "maintain");
  request.mutable_save_snapshot()->mutable_snapshot()->set_stream("s");
  EXPECT_EQ(RequirementFor(request).right, Right::kWrite);
  request.mutable_delete_snapshots()->set_stream("s");
  EXPECT_EQ(RequirementFor(request).right, Right::kWrite);
  request.mutable_load_snapshot()->set_stream("s");
  EXPECT_EQ(RequirementFor(request).right, Right::kRead);
  request.mutable_flush();
  EXPECT_EQ(RequirementFor(request).scope, Scope::kAnyStream);
  EXPECT_EQ(RequirementFor(request).right, Right::kWrite);
  request.mutable_head();
  EXPECT_EQ(RequirementFor(request).scope, Scope::kAnyStream);
  request.mutable_head()->set_stream("s");
  EXPECT_EQ(RequirementFor(request).scope, Scope::kStream);
  request.mutable_cancel();
  EXPECT_EQ(RequirementFor(request).scope, Scope::kNone);
}

TEST(IdentityOf, CertificateGivesItsCommonNameAndNoCertificateGivesAnonymous) {
  auto dir = testing::MakeTestCertificates();
  ASSERT_TRUE(dir.ok()) << dir.status();
  FILE* file = std::fopen((*dir + "/orders.pem").c_str(), "r");
  ASSERT_NE(file, nullptr);
  X509* certificate = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  ASSERT_NE(certificate, nullptr);
  Identity identity = IdentityOf(certificate, "10.1.2.3");
  X509_free(certificate);
  EXPECT_EQ(identity.name, "CN=orders-svc");
  EXPECT_TRUE(identity.authenticated);
  EXPECT_FALSE(identity.loopback);

  Identity anonymous = IdentityOf(nullptr, "::1");
  EXPECT_EQ(anonymous.name, "anonymous@::1");
  EXPECT_FALSE(anonymous.authenticated);
  EXPECT_TRUE(anonymous.loopback);
  std::error_code ec;
  std::filesystem::remove_all(*dir, ec);
}

}  // namespace
}  // namespace cairn::cairnd
