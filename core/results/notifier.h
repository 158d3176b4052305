// Failure notifications ([notify] in wrt.toml): an observer of the run that,
// once the verdict is known, tells people about a run that failed, was
// blocked (or warned) by the safety gate, or recovered after one that had.
//
// Channels:
//  * webhook: POST of Slack-compatible JSON ({"text": ...}) or, with
//    format = "json", the whole event;
//  * email: an RFC 5322 message piped to a sendmail-compatible command
//    (`sendmail -t -i` by default; msmtp works);
//  * GitHub issue: one issue per distinct failure, found again by a
//    fingerprint (pipeline + failed stages) kept in the issue body, so a
//    repeat comments on the open issue instead of opening another; a
//    recovery comments on and closes the pipeline's open issues.
//
// Delivery never changes the run's exit code: a channel that fails is a
// warning. HTTP requests are retried only on 5xx and 429, honouring
// Retry-After (capped), at most three attempts, each bounded by timeout_s.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/results/run_events.h"

namespace wrt {

struct NotifyEvent {
  std::string kind;         // failure | gate-block | gate-warn | recovered
  std::string title;        // one line
  std::string text;         // plain text, several lines
  std::string fingerprint;  // of the failure (pipeline + failed stages); empty for recovered
  nlohmann::json detail;    // the structured event (format = "json")
};

// The event this run calls for under `on`, if any. `previous` is the
// history's record of the run before (null when none).
std::optional<NotifyEvent> notify_event(const std::vector<std::string>& on, const RunVerdict& v,
                                        const nlohmann::json& previous, const std::string& project);

class Notifier final : public RunObserver {
 public:
  using Env = std::function<std::string(const char*)>;  // "" when unset
  Notifier(NotifyConfig config, std::string project, nlohmann::json previous, std::filesystem::path workspace, Env env);

  void run_verdict(const RunVerdict& v) override;

  // One line per channel: what was delivered ("webhook: delivered") and
  // what failed ("webhook: HTTP 400 ..."); the CLI prints them.
  const std::vector<std::string>& delivered() const { return delivered_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  void webhook(const NotifyEvent& e);
  void email(const NotifyEvent& e, const RunVerdict& v);
  void github(const NotifyEvent& e, const RunVerdict& v);

  NotifyConfig config_;
  std::string project_;
  nlohmann::json previous_;
  std::filesystem::path workspace_;
  Env env_;
  std::vector<std::string> delivered_, warnings_;
};

}  // namespace wrt
