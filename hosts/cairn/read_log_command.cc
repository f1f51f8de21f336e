// `cairn read-log`: prints the ordered log (cairn/plugin.h, "The ordered
// log") record by record, read-only. The fault tests' checker
// (tests/replication/checker.h) compares these dumps across nodes.
#include "read_log_command.h"

#include <cairn/names.h>
#include <cairn/plugin.h>

#include <cstring>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "store_access.h"

namespace cairn::cli {

namespace {

namespace po = boost::program_options;
using Json = nlohmann::ordered_json;

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void PutBytes(std::string* out, cairn_bytes bytes) {
  PutU64(out, bytes.size);
  if (bytes.size != 0)
    out->append(reinterpret_cast<const char*>(bytes.data), bytes.size);
}
std::string Text(cairn_bytes bytes) {
  return bytes.size == 0
             ? std::string()
             : std::string(reinterpret_cast<const char*>(bytes.data),
                           bytes.size);
}

const char* KindText(uint32_t kind) {
  switch (kind) {
    case CAIRN_RECORD_EVENT:
      return "event";
    case CAIRN_RECORD_DELETE_TO:
      return "delete_to";
    case CAIRN_RECORD_SNAPSHOT_SAVE:
      return "snapshot_save";
    case CAIRN_RECORD_SNAPSHOT_DELETE:
      return "snapshot_delete";
    case CAIRN_RECORD_EPOCH:
      return "epoch";
    default:
      return "unknown";
  }
}

}  // namespace

std::string CanonicalRecordBytes(const cairn_log_record& record) {
  std::string out;
  PutU32(&out, record.kind);
  PutU64(&out, record.position);
  PutU64(&out, record.epoch);
  PutU32(&out, record.batch_size);
  PutU32(&out, record.batch_index);
  const cairn_event* event = record.event;
  PutU32(&out, event != nullptr ? 1 : 0);
  if (event != nullptr) {
    PutBytes(&out, event->stream);
    PutU64(&out, event->revision);
    PutBytes(&out, event->type);
    PutU64(&out, static_cast<uint64_t>(event->timestamp_us));
    PutBytes(&out, event->writer);
    PutBytes(&out, event->metadata);
    PutBytes(&out, event->data);
    PutU32(&out, event->tag_count);
    for (uint32_t i = 0; i < event->tag_count; ++i)
      PutBytes(&out, event->tags[i]);
  }
  PutBytes(&out, record.stream);
  PutU64(&out, record.revision);
  PutU64(&out, static_cast<uint64_t>(record.timestamp_us));
  PutBytes(&out, record.data);
  PutU32(&out, record.criteria != nullptr ? 1 : 0);
  if (record.criteria != nullptr) {
    PutU64(&out, record.criteria->min_revision);
    PutU64(&out, record.criteria->max_revision);
    PutU64(&out, static_cast<uint64_t>(record.criteria->min_timestamp_us));
    PutU64(&out, static_cast<uint64_t>(record.criteria->max_timestamp_us));
  }
  // Only a key changes the bytes, so records without one hash as before.
  if (CAIRN_HAS_FIELD(cairn_log_record, &record, idempotency_key) &&
      record.idempotency_key.size != 0) {
    PutBytes(&out, record.idempotency_key);
  }
  return out;
}

std::string Sha256Hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(),
                 nullptr) != 1) {
    return std::string();
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), length));
}

int ReadLogCommand(CommandContext& context) {
  StoreOptions store_flags;
  std::string after_text = "0";
  std::string max_text;
  po::options_description description("Flags");
  description.add_options()("json", "print one JSON object a record")(
      "after", po::value<std::string>(&after_text)->value_name("POS"),
      "start after this position (default 0: from the first record)")(
      "max", po::value<std::string>(&max_text)->value_name("N"),
      "print at most N records (default: all, up to the written watermark)");
  AddStoreOptions(description, &store_flags);
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "[--json] [--after POS] [--max N]",
          "Prints the ordered log of an embedded store (read-only; with "
          "--server, the served store's up to its committed position), one "
          "record a line: "
          "position, kind, epoch, stream, revision and the SHA-256 of the "
          "record's "
          "canonical bytes (every field as stored, sealed payloads included; "
          "docs/cli.md), up to the written watermark. Events also show batch, "
          "type "
          "and writer; an EPOCH record its primary. With --data, stop the "
          "node first: storage is opened as by any command.",
          description, po::positional_options_description(), &variables)) {
    return *done;
  }
  uint64_t after = 0;
  uint64_t max = UINT64_MAX;
  if (auto done = ParseCountFlag(context, "--after", after_text, &after))
    return *done;
  if (!max_text.empty()) {
    if (auto done = ParseCountFlag(context, "--max", max_text, &max))
      return *done;
  }
  const bool json = variables.count("json") != 0;
  std::unique_ptr<StoreAccess> store;
  if (auto done =
          OpenStoreOrReport(context, store_flags, StoreUse::kRead, &store))
    return *done;
  std::ostream& out = *context.out;
  absl::Status status =
      store->ReadLog(after, max, [&](const cairn_log_record& record) {
        const std::string sha = Sha256Hex(CanonicalRecordBytes(record));
        const cairn_event* event =
            record.kind == CAIRN_RECORD_EVENT ? record.event : nullptr;
        const std::string stream =
            event != nullptr ? Text(event->stream) : Text(record.stream);
        const uint64_t revision =
            event != nullptr ? event->revision : record.revision;
        if (json) {
          Json line = {{"position", record.position},
                       {"kind", KindText(record.kind)},
                       {"epoch", record.epoch},
                       {"stream", stream},
                       {"revision", revision}};
          if (event != nullptr) {
            line["batch_size"] = record.batch_size;
            line["batch_index"] = record.batch_index;
            line["type"] = Text(event->type);
            line["writer"] = Text(event->writer);
            line["timestamp_us"] = event->timestamp_us;
            if (record.idempotency_key.size != 0) {
              line["idempotency_key"] = absl::BytesToHexString(
                  absl::string_view(reinterpret_cast<const char*>(
                                        record.idempotency_key.data),
                                    record.idempotency_key.size));
            }
          } else if (record.kind == CAIRN_RECORD_EPOCH) {
            line["primary"] = Text(record.data);
          }
          line["sha256"] = sha;
          out << line.dump(-1, ' ', false, Json::error_handler_t::replace)
              << "\n";
        } else {
          out << record.position << " " << KindText(record.kind)
              << " epoch=" << record.epoch;
          if (!stream.empty())
            out << " " << EscapeForTerminal(stream) << "@" << revision;
          if (event != nullptr)
            out << " writer=" << EscapeForTerminal(Text(event->writer));
          if (record.kind == CAIRN_RECORD_EPOCH) {
            out << " primary=" << EscapeForTerminal(Text(record.data));
          }
          out << " sha256=" << sha << "\n";
        }
        return static_cast<bool>(out);
      });
  if (!status.ok()) return ReportError(context, status);
  return kExitOk;
}

}  // namespace cairn::cli
