// Test helpers: a private temporary folder and small file utilities.
#ifndef CAIRN_PLUGINS_CIPHER_KEYRING_TEST_FILES_H_
#define CAIRN_PLUGINS_CIPHER_KEYRING_TEST_FILES_H_

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace cairn::keyring::testing {

// A folder under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
        "/cairn-keyring-test-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    if (made != nullptr) path_ = made;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes `text` to `path` and sets its mode.
inline void WriteFile(const std::string& path, const std::string& text,
                      mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  ::chmod(path.c_str(), mode);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline mode_t ModeOf(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) return 0;
  return info.st_mode & 07777;
}

// 64 hex digits made of one repeated digit: a recognisable test key.
inline std::string HexKey(char digit) { return std::string(64, digit); }

}  // namespace cairn::keyring::testing

#endif  // CAIRN_PLUGINS_CIPHER_KEYRING_TEST_FILES_H_
