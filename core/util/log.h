// wrt's own diagnostics (plugin loading, cache decisions, timings) through
// spdlog, on stderr and optionally a file: never on stdout, where tool output
// and reports go. Off unless -v, --log-level or WRT_LOG_LEVEL asks for it.
#pragma once

#include <optional>
#include <string>

#include <spdlog/spdlog.h>

#include "core/util/result.h"

namespace wrt::log {

// "trace", "debug", "info", "warn", "error" or "off"; nullopt otherwise.
std::optional<spdlog::level::level_enum> parse_level(const std::string& name);

// The level asked for: --log-level wins, then -v (once debug, twice trace),
// then WRT_LOG_LEVEL, else off. Error names the bad value.
Result<spdlog::level::level_enum> choose_level(const std::string& option, int verbosity, const char* env);

// Makes the default logger write to stderr (and `file`, if not empty) at
// `level`. Called once, before anything logs.
Status setup(spdlog::level::level_enum level, const std::string& file);

}  // namespace wrt::log

// A debug line whose arguments are only evaluated when debug logging is on
// (not WRT_LOG_DEBUG: that is the plugin SDK's log level constant):
// the per-stage paths pay one level comparison when it is off.
#define WRT_DEBUG_LOG(...)                                                        \
  do {                                                                            \
    if (spdlog::default_logger_raw()->should_log(spdlog::level::debug)) spdlog::debug(__VA_ARGS__); \
  } while (0)
