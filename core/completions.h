// `wrt completions bash|zsh|fish`: shell completion scripts generated from
// the CLI11 app itself (its subcommands and options), so a new option is
// completed without a second list to keep in step. Stage, pipeline and
// component names come from the workspace at completion time, through the
// hidden `wrt __complete stages|pipelines|components`.
#pragma once

#include <string>

#include "core/util/result.h"

namespace CLI {
class App;
}

namespace wrt {

// The hidden subcommand the scripts call back into.
constexpr const char* kCompleteCommand = "__complete";

// The completion script for `shell` ("bash", "zsh" or "fish").
Result<std::string> completion_script(const CLI::App& app, const std::string& shell);

}  // namespace wrt
