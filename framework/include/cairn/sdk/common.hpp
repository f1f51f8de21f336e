// Header-only C++ helpers for plugin authors: status, options and buffers.
//
// The SDK turns the C ABI of <cairn/plugin.h> into ordinary C++: a plugin
// author derives from cairn::sdk::Storage (or Codec, Cipher, Replication),
// implements its virtual functions and writes one export macro. It needs only
// the C++17 standard library, so an out-of-tree plugin builds against the
// installed SDK with nothing else.
#ifndef CAIRN_SDK_COMMON_HPP_
#define CAIRN_SDK_COMMON_HPP_

#include <cairn/plugin.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <atomic>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The name of the exported entry. A host that links a plugin statically
// (a built-in) compiles it with -DCAIRN_PLUGIN_ENTRY_NAME=<unique name>.
#ifndef CAIRN_PLUGIN_ENTRY_NAME
#define CAIRN_PLUGIN_ENTRY_NAME cairn_plugin_entry
#define CAIRN_SDK_ENTRY_LINKAGE extern "C" CAIRN_PLUGIN_EXPORT
#else
#define CAIRN_SDK_ENTRY_LINKAGE extern "C"
#endif

namespace cairn::sdk {

// A status code with a message; what every SDK call returns.
class Status {
 public:
  Status() = default;
  Status(cairn_status code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == CAIRN_OK; }
  cairn_status code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  cairn_status code_ = CAIRN_OK;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return Status(CAIRN_E_INVALID_ARGUMENT, std::move(m));
}
inline Status NotFound(std::string m) {
  return Status(CAIRN_E_NOT_FOUND, std::move(m));
}
inline Status WrongExpectedRevision(std::string m) {
  return Status(CAIRN_E_WRONG_EXPECTED_REVISION, std::move(m));
}
inline Status Corruption(std::string m) {
  return Status(CAIRN_E_CORRUPTION, std::move(m));
}
inline Status Integrity(std::string m) {
  return Status(CAIRN_E_INTEGRITY, std::move(m));
}
inline Status IoError(std::string m) {
  return Status(CAIRN_E_IO, std::move(m));
}
inline Status Unsupported(std::string m) {
  return Status(CAIRN_E_UNSUPPORTED, std::move(m));
}
inline Status Closed(std::string m) {
  return Status(CAIRN_E_CLOSED, std::move(m));
}
inline Status ResourceExhausted(std::string m) {
  return Status(CAIRN_E_RESOURCE_EXHAUSTED, std::move(m));
}
inline Status Timeout(std::string m) {
  return Status(CAIRN_E_TIMEOUT, std::move(m));
}
inline Status FailedPrecondition(std::string m) {
  return Status(CAIRN_E_FAILED_PRECONDITION, std::move(m));
}
inline Status Internal(std::string m) {
  return Status(CAIRN_E_INTERNAL, std::move(m));
}
inline Status NotLeader(std::string m) {
  return Status(CAIRN_E_NOT_LEADER, std::move(m));
}

// Copies `message` into the caller's buffer, truncating, always terminated.
inline void WriteError(cairn_error* error, std::string_view message) {
  if (error == nullptr || error->message == nullptr || error->capacity == 0) {
    return;
  }
  size_t n = message.size() < error->capacity - 1 ? message.size()
                                                   : error->capacity - 1;
  std::memcpy(error->message, message.data(), n);
  error->message[n] = '\0';
}

// Converts a Status into the ABI's return value and error buffer.
inline cairn_status Report(const Status& status, cairn_error* error) {
  if (!status.ok()) WriteError(error, status.message());
  return status.code();
}

// Runs `body` (returning Status) and turns any escaping exception into
// CAIRN_E_INTERNAL or CAIRN_E_RESOURCE_EXHAUSTED, so none crosses the ABI.
template <typename Body>
cairn_status Guard(cairn_error* error, Body&& body) {
  try {
    return Report(body(), error);
  } catch (const std::bad_alloc&) {
    return Report(ResourceExhausted("out of memory"), error);
  } catch (const std::exception& e) {
    return Report(Internal(std::string("unexpected exception: ") + e.what()),
                  error);
  } catch (...) {
    return Report(Internal("unexpected exception"), error);
  }
}

inline std::string_view View(cairn_bytes bytes) {
  return bytes.size == 0
             ? std::string_view()
             : std::string_view(reinterpret_cast<const char*>(bytes.data),
                                bytes.size);
}

inline cairn_bytes Bytes(std::string_view s) {
  return cairn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Options from the site config. Keys were checked against the plugin's list
// by the host before open.
class Options {
 public:
  Options() = default;
  explicit Options(const cairn_options* options) {
    if (options == nullptr) return;
    for (size_t i = 0; i < options->count; ++i) {
      values_[options->items[i].key] = options->items[i].value;
    }
  }

  bool Has(const std::string& key) const { return values_.count(key) != 0; }

  std::string Get(const std::string& key, std::string fallback = "") const {
    auto it = values_.find(key);
    return it == values_.end() ? fallback : it->second;
  }

  // An unsigned integer; fails naming the key if the value is not one.
  Status GetUint(const std::string& key, uint64_t fallback,
                 uint64_t* out) const {
    auto it = values_.find(key);
    if (it == values_.end()) {
      *out = fallback;
      return Status::Ok();
    }
    return ParseUint(key, it->second, out);
  }

  // A byte size such as "4096", "64KiB", "256MiB", "1GiB" (also KB/MB/GB as
  // powers of 1024, case-insensitive).
  Status GetSize(const std::string& key, uint64_t fallback,
                 uint64_t* out) const {
    auto it = values_.find(key);
    if (it == values_.end()) {
      *out = fallback;
      return Status::Ok();
    }
    return ParseSize(key, it->second, out);
  }

  static Status ParseUint(const std::string& key, const std::string& text,
                          uint64_t* out) {
    if (text.empty() || text.find_first_not_of("0123456789") !=
                            std::string::npos) {
      return InvalidArgument("option '" + key + "': '" + text +
                             "' is not an unsigned integer");
    }
    errno = 0;
    unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
    if (errno == ERANGE) {
      return InvalidArgument("option '" + key + "': '" + text +
                             "' is out of range");
    }
    *out = v;
    return Status::Ok();
  }

  static Status ParseSize(const std::string& key, const std::string& text,
                          uint64_t* out) {
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
      ++digits;
    std::string number = text.substr(0, digits);
    std::string unit;
    for (size_t i = digits; i < text.size(); ++i) {
      char c = text[i];
      if (c == ' ') continue;
      unit += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    uint64_t scale = 0;
    if (unit.empty() || unit == "b") scale = 1;
    else if (unit == "k" || unit == "kb" || unit == "kib") scale = 1ull << 10;
    else if (unit == "m" || unit == "mb" || unit == "mib") scale = 1ull << 20;
    else if (unit == "g" || unit == "gb" || unit == "gib") scale = 1ull << 30;
    uint64_t value = 0;
    if (scale == 0 || number.empty() ||
        !ParseUint(key, number, &value).ok() ||
        value > UINT64_MAX / scale) {
      return InvalidArgument("option '" + key + "': '" + text +
                             "' is not a size (examples: 4096, 64KiB, 256MiB)");
    }
    *out = value * scale;
    return Status::Ok();
  }

  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

// Opens an instance of plugin class `Impl` (derived from `Base`) for the
// ABI: calls Impl::Open(options, extra..., &instance) and hands the host an
// opaque `Handle*`. Shared by the adapters of every plugin kind.
template <typename Base, typename Impl, typename Handle, typename... Extra>
cairn_status OpenInstance(const cairn_options* options, Handle** out,
                          cairn_error* error, Extra... extra) {
  return Guard(error, [&]() -> Status {
    std::unique_ptr<Impl> impl;
    Status s = Impl::Open(Options(options), extra..., &impl);
    if (!s.ok()) return s;
    if (!impl) return Internal("Open returned no instance");
    *out = reinterpret_cast<Handle*>(static_cast<Base*>(impl.release()));
    return Status::Ok();
  });
}

// Destroys what OpenInstance made; a throwing destructor is contained.
template <typename Base, typename Handle>
void CloseInstance(Handle* handle) {
  try {
    delete reinterpret_cast<Base*>(handle);
  } catch (...) {
  }
}

// Appends to a caller-owned cairn_buffer.
class BufferWriter {
 public:
  explicit BufferWriter(cairn_buffer* buffer) : buffer_(buffer) {}

  // Returns a pointer to `n` writable bytes at the end, or nullptr.
  uint8_t* Reserve(size_t n) {
    if (buffer_->capacity - buffer_->size < n) {
      if (buffer_->reserve == nullptr || buffer_->reserve(buffer_, n) != 0 ||
          buffer_->capacity - buffer_->size < n) {
        return nullptr;
      }
    }
    return buffer_->data + buffer_->size;
  }
  void Commit(size_t n) { buffer_->size += n; }

  Status Append(const void* data, size_t n) {
    uint8_t* out = Reserve(n);
    if (out == nullptr && n != 0) {
      return ResourceExhausted("output buffer could not grow by " +
                               std::to_string(n) + " bytes");
    }
    if (n != 0) std::memcpy(out, data, n);
    Commit(n);
    return Status::Ok();
  }

  cairn_buffer* raw() const { return buffer_; }

 private:
  cairn_buffer* buffer_;
};

// Describes one option for a plugin's descriptor (see cairn_option_desc):
//   cairn::sdk::OptionDesc("segment-size", CAIRN_OPT_SIZE, "256MiB",
//                          "bytes per segment file")
// `allowed` is a NULL-terminated list with static storage (ENUM only).
constexpr cairn_option_desc OptionDesc(const char* key, uint32_t type,
                                       const char* default_value,
                                       const char* help,
                                       const char* const* allowed = nullptr,
                                       uint32_t flags = 0) {
  return cairn_option_desc{sizeof(cairn_option_desc),
                           type,
                           key,
                           default_value,
                           allowed,
                           help,
                           flags};
}

// The NULL-terminated pointer array the descriptor carries, over a static
// array of descriptors that ends with a zeroed sentinel.
inline std::vector<const cairn_option_desc*> OptionPointers(
    const cairn_option_desc* options) {
  std::vector<const cairn_option_desc*> pointers;
  for (const cairn_option_desc* o = options; o->key != nullptr; ++o) {
    pointers.push_back(o);
  }
  pointers.push_back(nullptr);
  return pointers;
}

// Copies what the host's event holds into a full-size local event: fields
// past the host's `size` (a host built against an older minor) are zero.
inline cairn_event CopyEvent(const cairn_event* in) {
  cairn_event out{};
  if (in == nullptr) return out;
  size_t n = in->size < sizeof(cairn_event) ? in->size : sizeof(cairn_event);
  std::memcpy(&out, in, n);
  out.size = sizeof(cairn_event);
  return out;
}

// Writes a full-size result into the caller's, only as far as the caller's
// `size` declares (a host built against an older minor has a smaller one).
template <typename T>
void CopyOut(const T& full, T* out) {
  if (out == nullptr || out->size < sizeof(uint32_t)) return;
  size_t n = out->size < sizeof(T) ? out->size : sizeof(T);
  uint32_t declared = out->size;
  std::memcpy(reinterpret_cast<uint8_t*>(out) + sizeof(uint32_t),
              reinterpret_cast<const uint8_t*>(&full) + sizeof(uint32_t),
              n - sizeof(uint32_t));
  out->size = declared;
}

// Answers the host's offer for a plugin that implements ABI major 2.
inline cairn_status Negotiate(const cairn_host_offer* offer,
                              const cairn_plugin_descriptor* descriptor,
                              const cairn_plugin_descriptor** out,
                              cairn_error* error) {
  if (offer == nullptr || out == nullptr) {
    WriteError(error, "cairn_plugin_entry: offer and descriptor are required");
    return CAIRN_E_INVALID_ARGUMENT;
  }
  if (offer->abi_major_min > CAIRN_ABI_MAJOR ||
      offer->abi_major_max < CAIRN_ABI_MAJOR) {
    WriteError(error, std::string("plugin '") + descriptor->name +
                          "' implements ABI major " +
                          std::to_string(CAIRN_ABI_MAJOR) +
                          ", the host offers " +
                          std::to_string(offer->abi_major_min) + ".." +
                          std::to_string(offer->abi_major_max));
    return CAIRN_E_UNSUPPORTED;
  }
  *out = descriptor;
  return CAIRN_OK;
}

// Sends a log line to the host, if it offered a sink. One Logger per plugin:
// built-ins linked into one host each keep their own name.
class Logger {
 public:
  void Bind(const cairn_host_offer* offer, const char* plugin) {
    plugin_.store(plugin, std::memory_order_relaxed);
    if (offer != nullptr &&
        CAIRN_HAS_FIELD(cairn_host_offer, offer, log_context)) {
      context_.store(offer->log_context, std::memory_order_relaxed);
      log_.store(offer->log, std::memory_order_release);
    }
  }
  void Log(cairn_log_level level, const std::string& message) const {
    auto log = log_.load(std::memory_order_acquire);
    if (log != nullptr) {
      log(context_.load(std::memory_order_relaxed), level,
          plugin_.load(std::memory_order_relaxed), message.c_str());
    }
  }

 private:
  using LogFn = void (*)(void*, cairn_log_level, const char*, const char*);
  std::atomic<LogFn> log_{nullptr};
  std::atomic<void*> context_{nullptr};
  std::atomic<const char*> plugin_{""};
};

}  // namespace cairn::sdk

#define CAIRN_SDK_CAT2(a, b) a##b
#define CAIRN_SDK_CAT(a, b) CAIRN_SDK_CAT2(a, b)
// This plugin's logger: a variable named after the plugin's entry, so every
// translation unit of one plugin shares it and two built-ins never do.
#define CAIRN_SDK_LOGGER \
  CAIRN_SDK_CAT(cairn_sdk_logger_of_, CAIRN_PLUGIN_ENTRY_NAME)

namespace cairn::sdk {
inline Logger CAIRN_SDK_LOGGER;
// Internal linkage: each plugin's copies refer to its own logger.
namespace {
inline void LogInfo(const std::string& m) {
  CAIRN_SDK_LOGGER.Log(CAIRN_LOG_INFO, m);
}
inline void LogWarn(const std::string& m) {
  CAIRN_SDK_LOGGER.Log(CAIRN_LOG_WARN, m);
}
inline void LogError(const std::string& m) {
  CAIRN_SDK_LOGGER.Log(CAIRN_LOG_ERROR, m);
}
}  // namespace
}  // namespace cairn::sdk

// Defines the entry function that answers with `descriptor_expr`.
#define CAIRN_SDK_DEFINE_ENTRY(descriptor_expr)                              \
  CAIRN_SDK_ENTRY_LINKAGE cairn_status CAIRN_PLUGIN_ENTRY_NAME(             \
      const cairn_host_offer* offer,                                        \
      const cairn_plugin_descriptor** descriptor, cairn_error* error) {     \
    const cairn_plugin_descriptor* d = (descriptor_expr);                   \
    ::cairn::sdk::CAIRN_SDK_LOGGER.Bind(offer, d->name);                    \
    return ::cairn::sdk::Negotiate(offer, d, descriptor, error);            \
  }

// Defines the descriptor for a plugin of `kind` whose table is `table_expr`,
// and the entry that answers with it. The trailing arguments describe the
// options open() accepts: none, or one cairn::sdk::OptionDesc(...) each.
#define CAIRN_SDK_DESCRIBE(kind, table_expr, name, version, description, caps, \
                           ...)                                                \
  namespace {                                                                  \
  const cairn_option_desc cairn_sdk_options[] = {__VA_ARGS__ __VA_OPT__(, )    \
                                                     cairn_option_desc{}};     \
  const cairn_plugin_descriptor* CairnSdkDescriptor() {                        \
    static const std::vector<const cairn_option_desc*> option_pointers =       \
        ::cairn::sdk::OptionPointers(cairn_sdk_options);                       \
    static const cairn_plugin_descriptor d = {sizeof(cairn_plugin_descriptor), \
                                              CAIRN_PLUGIN_MAGIC,              \
                                              CAIRN_ABI_MAJOR,                 \
                                              CAIRN_ABI_MINOR,                 \
                                              kind,                            \
                                              name,                            \
                                              version,                         \
                                              description,                     \
                                              caps,                            \
                                              option_pointers.data(),          \
                                              table_expr};                     \
    return &d;                                                                 \
  }                                                                            \
  }                                                                            \
  CAIRN_SDK_DEFINE_ENTRY(CairnSdkDescriptor())

#endif  // CAIRN_SDK_COMMON_HPP_
