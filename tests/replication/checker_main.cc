// cairn-fault-check: checks a fault test's history against every node's log
// (the rules are in checker.h).
//
//   cairn-fault-check --history H.jsonl [--history H2.jsonl ...]
//                     --log NAME=LOG.jsonl [--log NAME2=LOG2.jsonl ...]
//                     [--seen SEEN.jsonl ...] [--event-type T]
//                     [--max-print N] [--superseded-acks]
//
// --superseded-acks (ack = async): an acknowledged append a failover
// dropped is counted as superseded, not reported as lost (checker.h).
// Prints one "VIOLATION <rule> [<node>] <message>" line per violation, then
// a summary. Exit 0: no violation; 1: violations; 2: bad usage or input
// (the message names the file and line).
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "checker.h"

namespace {

int Usage(const std::string& why) {
  std::cerr << "cairn-fault-check: " << why << "\n"
            << "usage: cairn-fault-check --history FILE [--history FILE ...] "
               "--log NAME=FILE [--log NAME=FILE ...] [--seen FILE ...] "
               "[--event-type T] [--max-print N] [--superseded-acks]\n";
  return 2;
}

// Reads every file of `paths` with `read` and appends what each holds to
// `out`; false, having said why, if one cannot be read.
template <typename T, typename ReadFn>
bool ReadEach(const std::vector<std::string>& paths, ReadFn read,
              std::vector<T>* out) {
  for (const std::string& path : paths) {
    absl::StatusOr<std::vector<T>> items = read(path);
    if (!items.ok()) {
      std::cerr << "cairn-fault-check: " << items.status().message() << "\n";
      return false;
    }
    out->insert(out->end(), items->begin(), items->end());
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> histories;
  std::vector<std::string> seen_files;
  std::vector<std::pair<std::string, std::string>> logs;
  cairn::faults::CheckOptions options;
  uint64_t max_print = 200;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      Usage(
          "checks a fault test's history against the nodes' logs (rules: "
          "checker.h)");
      return 0;
    }
    if (flag == "--superseded-acks") {
      options.superseded_acks = true;
      continue;
    }
    if (i + 1 >= argc) return Usage(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--history") {
      histories.push_back(value);
    } else if (flag == "--log") {
      const size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == value.size()) {
        return Usage("--log takes NAME=FILE, not '" + value + "'");
      }
      logs.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else if (flag == "--seen") {
      seen_files.push_back(value);
    } else if (flag == "--event-type") {
      options.event_type = value;
    } else if (flag == "--max-print") {
      if (!absl::SimpleAtoi(value, &max_print)) {
        return Usage("--max-print takes a count, not '" + value + "'");
      }
    } else {
      return Usage("unknown flag '" + flag + "'");
    }
  }
  if (histories.empty()) return Usage("give at least one --history");
  if (logs.empty()) return Usage("give at least one --log");

  std::vector<cairn::faults::Op> ops;
  if (!ReadEach(histories, cairn::faults::ReadHistory, &ops)) return 2;
  if (absl::Status s = cairn::faults::ValidateHistory(ops); !s.ok()) {
    std::cerr << "cairn-fault-check: bad history: " << s.message() << "\n";
    return 2;
  }
  std::vector<cairn::faults::NodeLog> node_logs;
  for (const auto& [name, path] : logs) {
    absl::StatusOr<cairn::faults::NodeLog> read =
        cairn::faults::ReadNodeLog(name, path);
    if (!read.ok()) {
      std::cerr << "cairn-fault-check: " << read.status().message() << "\n";
      return 2;
    }
    node_logs.push_back(*std::move(read));
  }

  std::vector<cairn::faults::SeenBatch> seen;
  if (!ReadEach(seen_files, cairn::faults::ReadSeen, &seen)) return 2;
  uint64_t seen_events = 0;
  for (const auto& b : seen) seen_events += b.positions.size();

  const std::vector<cairn::faults::Violation> violations =
      cairn::faults::Check(ops, node_logs, options, seen);
  std::map<std::string, uint64_t> per_rule;
  uint64_t printed = 0;
  for (const auto& v : violations) {
    ++per_rule[v.rule];
    if (printed++ < max_print) {
      std::cout << "VIOLATION " << v.rule
                << (v.node.empty() ? "" : " [" + v.node + "]") << " "
                << v.message << "\n";
    }
  }
  if (printed > max_print) {
    std::cout << "... " << printed - max_print
              << " more violation(s) not printed\n";
  }
  const cairn::faults::Summary s =
      cairn::faults::Summarize(ops, node_logs[0], options);
  std::cout << "checked " << s.ops << " ops (ok " << s.ok << ", fail " << s.fail
            << ", unknown " << s.unknown << " of which " << s.unknown_present
            << " in the log) against " << node_logs.size() << " node log(s) of "
            << node_logs[0].records.size() << " records";
  if (!seen_files.empty()) {
    std::cout << ", and " << seen_events << " event(s) subscribers received";
  }
  if (options.superseded_acks) {
    std::cout << "; " << s.superseded
              << " acknowledged op(s) superseded by a failover (allowed: "
                 "--superseded-acks)";
  }
  std::cout << ": " << violations.size() << " violation(s)";
  for (const auto& [rule, count] : per_rule)
    std::cout << " " << rule << "=" << count;
  std::cout << "\n";
  return violations.empty() ? 0 : 1;
}
