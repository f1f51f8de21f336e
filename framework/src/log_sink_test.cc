#include <cairn/log_sink.h>
#include <cairn/plugin_registry.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::string FixturePath(const std::string& name) {
  const char* dir = std::getenv("CAIRN_FIXTURE_DIR");
  return std::string(dir ? dir : "fixtures") + "/loader/" + name + ".so";
}

// Collects lines as "level source: message".
class Recorder {
 public:
  LogSink Sink() {
    return [this](cairn_log_level level, std::string_view source,
                  std::string_view message) {
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.push_back(std::string(LogLevelName(level)) + " " +
                       std::string(source) + ": " + std::string(message));
    };
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

TEST(LogSink, TheDefaultWritesInfoAndAboveAsJsonLinesOnStderr) {
  testing::internal::CaptureStderr();
  HostLog(CAIRN_LOG_DEBUG, "quiet", "not shown");
  HostLog(CAIRN_LOG_WARN, "mmaplog", "say \"hi\"\n\xff");
  const std::string out = testing::internal::GetCapturedStderr();
  ASSERT_EQ(out.find('\n'), out.size() - 1) << "one line: " << out;
  const nlohmann::json line = nlohmann::json::parse(out);
  EXPECT_EQ(line.at("level"), "warn");
  EXPECT_EQ(line.at("plugin"), "mmaplog");
  EXPECT_EQ(line.at("msg"), "say \"hi\"\n\xef\xbf\xbd");
}

TEST(LogSink, AnInstalledSinkGetsThePluginsLinesWithNameAndLevel) {
  Recorder recorder;
  ScopedLogSink scoped(recorder.Sink());
  testing::internal::CaptureStderr();
  PluginRegistry registry;
  absl::StatusOr<PluginPtr> plugin = registry.LoadFile(FixturePath("logs"));
  EXPECT_THAT(testing::internal::GetCapturedStderr(), IsEmpty())
      << "a plugin line bypassed the installed sink";
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  HostLog(CAIRN_LOG_INFO, "store", "own line");
  EXPECT_THAT(recorder.lines(), ElementsAre("warn logs: fixture: \"entered\"",
                                            "info store: own line"));
}

// The offer points at the process-wide sink, not at the sink of the moment:
// a plugin loaded before the host installed its sink still reaches it.
TEST(LogSink, ASinkInstalledAfterLoadingStillGetsThePluginsLaterLines) {
  PluginRegistry registry;
  absl::StatusOr<PluginPtr> plugin;
  {
    Recorder early;
    ScopedLogSink scoped(early.Sink());
    plugin = registry.LoadFile(FixturePath("logs"));
    ASSERT_TRUE(plugin.ok()) << plugin.status();
  }
  Recorder recorder;
  ScopedLogSink scoped(recorder.Sink());
  const cairn_codec_api* codec = (*plugin)->codec();
  ASSERT_NE(codec, nullptr);
  cairn_options options{};
  cairn_codec* instance = nullptr;
  ASSERT_EQ(codec->open(&options, &instance, nullptr), CAIRN_OK);
  codec->close(instance);
  EXPECT_THAT(recorder.lines(), ElementsAre("info logs: fixture: opened"));
}

TEST(LogSink, SetLogSinkReturnsTheSinkItReplacesAndScopedRestoresIt) {
  Recorder outer;
  Recorder inner;
  LogSink before = SetLogSink(outer.Sink());
  {
    ScopedLogSink scoped(inner.Sink());
    HostLog(CAIRN_LOG_ERROR, "a", "inner");
  }
  HostLog(CAIRN_LOG_INFO, "b", "outer");
  LogSink mine = SetLogSink(std::move(before));
  ASSERT_TRUE(mine);
  mine(CAIRN_LOG_DEBUG, "c", "direct");
  EXPECT_THAT(inner.lines(), ElementsAre("error a: inner"));
  EXPECT_THAT(outer.lines(), ElementsAre("info b: outer", "debug c: direct"));
}

// Threads log while the sink is swapped: every line reaches exactly one
// sink, and each replaced sink's state is destroyed as soon as SetLogSink
// returns (ASan and TSan builds catch a call still running inside it).
TEST(LogSink, SwappingSinksWhileThreadsLogLosesNoLineAndOutlivesNoSink) {
  constexpr int kThreads = 4;
  constexpr int kLinesEach = 2000;
  constexpr int kSwaps = 200;
  std::atomic<int> delivered{0};
  std::atomic<bool> start{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      while (!start.load()) std::this_thread::yield();
      for (int i = 0; i < kLinesEach; ++i) HostLog(CAIRN_LOG_INFO, "t", "line");
    });
  }
  auto count_into_delivered = [&delivered](cairn_log_level, std::string_view,
                                           std::string_view) { ++delivered; };
  LogSink before = SetLogSink(count_into_delivered);
  start.store(true);
  for (int s = 0; s < kSwaps; ++s) {
    auto count = std::make_unique<std::atomic<int>>(0);
    std::atomic<int>* counted = count.get();
    SetLogSink([counted](cairn_log_level, std::string_view, std::string_view) {
      ++*counted;
    });
    // Swap it out again; then no thread is inside it any more, so reading
    // and freeing its count is safe.
    SetLogSink(count_into_delivered);
    delivered += count->load();
    count.reset();
  }
  for (std::thread& t : threads) t.join();
  SetLogSink(std::move(before));
  EXPECT_EQ(delivered.load(), kThreads * kLinesEach);
}

}  // namespace
}  // namespace cairn
