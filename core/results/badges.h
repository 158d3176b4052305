// `wrt badge`: status badges from the workspace's real results, never
// constants -- the last run's record in the history (status, gate verdict,
// metrics) and the last result of every stage (tests, components). Each
// badge is written twice: shields.io endpoint JSON (`schemaVersion: 1`,
// `label`, `message`, `color`; https://shields.io/badges/endpoint-badge)
// and a standalone SVG in the shields "flat" layout, for a README or a
// static site that must not call out to shields.io.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/results/last_results.h"

namespace wrt {

struct Badge {
  std::string name;     // file name: build, tests, coverage, safety-gate, components
  std::string label;
  std::string message;
  std::string color;    // a shields named colour
};

// `last_run` is the newest history record (null when none).
std::vector<Badge> make_badges(const nlohmann::json& last_run, const LastResults& last);
nlohmann::json endpoint_json(const Badge& b);
std::string badge_svg(const Badge& b);

}  // namespace wrt
