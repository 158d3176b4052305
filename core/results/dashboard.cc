#include "core/results/dashboard.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include <fmt/core.h>

#include "core/results/badges.h"

namespace wrt {

namespace {

std::string esc(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

// A member of an object, or null: iterating `j.value(k, {}).items()` would
// walk a destroyed temporary.
const nlohmann::json& member(const nlohmann::json& j, const char* key) {
  static const nlohmann::json null;
  if (!j.is_object()) return null;
  auto it = j.find(key);
  return it == j.end() ? null : *it;
}

// Percent-encodes everything but unreserved characters (RFC 3986).
std::string uri_encode(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') out += static_cast<char>(ch);
    else out += fmt::format("%{:02X}", ch);
  }
  return out;
}

// A number as the page shows it and as data-value carries it: integers
// without a fraction, others with at most three decimals.
std::string num(double v) {
  if (std::fabs(v - std::round(v)) < 1e-9 && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<long long>(std::llround(v)));
  std::string s = fmt::format("{:.3f}", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string duration(double s) {
  if (s < 0) return "—";
  if (s < 60) return fmt::format("{:.1f}s", s);
  const long long t = std::llround(s);
  if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
}

bool ok_status(const std::string& s) { return s == "passed" || s == "cached" || s == "flaky"; }
bool failed_status(const std::string& s) { return s == "failed" || s == "timeout" || s == "interrupted"; }

// CSS class of a status or verdict.
std::string tone(const std::string& s) {
  if (ok_status(s) || s == "pass" || s == "verified") return "ok";
  if (failed_status(s) || s == "block" || s == "failed") return "bad";
  if (s == "warn" || s == "skipped" || s == "incomplete" || s == "allow") return "warn";
  return "none";
}

double metric_sum(const nlohmann::json& metrics, const std::string& name) {
  double sum = -1;
  if (!metrics.is_object()) return sum;
  for (const auto& [stage, m] : metrics.items()) {
    if (!m.is_object()) continue;
    auto it = m.find(name);
    if (it == m.end() || !it->is_number()) continue;
    sum = (sum < 0 ? 0 : sum) + it->get<double>();
  }
  return sum;
}

// The axis maximum: the next 1, 2 or 5 times a power of ten at or above v.
double nice_ceiling(double v) {
  if (v <= 0) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= v) return m * p;
  return 10 * p;
}

bool has_values(const std::vector<std::optional<double>>& values) {
  for (const auto& v : values)
    if (v) return true;
  return false;
}

struct Series {
  std::string name;
  std::string color;
  std::vector<std::optional<double>> values;  // one per run shown
};

// A line chart as inline SVG: one polyline per series (broken where a run
// has no value), a dot per value with its figure in a <title> tooltip and
// in data-value, the y axis from 0 to the maximum (or `fixed_max`).
std::string chart(const std::string& id, const std::string& title, const std::string& unit,
                  const std::vector<Series>& series, const std::vector<std::string>& run_labels,
                  std::optional<double> fixed_max = std::nullopt) {
  const int W = 520, H = 200, L = 52, R = 12, T = 30, B = 34;
  const std::size_t n = run_labels.size();
  double ymax = 0;
  bool any = false;
  for (const auto& s : series)
    for (const auto& v : s.values)
      if (v) {
        ymax = std::max(ymax, *v);
        any = true;
      }
  if (fixed_max) ymax = *fixed_max;
  else ymax = nice_ceiling(ymax);
  auto x = [&](std::size_t i) { return n <= 1 ? (L + (W - L - R) / 2.0) : L + (W - L - R) * static_cast<double>(i) / static_cast<double>(n - 1); };
  auto y = [&](double v) { return T + (H - T - B) * (1 - std::clamp(v / ymax, 0.0, 1.0)); };

  std::string out = fmt::format(
      "<figure class=\"chart\" data-wrt=\"chart\" data-chart=\"{}\">\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"{}\">\n"
      "<title>{}</title>\n",
      esc(id), W, H, W, H, esc(title), esc(title));
  // Axes, the top value and the first and last run.
  out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"axis\"/>", L, H - B, W - R, H - B);
  out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"axis\"/>\n", L, T, L, H - B);
  out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"grid\"/>\n", L, T, W - R, T);
  out += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"end\">{}{}</text>\n", L - 4, T + 4, num(ymax), esc(unit));
  out += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"end\">0</text>\n", L - 4, H - B + 4);
  if (n > 0) {
    out += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"start\">{}</text>\n", L, H - B + 16,
                       esc(run_labels.front()));
    if (n > 1)
      out += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"end\">{}</text>\n", W - R, H - B + 16,
                         esc(run_labels.back()));
  }
  // Legend on the top line.
  double lx = L;
  for (const auto& s : series) {
    out += fmt::format("<rect x=\"{:.0f}\" y=\"8\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.0f}\" y=\"17\" class=\"legend\">{}</text>\n",
                       lx, s.color, lx + 14, esc(s.name));
    lx += 24 + 7.0 * static_cast<double>(s.name.size());
  }
  if (!any) out += fmt::format("<text x=\"{}\" y=\"{}\" class=\"empty\" text-anchor=\"middle\">no values recorded</text>\n", W / 2, H / 2);
  for (const auto& s : series) {
    std::string points;
    auto flush = [&] {
      if (points.find(' ') != std::string::npos)
        out += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n", s.color, points);
      points.clear();
    };
    for (std::size_t i = 0; i < s.values.size() && i < n; ++i) {
      if (!s.values[i]) {
        flush();
        continue;
      }
      points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", x(i), y(*s.values[i]));
    }
    flush();
    for (std::size_t i = 0; i < s.values.size() && i < n; ++i) {
      if (!s.values[i]) continue;
      out += fmt::format(
          "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\" data-wrt=\"point\" data-series=\"{}\" data-run=\"{}\" "
          "data-value=\"{}\"><title>{} · {}: {}{}</title></circle>\n",
          x(i), y(*s.values[i]), s.color, esc(s.name), i, num(*s.values[i]), esc(run_labels[i]), esc(s.name),
          num(*s.values[i]), esc(unit));
    }
  }
  out += "</svg>\n<figcaption>" + esc(title) + "</figcaption>\n</figure>\n";
  return out;
}

const char* kStyle = R"css(
body{font:14px/1.4 "DejaVu Sans",Verdana,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555}.badges img,.badges svg{margin-right:6px;vertical-align:middle}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{background:#dff5e1}.bad{background:#fbdcdc}.warn{background:#fff3cd}.none{color:#888}
.figures{display:flex;flex-wrap:wrap;gap:10px}.figure{border:1px solid #ddd;border-radius:4px;padding:8px 14px;min-width:120px}
.figure .v{font-size:22px;font-weight:bold;display:block}.figure .k{color:#555;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:16px}figure.chart{margin:0}figcaption{font-size:12px;color:#555}
svg .axis{stroke:#888}svg .grid{stroke:#eee}svg .tick,svg .legend{font-size:11px;fill:#444}svg .empty{fill:#999}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}figure.chart,table{break-inside:avoid}}
)css";

std::string figure(const std::string& key, const std::string& label, const std::string& value, const std::string& cls = "") {
  return fmt::format("<div class=\"figure {}\"><span class=\"v\" data-wrt=\"{}\">{}</span><span class=\"k\">{}</span></div>\n",
                     cls, esc(key), esc(value), esc(label));
}

}  // namespace

RunFigures run_figures(const nlohmann::json& r) {
  RunFigures f;
  if (!r.is_object()) return f;
  if (r.contains("counts") && r["counts"].is_object())
    for (const auto& [status, n] : r["counts"].items()) {
      if (!n.is_number_integer()) continue;
      f.stages += n.get<int>();
      if (status == "cached") f.cached += n.get<int>();
    }
  f.cache_hit_rate = f.stages ? 100.0 * f.cached / f.stages : 0;
  const nlohmann::json metrics = r.value("metrics", nlohmann::json::object());
  f.tests_passed = metric_sum(metrics, "tests.passed");
  f.tests_failed = metric_sum(metrics, "tests.failed");
  f.verification_passed = metric_sum(metrics, "verification.passed");
  f.verification_failed = metric_sum(metrics, "verification.failed");
  f.verification_inconclusive = metric_sum(metrics, "verification.inconclusive");
  return f;
}

std::string dashboard_html(const DashboardInput& in) {
  const nlohmann::json latest = in.runs.empty() ? nlohmann::json() : in.runs.back();
  const bool have_run = latest.is_object();
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  // No request leaves the page: not even a favicon lookup.
  h += "<link rel=\"icon\" href=\"data:,\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<title>" + esc(in.project) + " — wrt dashboard</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  h += "<h1>" + esc(in.project) + " <span class=\"meta\">· wrt dashboard</span></h1>\n";

  // The latest run.
  if (!have_run) {
    h += "<p data-wrt=\"no-runs\">No run recorded yet: run <code>wrt run</code>, then <code>wrt dashboard</code> again.</p>\n";
  } else {
    const std::string status = latest.value("status", "");
    const std::string commit = member(latest, "commit").is_string() ? member(latest, "commit").get<std::string>() : "";
    const std::string branch = member(latest, "branch").is_string() ? member(latest, "branch").get<std::string>() : "";
    h += fmt::format(
        "<p class=\"meta\">Latest run <span data-wrt=\"run-id\">{}</span>: pipeline <b data-wrt=\"run-pipeline\">{}</b>, "
        "<span class=\"{}\" data-wrt=\"run-status\">{}</span>, started <span data-wrt=\"run-started\">{}</span>, "
        "<span data-wrt=\"run-duration\" data-value=\"{}\">{}</span>{}{}</p>\n",
        esc(latest.value("run_id", "")), esc(latest.value("pipeline", "")), tone(status), esc(status),
        esc(latest.value("started_at", "")), num(latest.value("duration_s", 0.0)), duration(latest.value("duration_s", 0.0)),
        commit.empty() ? "" : fmt::format(", commit <code data-wrt=\"run-commit\">{}</code>", esc(commit.substr(0, 12))),
        branch.empty() ? "" : fmt::format(" on <code data-wrt=\"run-branch\">{}</code>", esc(branch)));
  }
  h += "<div class=\"badges\">\n";
  for (const auto& b : make_badges(latest, in.last))
    // As data: URIs -- inline, the badges' SVG ids (clip paths,
    // gradients) would collide in one document.
    h += fmt::format("<img data-wrt=\"badge\" data-badge=\"{}\" data-message=\"{}\" alt=\"{}: {}\" src=\"data:image/svg+xml,{}\">\n",
                     esc(b.name), esc(b.message), esc(b.label), esc(b.message), uri_encode(badge_svg(b)));
  h += "</div>\n";

  // Summary figures of the latest run.
  if (have_run) {
    const RunFigures f = run_figures(latest);
    h += "<h2>Latest run</h2>\n<div class=\"figures\">\n";
    h += figure("stages", "stages", std::to_string(f.stages));
    std::map<std::string, int> counts;
    for (const auto& [k, v] : member(latest, "counts").items())
      if (v.is_number_integer()) counts[k] = v.get<int>();
    for (const char* k : {"passed", "cached", "flaky", "failed", "timeout", "interrupted", "skipped"})
      if (counts[k]) h += figure(std::string("count-") + k, k, std::to_string(counts[k]), tone(k));
    h += figure("cache-hit-rate", "cache hit rate", num(std::round(f.cache_hit_rate * 10) / 10) + "%");
    if (f.tests_passed >= 0 || f.tests_failed >= 0) {
      const double p = std::max(0.0, f.tests_passed), fl = std::max(0.0, f.tests_failed);
      h += figure("tests-passed", "tests passed", num(p) + "/" + num(p + fl), fl > 0 ? "bad" : "ok");
    }
    if (f.verification_passed >= 0) {
      const double p = std::max(0.0, f.verification_passed), fl = std::max(0.0, f.verification_failed),
                   inc = std::max(0.0, f.verification_inconclusive);
      h += figure("verification-passed", "properties proved", num(p) + "/" + num(p + fl + inc),
                  fl > 0 ? "bad" : inc > 0 ? "warn" : "ok");
    }
    for (const auto& [stage, m] : member(latest, "metrics").items())
      if (m.is_object() && m.contains("coverage.line") && m["coverage.line"].is_number())
        h += fmt::format(
            "<div class=\"figure\"><span class=\"v\" data-wrt=\"coverage\" data-stage=\"{}\" data-value=\"{}\">{}%</span>"
            "<span class=\"k\">line coverage · {}</span></div>\n",
            esc(stage), num(m["coverage.line"].get<double>()), num(std::round(m["coverage.line"].get<double>() * 10) / 10),
            esc(stage));
    h += "</div>\n";
  }

  // The safety gate per level.
  h += "<h2>Safety gate</h2>\n";
  if (!have_run || !latest.contains("gate_levels") || !member(latest, "gate_levels").is_object()) {
    h += "<p class=\"none\" data-wrt=\"gate-none\">No stage of the latest run carries an ASIL level.</p>\n";
  } else {
    const std::string verdict = member(latest, "gate").is_string() ? member(latest, "gate").get<std::string>() : "";
    h += fmt::format("<p>Verdict: <b class=\"{}\" data-wrt=\"gate-verdict\">{}</b></p>\n", tone(verdict), esc(verdict));
    h += "<table><tr><th>ASIL</th><th>on failure</th><th>stages</th><th>without passing evidence</th><th>verdict</th></tr>\n";
    for (const char* level : {"D", "C", "B", "A", "QM"}) {
      auto it = member(latest, "gate_levels").find(level);
      if (it == member(latest, "gate_levels").end() || !it->is_object()) continue;
      const auto& l = *it;
      const std::size_t stages = l.value("stages", std::size_t{0});
      if (stages == 0) continue;
      std::string failed;
      for (const auto& n : l.value("failed", nlohmann::json::array()))
        if (n.is_string()) failed += (failed.empty() ? "" : ", ") + esc(n.get<std::string>());
      const std::size_t failed_count = l.value("failed_count", std::size_t{0});
      if (failed_count > l.value("failed", nlohmann::json::array()).size()) failed += fmt::format(", … ({} in all)", failed_count);
      const std::string v = l.value("verdict", "");
      h += fmt::format(
          "<tr data-wrt=\"gate-level\" data-level=\"{}\"><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td>"
          "<td class=\"{}\" data-wrt=\"gate-level-verdict\" data-level=\"{}\">{}</td></tr>\n",
          level, level, esc(l.value("on_failure", "")), stages, failed.empty() ? "—" : failed, tone(v), level, esc(v));
    }
    h += "</table>\n";
  }

  // The ASIL verification matrix: each component's stages at each level,
  // from the latest result of every stage.
  {
    std::vector<DashboardComponent> comps = in.components;
    std::set<std::string> known;
    for (const auto& c : comps) known.insert(c.name);
    for (const auto& [stage, r] : in.last)
      if (!r.component.empty() && known.insert(r.component).second) comps.push_back({r.component, r.asil});
    bool stage_levels = false;  // stages with a level but no component
    for (const auto& [stage, r] : in.last) stage_levels |= r.component.empty() && !r.asil.empty();
    h += "<h2>ASIL verification matrix</h2>\n";
    if (comps.empty() && !stage_levels) {
      h += "<p class=\"none\">No components or ASIL levels in wrt.toml.</p>\n";
    } else {
      h += "<table><tr><th>component</th><th>ASIL</th>";
      for (const char* level : {"QM", "A", "B", "C", "D"}) h += std::string("<th>") + level + "</th>";
      h += "</tr>\n";
      auto row = [&](const std::string& label, const std::string& asil, auto belongs) {
        h += fmt::format("<tr><td>{}</td><td>{}</td>", esc(label), esc(asil.empty() ? "—" : asil));
        for (const char* level : {"QM", "A", "B", "C", "D"}) {
          int total = 0, ok = 0, failed = 0;
          for (const auto& [stage, r] : in.last) {
            if (!belongs(r)) continue;
            const std::string lv = r.asil.empty() ? asil : r.asil;
            if (lv != level) continue;
            ++total;
            ok += ok_status(r.status);
            failed += failed_status(r.status);
          }
          if (total == 0 && asil == level) {
            h += fmt::format("<td class=\"warn\" data-wrt=\"matrix\" data-component=\"{}\" data-level=\"{}\">not run</td>", esc(label), level);
            continue;
          }
          if (total == 0) {
            h += "<td class=\"none\"></td>";
            continue;
          }
          const std::string v = failed ? "failed" : ok == total ? "verified" : "incomplete";
          h += fmt::format("<td class=\"{}\" data-wrt=\"matrix\" data-component=\"{}\" data-level=\"{}\" data-verdict=\"{}\">{} {}/{}</td>",
                           tone(v), esc(label), level, v, v, ok, total);
        }
        h += "</tr>\n";
      };
      for (const auto& c : comps) row(c.name, c.asil, [&](const LastResult& r) { return r.component == c.name; });
      if (stage_levels) row("(stages without a component)", "", [](const LastResult& r) { return r.component.empty() && !r.asil.empty(); });
      h += "</table>\n";
    }
  }

  // Trends over the last runs.
  constexpr std::size_t kTrendRuns = 100;
  const std::size_t first = in.runs.size() > kTrendRuns ? in.runs.size() - kTrendRuns : 0;
  std::vector<std::string> labels;
  Series dur{"run duration", "#1f77b4", {}}, hit{"cache hit rate", "#2ca02c", {}};
  Series vp{"proved", "#2ca02c", {}}, vf{"failed", "#d62728", {}}, vi{"inconclusive", "#ff7f0e", {}};
  Series tp{"passed", "#2ca02c", {}}, tf{"failed", "#d62728", {}};
  std::map<std::string, Series> coverage;  // per stage
  const std::string palette[] = {"#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};
  for (std::size_t i = first; i < in.runs.size(); ++i) {
    const auto& r = in.runs[i];
    const std::size_t k = labels.size();
    // "#12 11-30 20:31": the run's number in the history and when it started.
    const std::string at = r.value("started_at", "");
    labels.push_back(fmt::format("#{} {}", i + 1, at.size() >= 16 ? at.substr(5, 5) + " " + at.substr(11, 5) : at));
    const RunFigures f = run_figures(r);
    dur.values.push_back(r.contains("duration_s") && r["duration_s"].is_number() ? std::optional<double>(r["duration_s"].get<double>())
                                                                                  : std::nullopt);
    hit.values.push_back(f.stages ? std::optional<double>(f.cache_hit_rate) : std::nullopt);
    auto opt = [](double v) { return v < 0 ? std::nullopt : std::optional<double>(v); };
    vp.values.push_back(opt(f.verification_passed));
    vf.values.push_back(opt(f.verification_failed));
    vi.values.push_back(opt(f.verification_inconclusive));
    tp.values.push_back(opt(f.tests_passed));
    tf.values.push_back(opt(f.tests_failed));
    for (const auto& [stage, m] : member(r, "metrics").items()) {
      if (!m.is_object() || !m.contains("coverage.line") || !m["coverage.line"].is_number()) continue;
      auto [it, fresh] = coverage.try_emplace(stage, Series{stage, palette[coverage.size() % 6], {}});
      (void)fresh;
      it->second.values.resize(k);
      it->second.values.push_back(m["coverage.line"].get<double>());
    }
  }
  for (auto& [stage, s] : coverage) s.values.resize(labels.size());
  h += fmt::format("<h2>Trends <span class=\"meta\">(last {} run{})</span></h2>\n<div class=\"charts\">\n", labels.size(),
                   labels.size() == 1 ? "" : "s");
  h += chart("duration", "Run duration", "s", {dur}, labels);
  h += chart("cache-hit-rate", "Cache hit rate", "%", {hit}, labels, 100.0);
  if (!coverage.empty()) {
    std::vector<Series> cs;
    for (auto& [stage, s] : coverage) cs.push_back(s);
    h += chart("coverage", "Line coverage", "%", cs, labels, 100.0);
  }
  // Only what some run reported: a workspace without verifiers gets no
  // empty verification chart.
  if (has_values(vp.values) || has_values(vf.values) || has_values(vi.values))
    h += chart("verification", "Verification: properties per run", "", {vp, vf, vi}, labels);
  if (has_values(tp.values) || has_values(tf.values)) h += chart("tests", "Tests per run", "", {tp, tf}, labels);
  h += "</div>\n";

  // Durations: the last time each stage actually ran.
  std::map<std::string, double> last_duration;
  std::map<std::string, int> retried, flaky, ran;
  std::map<std::string, std::map<std::string, std::set<std::string>>> by_key;  // stage -> key -> statuses
  for (const auto& r : in.runs) {
    for (const auto& s : r.value("stages", nlohmann::json::array())) {
      if (!s.is_object() || !member(s, "name").is_string()) continue;
      const std::string name = s["name"].get<std::string>();
      const std::string status = s.value("status", "");
      if (s.contains("duration_s") && s["duration_s"].is_number()) last_duration[name] = s["duration_s"].get<double>();
      ++ran[name];
      if (status == "flaky") ++flaky[name];
      if (s.value("attempts", 1) > 1) ++retried[name];
      const std::string key = s.value("key", "");
      if (!key.empty() && (status == "passed" || status == "failed")) by_key[name][key].insert(status);
    }
  }

  // Every stage's latest status.
  h += fmt::format("<h2>Stages <span class=\"meta\">({} with a result)</span></h2>\n", in.last.size());
  {
    std::vector<std::pair<int, std::string>> order;
    for (const auto& [name, r] : in.last)
      order.push_back({failed_status(r.status) ? 0 : r.status == "skipped" ? 1 : 2, name});
    std::sort(order.begin(), order.end());
    h += "<table><tr><th>stage</th><th>component</th><th>ASIL</th><th>status</th><th>cache</th><th>duration (last run)</th>"
         "<th>finished</th></tr>\n";
    std::size_t rows = 0;
    for (const auto& [rank, name] : order) {
      if (rows++ == kMaxStageRows) break;
      const LastResult& r = in.last.at(name);
      auto d = last_duration.find(name);
      const std::string cache = r.status == "cached" ? "hit" : r.status == "skipped" ? "—" : "ran";
      h += fmt::format(
          "<tr data-wrt=\"stage\" data-stage=\"{n}\"><td>{n}</td><td>{c}</td><td>{a}</td>"
          "<td class=\"{t}\" data-wrt=\"stage-status\" data-stage=\"{n}\">{s}</td>"
          "<td data-wrt=\"stage-cache\" data-stage=\"{n}\">{cache}</td>"
          "<td class=\"n\" data-wrt=\"stage-duration\" data-stage=\"{n}\" data-value=\"{dv}\">{d}</td><td>{f}</td></tr>\n",
          fmt::arg("n", esc(name)), fmt::arg("c", esc(r.component.empty() ? "—" : r.component)),
          fmt::arg("a", esc(r.asil.empty() ? "—" : r.asil)), fmt::arg("t", tone(r.status)), fmt::arg("s", esc(r.status)),
          fmt::arg("cache", cache), fmt::arg("dv", d == last_duration.end() ? "" : num(d->second)),
          fmt::arg("d", d == last_duration.end() ? "—" : duration(d->second)), fmt::arg("f", esc(r.finished_at)));
    }
    h += "</table>\n";
    if (in.last.size() > kMaxStageRows)
      h += fmt::format("<p class=\"meta\">{} more stages in .wrt/state/last-results.json.</p>\n", in.last.size() - kMaxStageRows);
  }

  // The slowest stages, by the last time they ran.
  {
    std::vector<std::pair<double, std::string>> slow;
    for (const auto& [name, d] : last_duration) slow.push_back({d, name});
    std::sort(slow.begin(), slow.end(), [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    h += "<h2>Slowest stages</h2>\n";
    if (slow.empty()) h += "<p class=\"none\">No stage has run yet.</p>\n";
    else {
      h += "<table><tr><th>stage</th><th>duration (last run)</th></tr>\n";
      for (std::size_t i = 0; i < slow.size() && i < 10; ++i)
        h += fmt::format("<tr data-wrt=\"slow\" data-stage=\"{}\"><td>{}</td><td class=\"n\">{}</td></tr>\n", esc(slow[i].second),
                         esc(slow[i].second), duration(slow[i].first));
      h += "</table>\n";
    }
  }

  // Flaky stages: passed only on a retry, or both failed and passed with
  // the same inputs (cache key) -- a change of inputs is not flakiness.
  {
    h += "<h2>Flaky stages</h2>\n";
    std::vector<std::string> names;
    std::set<std::string> all;
    for (const auto& [n, c] : flaky) all.insert(n);
    for (const auto& [n, c] : retried) all.insert(n);
    std::map<std::string, int> mixed;
    for (const auto& [n, keys] : by_key)
      for (const auto& [k, statuses] : keys)
        if (statuses.size() > 1) {
          ++mixed[n];
          all.insert(n);
        }
    if (all.empty()) h += "<p class=\"none\" data-wrt=\"flaky-none\">None in the history.</p>\n";
    else {
      h += "<table><tr><th>stage</th><th>runs</th><th>passed on a retry</th><th>retried</th><th>inputs that both passed and failed</th></tr>\n";
      for (const auto& n : all)
        h += fmt::format(
            "<tr data-wrt=\"flaky\" data-stage=\"{n}\"><td>{n}</td><td class=\"n\">{r}</td><td class=\"n\">{f}</td>"
            "<td class=\"n\">{t}</td><td class=\"n\">{m}</td></tr>\n",
            fmt::arg("n", esc(n)), fmt::arg("r", ran[n]), fmt::arg("f", flaky[n]), fmt::arg("t", retried[n]), fmt::arg("m", mixed[n]));
      h += "</table>\n";
    }
  }

  // Deployments: each environment's current release, then the last entries.
  h += "<h2>Deployments</h2>\n";
  bool any_deployment = false;
  for (const auto& l : in.deployments) {
    if (!l.problem.empty() && l.problem.find("no ledger") == std::string::npos)
      h += fmt::format("<p class=\"bad\" data-wrt=\"ledger-problem\">{}</p>\n", esc(l.problem));
    if (l.entries.empty()) continue;
    any_deployment = true;
    std::map<std::string, const nlohmann::json*> current;
    for (const auto& e : l.entries) current[e.value("environment", "")] = &e;
    auto str = [](const nlohmann::json& e, const char* k) {
      return e.contains(k) && e[k].is_string() ? e[k].get<std::string>() : std::string();
    };
    h += fmt::format("<p class=\"meta\">{}</p>\n<table><tr><th>environment</th><th>release</th><th>action</th><th>commit</th>"
                     "<th>when</th><th>who</th></tr>\n",
                     esc(l.file.string()));
    for (const auto& [env, e] : current)
      h += fmt::format(
          "<tr data-wrt=\"deployment\" data-environment=\"{}\" data-release=\"{}\"><td>{}</td><td><code>{}</code></td>"
          "<td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
          esc(env), esc(str(*e, "release")), esc(env), esc(str(*e, "release").substr(0, 19)), esc(str(*e, "action")),
          esc(str(*e, "commit").substr(0, 12)), esc(str(*e, "at")), esc(str(*e, "who")));
    h += fmt::format("</table>\n<p class=\"meta\">{} deployment{} in the ledger.</p>\n", l.entries.size(),
                     l.entries.size() == 1 ? "" : "s");
  }
  if (!any_deployment) h += "<p class=\"none\" data-wrt=\"deployments-none\">No deployment recorded.</p>\n";
  h += fmt::format("<p class=\"meta\">Generated by wrt at <span data-wrt=\"generated-at\">{}</span> from {} recorded run{} "
                   "(.wrt/history/runs.jsonl) and the latest result of {} stage{} (.wrt/state/last-results.json).</p>\n",
                   esc(in.generated_at), in.runs.size(), in.runs.size() == 1 ? "" : "s", in.last.size(),
                   in.last.size() == 1 ? "" : "s");
  h += "</body>\n</html>\n";
  return h;
}

}  // namespace wrt
