// A backup folder (backup.h) as one zstd-compressed tar stream, for
// `cairn backup -` / `cairn backup FILE.tar.zst` and restoring from them.
// The archive holds the folder's regular files (chunks first, manifest.json
// last) as ustar entries; nothing else is accepted when unpacking.
#ifndef CAIRN_HOSTS_CAIRN_BACKUP_ARCHIVE_H_
#define CAIRN_HOSTS_CAIRN_BACKUP_ARCHIVE_H_

#include <iosfwd>
#include <string>

#include "absl/status/status.h"

namespace cairn::backup {

// True for "-" and names ending in ".tar.zst".
bool IsArchiveName(const std::string& name);

// Writes every regular file of `folder` (manifest.json last) to `out` as a
// zstd-compressed tar stream.
absl::Status PackFolder(const std::string& folder, std::ostream& out);

// Reads a stream PackFolder wrote from `in` and writes its files into
// `folder` (which must exist). `what` names the archive in errors. Refuses
// an entry that is not a regular file with a plain name, a damaged zstd
// frame or tar header, and a cut stream.
absl::Status UnpackArchive(std::istream& in, const std::string& what,
                           const std::string& folder);

}  // namespace cairn::backup

#endif  // CAIRN_HOSTS_CAIRN_BACKUP_ARCHIVE_H_
