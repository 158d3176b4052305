#include "core/results/notifier.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <map>
#include <thread>

#include <fmt/core.h>

#include "core/exec/subprocess.h"
#include "core/results/report.h"
#include "core/util/base64.h"
#include "core/util/hash.h"
#include "core/util/http_client.h"

namespace wrt {

namespace fs = std::filesystem;

namespace {

bool wants(const std::vector<std::string>& on, const char* kind) { return std::find(on.begin(), on.end(), kind) != on.end(); }

std::string gate_verdict(const nlohmann::json& gate) {
  if (!gate.is_object()) return "";
  auto it = gate.find("verdict");
  return it != gate.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string short_commit(const std::string& c) { return c.substr(0, 7); }

// The run's failed stages with the first thing to look at: the first
// error finding, else the first failed test, else the reason.
std::vector<std::pair<std::string, std::string>> failures(const RunOutcome& o) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : o.records) {
    if (!is_failure_status(r.status)) continue;
    std::string first;
    for (const auto& f : r.results->findings)
      if (f.severity == "error") {
        first = f.file.empty() ? f.message : fmt::format("{}:{}: {}", f.file, f.line, f.message);
        break;
      }
    if (first.empty())
      for (const auto& t : r.results->tests)
        if (t.status == "failed") {
          first = fmt::format("test {} failed{}", t.suite.empty() ? t.name : t.suite + "/" + t.name,
                              t.message.empty() ? "" : ": " + t.message);
          break;
        }
    if (first.empty()) first = !r.results->message.empty() ? r.results->message : r.reason;
    if (first.size() > 300) first = first.substr(0, 297) + "...";
    std::replace(first.begin(), first.end(), '\n', ' ');
    out.emplace_back(r.name + (r.status == "failed" ? "" : " (" + r.status + ")"), first);
  }
  return out;
}

std::string ci_link() {
  auto env = [](const char* n) { const char* v = std::getenv(n); return std::string(v ? v : ""); };
  if (!env("GITHUB_RUN_ID").empty() && !env("GITHUB_REPOSITORY").empty())
    return fmt::format("{}/{}/actions/runs/{}", env("GITHUB_SERVER_URL").empty() ? "https://github.com" : env("GITHUB_SERVER_URL"),
                       env("GITHUB_REPOSITORY"), env("GITHUB_RUN_ID"));
  return env("CI_JOB_URL");
}

// A header value: one line; non-ASCII as an RFC 2047 encoded word.
std::string header_value(std::string s) {
  std::replace(s.begin(), s.end(), '\r', ' ');
  std::replace(s.begin(), s.end(), '\n', ' ');
  if (std::all_of(s.begin(), s.end(), [](unsigned char c) { return c < 128; })) return s;
  return "=?UTF-8?B?" + base64_encode(s) + "?=";
}

std::string rfc2822_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

// One HTTP exchange with the retry policy: 5xx and 429 only, Retry-After
// honoured up to 30 s, three attempts.
HttpResponse send(HttpRequest q) {
  HttpResponse r;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    r = http_request(q);
    const bool retry = r.status == 429 || r.status >= 500;
    if (!retry || attempt == 3) break;
    std::this_thread::sleep_for(
        retry_after_delay(r.retry_after, std::chrono::milliseconds(1000 * attempt), std::chrono::seconds(30)));
  }
  return r;
}

std::string describe(const HttpResponse& r) {
  if (r.status == 0) return r.error;
  std::string body = r.body.substr(0, 200);
  std::replace(body.begin(), body.end(), '\n', ' ');
  return fmt::format("HTTP {}{}", r.status, body.empty() ? "" : ": " + body);
}

bool ok(const HttpResponse& r) { return r.status >= 200 && r.status < 300; }

}  // namespace

std::optional<NotifyEvent> notify_event(const std::vector<std::string>& on, const RunVerdict& v,
                                        const nlohmann::json& previous, const std::string& project) {
  if (v.status == "interrupted") return std::nullopt;  // someone stopped it: they know
  const std::string gate = gate_verdict(v.gate);
  NotifyEvent e;
  if (gate == "block" && wants(on, "gate-block")) e.kind = "gate-block";
  else if (v.status == "failed" && wants(on, "failure")) e.kind = "failure";
  else if (gate == "warn" && wants(on, "gate-warn")) e.kind = "gate-warn";
  else if (v.status == "passed" && gate != "block" && wants(on, "recovered") && previous.is_object()) {
    const std::string before = previous.value("status", "");
    const bool was_blocked = previous.contains("gate") && previous["gate"].is_string() && previous["gate"] == "block";
    if (before == "failed" || was_blocked) e.kind = "recovered";
  }
  if (e.kind.empty()) return std::nullopt;

  const RunOutcome& o = v.outcome;
  const std::string where = o.branch.empty() && o.commit.empty() ? ""
                            : fmt::format(" on {}{}", o.branch.empty() ? "" : o.branch,
                                          o.commit.empty() ? "" : " @ " + short_commit(o.commit));
  const std::map<std::string, std::string> what = {{"failure", "failed"},
                                                   {"gate-block", "blocked by the safety gate"},
                                                   {"gate-warn", "passed the safety gate with a warning"},
                                                   {"recovered", "recovered"}};
  e.title = fmt::format("wrt: {} {} {}{}", project, v.pipeline, what.at(e.kind), where);

  std::map<std::string, int> counts;
  for (const auto& r : o.records) ++counts[r.status];
  std::string summary;
  for (const char* k : {"passed", "cached", "flaky", "failed", "timeout", "interrupted", "skipped"})
    if (counts[k]) summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", counts[k], k);
  e.text = fmt::format("{}\n\n{} stage{}: {} ({:.1f}s).\n", e.title, o.records.size(), o.records.size() == 1 ? "" : "s", summary,
                       o.duration_s);
  const auto failed = failures(o);
  std::vector<std::string> names;
  if (!failed.empty()) {
    e.text += "\nFailed:\n";
    std::size_t shown = 0;
    for (const auto& [name, first] : failed) {
      names.push_back(name);
      if (shown++ < 10) e.text += fmt::format("  - {}: {}\n", name, first);
    }
    if (failed.size() > 10) e.text += fmt::format("  ... and {} more\n", failed.size() - 10);
  }
  if (v.gate.is_object() && v.gate.contains("levels") && v.gate["levels"].is_object())
    for (const auto& [level, l] : v.gate["levels"].items())
      if (l.is_object() && l.contains("failed") && l["failed"].is_array() && !l["failed"].empty())
        e.text += fmt::format("\nSafety gate, ASIL {} ({}): {} without passing evidence -> {}\n", level,
                              l.value("on_failure", ""), l["failed"].size(), l.value("verdict", ""));
  if (e.kind == "recovered") e.text += fmt::format("\nThe previous run ({}) had {}.\n", previous.value("started_at", ""),
                                                   previous.value("status", "") == "failed" ? "failed" : "been blocked");
  if (const std::string link = ci_link(); !link.empty()) e.text += "\n" + link + "\n";

  // The same failure again (same pipeline, same failed stages) has the same
  // fingerprint, whatever the findings' wording or the commit.
  if (e.kind != "recovered") {
    std::sort(names.begin(), names.end());
    Sha256 h;
    h.update_field(v.pipeline);
    for (const auto& n : names) h.update_field(n);
    e.fingerprint = to_hex(h.finish()).substr(0, 16);
  }
  nlohmann::json failed_json = nlohmann::json::array();
  for (const auto& [name, first] : failed) failed_json.push_back({{"stage", name}, {"first", first}});
  e.detail = {{"event", e.kind},        {"project", project},          {"pipeline", v.pipeline},
              {"status", v.status},     {"gate", gate.empty() ? nlohmann::json() : nlohmann::json(gate)},
              {"commit", o.commit},     {"branch", o.branch},          {"started_at", iso8601_ms(o.started_at_ms)},
              {"duration_s", o.duration_s}, {"counts", counts},        {"failed", failed_json},
              {"fingerprint", e.fingerprint}, {"title", e.title},      {"text", e.text}};
  return e;
}

Notifier::Notifier(NotifyConfig config, std::string project, nlohmann::json previous, fs::path workspace, Env env)
    : config_(std::move(config)),
      project_(std::move(project)),
      previous_(std::move(previous)),
      workspace_(std::move(workspace)),
      env_(std::move(env)) {}

void Notifier::run_verdict(const RunVerdict& v) {
  auto e = notify_event(config_.on, v, previous_, project_);
  if (!e) return;
  if (!config_.webhook_url.empty() || !config_.webhook_url_env.empty()) webhook(*e);
  if (!config_.email_to.empty()) email(*e, v);
  if (config_.github) github(*e, v);
}

void Notifier::webhook(const NotifyEvent& e) {
  std::string url = config_.webhook_url;
  if (url.empty()) {
    url = env_(config_.webhook_url_env.c_str());
    if (url.empty()) {
      warnings_.push_back(fmt::format("notify webhook: ${} is not set; nothing sent", config_.webhook_url_env));
      return;
    }
  }
  HttpRequest q;
  q.method = "POST";
  q.url = url;
  q.headers = {"Content-Type: application/json"};
  q.body = config_.webhook_format == "json" ? e.detail.dump() : nlohmann::json{{"text", e.text}}.dump();
  q.timeout = std::chrono::milliseconds(static_cast<long long>(config_.timeout_s * 1000));
  HttpResponse r = send(q);
  // The URL may hold a secret (Slack's do): never printed.
  if (ok(r)) delivered_.push_back(fmt::format("webhook: {} sent", e.kind));
  else warnings_.push_back(fmt::format("notify webhook: not delivered: {}", describe(r)));
}

void Notifier::email(const NotifyEvent& e, const RunVerdict& v) {
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  const std::string from = config_.email_from.empty() ? fmt::format("wrt <wrt@{}>", host) : config_.email_from;
  std::string to;
  for (const auto& a : config_.email_to) to += (to.empty() ? "" : ", ") + a;
  std::string msg = fmt::format(
      "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}-{}.{}@wrt>\r\nMIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n"
      "X-Wrt-Event: {}\r\n\r\n",
      header_value(from), to, header_value(e.title), rfc2822_now(), v.outcome.started_at_ms, ::getpid(), e.kind, e.kind);
  // Body lines end in CRLF; a line of a single "." is doubled so a
  // sendmail without -i does not end the message there.
  std::string body = e.text;
  std::size_t start = 0;
  while (start <= body.size()) {
    std::size_t nl = body.find('\n', start);
    std::string line = body.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (line == ".") line = "..";
    msg += line + "\r\n";
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  // The message goes in through a file: run_process gives the child a
  // file as its standard input.
  const fs::path tmp = fs::temp_directory_path() / fmt::format("wrt-mail-{}-{}.eml", ::getpid(), v.outcome.started_at_ms);
  {
    std::ofstream out(tmp, std::ios::binary);
    out << msg;
    if (!out) {
      warnings_.push_back(fmt::format("notify email: cannot write {}", tmp.string()));
      return;
    }
  }
  SpawnOptions o;
  o.argv = config_.email_command;
  o.stdin_path = tmp;
  o.capture = true;
  o.cwd = workspace_;
  o.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<long long>(config_.timeout_s * 1000));
  SpawnResult r = run_process(o);
  std::error_code ec;
  fs::remove(tmp, ec);
  std::string out = r.output.substr(0, r.output.find('\n'));
  if (r.started && r.exit_code == 0) delivered_.push_back(fmt::format("email: {} sent to {}", e.kind, to));
  else if (!r.started) warnings_.push_back(fmt::format("notify email: cannot run {}: {}", o.argv[0], r.error));
  else if (r.timed_out) warnings_.push_back(fmt::format("notify email: {} timed out after {}s", o.argv[0], config_.timeout_s));
  else
    warnings_.push_back(fmt::format("notify email: {} exited with {}{}", o.argv[0],
                                    r.term_signal ? fmt::format("signal {}", r.term_signal) : std::to_string(r.exit_code),
                                    out.empty() ? "" : ": " + out));
}

void Notifier::github(const NotifyEvent& e, const RunVerdict& v) {
  const std::string repo = !config_.github_repository.empty() ? config_.github_repository : env_("GITHUB_REPOSITORY");
  if (repo.empty()) {
    warnings_.push_back("notify github: no repository (set notify.github.repository or GITHUB_REPOSITORY); no issue");
    return;
  }
  const std::string token = env_(config_.github_token_env.c_str());
  if (token.empty()) {
    warnings_.push_back(fmt::format("notify github: ${} is not set; no issue", config_.github_token_env));
    return;
  }
  std::string api = !config_.github_api_url.empty() ? config_.github_api_url : env_("GITHUB_API_URL");
  if (api.empty()) api = "https://api.github.com";
  while (!api.empty() && api.back() == '/') api.pop_back();
  auto request = [&](const std::string& method, const std::string& path, const nlohmann::json& body) {
    HttpRequest q;
    q.method = method;
    q.url = api + path;
    q.headers = {"Accept: application/vnd.github+json", "Authorization: Bearer " + token,
                 "X-GitHub-Api-Version: 2022-11-28", "Content-Type: application/json"};
    if (!body.is_null()) q.body = body.dump();
    q.timeout = std::chrono::milliseconds(static_cast<long long>(config_.timeout_s * 1000));
    return send(q);
  };
  const std::string pipeline_mark = fmt::format("<!-- wrt-pipeline: {} -->", v.pipeline);
  const std::string fingerprint_mark = fmt::format("<!-- wrt-fingerprint: {} -->", e.fingerprint);

  // The open issues wrt opened (first 100; labels narrow the search).
  std::string labels;
  for (const auto& l : config_.github_labels) labels += (labels.empty() ? "" : ",") + l;
  std::string query = "/repos/" + repo + "/issues?state=open&per_page=100";
  if (!labels.empty()) {
    std::string enc;
    for (unsigned char c : labels) enc += std::isalnum(c) || c == ',' || c == '-' || c == '_' || c == '.' ? std::string(1, static_cast<char>(c)) : fmt::format("%{:02X}", c);
    query += "&labels=" + enc;
  }
  HttpResponse list = request("GET", query, nullptr);
  if (!ok(list)) {
    warnings_.push_back(fmt::format("notify github: cannot list issues of {}: {}", repo, describe(list)));
    return;
  }
  auto issues = nlohmann::json::parse(list.body, nullptr, false);
  if (!issues.is_array()) {
    warnings_.push_back(fmt::format("notify github: listing issues of {} gave no JSON array", repo));
    return;
  }
  std::vector<long long> same, pipeline_open;
  for (const auto& i : issues) {
    if (!i.is_object() || i.contains("pull_request") || !i.contains("number") || !i["number"].is_number_integer()) continue;
    const std::string body = i.contains("body") && i["body"].is_string() ? i["body"].get<std::string>() : "";
    if (body.find(pipeline_mark) == std::string::npos) continue;
    pipeline_open.push_back(i["number"].get<long long>());
    if (!e.fingerprint.empty() && body.find(fingerprint_mark) != std::string::npos) same.push_back(i["number"].get<long long>());
  }

  if (e.kind == "recovered") {
    for (long long n : pipeline_open) {
      auto c = request("POST", fmt::format("/repos/{}/issues/{}/comments", repo, n), {{"body", e.text}});
      auto p = request("PATCH", fmt::format("/repos/{}/issues/{}", repo, n), {{"state", "closed"}, {"state_reason", "completed"}});
      if (ok(c) && ok(p)) delivered_.push_back(fmt::format("github: closed #{} ({})", n, e.kind));
      else warnings_.push_back(fmt::format("notify github: cannot close #{}: {}", n, describe(ok(c) ? p : c)));
    }
    return;
  }
  const std::string text = "```\n" + e.text + "```\n";
  if (!same.empty()) {
    auto c = request("POST", fmt::format("/repos/{}/issues/{}/comments", repo, same.front()), {{"body", "Again:\n\n" + text}});
    if (ok(c)) delivered_.push_back(fmt::format("github: commented on #{} (the same failure)", same.front()));
    else warnings_.push_back(fmt::format("notify github: cannot comment on #{}: {}", same.front(), describe(c)));
    return;
  }
  nlohmann::json issue = {{"title", e.title}, {"body", text + "\n" + pipeline_mark + "\n" + fingerprint_mark + "\n"}};
  if (!config_.github_labels.empty()) issue["labels"] = config_.github_labels;
  auto r = request("POST", "/repos/" + repo + "/issues", issue);
  auto created = nlohmann::json::parse(r.body, nullptr, false);
  if (ok(r) && created.is_object() && created.contains("number"))
    delivered_.push_back(fmt::format("github: opened #{}", created["number"].dump()));
  else warnings_.push_back(fmt::format("notify github: cannot open an issue in {}: {}", repo, describe(r)));
}

}  // namespace wrt
