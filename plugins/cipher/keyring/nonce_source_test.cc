#include "nonce_source.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <set>
#include <string>

namespace cairn::keyring {
namespace {

using Nonce = std::array<uint8_t, 12>;

Nonce Draw() {
  Nonce nonce{};
  sdk::Status status = FillNonce(nonce.data(), nonce.size());
  EXPECT_TRUE(status.ok()) << status.message();
  return nonce;
}

TEST(NonceSource, NeverRepeatsAcrossManyPoolRefills) {
  std::set<Nonce> seen;
  constexpr int kCount = 50000;  // about 150 refills of the 4 KiB pool
  for (int i = 0; i < kCount; ++i) seen.insert(Draw());
  EXPECT_EQ(seen.size(), static_cast<size_t>(kCount));
}

TEST(NonceSource, RefusesAnOversizedRequest) {
  uint8_t buffer[kMaxNonceBytes + 1];
  EXPECT_EQ(FillNonce(buffer, sizeof(buffer)).code(), CAIRN_E_INTERNAL);
}

// A child process must not hand out the nonces still buffered in its
// parent's pool: with MADV_WIPEONFORK the child finds the pool empty.
TEST(NonceSource, ForkedChildDrawsDifferentNoncesThanItsParent) {
  Draw();  // fill this thread's pool
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    Nonce nonce{};
    int ok = FillNonce(nonce.data(), nonce.size()).ok() ? 0 : 1;
    ssize_t written = ::write(pipe_fds[1], nonce.data(), nonce.size());
    ::_exit(ok == 0 && written == static_cast<ssize_t>(nonce.size()) ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  Nonce from_child{};
  ssize_t got = ::read(pipe_fds[0], from_child.data(), from_child.size());
  ::close(pipe_fds[0]);
  int wait_status = 0;
  ASSERT_EQ(::waitpid(child, &wait_status, 0), child);
  ASSERT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0);
  ASSERT_EQ(got, static_cast<ssize_t>(from_child.size()));
  Nonce from_parent = Draw();
  EXPECT_NE(from_child, from_parent)
      << "parent and child handed out the same buffered nonce";
}

TEST(NonceSource, PoolIsBufferedOnThisKernel) {
  // Linux >= 4.14 has MADV_WIPEONFORK; without it nonces are still fresh
  // (straight from RAND_bytes) but slow, which the benchmarks would show.
  EXPECT_TRUE(NoncePoolIsBuffered());
}

}  // namespace
}  // namespace cairn::keyring
