#include "audit_command.h"

#include <optional>
#include <ostream>

#include "absl/strings/str_join.h"
#include "audit_chain.h"

namespace cairn::cli {

namespace po = boost::program_options;

int AuditCommand(CommandContext& context) {
  std::string action;
  std::vector<std::string> files;
  std::string head_path;
  std::string key_file;
  po::options_description description("Options");
  description.add_options()(
      "action", po::value<std::string>(&action)->required(), "verify")(
      "files", po::value<std::vector<std::string>>(&files),
      "audit log files, oldest first")(
      "head", po::value<std::string>(&head_path),
      "the head file (default: the last FILE with .head appended)")(
      "no-head", "check the chain only: a cut-off end goes undetected")(
      "key-file", po::value<std::string>(&key_file),
      "the [audit] key-file, to check a keyed head's HMAC");
  po::positional_options_description positional;
  positional.add("action", 1).add("files", -1);
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "verify [--key-file FILE] [--head FILE | --no-head] FILE...",
          "Checks the hash chain of cairnd's audit log, and that its end is "
          "where the\n"
          "head file (written by cairnd beside the log) says, so lines cut off "
          "the end\n"
          "are found. Give rotated files oldest first, then the live one:\n"
          "audit.log.2 audit.log.1 audit.log",
          description, positional, &variables)) {
    return *done;
  }
  if (action != "verify") {
    return ReportUsageError(context, "unknown action '" + action + "'; the action is verify");
  }
  if (files.empty()) return ReportUsageError(context, "verify needs one or more FILEs");
  const bool no_head = variables.count("no-head") > 0;
  if (no_head && (!head_path.empty() || !key_file.empty())) {
    return ReportUsageError(
        context, "--no-head checks no head: drop --head and --key-file");
  }
  std::optional<cairnd::AuditHeadCheck> head;
  if (!no_head) {
    std::string key;
    if (!key_file.empty()) {
      absl::StatusOr<std::string> read = cairnd::ReadAuditKey(key_file);
      if (!read.ok()) return ReportError(context, read.status());
      key = *std::move(read);
    }
    if (head_path.empty()) head_path = cairnd::AuditHeadPath(files.back());
    // The head before the files: cairnd writes a group's lines before its
    // head, so a log read after its head holds at least the head's line.
    // A head read while cairnd rewrites it in place can come out torn and
    // fail its MAC: a few reads tell that from a head that stays bad.
    absl::StatusOr<std::optional<cairnd::AuditHead>> read =
        cairnd::ReadAuditHead(head_path, key);
    for (int retry = 0; retry < 3 && absl::IsDataLoss(read.status()); ++retry) {
      read = cairnd::ReadAuditHead(head_path, key);
    }
    if (!read.ok()) return ReportError(context, read.status());
    if (!read->has_value()) {
      return ReportError(
          context, absl::NotFoundError("no head file '" + head_path +
                                       "': without it lines cut off the end of "
                                       "the log cannot be detected (cairnd "
                                       "writes PATH.head beside the live log; "
                                       "give --head FILE, or --no-head to "
                                       "check only the chain)"));
    }
    head = cairnd::AuditHeadCheck{**read, head_path};
  }
  absl::StatusOr<cairnd::AuditChainSummary> summary =
      cairnd::VerifyAuditChain(files, head);
  if (!summary.ok()) return ReportError(context, summary.status());
  *context.out << absl::StrJoin(files, " ") << ": " << summary->lines << " line(s)";
  if (summary->lines > 0) {
    *context.out << ", seq " << summary->first_seq << ".." << summary->last_seq;
  }
  *context.out << ", chain intact";
  if (head.has_value()) {
    *context.out << ", ends where its " << (head->head.keyed ? "keyed " : "")
                 << "head says (seq " << head->head.seq << ")";
    if (summary->past_head > 0) {
      *context.out
          << " plus " << summary->past_head
          << " line(s) written after it (a crash before the head was updated)";
    }
  } else {
    *context.out << " (no head checked: a cut-off end would not show)";
  }
  if (summary->lines > 0 && !summary->starts_at_genesis) {
    *context.out << " (it starts at seq " << summary->first_seq
                 << ": the lines before were rotated away or are in files not given)";
  }
  *context.out << "\n";
  return kExitOk;
}

}  // namespace cairn::cli
