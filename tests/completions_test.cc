// `wrt completions bash|zsh|fish`: scripts generated from the CLI11 app,
// exercised in the real shells, completing subcommands, options and the
// workspace's stage and pipeline names (through `wrt __complete`).
#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>

#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

// A workspace with stages, a for_each template, pipelines and components.
void write_workspace(const fs::path& ws) {
  write_file(ws / "wrt.toml", R"([components.engine]
paths = ["engine/**"]
asil = "B"

[stages.compile]
with = { run = "true" }

[stages.unit-tests]
needs = ["compile"]
with = { run = "true" }

[stages.prove]
for_each = "component"
with = { run = "true" }

[pipelines.ci]
stages = ["unit-tests"]

[pipelines.nightly]
stages = ["prove"]
)");
}

std::string script(const std::string& shell, const fs::path& dir) {
  auto s = run_wrt({"completions", shell}, dir);
  INFO(s.err);
  REQUIRE(s.exit_code == 0);
  write_file(dir / ("wrt." + shell), s.out);
  return (dir / ("wrt." + shell)).string();
}

// The subcommands `wrt --help` lists: what the completions must offer.
std::vector<std::string> help_subcommands(const fs::path& dir) {
  auto h = run_wrt({"--help"}, dir);
  REQUIRE(h.exit_code == 0);
  std::vector<std::string> out;
  bool in_subs = false;
  for (const auto& l : lines(h.out)) {
    if (l.rfind("Subcommands:", 0) == 0) {
      in_subs = true;
    } else if (in_subs && l.rfind("  ", 0) == 0) {
      std::string name = l.substr(2, l.find(' ', 2) - 2);
      out.push_back(name);
    } else if (in_subs) {
      break;
    }
  }
  return out;
}

// Completes the words (the last one being typed) the way bash's
// programmable completion would, by calling _wrt with COMP_WORDS/COMP_CWORD.
std::vector<std::string> bash_complete(const std::string& file, const std::vector<std::string>& words,
                                       const fs::path& cwd) {
  std::string arr = std::string("'") + WRT_BINARY + "'";
  for (const auto& w : words) arr += " '" + w + "'";
  std::string cmd = "source '" + file + "' && COMP_WORDS=(" + arr + ") && COMP_CWORD=" +
                    std::to_string(words.size()) + " && _wrt && printf '%s\\n' \"${COMPREPLY[@]}\"";
  auto r = run_command({"bash", "-c", cmd}, cwd);
  INFO(cmd << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  return lines(r.out);
}

bool shell_available(const std::string& shell) {
  return run_command({"sh", "-c", "command -v " + shell}).exit_code == 0;
}

}  // namespace

TEST_CASE("completions: bash completes subcommands, options and the workspace's names", "[completions][e2e]") {
  TempDir ws;
  write_workspace(ws.path());
  const std::string file = script("bash", ws.path());

  CHECK(bash_complete(file, {"ru"}, ws.path()) == std::vector<std::string>{"run"});
  CHECK(bash_complete(file, {"run", "--stage", ""}, ws.path()) ==
        std::vector<std::string>{"prove", "compile", "unit-tests", "prove:engine"});
  CHECK(bash_complete(file, {"run", "--stage", "un"}, ws.path()) == std::vector<std::string>{"unit-tests"});
  // bash hands "prove:e" over as three words (':' breaks words); what it
  // inserts replaces the part after the ':'.
  CHECK(bash_complete(file, {"run", "--stage", "prove", ":", "e"}, ws.path()) == std::vector<std::string>{"engine"});
  CHECK(bash_complete(file, {"run", "--stage", "prove", ":", ""}, ws.path()) == std::vector<std::string>{"engine"});
  CHECK(bash_complete(file, {"run", "--no-c"}, ws.path()) == std::vector<std::string>{"--no-cache"});
  // A flag takes no value: the word after it is the pipeline.
  CHECK(bash_complete(file, {"run", "--no-cache", "ni"}, ws.path()) == std::vector<std::string>{"nightly"});
  CHECK(bash_complete(file, {"-v", "ru"}, ws.path()) == std::vector<std::string>{"run"});
  CHECK(bash_complete(file, {"cache", ""}, ws.path()) == std::vector<std::string>{"stats", "gc", "verify"});
  CHECK(bash_complete(file, {"verify", "--asil-profile", ""}, ws.path()) ==
        std::vector<std::string>{"QM", "A", "B", "C", "D"});
  CHECK(bash_complete(file, {"verify", "--component", ""}, ws.path()) == std::vector<std::string>{"engine"});
  CHECK(bash_complete(file, {"graph", "--format", ""}, ws.path()) == std::vector<std::string>{"dot", "mermaid"});
  // A pipeline is run's positional argument; an option's value is skipped
  // when finding the subcommand.
  auto pipelines = bash_complete(file, {"-C", ws.path().string(), "run", ""}, fs::temp_directory_path());
  CHECK(pipelines == std::vector<std::string>{"ci", "nightly"});

  // Every subcommand of `wrt --help`, none hidden one.
  auto subs = bash_complete(file, {""}, ws.path());
  auto listed = help_subcommands(ws.path());
  REQUIRE(listed.size() >= 15);
  CHECK(subs == listed);
  CHECK(std::find(subs.begin(), subs.end(), "__complete") == subs.end());

  // Outside a workspace nothing is offered for a stage, and nothing printed.
  TempDir empty;
  CHECK(bash_complete(file, {"run", "--stage", ""}, empty.path()).empty());
}

TEST_CASE("completions: wrt __complete prints names one a line and stays quiet without a wrt.toml", "[completions][e2e]") {
  TempDir ws;
  write_workspace(ws.path());
  auto s = run_wrt({"__complete", "stages"}, ws.path());
  CHECK(s.exit_code == 0);
  CHECK(s.out == "prove\ncompile\nunit-tests\nprove:engine\n");
  CHECK(run_wrt({"__complete", "pipelines"}, ws.path()).out == "ci\nnightly\n");
  CHECK(run_wrt({"__complete", "components"}, ws.path()).out == "engine\n");
  TempDir empty;
  auto e = run_wrt({"__complete", "stages"}, empty.path());
  CHECK(e.exit_code == 0);
  CHECK(e.out.empty());
  CHECK(e.err.empty());
  // Hidden from help.
  CHECK_FALSE(has(run_wrt({"--help"}, ws.path()).out, "__complete"));
  // An unknown shell is a usage error.
  CHECK(run_wrt({"completions", "tcsh"}, ws.path()).exit_code == 2);
}

TEST_CASE("completions: the zsh script parses and completes in zsh", "[completions][e2e]") {
  TempDir ws;
  write_workspace(ws.path());
  const std::string file = script("zsh", ws.path());
  // zsh is in scripts/setup.sh; a machine without it fails here, loudly.
  REQUIRE(shell_available("zsh"));
  auto n = run_command({"zsh", "-n", file});
  INFO(n.err);
  CHECK(n.exit_code == 0);
  // The completion widget needs an interactive line editor; the function
  // behind it, run in zsh with the options _wrt sets, is what decides.
  auto c = run_command({"zsh", "-c",
                        "source '" + file + "' && setopt ksh_arrays && _wrt_candidates 1 '" + WRT_BINARY +
                            "' ru && _wrt_candidates 3 '" + WRT_BINARY + "' run --stage ''"},
                       ws.path());
  INFO(c.err);
  CHECK(c.exit_code == 0);
  CHECK(has(c.out, "run "));
  CHECK(has(c.out, "unit-tests\n"));
  CHECK(has(c.out, "prove:engine\n"));
}

TEST_CASE("completions: the fish script parses and completes in fish", "[completions][e2e]") {
  TempDir ws;
  write_workspace(ws.path());
  const std::string file = script("fish", ws.path());
  REQUIRE(shell_available("fish"));
  auto n = run_command({"fish", "--no-execute", file});
  INFO(n.err);
  CHECK(n.exit_code == 0);
  // fish calls `wrt` by name: the built one first on PATH.
  const std::string path = "PATH=" + fs::path(WRT_BINARY).parent_path().string() + ":" + std::getenv("PATH");
  auto c = run_command({"fish", "-c", "source '" + file + "'; complete -C 'wrt ru'; complete -C 'wrt run --stage '"},
                       ws.path(), {path});
  INFO(c.err);
  CHECK(c.exit_code == 0);
  // fish prints "candidate<TAB>description", one a line.
  CHECK(has("\n" + c.out, "\nrun\tRun a pipeline"));
  CHECK(has("\n" + c.out, "\nunit-tests"));
  CHECK(has("\n" + c.out, "\ncompile"));
  CHECK_FALSE(has(c.out, "wrt.toml"));  // a stage name is not a file
}
