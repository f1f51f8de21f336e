#include "store_folder.h"

#include <algorithm>
#include <cstdio>

#include "crc32c.h"
#include "record.h"

namespace cairn::mmaplog {
namespace {

std::string Octal(uint32_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", mode & 07777u);
  return text;
}

// Refuses an entry of the store that another user owns or that group or
// others may use, naming it and the command that fixes it.
absl::Status CheckPrivate(FileSystem* fs, const std::string& path,
                          const FileStatus& status) {
  const uint32_t me = fs->CurrentUser();
  if (status.owner != me) {
    return absl::FailedPreconditionError(
        "store path '" + path + "' is owned by user " +
        std::to_string(status.owner) + ", not by user " + std::to_string(me) +
        " that this process runs as; run as its owner (mmaplog refuses "
        "other users' stores, root's too) or 'chown -R' the store folder");
  }
  if ((status.mode & 077) != 0) {
    return absl::FailedPreconditionError(
        "store path '" + path + "' has mode " + Octal(status.mode) +
        ": group or others can use it; run 'chmod " +
        (status.directory ? "700" : "600") + " " + path +
        "' (or 'chmod -R go-rwx' on the store folder)");
  }
  return absl::OkStatus();
}

// The store's own mode for an entry: 0700 for folders, 0600 for files.
uint32_t PrivateMode(const FileStatus& status) {
  return status.directory ? 0700u : 0600u;
}

// Tightens the modes of a store made before the marker (its files followed
// the umask) and of the files one level down (snapshots/, index/...).
absl::Status TightenModes(FileSystem* fs, const std::string& path,
                          const std::vector<std::string>& names, int depth) {
  for (const std::string& name : names) {
    if (depth == 0 && !IsStoreEntryName(name)) continue;
    std::string entry = path + "/" + name;
    absl::StatusOr<FileStatus> status = fs->Stat(entry);
    if (!status.ok()) return status.status();
    if (!status->exists || status->owner != fs->CurrentUser()) continue;
    if ((status->mode & 077) != 0) {
      absl::Status s = fs->SetMode(entry, PrivateMode(*status));
      if (!s.ok()) return s;
    }
    if (status->directory && depth == 0) {
      auto inner = fs->ListDirectory(entry);
      if (!inner.ok()) return inner.status();
      absl::Status s = TightenModes(fs, entry, *inner, depth + 1);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status WriteMarker(FileSystem* fs, const std::string& path) {
  return fs->WriteFileAtomic(path + "/" + kStoreMarkerFile, kStoreMarkerText);
}

// "sealed N P", the part of the high-water line its checksum covers.
std::string HighWaterText(const MarkerHighWater& high_water) {
  return "sealed " + std::to_string(high_water.sealed_segment) + " " +
         std::to_string(high_water.position);
}

std::string Hex32(uint32_t value) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", value);
  return text;
}

// Parses a decimal number without sign, spaces or leading zeros.
bool ParseDecimal(std::string_view text, uint64_t* value) {
  if (text.empty() || text.size() > 19 || (text.size() > 1 && text[0] == '0')) {
    return false;
  }
  uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  *value = n;
  return true;
}

// A short list of names for a message: "'a', 'b', 'c' and 4 more".
std::string SomeNames(const std::vector<std::string>& names) {
  std::string text;
  const size_t shown = std::min<size_t>(names.size(), 3);
  for (size_t i = 0; i < shown; ++i) {
    text += (i == 0 ? "'" : ", '") + names[i] + "'";
  }
  if (names.size() > shown) {
    text += " and " + std::to_string(names.size() - shown) + " more";
  }
  return text;
}

}  // namespace

bool ParseSegmentFileName(std::string_view name, uint64_t* number) {
  constexpr std::string_view kSuffix = ".log";
  if (name.size() <= kSuffix.size() ||
      name.substr(name.size() - kSuffix.size()) != kSuffix) {
    return false;
  }
  std::string_view digits = name.substr(0, name.size() - kSuffix.size());
  if (digits.size() > 18) return false;
  uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n == 0 || SegmentFileName(n) != name) return false;
  *number = n;
  return true;
}

bool IsStoreEntryName(std::string_view name) {
  // Every name Log, its checkpoint, retention and snapshot store make at the
  // top of the folder; a file written with WriteFileAtomic also has a
  // temporary "<name>.tmp" while it is replaced.
  static constexpr std::string_view kFolders[] = {"index", "snapshots",
                                                  "quarantine"};
  static constexpr std::string_view kFiles[] = {
      kStoreMarkerFile,  "LOCK",      "deletes.log",
      "retention.state", "committed", "truncate"};
  constexpr std::string_view kTmp = ".tmp";
  for (std::string_view folder : kFolders) {
    if (name == folder) return true;
  }
  std::string_view base = name;
  if (base.size() > kTmp.size() &&
      base.substr(base.size() - kTmp.size()) == kTmp) {
    base.remove_suffix(kTmp.size());
  }
  for (std::string_view file : kFiles) {
    if (base == file) return true;
  }
  uint64_t number;
  return ParseSegmentFileName(name, &number);
}

SegmentFileKind ClassifySegmentFile(FileSystem* fs, const std::string& path,
                                    uint64_t number) {
  absl::StatusOr<uint64_t> size = fs->FileSize(path);
  if (!size.ok()) return SegmentFileKind::kForeign;
  if (*size == 0) return SegmentFileKind::kBlank;
  auto file = fs->OpenMapped(path);
  if (!file.ok()) return SegmentFileKind::kForeign;
  const uint8_t* data = (*file)->data();
  const size_t length = (*file)->size();
  SegmentHeader h;
  if (length >= kSegmentHeaderSize && h.DecodeFrom(data)) {
    return h.number == number && h.size == length ? SegmentFileKind::kSegment
                                                  : SegmentFileKind::kDamaged;
  }
  RecordHeader first;
  if (length > kSegmentHeaderSize &&
      CheckRecord(data + kSegmentHeaderSize, length - kSegmentHeaderSize, &first,
                  /*check_body=*/false) == RecordCheck::kOk) {
    return SegmentFileKind::kDamaged;
  }
  for (size_t offset = 0; offset < length; offset += 4096) {
    if (!AllZero(data + offset, std::min<size_t>(4096, length - offset))) {
      return SegmentFileKind::kForeign;
    }
  }
  return SegmentFileKind::kBlank;
}

absl::Status SetAsideForeignSegmentFiles(
    FileSystem* fs, const std::string& dir,
    std::map<uint64_t, std::string>* segment_files,
    std::vector<std::string>* foreign) {
  std::vector<std::string> set_aside;
  uint64_t highest_own = 0;
  for (auto it = segment_files->begin(); it != segment_files->end();) {
    if (ClassifySegmentFile(fs, dir + "/" + it->second, it->first) ==
        SegmentFileKind::kForeign) {
      set_aside.push_back(it->second);
      it = segment_files->erase(it);
    } else {
      highest_own = it->first;
      ++it;
    }
  }
  for (const std::string& name : set_aside) {
    uint64_t number = 0;
    ParseSegmentFileName(name, &number);
    if (number > highest_own) {
      return absl::FailedPreconditionError(
          "file '" + dir + "/" + name +
          "' is named like a segment of this store but is not one (no valid "
          "segment header for its number and size, and not blank); the log "
          "would need that name later, so the store does not open. If it is "
          "a damaged segment, restore it from a backup; otherwise move it out "
          "of the store folder");
    }
    foreign->push_back(name);
  }
  return absl::OkStatus();
}

MarkerHighWater ReadMarkerHighWater(FileSystem* fs, const std::string& path,
                                    std::string* damaged) {
  MarkerHighWater none;
  auto text = fs->ReadFile(path + "/" + kStoreMarkerFile);
  if (!text.ok()) return none;
  constexpr std::string_view kPlain = kStoreMarkerText;
  if (text->size() <= kPlain.size() ||
      text->compare(0, kPlain.size(), kPlain) != 0) {
    return none;  // no high-water line (ClaimStoreFolder checked the rest)
  }
  std::string_view line = std::string_view(*text).substr(kPlain.size());
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  auto fail = [&] {
    if (damaged != nullptr) {
      *damaged = std::string(kStoreMarkerFile) + " offset " +
                 std::to_string(kPlain.size()) +
                 ": the high-water line is not 'sealed SEGMENT POSITION CRC' "
                 "with a matching checksum; it is ignored (it proves nothing), "
                 "and the next seal rewrites it";
    }
    return none;
  };
  MarkerHighWater h;
  const size_t a = line.find(' ');
  const size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
  const size_t c = b == std::string_view::npos ? b : line.find(' ', b + 1);
  if (c == std::string_view::npos || line.substr(0, a) != "sealed" ||
      !ParseDecimal(line.substr(a + 1, b - a - 1), &h.sealed_segment) ||
      !ParseDecimal(line.substr(b + 1, c - b - 1), &h.position) ||
      (h.sealed_segment > 0 && h.position == 0)) {
    return fail();
  }
  const std::string covered = HighWaterText(h);
  if (line.substr(c + 1) != Hex32(Crc32c(0, covered.data(), covered.size()))) {
    return fail();
  }
  h.records_held = true;  // "sealed 0 0": appended, nothing proven synced
  return h;
}

absl::Status WriteMarkerHighWater(FileSystem* fs, const std::string& path,
                                  const MarkerHighWater& high_water) {
  if (high_water.sealed_segment == 0 && high_water.position == 0 &&
      !high_water.records_held) {
    return WriteMarker(fs, path);
  }
  const std::string covered = HighWaterText(high_water);
  return fs->WriteFileAtomic(
      path + "/" + kStoreMarkerFile,
      kStoreMarkerText + covered + " " +
          Hex32(Crc32c(0, covered.data(), covered.size())) + "\n");
}

absl::StatusOr<StoreFolderReport> ClaimStoreFolder(FileSystem* fs,
                                                   const std::string& path,
                                                   bool create, bool repair) {
  StoreFolderReport report;
  absl::StatusOr<FileStatus> folder = fs->Stat(path);
  if (!folder.ok()) return folder.status();
  if (folder->exists && !folder->directory) {
    return absl::InvalidArgumentError("store path '" + path +
                                      "' is not a folder");
  }
  std::vector<std::string> names;
  if (folder->exists) {
    auto listed = fs->ListDirectory(path);
    if (!listed.ok()) return listed.status();
    names = *std::move(listed);
    std::sort(names.begin(), names.end());
  }
  // A kill during the first write of the marker (WriteFileAtomic: a temp
  // file, synced, renamed) leaves only the marker's temp file: a creation
  // that was interrupted, holding no record. A writable open removes it and
  // creates the store; a read-only one finds no store and changes nothing.
  bool interrupted = false;
  const std::string marker_tmp = std::string(kStoreMarkerFile) + ".tmp";
  if (names.size() == 1 && names[0] == marker_tmp) {
    absl::StatusOr<FileStatus> tmp = fs->Stat(path + "/" + marker_tmp);
    if (!tmp.ok()) return tmp.status();
    if (tmp->exists && !tmp->directory && tmp->owner == fs->CurrentUser()) {
      interrupted = true;
      if (create) {
        absl::Status s = fs->Remove(path + "/" + marker_tmp);
        if (!s.ok()) return s;
      }
      names.clear();
    }
  }
  if (names.empty()) {
    if (!create) {
      return absl::NotFoundError(
          "no store at '" + path + "': the folder " +
          (interrupted ? "holds only " + marker_tmp +
                             ", left by a creation that was interrupted"
           : folder->exists ? std::string("is empty")
                            : std::string("does not exist")) +
          ", and this open may not create one (create = false: a command "
          "that only reads, or the site's [storage] create); check the path, "
          "or make the store with a command that writes (e.g. cairn append)");
    }
    if (folder->exists) {
      if (folder->owner != fs->CurrentUser()) return CheckPrivate(fs, path, *folder);
      absl::Status s = fs->SetMode(path, 0700);
      if (!s.ok()) return s;
    } else {
      absl::Status s = fs->CreateDirectories(path);
      if (!s.ok()) return s;
    }
    absl::Status s = WriteMarker(fs, path);
    if (!s.ok()) return s;
    report.created = true;
    return report;
  }

  const bool marked =
      std::find(names.begin(), names.end(), kStoreMarkerFile) != names.end();
  auto has_segment = [&] {
    for (const std::string& name : names) {
      uint64_t number;
      if (ParseSegmentFileName(name, &number) &&
          ClassifySegmentFile(fs, path + "/" + name, number) ==
              SegmentFileKind::kSegment) {
        return true;
      }
    }
    return false;
  };
  if (marked) {
    auto text = fs->ReadFile(path + "/" + kStoreMarkerFile);
    if (!text.ok()) return text.status();
    if (text->rfind("cairn mmaplog store\n", 0) != 0) {
      const bool ours = has_segment();
      if (!repair || !ours) {
        return absl::FailedPreconditionError(
            "'" + path + "/" + kStoreMarkerFile +
            "' is not an mmaplog store marker (it should begin 'cairn mmaplog "
            "store'); mmaplog does not open or write this folder" +
            (ours ? std::string(". The folder holds this store's segments, so "
                                "the marker is damaged: run 'cairn verify "
                                "--repair' to rewrite it")
                  : std::string()));
      }
      absl::Status s = WriteMarker(fs, path);
      if (!s.ok()) return s;
      report.repairs.push_back(
          std::string(kStoreMarkerFile) +
          ": the store marker was damaged; rewritten (the folder holds this "
          "store's segments; nothing else changed)");
    }
  } else {
    if (!has_segment()) {
      return absl::FailedPreconditionError(
          "'" + path + "' is not a Cairn store: it holds " + SomeNames(names) +
          " but no " + kStoreMarkerFile +
          " marker and no mmaplog segment, so mmaplog neither writes nor "
          "deletes anything there; give the store an empty or new folder");
    }
  }

  absl::Status s;
  if (marked || folder->owner != fs->CurrentUser()) {
    s = CheckPrivate(fs, path, *folder);
  } else {
    // A store from before the marker: its modes followed the umask.
    s = fs->SetMode(path, 0700);
    if (s.ok()) s = TightenModes(fs, path, names, 0);
    if (s.ok()) s = WriteMarker(fs, path);
    report.adopted = s.ok();
  }
  if (!s.ok()) return s;
  for (const std::string& name : names) {
    if (!IsStoreEntryName(name)) {
      report.foreign.push_back(name);
      continue;
    }
    std::string entry = path + "/" + name;
    absl::StatusOr<FileStatus> status = fs->Stat(entry);
    if (!status.ok()) return status.status();
    if (!status->exists) continue;  // removed meanwhile (a .tmp, say)
    s = CheckPrivate(fs, entry, *status);
    uint64_t number;
    if (!s.ok() && ParseSegmentFileName(name, &number) &&
        ClassifySegmentFile(fs, entry, number) == SegmentFileKind::kForeign) {
      continue;  // not the store's: recovery sets it aside and reports it
    }
    if (!s.ok()) return s;
  }
  return report;
}

}  // namespace cairn::mmaplog
