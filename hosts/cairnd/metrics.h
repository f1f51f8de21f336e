// The server's counters and latency histograms, rendered in the Prometheus
// text format (version 0.0.4) by the HTTP endpoint /metrics. Every update is
// a relaxed atomic add: safe from any thread, no lock on the request path.
#ifndef CAIRN_HOSTS_CAIRND_METRICS_H_
#define CAIRN_HOSTS_CAIRND_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cairn/v1/client.pb.h"

namespace cairn::cairnd {

// Latency histogram with fixed bounds from 10 µs to 10 s.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 16> kBoundsSeconds = {
      0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
      0.005,   0.01,     0.025,   0.05,   0.1,     0.5,    1.0,   10.0};

  void Observe(double seconds);
  // Appends the _bucket, _sum and _count lines of `name`.
  void Render(const std::string& name, const std::string& help,
              std::string* out) const;

 private:
  std::array<std::atomic<uint64_t>, kBoundsSeconds.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_ns_{0};
  std::atomic<uint64_t> count_{0};
};

struct GaugeValue {
  std::string name;  // a Prometheus metric name
  std::string help;
  double value = 0;
};

struct ServerMetrics {
  static constexpr int kMaxErrorCode = 128;

  std::atomic<uint64_t> connections_total{0};
  std::atomic<int64_t> connections_active{0};
  std::atomic<uint64_t> connections_refused_total{0};  // over max-connections
  std::atomic<uint64_t> tls_handshake_failures_total{0};
  // Accepted, not yet past hello (TLS handshake included): bounded by
  // max-pending-connections; the oldest is evicted to make room.
  std::atomic<int64_t> connections_pending{0};
  std::atomic<uint64_t> connections_evicted_total{0};
  std::atomic<uint64_t> hello_timeouts_total{0};  // no hello in handshake-timeout
  // accept() failures on either listener (EMFILE, ENFILE, ...), and
  // connections closed right after accept because file descriptors ran low
  // (within the reserve that keeps existing work going).
  std::atomic<uint64_t> accept_errors_total{0};
  std::atomic<uint64_t> fd_reserve_refusals_total{0};
  std::atomic<int64_t> http_connections_active{0};
  std::atomic<uint64_t> http_connections_refused_total{0};  // over [http] max-connections
  std::atomic<uint64_t> requests_total{0};
  std::atomic<uint64_t> appends_total{0};
  // Appends answered as a repeat of their idempotency key (nothing written).
  std::atomic<uint64_t> append_retries_answered_total{0};
  std::atomic<uint64_t> append_events_total{0};
  std::atomic<uint64_t> append_bytes_total{0};  // data + metadata bytes
  std::atomic<uint64_t> reads_total{0};
  std::atomic<uint64_t> read_events_total{0};
  std::atomic<int64_t> subscriptions_active{0};
  std::atomic<uint64_t> subscriptions_total{0};
  std::atomic<uint64_t> subscription_events_total{0};
  std::atomic<uint64_t> bytes_received_total{0};
  std::atomic<uint64_t> bytes_sent_total{0};
  std::atomic<int64_t> last_append_unix_us{0};
  std::array<std::atomic<uint64_t>, kMaxErrorCode> errors_by_code{};
  LatencyHistogram append_latency;
  LatencyHistogram read_latency;
  LatencyHistogram flush_latency;

  void CountError(v1::ErrorCode code);

  // The Prometheus text: these metrics, then `store_stats` (Store::Stats())
  // as StoreStatMetricFor says, then `extra_gauges` as given.
  std::string Render(const std::map<std::string, double>& store_stats,
                     const std::vector<GaugeValue>& extra_gauges) const;
};

// How one Store::Stats() key ("storage.fsyncs_total") is exported: as
// cairn_<key, every character outside [A-Za-z0-9_] made '_'>, a counter when
// the key's last part ends in "_total" (a plugin names its monotonic totals
// so; the host knows no plugin's stats), else a gauge. So
// storage.fsync_seconds_total -> cairn_storage_fsync_seconds_total (counter),
// storage.segments -> cairn_storage_segments (gauge). docs/server.md lists
// them.
struct StoreStatMetric {
  std::string name;
  bool counter = false;
};
StoreStatMetric StoreStatMetricFor(const std::string& key);

// Resident memory of this process in bytes, from /proc/self/statm; 0 when
// that file cannot be read.
uint64_t ResidentMemoryBytes();

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_METRICS_H_
