#include "snapshot_store.h"

#include <cstdio>
#include <cstring>

#include "crc32c.h"
#include "index.h"

namespace cairn::mmaplog {
namespace {

constexpr uint32_t kSnapshotMagic = 0x50414E53u;  // "SNAP"
constexpr size_t kFixed = 4 + 4 + 8 + 8 + 1;

bool Matches(const cairn_snapshot_criteria& c, uint64_t revision,
             int64_t timestamp) {
  return revision >= c.min_revision && revision <= c.max_revision &&
         timestamp >= c.min_timestamp_us && timestamp <= c.max_timestamp_us;
}

}  // namespace

std::string SnapshotStore::FileName(std::string_view stream,
                                    uint64_t revision) const {
  char name[64];
  std::snprintf(name, sizeof name, "%016llx-%016llx.snap",
                static_cast<unsigned long long>(HashName(stream)),
                static_cast<unsigned long long>(revision));
  return name;
}

absl::Status SnapshotStore::Parse(const std::string& name,
                                  const std::string& c, Parsed* out) const {
  auto damaged = [&](const char* why) {
    return absl::DataLossError("snapshot file snapshots/" + name + ": " + why +
                               "; delete it or restore it from a backup");
  };
  if (c.size() < kFixed) return damaged("too short");
  uint32_t magic, crc;
  std::memcpy(&magic, c.data(), 4);
  std::memcpy(&crc, c.data() + 4, 4);
  if (magic != kSnapshotMagic) return damaged("not a snapshot file");
  if (Crc32c(0, c.data() + 8, c.size() - 8) != crc) {
    return damaged("fails its checksum");
  }
  std::memcpy(&out->revision, c.data() + 8, 8);
  std::memcpy(&out->timestamp_us, c.data() + 16, 8);
  uint8_t len = static_cast<uint8_t>(c[24]);
  if (kFixed + len > c.size()) return damaged("stream name runs past the end");
  out->stream.assign(c.data() + kFixed, len);
  out->data.assign(c.data() + kFixed + len, c.size() - kFixed - len);
  return absl::OkStatus();
}

absl::Status SnapshotStore::Save(const cairn_snapshot& s) {
  std::string_view stream(reinterpret_cast<const char*>(s.stream.data),
                          s.stream.size);
  std::string out(kFixed, '\0');
  uint32_t magic = kSnapshotMagic;
  std::memcpy(out.data(), &magic, 4);
  std::memcpy(out.data() + 8, &s.revision, 8);
  std::memcpy(out.data() + 16, &s.timestamp_us, 8);
  out[24] = static_cast<char>(stream.size());
  out.append(stream);
  if (s.data.size != 0) {
    out.append(reinterpret_cast<const char*>(s.data.data), s.data.size);
  }
  uint32_t crc = Crc32c(0, out.data() + 8, out.size() - 8);
  std::memcpy(out.data() + 4, &crc, 4);
  std::lock_guard<std::mutex> lk(mu_);
  std::string path = dir_ + "/" + FileName(stream, s.revision);
  // Always synced: snapshots are rare and a torn one would be worse than a
  // slow one.
  return fs_->WriteFileAtomic(path, out);
}

absl::Status SnapshotStore::ForEach(
    std::string_view stream,
    absl::FunctionRef<void(const std::string&, const Parsed&)> fn) {
  auto names = fs_->ListDirectory(dir_);
  if (!names.ok()) return names.status();
  char prefix[20];
  std::snprintf(prefix, sizeof prefix, "%016llx-",
                static_cast<unsigned long long>(HashName(stream)));
  for (const std::string& name : *names) {
    if (name.size() != 38 || name.compare(0, 17, prefix) != 0 ||
        name.compare(33, 5, ".snap") != 0) {
      continue;
    }
    auto contents = fs_->ReadFile(dir_ + "/" + name);
    if (!contents.ok()) {
      if (absl::IsUnavailable(contents.status()) &&
          !fs_->Exists(dir_ + "/" + name)) {
        continue;  // deleted meanwhile
      }
      return contents.status();
    }
    Parsed p;
    absl::Status s = Parse(name, *contents, &p);
    if (!s.ok()) return s;
    if (p.stream != stream) continue;  // a hash collision
    fn(name, p);
  }
  return absl::OkStatus();
}

absl::Status SnapshotStore::Load(
    std::string_view stream, const cairn_snapshot_criteria& criteria,
    absl::FunctionRef<void(const cairn_snapshot&)> fn) {
  std::lock_guard<std::mutex> lk(mu_);
  bool found = false;
  Parsed best;
  absl::Status s = ForEach(stream, [&](const std::string&, const Parsed& p) {
    if (!Matches(criteria, p.revision, p.timestamp_us)) return;
    if (!found || p.revision > best.revision ||
        (p.revision == best.revision && p.timestamp_us > best.timestamp_us)) {
      best = p;
      found = true;
    }
  });
  if (!s.ok() || !found) return s;
  cairn_snapshot out;
  out.size = sizeof out;
  out.stream = cairn_bytes{reinterpret_cast<const uint8_t*>(best.stream.data()),
                           best.stream.size()};
  out.revision = best.revision;
  out.timestamp_us = best.timestamp_us;
  out.data = cairn_bytes{reinterpret_cast<const uint8_t*>(best.data.data()),
                         best.data.size()};
  fn(out);
  return absl::OkStatus();
}

absl::Status SnapshotStore::Delete(std::string_view stream,
                                   uint64_t revision) {
  std::lock_guard<std::mutex> lk(mu_);
  std::string path = dir_ + "/" + FileName(stream, revision);
  if (!fs_->Exists(path)) return absl::OkStatus();
  auto contents = fs_->ReadFile(path);
  if (!contents.ok()) return contents.status();
  Parsed p;
  // A damaged file at this name is removed too: that is what was asked.
  if (Parse(FileName(stream, revision), *contents, &p).ok() &&
      p.stream != stream) {
    return absl::OkStatus();  // another stream's snapshot (hash collision)
  }
  absl::Status s = fs_->Remove(path);
  if (!s.ok()) return s;
  return sync_ ? fs_->SyncDirectory(dir_) : absl::OkStatus();
}

absl::Status SnapshotStore::DeleteMatching(
    std::string_view stream, const cairn_snapshot_criteria& criteria) {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::string> doomed;
  absl::Status s = ForEach(stream, [&](const std::string& name,
                                       const Parsed& p) {
    if (Matches(criteria, p.revision, p.timestamp_us)) doomed.push_back(name);
  });
  if (!s.ok()) return s;
  for (const std::string& name : doomed) {
    s = fs_->Remove(dir_ + "/" + name);
    if (!s.ok()) return s;
  }
  return sync_ && !doomed.empty() ? fs_->SyncDirectory(dir_)
                                  : absl::OkStatus();
}

absl::Status SnapshotStore::ForEachSnapshot(
    absl::FunctionRef<absl::Status(const std::string&, const cairn_snapshot&)>
        fn) {
  std::lock_guard<std::mutex> lk(mu_);
  auto names = fs_->ListDirectory(dir_);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    if (name.size() < 5 || name.compare(name.size() - 5, 5, ".snap") != 0) {
      continue;
    }
    auto contents = fs_->ReadFile(dir_ + "/" + name);
    if (!contents.ok()) return contents.status();
    Parsed p;
    absl::Status s = Parse(name, *contents, &p);
    if (!s.ok()) return s;
    cairn_snapshot out{
        sizeof(cairn_snapshot),
        cairn_bytes{reinterpret_cast<const uint8_t*>(p.stream.data()),
                    p.stream.size()},
        p.revision, p.timestamp_us,
        cairn_bytes{reinterpret_cast<const uint8_t*>(p.data.data()),
                    p.data.size()}};
    s = fn(name, out);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

uint64_t SnapshotStore::Verify(
    absl::FunctionRef<void(const std::string&)> problem) {
  std::lock_guard<std::mutex> lk(mu_);
  auto names = fs_->ListDirectory(dir_);
  if (!names.ok()) {
    problem(std::string(names.status().message()));
    return 1;
  }
  uint64_t bad = 0;
  for (const std::string& name : *names) {
    if (name.size() < 5 || name.compare(name.size() - 5, 5, ".snap") != 0) {
      continue;
    }
    auto contents = fs_->ReadFile(dir_ + "/" + name);
    Parsed p;
    absl::Status s =
        contents.ok() ? Parse(name, *contents, &p) : contents.status();
    if (!s.ok()) {
      problem(std::string(s.message()));
      ++bad;
    }
  }
  return bad;
}

}  // namespace cairn::mmaplog
