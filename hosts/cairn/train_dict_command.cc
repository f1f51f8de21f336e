#include "train_dict_command.h"

#include <cairn/status.h>
#include <zdict.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>

#include <nlohmann/json.hpp>

#include "progress.h"
#include "store_access.h"

namespace cairn::cli {
namespace {

namespace po = boost::program_options;

constexpr uint64_t kDefaultMaxEvents = 100000;
constexpr uint64_t kDefaultMaxBytes = 100ull << 20;
constexpr uint64_t kDefaultDictionarySize = 112640;
constexpr size_t kMaxSampleBytes = 128 << 10;

// The samples zstd trains on: one buffer and each sample's size.
struct Samples {
  std::string bytes;
  std::vector<size_t> sizes;
  uint64_t events = 0;

  void Add(const std::string& sample) {
    if (sample.empty()) return;
    size_t size = std::min(sample.size(), kMaxSampleBytes);
    bytes.append(sample.data(), size);
    sizes.push_back(size);
  }
};

absl::Status WriteDictionary(const std::string& path, const std::string& bytes) {
  std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      return MakeStatus(CAIRN_E_IO, "cannot write dictionary " + temp + ": " +
                                        std::strerror(errno));
    }
  }
  std::error_code error;
  std::filesystem::rename(temp, path, error);
  if (error) {
    std::filesystem::remove(temp, error);
    return MakeStatus(CAIRN_E_IO, "cannot move dictionary into place at " +
                                      path + ": " + error.message());
  }
  return absl::OkStatus();
}

}  // namespace

int TrainDictCommand(CommandContext& context) {
  StoreOptions store_flags;
  std::string output, stream, tag;
  std::string max_events_text, max_bytes_text, size_text;
  po::options_description description("Flags");
  description.add_options()("output,o",
                            po::value<std::string>(&output)->value_name("FILE"),
                            "where to write the dictionary (required)")(
      "stream", po::value<std::string>(&stream)->value_name("STREAM"),
      "train on this stream's events only")(
      "tag", po::value<std::string>(&tag)->value_name("TAG"),
      "train on events carrying TAG only")(
      "max-events", po::value<std::string>(&max_events_text)->value_name("N"),
      "read at most N events (default 100000)")(
      "max-bytes", po::value<std::string>(&max_bytes_text)->value_name("SIZE"),
      "stop once the samples hold SIZE bytes (default 100MiB)")(
      "size", po::value<std::string>(&size_text)->value_name("BYTES"),
      "the dictionary's largest size (default 112640)")(
      "force", "replace FILE if it exists")(
      "json",
      "progress as JSON lines on stderr, the result as one JSON "
      "object");
  AddStoreOptions(description, &store_flags);
  po::positional_options_description positional;
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context,
          "--output FILE [--stream S | --tag T] [--max-events N] "
          "[--max-bytes SIZE] [--size BYTES] [--force] [--json]",
          "Trains a zstd dictionary from the store's events (their data and\n"
          "metadata as the codec sees them) and writes it to FILE. Use it "
          "with\n"
          "  [codec]\n  plugin = zstd\n  dictionary = FILE\n"
          "Small, similar events (JSON, protobuf) compress much better with "
          "one.\n"
          "Keep every dictionary a store has used: events name the dictionary\n"
          "they need ('dictionary = NEW, OLD' encodes with NEW, reads both).",
          description, positional, &variables)) {
    return *done;
  }
  if (output.empty()) return ReportUsageError(context, "missing --output FILE");
  if (!stream.empty() && !tag.empty()) {
    return ReportUsageError(context, "give --stream or --tag, not both");
  }
  uint64_t max_events = kDefaultMaxEvents;
  if (!max_events_text.empty()) {
    if (auto done = ParseCountFlag(context, "--max-events", max_events_text,
                                   &max_events)) {
      return *done;
    }
  }
  uint64_t max_bytes = kDefaultMaxBytes;
  if (!max_bytes_text.empty()) {
    if (auto done =
            ParseSizeFlag(context, "--max-bytes", max_bytes_text, &max_bytes)) {
      return *done;
    }
  }
  uint64_t dictionary_size = kDefaultDictionarySize;
  if (!size_text.empty()) {
    if (auto done =
            ParseSizeFlag(context, "--size", size_text, &dictionary_size)) {
      return *done;
    }
    if (dictionary_size < 256 || dictionary_size > (16ull << 20)) {
      return ReportUsageError(context,
                              "--size takes a size from 256 bytes to "
                              "16MiB, not '" +
                                  size_text + "'");
    }
  }
  if (max_events == 0) {
    return ReportUsageError(context, "--max-events must be at least 1");
  }
  std::error_code exists_error;
  if (variables.count("force") == 0 &&
      std::filesystem::exists(output, exists_error)) {
    return ReportUsageError(context, output +
                                         " exists; pass --force to replace it");
  }

  std::unique_ptr<StoreAccess> store;
  if (auto done = OpenStoreOrReport(context, store_flags, StoreUse::kRead, &store)) return *done;
  Samples samples;
  // On stderr, while the samples are read (no total: the read ends at
  // --max-events, --max-bytes or the end of the store, whichever first).
  const bool json = variables.count("json") > 0;
  ProgressPrinter progress(context, "events", json);
  EventFn collect = [&](const RecordedEvent& event) {
    samples.Add(event.data);
    samples.Add(event.metadata);
    ++samples.events;
    if (samples.events % 4096 == 0) {
      progress.Report(samples.events, samples.bytes.size(), 0, false);
    }
    return samples.events < max_events && samples.bytes.size() < max_bytes;
  };
  absl::Status read =
      !stream.empty() ? store->ReadStream(stream, 1, kMaxRevision, max_events,
                                          collect)
      : !tag.empty()  ? store->ReadTag(tag, 0, max_events, collect)
                      : store->ReadAll(0, max_events, collect);
  if (!read.ok()) return ReportError(context, read);
  if (samples.sizes.empty()) {
    return ReportError(context,
                       MakeStatus(CAIRN_E_NOT_FOUND,
                                  "no events with data to train on in " +
                                      store->Describe()));
  }
  progress.Report(samples.events, samples.bytes.size(), 0, true);
  if (!json) {
    *context.err << "cairn train-dict: training a dictionary of at most "
                 << dictionary_size << " bytes on " << samples.sizes.size()
                 << " samples\n";
  }
  std::string dictionary(dictionary_size, '\0');
  size_t trained = ZDICT_trainFromBuffer(
      dictionary.data(), dictionary.size(), samples.bytes.data(),
      samples.sizes.data(), static_cast<unsigned>(samples.sizes.size()));
  if (ZDICT_isError(trained)) {
    return ReportError(
        context,
        MakeStatus(CAIRN_E_FAILED_PRECONDITION,
                   "zstd could not train a dictionary from " +
                       std::to_string(samples.sizes.size()) + " samples (" +
                       std::to_string(samples.bytes.size()) + " bytes): " +
                       ZDICT_getErrorName(trained) +
                       "; training needs many small events (a few hundred "
                       "at least, ideally 100 times --size in total)"));
  }
  dictionary.resize(trained);
  absl::Status written = WriteDictionary(output, dictionary);
  if (!written.ok()) return ReportError(context, written);
  const unsigned id =
      ZSTD_getDictID_fromDict(dictionary.data(), dictionary.size());
  if (json) {
    *context.out << nlohmann::ordered_json{{"dictionary", output},
                                           {"id", id},
                                           {"bytes", dictionary.size()},
                                           {"samples", samples.sizes.size()},
                                           {"sample_bytes",
                                            samples.bytes.size()},
                                           {"events", samples.events}}
                        .dump()
                 << "\n";
    return kExitOk;
  }
  *context.out << "wrote zstd dictionary " << output << ": id " << id << ", "
               << dictionary.size() << " bytes, trained on "
               << samples.sizes.size() << " samples (" << samples.bytes.size()
               << " bytes) from " << samples.events << " events\n"
               << "use it with: [codec] plugin = zstd, dictionary = " << output
               << "\n";
  return kExitOk;
}

}  // namespace cairn::cli
