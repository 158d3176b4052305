// [notify]: failure notifications through a webhook, email and GitHub
// issues, delivered to servers the test starts on 127.0.0.1
// (tests/servers/): an HTTP recorder for the webhook, Debian's aiosmtpd as
// the SMTP sink with the real msmtp as the sendmail command, and a test
// double of GitHub's issue API (GitHub cannot run here).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

// Debian's interpreter: aiosmtpd is a Debian package (python3-aiosmtpd),
// which a python3 earlier on PATH (pyenv) would not see.
const char* kPython = "/usr/bin/python3";

std::vector<nlohmann::json> lines(const fs::path& file) {
  std::vector<nlohmann::json> out;
  std::ifstream in(file);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(nlohmann::json::parse(l));
  return out;
}

struct Server {
  fs::path log, port_file;
  std::unique_ptr<BackgroundProcess> process;
  std::string port;
  Server(const TempDir& dir, const std::string& name, std::vector<std::string> argv) {
    log = dir / (name + ".jsonl");
    port_file = dir / (name + ".port");
    argv.insert(argv.end(), {"--port-file", port_file.string(), "--log", log.string(), "--lifetime", "240"});
    process = std::make_unique<BackgroundProcess>(argv, dir / (name + ".out"));
    port = wait_for_file(port_file);
  }
  std::vector<nlohmann::json> requests() const { return lines(log); }
};

std::string servers_dir() { return std::string(WRT_SOURCE_DIR) + "/tests/servers/"; }

std::string pipeline(bool fail, const Server& hook, const Server& smtp, const Server& gh) {
  return "[project]\nname = \"notify-demo\"\n"
         "[stages.unit]\nplugin = \"probe\"\nwith = { mode = \"metrics\", fail = " + std::string(fail ? "true" : "false") +
         " }\n"
         "[notify]\non = [\"failure\", \"recovered\"]\ntimeout_s = 5\n"
         "[notify.webhook]\nurl = \"http://127.0.0.1:" + hook.port + "/hook\"\n"
         "[notify.email]\nto = [\"dev@example.com\"]\nfrom = \"wrt@example.com\"\n"
         "command = [\"msmtp\", \"--host=127.0.0.1\", \"--port=" + smtp.port +
         "\", \"--auth=off\", \"--tls=off\", \"--from=wrt@example.com\", \"-t\"]\n"
         "[notify.github]\nrepository = \"acme/widget\"\ntoken_env = \"WRT_TEST_GH_TOKEN\"\n"
         "api_url = \"http://127.0.0.1:" + gh.port + "\"\nlabels = [\"wrt\"]\n";
}

}  // namespace

TEST_CASE("notify: one webhook, one email and one GitHub issue (API test double) per failing run, none on success",
          "[e2e][notify]") {
  TempDir ws;
  Server hook(ws, "hook", {kPython, servers_dir() + "http_recorder.py", "--mode", "webhook"});
  Server smtp(ws, "smtp", {kPython, servers_dir() + "smtp_sink.py"});
  Server gh(ws, "github", {kPython, servers_dir() + "http_recorder.py", "--mode", "github", "--token", "s3cret"});
  const std::vector<std::string> env = {std::string("WRT_PLUGIN_PATH=") + WRT_TEST_PLUGIN_DIR, "WRT_TEST_GH_TOKEN=s3cret"};
  auto run = [&](bool fail) {
    write_file(ws / "wrt.toml", pipeline(fail, hook, smtp, gh));
    auto r = run_wrt({"run"}, ws.path(), env);
    INFO(r.out << r.err);
    // Delivery never changes the exit code.
    CHECK(r.exit_code == (fail ? 1 : 0));
    CHECK(r.err.find("notify") == std::string::npos);  // no delivery warning
    return r;
  };

  run(false);  // a pass after nothing: nobody is told
  CHECK(hook.requests().empty());
  CHECK(lines(smtp.log).empty());
  CHECK(gh.requests().empty());

  auto r = run(true);
  CHECK(r.out.find("wrt: notify webhook: failure sent") != std::string::npos);
  CHECK(r.out.find("wrt: notify github: opened #1") != std::string::npos);
  auto hooks = hook.requests();
  REQUIRE(hooks.size() == 1);
  CHECK(hooks[0]["method"] == "POST");
  CHECK(hooks[0]["headers"]["content-type"] == "application/json");
  auto payload = nlohmann::json::parse(hooks[0]["body"].get<std::string>());
  const std::string text = payload["text"];  // Slack's incoming-webhook shape
  CHECK(text.find("notify-demo") != std::string::npos);
  CHECK(text.find("failed") != std::string::npos);
  CHECK(text.find("unit") != std::string::npos);
  auto mails = lines(smtp.log);
  REQUIRE(mails.size() == 1);
  CHECK(mails[0]["rcpt_tos"] == nlohmann::json::array({"dev@example.com"}));
  const std::string mail = mails[0]["content"];
  CHECK(mail.find("Subject: wrt: notify-demo all failed") != std::string::npos);
  CHECK(mail.find("  - unit: ") != std::string::npos);
  auto ghr = gh.requests();
  REQUIRE(ghr.size() == 2);  // list the open issues, open one
  CHECK(ghr[0]["method"] == "GET");
  CHECK(ghr[0]["path"].get<std::string>().find("/repos/acme/widget/issues?state=open") == 0);
  CHECK(ghr[0]["headers"]["authorization"] == "Bearer s3cret");
  CHECK(ghr[1]["method"] == "POST");
  CHECK(ghr[1]["path"] == "/repos/acme/widget/issues");
  auto issue = nlohmann::json::parse(ghr[1]["body"].get<std::string>());
  CHECK(issue["labels"] == nlohmann::json::array({"wrt"}));
  CHECK(issue["body"].get<std::string>().find("<!-- wrt-fingerprint: ") != std::string::npos);

  // The same failure again: one more webhook and mail; a comment on #1,
  // not a second issue.
  r = run(true);
  CHECK(r.out.find("commented on #1") != std::string::npos);
  CHECK(hook.requests().size() == 2);
  CHECK(lines(smtp.log).size() == 2);
  ghr = gh.requests();
  REQUIRE(ghr.size() == 4);
  CHECK(ghr[3]["method"] == "POST");
  CHECK(ghr[3]["path"] == "/repos/acme/widget/issues/1/comments");

  // Fixed: "recovered" goes out once, and the issue is closed.
  r = run(false);
  CHECK(r.out.find("closed #1") != std::string::npos);
  hooks = hook.requests();
  REQUIRE(hooks.size() == 3);
  CHECK(nlohmann::json::parse(hooks[2]["body"].get<std::string>())["text"].get<std::string>().find("recovered") !=
        std::string::npos);
  CHECK(lines(smtp.log).size() == 3);
  ghr = gh.requests();
  REQUIRE(ghr.size() == 7);  // list, comment, close
  CHECK(ghr[6]["method"] == "PATCH");
  CHECK(nlohmann::json::parse(ghr[6]["body"].get<std::string>())["state"] == "closed");

  // Passing again: nothing.
  run(false);
  CHECK(hook.requests().size() == 3);
  CHECK(lines(smtp.log).size() == 3);
  CHECK(gh.requests().size() == 7);
}

TEST_CASE("notify: 5xx and 429 are retried with Retry-After, a 400 is not, and failed delivery is only a warning",
          "[e2e][notify]") {
  TempDir ws;
  const std::vector<std::string> env = {std::string("WRT_PLUGIN_PATH=") + WRT_TEST_PLUGIN_DIR};
  auto config = [](const std::string& port, const std::string& extra) {
    return "[stages.unit]\nplugin = \"probe\"\nwith = { mode = \"metrics\", fail = true }\n"
           "[notify]\ntimeout_s = 5\n[notify.webhook]\nurl = \"http://127.0.0.1:" + port + "/hook\"\n" + extra;
  };
  SECTION("503 twice with Retry-After, then delivered") {
    Server hook(ws, "hook", {kPython, servers_dir() + "http_recorder.py", "--fail-first", "2", "--retry-after", "1"});
    write_file(ws / "wrt.toml", config(hook.port, ""));
    auto r = run_wrt({"run"}, ws.path(), env);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(hook.requests().size() == 3);
    CHECK(r.out.find("webhook: failure sent") != std::string::npos);
  }
  SECTION("429 is retried too") {
    Server hook(ws, "hook", {kPython, servers_dir() + "http_recorder.py", "--fail-first", "1", "--fail-status", "429"});
    write_file(ws / "wrt.toml", config(hook.port, ""));
    auto r = run_wrt({"run"}, ws.path(), env);
    CHECK(r.exit_code == 1);
    CHECK(hook.requests().size() == 2);
  }
  SECTION("400 is not retried: one request, a warning, the exit code unchanged") {
    Server hook(ws, "hook", {kPython, servers_dir() + "http_recorder.py", "--fail-first", "5", "--fail-status", "400"});
    write_file(ws / "wrt.toml", config(hook.port, ""));
    auto r = run_wrt({"run"}, ws.path(), env);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(hook.requests().size() == 1);
    CHECK(r.err.find("wrt: warning: notify webhook: not delivered: HTTP 400") != std::string::npos);
  }
  SECTION("nothing listening, a missing sendmail and a missing token: warnings, exit code unchanged") {
    write_file(ws / "wrt.toml", config("9", "[notify.email]\nto = [\"a@example.com\"]\ncommand = [\"/nonexistent/sendmail\"]\n"
                                            "[notify.github]\nrepository = \"o/r\"\ntoken_env = \"WRT_UNSET_TOKEN\"\n"));
    auto r = run_wrt({"run"}, ws.path(), env);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("wrt: warning: notify webhook: not delivered") != std::string::npos);
    CHECK(r.err.find("wrt: warning: notify email: cannot run /nonexistent/sendmail") != std::string::npos);
    CHECK(r.err.find("wrt: warning: notify github: $WRT_UNSET_TOKEN is not set") != std::string::npos);
  }
}

TEST_CASE("notify: configuration errors name the file, line and column", "[e2e][notify]") {
  TempDir ws;
  auto check = [&](const std::string& toml, const std::string& message) {
    write_file(ws / "wrt.toml", "[stages.a]\nwith = { run = \"true\" }\n" + toml);
    auto r = run_wrt({"list"}, ws.path());
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(message) != std::string::npos);
  };
  check("[notify]\non = [\"failure\", \"falure\"]\n[notify.webhook]\nurl = \"http://x\"\n",
        "wrt.toml:4:18: notify.on: unknown event 'falure'");
  check("[notify.webhook]\nurl = \"file:///etc/passwd\"\n", "wrt.toml:4:7: notify.webhook.url must start with http:// or https://");
  check("[notify]\non = [\"failure\"]\n", "[notify] needs a channel");
  check("[notify.email]\nto = [\"not-an-address\"]\n", "notify.email.to: 'not-an-address' is not an address");
  check("[notify.github]\nrepository = \"justname\"\n", "notify.github.repository must be OWNER/NAME");
  check("[notify.webhook]\nurl = \"http://x\"\nretries = 3\n", "unknown key 'retries' in [notify.webhook]");
}
