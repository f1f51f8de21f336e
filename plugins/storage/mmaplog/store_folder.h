// The store folder: what makes a folder an mmaplog store, and the checks
// Log::Open runs before it writes anything there (docs/mmaplog.md, "The
// store folder").
//
// A store is a folder holding the marker file MMAPLOG. mmaplog writes to, or
// deletes from, no other folder: a non-empty folder without the marker is
// refused, whatever its files are called, unless it holds a valid mmaplog
// segment (a store made before the marker existed), which is adopted.
#ifndef CAIRN_PLUGINS_STORAGE_MMAPLOG_STORE_FOLDER_H_
#define CAIRN_PLUGINS_STORAGE_MMAPLOG_STORE_FOLDER_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "file_system.h"

namespace cairn::mmaplog {

inline constexpr char kStoreMarkerFile[] = "MMAPLOG";
inline constexpr char kStoreMarkerText[] = "cairn mmaplog store\nformat 1\n";

// The high-water mark the marker keeps, so that losing every segment is
// provable even without a checkpoint: a third line "sealed N P C" says that
// segment N and every one before it were sealed (complete and synced), the
// log then reaching position P; C is the CRC32C (8 hex digits) of "sealed N
// P". The background thread rewrites the marker (atomically) after a seal,
// never on the append path. Before any segment is sealed, "sealed 0 P C"
// says the log was synced up to position P (the background thread writes it
// once after the first sync), so that a store killed before its first seal
// whose segments are then deleted is not taken for a new one. Before even
// that, "sealed 0 0 C" says only that records were appended: the first
// append of the store's life writes it (synchronously, before it reserves
// a position, so before it is acknowledged), so that a store killed before
// its first sync is not taken for a new one either. A marker without the
// line (nothing appended yet, or a store from before it) proves nothing;
// readers of format 1 look only at its first line.
struct MarkerHighWater {
  uint64_t sealed_segment = 0;  // 0: no segment sealed (yet)
  uint64_t position = 0;        // the end of sealed_segment, or with
                                // sealed_segment 0 the synced position
                                // (0 with it: none proven)
  bool records_held = false;    // the log has held records (any line at
                                // all; with position 0: "sealed 0 0")
};

// Reads the high-water mark from <path>/MMAPLOG. None (zeros) if the marker
// has no such line or cannot be read; a line that does not parse or fails
// its checksum is none too, and *damaged (if given) then says what is wrong
// with it (less proof, never a false one).
MarkerHighWater ReadMarkerHighWater(FileSystem* fs, const std::string& path,
                                    std::string* damaged = nullptr);

// Rewrites <path>/MMAPLOG atomically with `high_water` (none, position 0
// and not records_held: the plain marker).
absl::Status WriteMarkerHighWater(FileSystem* fs, const std::string& path,
                                  const MarkerHighWater& high_water);

// What ClaimStoreFolder found and did.
struct StoreFolderReport {
  bool created = false;  // a new store was made (missing or empty folder)
  bool adopted = false;  // a store from before the marker: marker written,
                         // modes tightened to 0700/0600
  // Top-level names in the folder that mmaplog did not make (left alone).
  std::vector<std::string> foreign;
  // With `repair`: what was repaired (a damaged marker rewritten).
  std::vector<std::string> repairs;
};

// Makes sure `path` is an mmaplog store this process may use, before Log
// writes anything there:
//  - a missing or empty folder becomes a new store (folder 0700, marker
//    written) if `create`; otherwise NotFound "no store at 'PATH'";
//  - a folder with the marker is checked: it and every top-level entry of
//    the store must belong to this process's user (root included: files it
//    made would lock the owner out) and give group and others no access;
//    otherwise FailedPrecondition naming the path and the chmod that fixes it;
//  - a folder without the marker that holds a valid segment is adopted
//    (modes tightened, marker written), with or without `create`;
//  - a damaged marker is refused (naming it) unless `repair` and the folder
//    holds a valid segment of this store: then it is rewritten and listed
//    in `repairs`;
//  - any other non-empty folder, or a path that is not a folder, is refused
//    (FailedPrecondition / InvalidArgument naming it) and nothing is written.
absl::StatusOr<StoreFolderReport> ClaimStoreFolder(FileSystem* fs,
                                                   const std::string& path,
                                                   bool create,
                                                   bool repair = false);

// Parses a segment file name exactly as SegmentFileName writes it
// ("00000007.log"); "7.log" or "000007.log" are not segment names.
bool ParseSegmentFileName(std::string_view name, uint64_t* number);

// Whether `name`, at the top of a store folder, is one mmaplog makes.
bool IsStoreEntryName(std::string_view name);

// What a file named like segment `number` holds.
enum class SegmentFileKind {
  kSegment,  // a segment header for `number` that matches the file's size
  kDamaged,  // a segment header for another number or size, or a header that
             // fails its checksum in front of a record that passes its own:
             // one of ours, damaged (recovery refuses it, naming the file;
             // `repair` may fix it). Never what makes a folder a store.
  kBlank,    // every byte zero: a spare whose creation a crash cut short
  kForeign,  // anything else: not mmaplog's; never removed or written
};
SegmentFileKind ClassifySegmentFile(FileSystem* fs, const std::string& path,
                                    uint64_t number);

// Takes the files of `segment_files` (number -> name, in folder `dir`) that
// are kForeign out of the map and appends their names to *foreign. Fails
// (FailedPrecondition naming the file) if one is numbered above every file
// of the log: the log would need that name for a later segment.
absl::Status SetAsideForeignSegmentFiles(
    FileSystem* fs, const std::string& dir,
    std::map<uint64_t, std::string>* segment_files,
    std::vector<std::string>* foreign);

}  // namespace cairn::mmaplog

#endif  // CAIRN_PLUGINS_STORAGE_MMAPLOG_STORE_FOLDER_H_
