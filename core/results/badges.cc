#include "core/results/badges.h"

#include <map>

#include <fmt/core.h>

namespace wrt {

namespace {

std::string percent_color(double p) {
  return p >= 90 ? "brightgreen" : p >= 80 ? "green" : p >= 70 ? "yellow" : p >= 60 ? "orange" : "red";
}

// The shields palette for the named colours used here.
std::string hex(const std::string& color) {
  static const std::map<std::string, std::string> c = {{"brightgreen", "#4c1"}, {"green", "#97ca00"},
                                                       {"yellow", "#dfb317"},    {"orange", "#fe7d37"},
                                                       {"red", "#e05d44"},       {"lightgrey", "#9f9f9f"}};
  auto it = c.find(color);
  return it == c.end() ? "#9f9f9f" : it->second;
}

std::string xml(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

// Verdana 11px averages ~6.5 px per character; shields pads 5 px a side.
int text_width(const std::string& s) { return static_cast<int>(s.size() * 65 / 10) + 10; }

}  // namespace

std::vector<Badge> make_badges(const nlohmann::json& run, const LastResults& last) {
  std::vector<Badge> out;
  const bool have_run = run.is_object();
  const std::string status = have_run ? run.value("status", "") : "";
  out.push_back({"build", "wrt", status == "passed" ? "passing" : status == "failed" ? "failing" : status.empty() ? "no runs" : status,
                 status == "passed" ? "brightgreen" : status == "failed" ? "red" : "lightgrey"});

  int tests = 0, passed = 0;
  for (const auto& [stage, r] : last)
    for (const auto& t : r.tests) {
      if (t.status == "skipped") continue;
      ++tests;
      passed += t.status == "passed" || t.status == "flaky";
    }
  out.push_back({"tests", "tests", tests ? fmt::format("{}/{} passed", passed, tests) : "none",
                 !tests ? "lightgrey" : passed == tests ? "brightgreen" : "red"});

  // Line coverage from the last run's metrics (cached stages report theirs too).
  std::optional<double> coverage;
  if (have_run && run.contains("metrics") && run["metrics"].is_object())
    for (const auto& [stage, m] : run["metrics"].items())
      if (!coverage && m.is_object() && m.contains("coverage.line") && m["coverage.line"].is_number())
        coverage = m["coverage.line"].get<double>();
  out.push_back({"coverage", "coverage", coverage ? fmt::format("{:.1f}%", *coverage) : "unknown",
                 coverage ? percent_color(*coverage) : "lightgrey"});

  const std::string gate = have_run && run["gate"].is_string() ? run["gate"].get<std::string>() : "";
  out.push_back({"safety-gate", "safety gate", gate.empty() ? "n/a" : gate,
                 gate == "pass" ? "brightgreen" : gate == "warn" ? "yellow" : gate == "block" ? "red" : "lightgrey"});

  // A component is verified when every one of its stages last passed.
  std::map<std::string, bool> components;
  for (const auto& [stage, r] : last) {
    if (r.component.empty()) continue;
    auto [it, fresh] = components.try_emplace(r.component, true);
    (void)fresh;
    if (r.status != "passed" && r.status != "cached" && r.status != "flaky") it->second = false;
  }
  int verified = 0;
  for (const auto& [c, ok] : components) verified += ok;
  const int total = static_cast<int>(components.size());
  out.push_back({"components", "verified components", total ? fmt::format("{}/{}", verified, total) : "none",
                 !total ? "lightgrey" : verified == total ? "brightgreen" : verified ? "yellow" : "red"});
  return out;
}

nlohmann::json endpoint_json(const Badge& b) {
  return {{"schemaVersion", 1}, {"label", b.label}, {"message", b.message}, {"color", b.color}};
}

std::string badge_svg(const Badge& b) {
  const int lw = text_width(b.label), mw = text_width(b.message), w = lw + mw;
  return fmt::format(
      R"svg(<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="{l}: {m}">)svg"
      "\n<title>{l}: {m}</title>\n"
      R"svg(<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>)svg"
      "\n"
      R"svg(<clipPath id="r"><rect width="{w}" height="20" rx="3" fill="#fff"/></clipPath>)svg"
      "\n"
      R"svg(<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{mw}" height="20" fill="{c}"/><rect width="{w}" height="20" fill="url(#s)"/></g>)svg"
      "\n"
      R"svg(<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">)svg"
      R"svg(<text x="{lx}" y="14">{l}</text><text x="{mx}" y="14">{m}</text></g>)svg"
      "\n</svg>\n",
      fmt::arg("w", w), fmt::arg("lw", lw), fmt::arg("mw", mw), fmt::arg("c", hex(b.color)), fmt::arg("l", xml(b.label)),
      fmt::arg("m", xml(b.message)), fmt::arg("lx", lw / 2), fmt::arg("mx", lw + mw / 2));
}

}  // namespace wrt
