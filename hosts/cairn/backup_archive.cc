#include "backup_archive.h"

#include <cairn/status.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <ostream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backup.h"

namespace cairn::backup {
namespace {

namespace fs = std::filesystem;

constexpr size_t kBlock = 512;

void Octal(char* field, size_t width, uint64_t value) {
  // width - 1 digits and a NUL.
  for (size_t i = width - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  field[width - 1] = '\0';
}

std::string Header(const std::string& name, uint64_t size) {
  std::string h(kBlock, '\0');
  std::memcpy(h.data(), name.data(), std::min<size_t>(name.size(), 99));
  Octal(&h[100], 8, 0644);
  Octal(&h[108], 8, 0);
  Octal(&h[116], 8, 0);
  Octal(&h[124], 12, size);
  Octal(&h[136], 12, 0);
  h[156] = '0';
  std::memcpy(&h[257], "ustar", 6);
  std::memcpy(&h[263], "00", 2);
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  Octal(&h[148], 7, sum);
  h[155] = ' ';
  return h;
}

// zstd-compresses what it is given into `out`.
class Compressor {
 public:
  explicit Compressor(std::ostream& out)
      : out_(out), context_(ZSTD_createCCtx()) {
    ZSTD_CCtx_setParameter(context_, ZSTD_c_checksumFlag, 1);
    buffer_.resize(ZSTD_CStreamOutSize());
  }
  ~Compressor() { ZSTD_freeCCtx(context_); }
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  absl::Status Write(std::string_view bytes, bool end = false) {
    ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
    while (true) {
      ZSTD_outBuffer out{buffer_.data(), buffer_.size(), 0};
      size_t left = ZSTD_compressStream2(context_, &out, &in,
                                         end ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(left)) {
        return MakeStatus(CAIRN_E_INTERNAL,
                          absl::StrCat("zstd: ", ZSTD_getErrorName(left)));
      }
      out_.write(buffer_.data(), static_cast<std::streamsize>(out.pos));
      if (!out_) return MakeStatus(CAIRN_E_IO, "cannot write the archive");
      if (end ? left == 0 : in.pos == in.size) return absl::OkStatus();
    }
  }

 private:
  std::ostream& out_;
  ZSTD_CCtx* context_;
  std::vector<char> buffer_;
};

}  // namespace

bool IsArchiveName(const std::string& name) {
  return name == "-" || (name.size() > 8 && name.ends_with(".tar.zst"));
}

absl::Status PackFolder(const std::string& folder, std::ostream& out) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(folder, ec)) {
    if (e.is_regular_file()) names.push_back(e.path().filename().string());
  }
  if (ec)
    return MakeStatus(CAIRN_E_IO, absl::StrCat("cannot list '", folder, "'"));
  std::sort(names.begin(), names.end());
  auto manifest = std::find(names.begin(), names.end(), kManifestName);
  if (manifest != names.end()) std::rotate(manifest, manifest + 1, names.end());
  Compressor zstd(out);
  std::vector<char> buffer(1 << 20);
  for (const std::string& name : names) {
    const std::string path = (fs::path(folder) / name).string();
    const uint64_t size = fs::file_size(path, ec);
    if (ec || name.size() > 99) {
      return MakeStatus(CAIRN_E_IO,
                        absl::StrCat("cannot archive '", path, "'"));
    }
    absl::Status s = zstd.Write(Header(name, size));
    std::ifstream in(path, std::ios::binary);
    uint64_t copied = 0;
    while (s.ok() && in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      copied += static_cast<uint64_t>(in.gcount());
      s = zstd.Write(
          std::string_view(buffer.data(), static_cast<size_t>(in.gcount())));
    }
    if (s.ok() && copied != size) {
      s = MakeStatus(CAIRN_E_IO,
                     absl::StrCat("'", path, "' changed while archived"));
    }
    if (s.ok() && size % kBlock != 0)
      s = zstd.Write(std::string(kBlock - size % kBlock, '\0'));
    if (!s.ok()) return s;
  }
  absl::Status s = zstd.Write(std::string(2 * kBlock, '\0'), /*end=*/true);
  out.flush();
  return s;
}

absl::Status UnpackArchive(std::istream& in, const std::string& what,
                           const std::string& folder) {
  // Decompress the whole stream through a small tar state machine.
  ZSTD_DCtx* context = ZSTD_createDCtx();
  std::vector<char> input(ZSTD_DStreamInSize()), output(ZSTD_DStreamOutSize());
  std::string pending;  // decompressed bytes not consumed yet
  std::ofstream file;
  std::string name;
  uint64_t left = 0, padding = 0;
  bool ended = false;
  size_t last = 1;  // ZSTD_decompressStream's last hint: 0 at a frame's end
  auto fail = [&](const std::string& why) {
    ZSTD_freeDCtx(context);
    return MakeStatus(CAIRN_E_CORRUPTION,
                      absl::StrCat("archive ", what, ": ", why));
  };
  auto consume = [&]() -> std::optional<std::string> {
    while (!ended) {
      if (left > 0) {
        size_t n =
            static_cast<size_t>(std::min<uint64_t>(left, pending.size()));
        if (n == 0) return std::nullopt;
        file.write(pending.data(), static_cast<std::streamsize>(n));
        pending.erase(0, n);
        left -= n;
        if (left == 0) {
          file.close();
          if (!file) return absl::StrCat("cannot write '", name, "'");
        }
        continue;
      }
      if (padding > 0) {
        size_t n =
            static_cast<size_t>(std::min<uint64_t>(padding, pending.size()));
        if (n == 0) return std::nullopt;
        pending.erase(0, n);
        padding -= n;
        continue;
      }
      if (pending.size() < kBlock) return std::nullopt;
      std::string h = pending.substr(0, kBlock);
      pending.erase(0, kBlock);
      if (h == std::string(kBlock, '\0')) {
        ended = true;
        return std::nullopt;
      }
      unsigned sum = 0;
      for (size_t i = 0; i < kBlock; ++i) {
        sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
      }
      if (std::strtoul(h.substr(148, 8).c_str(), nullptr, 8) != sum) {
        return std::string("a tar header fails its checksum");
      }
      name = h.substr(0, 100).c_str();
      if (h[156] != '0' || name.empty() ||
          name.find('/') != std::string::npos || name == "." || name == "..") {
        return absl::StrCat("entry '", name,
                            "' is not a plain file of a backup");
      }
      left = std::strtoull(h.substr(124, 12).c_str(), nullptr, 8);
      padding = left % kBlock == 0 ? 0 : kBlock - left % kBlock;
      const std::string path = (fs::path(folder) / name).string();
      file.open(path, std::ios::binary | std::ios::trunc);
      if (!file) return absl::StrCat("cannot create '", path, "'");
      if (left == 0) file.close();
    }
    return std::nullopt;
  };
  while (in) {
    in.read(input.data(), static_cast<std::streamsize>(input.size()));
    ZSTD_inBuffer source{input.data(), static_cast<size_t>(in.gcount()), 0};
    while (source.pos < source.size) {
      ZSTD_outBuffer sink{output.data(), output.size(), 0};
      last = ZSTD_decompressStream(context, &sink, &source);
      if (ZSTD_isError(last))
        return fail(absl::StrCat("zstd: ", ZSTD_getErrorName(last)));
      pending.append(output.data(), sink.pos);
      if (std::optional<std::string> error = consume()) return fail(*error);
    }
  }
  // Flush what zstd still holds.
  while (last != 0) {
    ZSTD_inBuffer source{nullptr, 0, 0};
    ZSTD_outBuffer sink{output.data(), output.size(), 0};
    last = ZSTD_decompressStream(context, &sink, &source);
    if (ZSTD_isError(last))
      return fail(absl::StrCat("zstd: ", ZSTD_getErrorName(last)));
    if (sink.pos == 0) break;
    pending.append(output.data(), sink.pos);
    if (std::optional<std::string> error = consume()) return fail(*error);
  }
  if (last != 0 || !ended || left != 0) return fail("the stream is cut short");
  ZSTD_freeDCtx(context);
  return absl::OkStatus();
}

}  // namespace cairn::backup
