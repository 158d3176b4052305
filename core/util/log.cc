#include "core/util/log.h"

#include <memory>
#include <vector>

#include <fmt/core.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace wrt::log {

std::optional<spdlog::level::level_enum> parse_level(const std::string& name) {
  // spdlog's own from_str maps anything unknown to "off": a typo would
  // silently turn logging off, so only these names are accepted.
  static const std::pair<const char*, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"error", spdlog::level::err},   {"off", spdlog::level::off}};
  for (const auto& [n, l] : kLevels)
    if (name == n) return l;
  return std::nullopt;
}

Result<spdlog::level::level_enum> choose_level(const std::string& option, int verbosity, const char* env) {
  const char* kExpected = "trace, debug, info, warn, error or off";
  if (!option.empty()) {
    auto l = parse_level(option);
    if (!l) return Error{fmt::format("--log-level must be {}, not '{}'", kExpected, option)};
    return *l;
  }
  if (verbosity > 0) return verbosity == 1 ? spdlog::level::debug : spdlog::level::trace;
  if (env && *env) {
    auto l = parse_level(env);
    if (!l) return Error{fmt::format("WRT_LOG_LEVEL must be {}, not '{}'", kExpected, env)};
    return *l;
  }
  return spdlog::level::off;
}

Status setup(spdlog::level::level_enum level, const std::string& file) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (!file.empty()) {
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(file, /*truncate=*/false));
    } catch (const spdlog::spdlog_ex& e) {
      return Error{fmt::format("--log-file {}: {}", file, e.what())};
    }
  }
  auto logger = std::make_shared<spdlog::logger>("wrt", sinks.begin(), sinks.end());
  // "wrt: debug: ..." like wrt's other stderr lines, with a timestamp for
  // reading timings.
  logger->set_pattern("wrt: %l: [%H:%M:%S.%e] %v");
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
  return Status::Ok();
}

}  // namespace wrt::log
