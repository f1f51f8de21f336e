// append, read, read-all, streams, head, tail, delete-to.
#include <cairn/event.h>
#include <cairn/names.h>
#include <cairn/status.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <ostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "commands.h"
#include "event_json.h"
#include "store_access.h"

namespace cairn::cli {
namespace {

namespace po = boost::program_options;

// Parses --expect: any | none (also no-stream) | a revision N.
std::optional<int> ParseExpected(CommandContext& context, const std::string& text,
                                 ExpectedRevision* expected) {
  if (text == "any") {
    *expected = ExpectedRevision::Any();
  } else if (text == "none" || text == "no-stream") {
    *expected = ExpectedRevision::NoStream();
  } else {
    uint64_t revision = 0;
    if (text.empty() || text[0] == '-' || text[0] == '+' ||
        !absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &revision)) {
      return ReportUsageError(
          context, absl::StrCat("--expect takes any, none or a revision number, not '", text,
                                "'"));
    }
    *expected = ExpectedRevision::Exact(revision);
  }
  return std::nullopt;
}

// Parses an optional count flag stored as text in `variables`.
std::optional<int> CountFlag(CommandContext& context, const po::variables_map& variables,
                             const std::string& name, uint64_t* value) {
  if (!variables.count(name)) return std::nullopt;
  return ParseCountFlag(context, "--" + name, variables[name].as<std::string>(), value);
}

// Prints events as they come, JSON lines or human lines.
class EventPrinter {
 public:
  EventPrinter(std::ostream* out, bool json, bool flush_each)
      : out_(out), json_(json), flush_each_(flush_each) {}
  bool operator()(const RecordedEvent& event) {
    *out_ << (json_ ? RecordedEventToJson(event) : RecordedEventToText(event)) << '\n';
    if (flush_each_) out_->flush();
    ++count_;
    return true;
  }
  uint64_t count() const { return count_; }

 private:
  std::ostream* out_;
  bool json_;
  bool flush_each_;
  uint64_t count_ = 0;
};

std::atomic<bool> g_tail_stop{false};

extern "C" void StopTailOnSignal(int) { g_tail_stop.store(true); }

}  // namespace

int AppendCommand(CommandContext& context) {
  StoreOptions store_flags;
  std::string stream, expect_text = "any", batch_text = "0";
  po::options_description description("Flags");
  description.add_options()
      ("stream", po::value<std::string>(&stream)->value_name("STREAM"), "the stream to append to")
      ("expect", po::value<std::string>(&expect_text)->value_name("any|none|N"),
       "expected head revision of the stream: any (default), none (the stream must be "
       "empty) or N (its head must be N); a mismatch writes nothing and exits 3")
      ("batch-size", po::value<std::string>(&batch_text)->value_name("N"),
       "append in batches of N events (0, the default: all of stdin as one atomic batch)")
      ("json", "print the result as one JSON object");
  AddStoreOptions(description, &store_flags);
  po::positional_options_description positional;
  positional.add("stream", 1);
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "STREAM [--expect any|none|N] [--batch-size N] [--json]",
          "Appends the events on stdin, one JSON object a line:\n"
          "  {\"type\": \"OrderPlaced\", \"data\": {...}, \"metadata\": {...}, "
          "\"tags\": "
          "[\"order\"]}\n"
          "'data' and 'metadata' take any JSON value (stored as compact JSON "
          "text), or\n"
          "'data_base64' / 'metadata_base64' for binary bytes; 'writer' and "
          "'timestamp_us'\n"
          "are optional. Blank lines are skipped. A bad line appends nothing "
          "and names the\n"
          "line number.",
          description, positional, &variables)) {
    return *done;
  }
  if (stream.empty()) return ReportUsageError(context, "missing STREAM");
  ExpectedRevision expected = ExpectedRevision::Any();
  if (auto done = ParseExpected(context, expect_text, &expected)) return *done;
  uint64_t batch_size = 0;
  if (auto done = ParseCountFlag(context, "--batch-size", batch_text, &batch_size)) return *done;

  // All of stdin is parsed before the store is touched: a bad line writes
  // nothing.
  absl::StatusOr<std::vector<EventData>> events = ParseEventLines(*context.in, "stdin");
  if (!events.ok()) return ReportError(context, events.status());
  if (events->empty()) {
    return ReportError(context, MakeStatus(CAIRN_E_INVALID_ARGUMENT,
                                           "stdin holds no events (one JSON object a line); "
                                           "nothing appended"));
  }

  std::unique_ptr<StoreAccess> store;
  if (auto done = OpenStoreOrReport(context, store_flags, StoreUse::kWrite, &store)) return *done;

  const size_t step = batch_size == 0 ? events->size() : static_cast<size_t>(batch_size);
  AppendResult total;
  size_t batches = 0;
  for (size_t begin = 0; begin < events->size(); begin += step) {
    size_t count = std::min(step, events->size() - begin);
    absl::StatusOr<AppendResult> result = store->Append(
        stream, expected, absl::MakeConstSpan(events->data() + begin, count));
    if (!result.ok()) {
      if (begin > 0) {
        *context.err << "cairn append: " << begin << " of " << events->size()
                     << " events were appended (revisions " << total.first_revision << ".."
                     << total.last_revision << ") before this failure\n";
      }
      return ReportError(context, result.status());
    }
    if (batches == 0) {
      total.first_revision = result->first_revision;
      total.first_position = result->first_position;
    }
    total.last_revision = result->last_revision;
    total.last_position = result->last_position;
    ++batches;
    // Later batches continue exactly where this one ended.
    expected = ExpectedRevision::Exact(result->last_revision);
  }
  if (variables.count("json")) {
    nlohmann::ordered_json out = {{"stream", stream},
                          {"events", events->size()},
                          {"batches", batches},
                          {"first_revision", total.first_revision},
                          {"last_revision", total.last_revision},
                          {"first_position", total.first_position},
                          {"last_position", total.last_position}};
    *context.out << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    *context.out << "appended " << events->size() << " event" << (events->size() == 1 ? "" : "s")
                 << " to '" << EscapeForTerminal(stream) << "': revisions " << total.first_revision << ".."
                 << total.last_revision << ", positions " << total.first_position << ".."
                 << total.last_position << "\n";
  }
  return kExitOk;
}

int ReadCommand(CommandContext& context) {
  StoreOptions store_flags;
  std::string stream;
  po::options_description description("Flags");
  description.add_options()
      ("stream", po::value<std::string>(&stream)->value_name("STREAM"), "the stream to read")
      ("from", po::value<std::string>()->value_name("REV"), "first revision (default 1)")
      ("to", po::value<std::string>()->value_name("REV"), "last revision, inclusive (default: the head)")
      ("max", po::value<std::string>()->value_name("N"), "at most N events (default: all)")
      ("json", "one JSON line per event, with revision and position");
  AddStoreOptions(description, &store_flags);
  po::positional_options_description positional;
  positional.add("stream", 1);
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "STREAM [--from REV] [--to REV] [--max N] [--json]",
          "Prints the stream's events from..to in revision order, skipping deleted ones.\n"
          "Human lines are '#revision @position time type [tags] data'. An unknown stream\n"
          "prints nothing.",
          description, positional, &variables)) {
    return *done;
  }
  if (stream.empty()) return ReportUsageError(context, "missing STREAM");
  uint64_t from = 1, to = kMaxRevision, max = kMaxRevision;
  if (auto done = CountFlag(context, variables, "from", &from)) return *done;
  if (auto done = CountFlag(context, variables, "to", &to)) return *done;
  if (auto done = CountFlag(context, variables, "max", &max)) return *done;

  std::unique_ptr<StoreAccess> store;
  if (auto done = OpenStoreOrReport(context, store_flags, StoreUse::kRead, &store)) return *done;
  EventPrinter printer(context.out, variables.count("json") > 0, false);
  absl::Status s = store->ReadStream(stream, from, to, max, std::ref(printer));
  if (!s.ok()) return ReportError(context, s);
  return kExitOk;
}

int ReadAllCommand(CommandContext& context) {
  StoreOptions store_flags;
  std::string tag;
  po::options_description description("Flags");
  description.add_options()
      ("after", po::value<std::string>()->value_name("POS"),
       "start after this global position (default 0: from the first event)")
      ("max", po::value<std::string>()->value_name("N"), "at most N events (default: all)")
      ("tag", po::value<std::string>(&tag)->value_name("TAG"), "only events carrying TAG")
      ("json", "one JSON line per event, with stream, revision and position");
  AddStoreOptions(description, &store_flags);
  po::variables_map variables;
  if (auto done = ParseCommandLine(context, "[--after POS] [--max N] [--tag TAG] [--json]",
                                   "Prints every event of the store (or those with a tag) "
                                   "in global position order.",
                                   description, po::positional_options_description(),
                                   &variables)) {
    return *done;
  }
  uint64_t after = 0, max = kMaxRevision;
  if (auto done = CountFlag(context, variables, "after", &after)) return *done;
  if (auto done = CountFlag(context, variables, "max", &max)) return *done;
  if (variables.count("tag") && tag.empty()) return ReportUsageError(context, "--tag is empty");

  std::unique_ptr<StoreAccess> store;
  if (auto done = OpenStoreOrReport(context, store_flags, StoreUse::kRead, &store)) return *done;
  const bool json = variables.count("json") > 0;
  EventFn print = [&](const RecordedEvent& event) {
    *context.out << (json ? RecordedEventToJson(event)
                          : absl::StrCat(EscapeForTerminal(event.stream), " ",
                                         RecordedEventToText(event)))
                 << '\n';
    return true;
  };
  absl::Status s = tag.empty() ? store->ReadAll(after, max, print)
                               : store->ReadTag(tag, after, max, print);
  if (!s.ok()) return ReportError(context, s);
  return kExitOk;
}

int StreamsCommand(CommandContext& context) {
  StoreOptions store_flags;
  po::options_description description("Flags");
  description.add_options()
      ("after", po::value<std::string>()->value_name("ORDINAL"),
       "start after this stream ordinal (streams are numbered 1, 2, ... in order of "
       "first append)")
      ("max", po::value<std::string>()->value_name("N"), "at most N streams (default: all)")
      ("json", "one JSON line per stream");
  AddStoreOptions(description, &store_flags);
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "[--after ORDINAL] [--max N] [--json]",
          "Lists the streams in order of first append, one a line: name, a tab, the head\n"
          "revision, and (if events were deleted) a tab and 'deleted-to N'.",
          description, po::positional_options_description(), &variables)) {
    return *done;
  }
  uint64_t after = 0, max = kMaxRevision;
  if (auto done = CountFlag(context, variables, "after", &after)) return *done;
  if (auto done = CountFlag(context, variables, "max", &max)) return *done;

  std::unique_ptr<StoreAccess> store;
  if (auto done = OpenStoreOrReport(context, store_flags, StoreUse::kRead, &store)) return *done;
  const bool json = variables.count("json") > 0;
  constexpr uint64_t kPage = 1000;
  uint64_t listed = 0;
  while (listed < max) {
    const uint64_t want = std::min(kPage, max - listed);
    absl::StatusOr<std::vector<StreamInfo>> page = store->ListStreams(after, want);
    if (!page.ok()) return ReportError(context, page.status());
    for (const StreamInfo& info : *page) {
      if (json) {
        *context.out << StreamInfoToJson(info) << '\n';
      } else {
        *context.out << EscapeForTerminal(info.name) << '\t' << info.head_revision;
        if (info.deleted_to > 0) *context.out << "\tdeleted-to " << info.deleted_to;
        *context.out << '\n';
      }
      after = info.ordinal;
    }
    listed += page->size();
    if (page->size() < want) break;
  }
  return kExitOk;
}

int HeadCommand(CommandContext& context) {
  StoreOptions store_flags;
  std::string stream;
  po::options_description description("Flags");
  description.add_options()("stream", po::value<std::string>(&stream)->value_name("STREAM"),
                            "the stream (default: none, print the store's head position)");
  AddStoreOptions(description, &store_flags);
  po::positional_options_description positional;
  positional.add("stream", 1);
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "[STREAM]",
          "Prints the stream's head revision (0 if it has no events; it never goes down,\n"
          "also after delete-to), or without STREAM the store's head position.",
          description, positional, &variables)) {
    return *done;
  }
  std::unique_ptr<StoreAccess> store;
  if (auto done = OpenStoreOrReport(context, store_flags, StoreUse::kRead, &store)) return *done;
  absl::StatusOr<uint64_t> head =
      stream.empty() ? store->HeadPosition() : store->HeadRevision(stream);
  if (!head.ok()) return ReportError(context, head.status());
  *context.out << *head << "\n";
  return kExitOk;
}

int TailCommand(CommandContext& context) {
  StoreOptions store_flags;
  std::string stream, tag;
  po::options_description description("Flags");
  description.add_options()
      ("stream", po::value<std::string>(&stream)->value_name("STREAM"),
       "follow this stream (default: every event of the store)")
      ("tag", po::value<std::string>(&tag)->value_name("TAG"), "follow events carrying TAG")
      ("after", po::value<std::string>()->value_name("N"),
       "start after this revision (with STREAM) or position (default: the current head, "
       "so only new events; 0 replays everything first)")
      ("max", po::value<std::string>()->value_name("N"), "stop after N events")
      ("for", po::value<std::string>()->value_name("SECONDS"), "stop after SECONDS")
      ("json", "one JSON line per event");
  AddStoreOptions(description, &store_flags);
  po::positional_options_description positional;
  positional.add("stream", 1);
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "[STREAM | --tag TAG] [--after N] [--max N] [--for SECONDS] [--json]",
          "Follows the store live (a subscription: catch-up, then new events as they\n"
          "commit, with no gap and no duplicate) until --max, --for, Ctrl-C or SIGTERM.",
          description, positional, &variables)) {
    return *done;
  }
  if (!stream.empty() && !tag.empty()) {
    return ReportUsageError(context, "give STREAM or --tag, not both");
  }
  if (variables.count("tag") && tag.empty()) return ReportUsageError(context, "--tag is empty");
  uint64_t after = 0, max = kMaxRevision, seconds = 0;
  if (auto done = CountFlag(context, variables, "after", &after)) return *done;
  if (auto done = CountFlag(context, variables, "max", &max)) return *done;
  if (auto done = CountFlag(context, variables, "for", &seconds)) return *done;

  std::unique_ptr<StoreAccess> store;
  if (auto done = OpenStoreOrReport(context, store_flags, StoreUse::kRead, &store)) return *done;
  SubscriptionFilter filter;
  filter.kind = !stream.empty() ? SubscriptionFilter::Kind::kStream
                : !tag.empty()  ? SubscriptionFilter::Kind::kTag
                                : SubscriptionFilter::Kind::kAll;
  filter.name = !stream.empty() ? stream : tag;
  if (variables.count("after")) {
    filter.after = after;
  } else {
    absl::StatusOr<uint64_t> head =
        stream.empty() ? store->HeadPosition() : store->HeadRevision(stream);
    if (!head.ok()) return ReportError(context, head.status());
    filter.after = *head;
  }
  if (max == 0) return kExitOk;

  g_tail_stop.store(false);
  auto previous_int = std::signal(SIGINT, StopTailOnSignal);
  auto previous_term = std::signal(SIGTERM, StopTailOnSignal);
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
  std::thread timer;
  if (variables.count("for")) {
    timer = std::thread([&] {
      std::unique_lock<std::mutex> lock(mutex);
      finished.wait_for(lock, std::chrono::seconds(seconds), [&] { return done; });
      g_tail_stop.store(true);
    });
  }
  EventPrinter printer(context.out, variables.count("json") > 0, /*flush_each=*/true);
  absl::Status s = store->Follow(
      filter, [&](const RecordedEvent& event) { return printer(event) && printer.count() < max; },
      g_tail_stop);
  {
    std::lock_guard<std::mutex> lock(mutex);
    done = true;
  }
  finished.notify_all();
  if (timer.joinable()) timer.join();
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  if (!s.ok()) return ReportError(context, s);
  return kExitOk;
}

int DeleteToCommand(CommandContext& context) {
  StoreOptions store_flags;
  std::string stream, revision_text;
  po::options_description description("Flags");
  description.add_options()
      ("stream", po::value<std::string>(&stream)->value_name("STREAM"), "the stream")
      ("revision", po::value<std::string>(&revision_text)->value_name("REV|all"),
       "delete revisions up to and including REV ('all' for every one)");
  AddStoreOptions(description, &store_flags);
  po::positional_options_description positional;
  positional.add("stream", 1).add("revision", 1);
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "STREAM REV|all",
          "Logically deletes the stream's events up to REV: reads skip them; the head\n"
          "revision stays where it is.",
          description, positional, &variables)) {
    return *done;
  }
  if (stream.empty() || revision_text.empty()) {
    return ReportUsageError(context, "give STREAM and REV (or 'all')");
  }
  uint64_t revision = kMaxRevision;
  if (revision_text != "all") {
    if (auto done = ParseCountFlag(context, "REV", revision_text, &revision)) return *done;
  }
  std::unique_ptr<StoreAccess> store;
  if (auto done = OpenStoreOrReport(context, store_flags, StoreUse::kWrite, &store)) return *done;
  // Storage deletes only revisions that exist (up to the head at that
  // moment), so the heads around the call bound what was deleted.
  absl::StatusOr<uint64_t> head_before = store->HeadRevision(stream);
  if (!head_before.ok()) return ReportError(context, head_before.status());
  absl::Status s = store->DeleteTo(stream, revision);
  if (!s.ok()) return ReportError(context, s);
  absl::StatusOr<uint64_t> head_after = store->HeadRevision(stream);
  if (!head_after.ok()) return ReportError(context, head_after.status());
  const uint64_t least = std::min(revision, *head_before);
  const uint64_t most = std::min(revision, *head_after);
  const std::string name = EscapeForTerminal(stream);
  if (most == 0) {
    *context.out << "'" << name << "' has no events; nothing deleted\n";
  } else if (least == most) {
    *context.out << "deleted '" << name << "' up to revision " << least;
    if (revision > least) {
      *context.out << ", its head"
                   << (revision == kMaxRevision
                           ? std::string()
                           : absl::StrCat(" (revision ", revision,
                                          " does not exist; events appended later stay visible)"));
    }
    *context.out << "\n";
  } else {
    *context.out << "deleted '" << name << "' up to a revision between " << least << " and "
                 << most << " (appends to it ran during the delete)\n";
  }
  return kExitOk;
}

}  // namespace cairn::cli
