#include "audit_command.h"

#include <ostream>

#include "absl/strings/str_join.h"
#include "audit_chain.h"

namespace cairn::cli {

namespace po = boost::program_options;

int AuditCommand(CommandContext& context) {
  std::string action;
  std::vector<std::string> files;
  po::options_description description("Options");
  description.add_options()
      ("action", po::value<std::string>(&action)->required(), "verify")
      ("files", po::value<std::vector<std::string>>(&files), "audit log files, oldest first");
  po::positional_options_description positional;
  positional.add("action", 1).add("files", -1);
  po::variables_map variables;
  if (auto done = ParseCommandLine(
          context, "verify FILE...",
          "Checks the hash chain of cairnd's audit log. Give rotated files oldest first,\n"
          "then the live one: audit.log.2 audit.log.1 audit.log",
          description, positional, &variables)) {
    return *done;
  }
  if (action != "verify") {
    return ReportUsageError(context, "unknown action '" + action + "'; the action is verify");
  }
  if (files.empty()) return ReportUsageError(context, "verify needs one or more FILEs");
  absl::StatusOr<cairnd::AuditChainSummary> summary = cairnd::VerifyAuditChain(files);
  if (!summary.ok()) return ReportError(context, summary.status());
  *context.out << absl::StrJoin(files, " ") << ": " << summary->lines << " line(s)";
  if (summary->lines > 0) {
    *context.out << ", seq " << summary->first_seq << ".." << summary->last_seq;
  }
  *context.out << ", chain intact";
  if (summary->lines > 0 && !summary->starts_at_genesis) {
    *context.out << " (it starts at seq " << summary->first_seq
                 << ": the lines before were rotated away or are in files not given)";
  }
  *context.out << "\n";
  return kExitOk;
}

}  // namespace cairn::cli
