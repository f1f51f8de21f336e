// Shared by truncate_test.cc and the kill -9 truncation test: checks that a
// log's reads agree with each other (read_all, read_stream, read_tag,
// head_position, head_revision, list_streams), so a stale index entry
// left by a cut shows up. Assumes a workload without delete_to.
#ifndef CAIRN_PLUGINS_STORAGE_MMAPLOG_TRUNCATE_CHECK_H_
#define CAIRN_PLUGINS_STORAGE_MMAPLOG_TRUNCATE_CHECK_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "log.h"

namespace cairn::mmaplog::testing {

// Empty if consistent, else what disagrees. `streams` and `tags` are every
// name the workload ever used (so entries of names wholly cut are checked).
inline std::string CheckReadsAgree(Log& log,
                                   const std::vector<std::string>& streams,
                                   const std::vector<std::string>& tags) {
  struct Seen {
    uint64_t position;
    uint64_t revision;
  };
  std::map<std::string, std::vector<Seen>> by_stream;
  std::map<std::string, std::vector<uint64_t>> by_tag;
  uint64_t last = 0;
  std::string bad;
  absl::Status s = log.ReadAll(0, UINT64_MAX, true, [&](const cairn_event& e) {
    if (e.position != last + 1 && !(last == 0 && e.position >= 1)) {
      bad = "read_all: position " + std::to_string(e.position) + " after " +
            std::to_string(last);
    }
    last = e.position;
    std::string name(reinterpret_cast<const char*>(e.stream.data),
                     e.stream.size);
    by_stream[name].push_back(Seen{e.position, e.revision});
    for (uint32_t i = 0; i < e.tag_count; ++i) {
      by_tag[std::string(reinterpret_cast<const char*>(e.tags[i].data),
                         e.tags[i].size)]
          .push_back(e.position);
    }
    return bad.empty();
  });
  if (!s.ok()) return "read_all: " + s.ToString();
  if (!bad.empty()) return bad;
  if (log.HeadPosition() != last) {
    return "head_position " + std::to_string(log.HeadPosition()) +
           " but read_all ends at " + std::to_string(last);
  }
  for (const std::string& name : streams) {
    const std::vector<Seen>& want = by_stream[name];
    for (size_t i = 0; i < want.size(); ++i) {
      if (want[i].revision != i + 1) {
        return "stream " + name + ": revision " +
               std::to_string(want[i].revision) + " at index " +
               std::to_string(i);
      }
    }
    if (log.HeadRevision(name) != want.size()) {
      return "stream " + name + ": head_revision " +
             std::to_string(log.HeadRevision(name)) + ", read_all has " +
             std::to_string(want.size());
    }
    std::vector<uint64_t> got;
    s = log.ReadStream(name, 1, UINT64_MAX, UINT64_MAX,
                       [&](const cairn_event& e) {
                         got.push_back(e.position);
                         return true;
                       });
    if (!s.ok()) return "read_stream " + name + ": " + s.ToString();
    if (got.size() != want.size()) {
      return "stream " + name + ": read_stream returned " +
             std::to_string(got.size()) + " events, read_all " +
             std::to_string(want.size());
    }
    for (size_t i = 0; i < got.size(); ++i) {
      if (got[i] != want[i].position) {
        return "stream " + name + ": read_stream position " +
               std::to_string(got[i]) + ", read_all " +
               std::to_string(want[i].position);
      }
    }
  }
  for (const std::string& tag : tags) {
    std::vector<uint64_t> got;
    s = log.ReadTag(tag, 0, UINT64_MAX, [&](const cairn_event& e) {
      got.push_back(e.position);
      return true;
    });
    if (!s.ok()) return "read_tag " + tag + ": " + s.ToString();
    if (got != by_tag[tag]) {
      return "tag " + tag + ": read_tag returned " +
             std::to_string(got.size()) + " events, read_all has " +
             std::to_string(by_tag[tag].size());
    }
  }
  std::set<std::string> listed;
  uint64_t expected_ordinal = 1;
  s = log.ListStreams(0, UINT64_MAX, [&](const cairn_stream_info& info) {
    std::string name(reinterpret_cast<const char*>(info.name.data),
                     info.name.size);
    if (info.ordinal != expected_ordinal++ ||
        info.head_revision != by_stream[name].size()) {
      bad = "list_streams: " + name + " ordinal " +
            std::to_string(info.ordinal) + " head " +
            std::to_string(info.head_revision);
    }
    listed.insert(name);
    return true;
  });
  if (!s.ok()) return "list_streams: " + s.ToString();
  if (!bad.empty()) return bad;
  for (const auto& [name, seen] : by_stream) {
    if (!seen.empty() && listed.count(name) == 0) {
      return "list_streams misses " + name;
    }
  }
  for (const std::string& name : listed) {
    if (by_stream[name].empty()) return "list_streams lists empty " + name;
  }
  return "";
}

}  // namespace cairn::mmaplog::testing

#endif  // CAIRN_PLUGINS_STORAGE_MMAPLOG_TRUNCATE_CHECK_H_
