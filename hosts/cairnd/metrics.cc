#include "metrics.h"

#include <unistd.h>

#include <fstream>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cairn::cairnd {
namespace {

void Counter(const std::string& name, const std::string& help, double value,
             std::string* out) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                  " counter\n", name, " ", absl::StrFormat("%.17g", value),
                  "\n");
}

void Gauge(const std::string& name, const std::string& help, double value,
           std::string* out) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                  " gauge\n", name, " ", absl::StrFormat("%.17g", value),
                  "\n");
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace

StoreStatMetric StoreStatMetricFor(const std::string& key) {
  StoreStatMetric metric;
  metric.name = "cairn_";
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_';
    metric.name.push_back(ok ? c : '_');
  }
  const size_t dot = key.rfind('.');
  const std::string_view last =
      std::string_view(key).substr(dot == std::string::npos ? 0 : dot + 1);
  metric.counter = EndsWith(last, "_total");
  return metric;
}

void LatencyHistogram::Observe(double seconds) {
  size_t bucket = 0;
  while (bucket < kBoundsSeconds.size() && seconds > kBoundsSeconds[bucket]) {
    ++bucket;
  }
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(seconds * 1e9),
                    std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void LatencyHistogram::Render(const std::string& name, const std::string& help,
                              std::string* out) const {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                  " histogram\n");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBoundsSeconds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    absl::StrAppend(out, name, "_bucket{le=\"",
                    absl::StrFormat("%g", kBoundsSeconds[i]), "\"} ",
                    cumulative, "\n");
  }
  cumulative += buckets_[kBoundsSeconds.size()].load(std::memory_order_relaxed);
  absl::StrAppend(out, name, "_bucket{le=\"+Inf\"} ", cumulative, "\n");
  absl::StrAppend(out, name, "_sum ",
                  absl::StrFormat("%.9f", sum_ns_.load() / 1e9), "\n");
  absl::StrAppend(out, name, "_count ", count_.load(), "\n");
}

void ServerMetrics::CountError(v1::ErrorCode code) {
  const int index = static_cast<int>(code);
  if (index >= 0 && index < kMaxErrorCode) {
    errors_by_code[index].fetch_add(1, std::memory_order_relaxed);
  }
}

std::string ServerMetrics::Render(
    const std::map<std::string, double>& store_stats,
    const std::vector<GaugeValue>& extra_gauges) const {
  std::string out;
  Counter("cairnd_connections_total", "Connections accepted.",
          connections_total.load(), &out);
  Gauge("cairnd_connections_active", "Connections open now.",
        connections_active.load(), &out);
  Counter("cairnd_connections_refused_total",
          "Connections refused because max-connections was reached.",
          connections_refused_total.load(), &out);
  Gauge("cairnd_connections_pending",
        "Connections not yet past hello (TLS handshake included).",
        connections_pending.load(), &out);
  Counter("cairnd_connections_evicted_total",
          "Connections not yet past hello closed to make room for a new one "
          "(max-pending-connections).",
          connections_evicted_total.load(), &out);
  Counter("cairnd_hello_timeouts_total",
          "Connections closed for sending no hello within handshake-timeout.",
          hello_timeouts_total.load(), &out);
  Counter("cairnd_tls_handshake_failures_total",
          "TLS handshakes that failed or timed out.",
          tls_handshake_failures_total.load(), &out);
  Counter("cairnd_accept_errors_total",
          "accept() failures on the protocol and HTTP listeners (EMFILE...).",
          accept_errors_total.load(), &out);
  Counter("cairnd_fd_reserve_refusals_total",
          "Connections closed at accept because file descriptors ran low.",
          fd_reserve_refusals_total.load(), &out);
  Gauge("cairnd_http_connections_active", "HTTP connections open now.",
        http_connections_active.load(), &out);
  Counter("cairnd_http_connections_refused_total",
          "HTTP connections closed at accept ([http] max-connections).",
          http_connections_refused_total.load(), &out);
  Counter("cairnd_requests_total", "Requests received.", requests_total.load(),
          &out);
  Counter("cairnd_appends_total", "Append requests that succeeded.",
          appends_total.load(), &out);
  Counter("cairnd_append_retries_answered_total",
          "Appends whose idempotency key an append already written had: "
          "its result was sent again, nothing written.",
          append_retries_answered_total.load(), &out);
  Counter("cairnd_append_events_total", "Events appended.",
          append_events_total.load(), &out);
  Counter("cairnd_append_bytes_total",
          "Data and metadata bytes appended (before codec and cipher).",
          append_bytes_total.load(), &out);
  append_latency.Render("cairnd_append_latency_seconds",
                        "Store time of an append request.", &out);
  Counter("cairnd_reads_total", "Read requests (stream, tag, all) served.",
          reads_total.load(), &out);
  Counter("cairnd_read_events_total", "Events returned by reads.",
          read_events_total.load(), &out);
  read_latency.Render("cairnd_read_latency_seconds",
                      "Store time of a read request.", &out);
  flush_latency.Render("cairnd_flush_latency_seconds",
                       "Time of flush requests (storage fsync).", &out);
  Gauge("cairnd_subscriptions_active", "Subscriptions open now.",
        subscriptions_active.load(), &out);
  Counter("cairnd_subscriptions_total", "Subscriptions opened.",
          subscriptions_total.load(), &out);
  Counter("cairnd_subscription_events_total",
          "Events delivered to subscriptions.",
          subscription_events_total.load(), &out);
  Counter("cairnd_received_bytes_total", "Protocol bytes received.",
          bytes_received_total.load(), &out);
  Counter("cairnd_sent_bytes_total", "Protocol bytes sent.",
          bytes_sent_total.load(), &out);
  Gauge("cairnd_last_append_timestamp_seconds",
        "Unix time of the last successful append (0: none yet).",
        last_append_unix_us.load() / 1e6, &out);
  absl::StrAppend(&out,
                  "# HELP cairnd_errors_total Error responses sent, by "
                  "protocol error code.\n# TYPE cairnd_errors_total counter\n");
  for (int code = 1; code < kMaxErrorCode; ++code) {
    if (!v1::ErrorCode_IsValid(code)) continue;
    absl::StrAppend(&out, "cairnd_errors_total{code=\"",
                    v1::ErrorCode_Name(static_cast<v1::ErrorCode>(code)),
                    "\"} ", errors_by_code[code].load(), "\n");
  }
  for (const auto& [key, value] : store_stats) {
    const StoreStatMetric metric = StoreStatMetricFor(key);
    if (metric.counter) {
      Counter(metric.name, "Store::Stats() total " + key + ".", value, &out);
    } else {
      Gauge(metric.name, "Store::Stats() value " + key + ".", value, &out);
    }
  }
  for (const GaugeValue& gauge : extra_gauges) {
    Gauge(gauge.name, gauge.help, gauge.value, &out);
  }
  return out;
}

uint64_t ResidentMemoryBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0;
  uint64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace cairn::cairnd
