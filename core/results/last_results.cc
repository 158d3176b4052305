#include "core/results/last_results.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <fstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/util/atomic_file.h"
#include "core/util/hash.h"

namespace wrt {

namespace fs = std::filesystem;

namespace {

fs::path state_file(const fs::path& ws) { return ws / ".wrt" / "state" / "last-results.json"; }

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

namespace {

// Reads the file as it streams past (nlohmann's SAX interface) instead of
// parsing it into a document first: over 10,000 stages the document was
// ~4x the file's size and, with the merged copy save_last_results built
// next to it, the largest allocation of a run that changed any result
// (peak RSS 67-70 MiB against a no-op's 47; issue 17).
//
// The shape is {"run_id": s, "stages": {NAME: {KEY: string, "tests":
// [{"name","status"}], "artifacts": [{"path","kind","sha256"}]}}}; keys it
// does not know are skipped whatever they hold, a known key with a value of
// another type makes the file unreadable (as before: the caller warns).
class LastResultsReader : public nlohmann::json_sax<nlohmann::json> {
 public:
  // `keep(name)` false: that stage's result is skipped, not stored.
  explicit LastResultsReader(LastResults& out, std::function<bool(const std::string&)> keep = {})
      : out_(out), keep_(std::move(keep)) {}
  std::string error;

  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t) override { return scalar(); }
  bool number_unsigned(number_unsigned_t) override { return scalar(); }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool binary(binary_t&) override { return scalar(); }
  bool string(string_t& v) override {
    if (skip_ > 0) return true;
    if (pending_skip_) return (pending_skip_ = false, true);
    if (target_ == nullptr) return fail("a string where an object or array belongs");
    *target_ = std::move(v);
    target_ = nullptr;
    return true;
  }
  bool start_object(std::size_t) override {
    if (skip_ > 0 || pending_skip_) return (pending_skip_ = false, ++skip_, true);
    switch (at_) {
      case At::kTop: at_ = At::kRoot; return true;
      case At::kStagesValue: at_ = At::kStages; return true;
      case At::kStageValue: at_ = At::kStage; return true;
      case At::kTestsValue:
      case At::kArtifactsValue:
        return fail("an object where an array belongs");
      case At::kTests: at_ = At::kTest; stage_->tests.emplace_back(); return true;
      case At::kArtifacts: at_ = At::kArtifact; stage_->artifacts.emplace_back(); return true;
      default: return fail("an object where a string belongs");
    }
  }
  bool key(string_t& k) override {
    if (skip_ > 0) return true;
    target_ = nullptr;
    switch (at_) {
      case At::kRoot:
        if (k == "stages") at_ = At::kStagesValue;
        else pending_skip_ = true;
        return true;
      case At::kStages:
        if (keep_ && !keep_(k)) {
          pending_skip_ = true;
          return true;
        }
        stage_ = &out_[k];
        *stage_ = LastResult{};  // a repeated name: the last one wins
        at_ = At::kStageValue;
        return true;
      case At::kStage:
        if (k == "tests") at_ = At::kTestsValue;
        else if (k == "artifacts") at_ = At::kArtifactsValue;
        else if ((target_ = stage_field(k)) == nullptr) pending_skip_ = true;
        return true;
      case At::kTest: {
        LastTest& t = stage_->tests.back();
        target_ = k == "name" ? &t.name : k == "status" ? &t.status : nullptr;
        if (target_ == nullptr) pending_skip_ = true;
        return true;
      }
      case At::kArtifact: {
        LastArtifact& a = stage_->artifacts.back();
        target_ = k == "path" ? &a.path : k == "kind" ? &a.kind : k == "sha256" ? &a.sha256 : nullptr;
        if (target_ == nullptr) pending_skip_ = true;
        return true;
      }
      default:
        return fail("a key outside an object");
    }
  }
  bool end_object() override {
    if (skip_ > 0) return (--skip_, true);
    if (target_ != nullptr) return fail("a key without a value");
    switch (at_) {
      case At::kRoot: at_ = At::kDone; return true;
      case At::kStages: at_ = At::kRoot; return true;
      case At::kStage: at_ = At::kStages; return true;
      case At::kTest: at_ = At::kTests; return true;
      case At::kArtifact: at_ = At::kArtifacts; return true;
      default: return fail("an unexpected end of an object");
    }
  }
  bool start_array(std::size_t) override {
    if (skip_ > 0 || pending_skip_) return (pending_skip_ = false, ++skip_, true);
    if (at_ == At::kTestsValue) return (at_ = At::kTests, true);
    if (at_ == At::kArtifactsValue) return (at_ = At::kArtifacts, true);
    return fail("an array where an object or string belongs");
  }
  bool end_array() override {
    if (skip_ > 0) return (--skip_, true);
    if (at_ == At::kTests || at_ == At::kArtifacts) return (at_ = At::kStage, true);
    return fail("an unexpected end of an array");
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    if (error.empty()) error = ex.what();
    return false;
  }
  bool complete() const { return error.empty() && at_ == At::kDone; }

 private:
  // Where the reader is: kXValue = after the key of X, before its value.
  enum class At {
    kTop, kRoot, kStagesValue, kStages, kStageValue, kStage, kTestsValue, kTests, kTest,
    kArtifactsValue, kArtifacts, kArtifact, kDone
  };
  std::string* stage_field(const std::string& k) {
    LastResult& r = *stage_;
    if (k == "status") return &r.status;
    if (k == "cache_key") return &r.cache_key;
    if (k == "component") return &r.component;
    if (k == "asil") return &r.asil;
    if (k == "finished_at") return &r.finished_at;
    if (k == "run_id") return &r.run_id;
    return nullptr;
  }
  // A value that is not a string: fine only where it is skipped.
  bool scalar() {
    if (skip_ > 0) return true;
    if (pending_skip_) return (pending_skip_ = false, true);
    return fail("a value of the wrong type");
  }
  bool fail(const char* what) {
    if (error.empty()) error = what;
    return false;
  }

  LastResults& out_;
  std::function<bool(const std::string&)> keep_;
  At at_ = At::kTop;
  LastResult* stage_ = nullptr;
  std::string* target_ = nullptr;  // the string field whose value comes next
  bool pending_skip_ = false;      // the next value belongs to an unknown key
  int skip_ = 0;                   // depth inside a skipped object or array
};

}  // namespace

namespace {

LastResults read_last_results(const fs::path& ws, std::string* warning,
                              std::function<bool(const std::string&)> keep) {
  LastResults out;
  std::ifstream in(state_file(ws), std::ios::binary);
  if (!in) return out;
  LastResultsReader reader(out, std::move(keep));
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(in, &reader) && reader.complete();
  } catch (const std::exception& e) {
    if (reader.error.empty()) reader.error = e.what();
  }
  if (!ok) {
    if (warning)
      *warning = fmt::format("{}: ignored, unreadable: {}", state_file(ws).string(),
                             reader.error.empty() ? "not a last-results object" : reader.error);
    out.clear();
  }
  return out;
}

}  // namespace

LastResults load_last_results(const fs::path& ws, std::string* warning) { return read_last_results(ws, warning, {}); }

namespace {

fs::path summary_file(const fs::path& ws) { return ws / ".wrt" / "state" / "last-results.sum"; }

// What a run contributes to the file, as a digest: a run that would write the
// same statuses, keys and tests as the previous one leaves the file alone
// (on a no-op run over thousands of stages, rewriting it is the costliest step).
std::string contribution_digest(const std::vector<StageRecord>& records) {
  Sha256 h;
  for (const auto& rec : records) {
    if (rec.status == "pending") continue;
    h.update_field(rec.name);
    h.update_field(rec.status);
    h.update_field(rec.cache_key);
    h.update_field(rec.component);
    h.update_field(rec.asil ? asil_name(*rec.asil) : "");
    h.update_field(std::to_string(rec.results->tests.size()));
    for (const auto& t : rec.results->tests) {
      h.update_field(t.suite);
      h.update_field(t.name);
      h.update_field(t.status);
    }
    h.update_field(std::to_string(rec.results->artifacts.size()));
    for (const auto& a : rec.results->artifacts) {
      h.update_field(a.path);
      h.update_field(a.kind);
    }
  }
  return to_hex(h.finish());
}

// The file as last written by us: digest of the contribution plus the file's
// size, mtime and inode, so an edited or replaced file is rewritten.
std::string written_identity(const fs::path& file, const std::string& digest) {
  struct stat st;
  if (::stat(file.c_str(), &st) != 0) return {};
  return fmt::format("{} {} {}.{} {}\n", digest, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ino);
}

// The summary file: the file's identity as written, then "run RUN_ID": the
// last run that wrote or confirmed it.
std::string read_summary(const fs::path& ws) {
  std::ifstream in(summary_file(ws), std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

LastRunIds last_run_ids(const fs::path& ws) {
  LastRunIds ids;
  std::ifstream in(state_file(ws), std::ios::binary);
  if (!in) return ids;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("run_id") || !j["run_id"].is_string()) return ids;
  ids.written_by = j["run_id"].get<std::string>();
  ids.last = ids.written_by;
  // Confirmed by a later run only while the file is the one the summary
  // describes (an edited file is not confirmed by anything).
  const std::string summary = read_summary(ws);
  const auto nl = summary.find('\n');
  if (nl != std::string::npos && summary.compare(nl + 1, 4, "run ") == 0) {
    const std::string identity = summary.substr(0, nl + 1);
    const std::string digest = identity.substr(0, identity.find(' '));
    if (written_identity(state_file(ws), digest) == identity) {
      std::string run = summary.substr(nl + 5);
      while (!run.empty() && (run.back() == '\n' || run.back() == '\r')) run.pop_back();
      if (!run.empty()) ids.last = run;
    }
  }
  return ids;
}

namespace {

std::string summary_text(const std::string& identity, const std::string& run_id) {
  return identity + "run " + run_id + "\n";
}

}  // namespace

namespace {

// A JSON string: written directly when it is printable ASCII with nothing
// to escape (every name and status wrt makes), else by nlohmann (escapes,
// and refuses invalid UTF-8 as it always did).
std::string json_string(const std::string& s) {
  bool plain = true;
  for (unsigned char c : s)
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  if (!plain) return nlohmann::json(s).dump();
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

// What a record of this run contributes to the file.
LastResult result_of(const StageRecord& rec, const std::string& finished_at, const std::string& run_id) {
  LastResult r;
  r.status = rec.status;
  r.cache_key = rec.cache_key;
  r.component = rec.component;
  r.asil = rec.asil ? asil_name(*rec.asil) : "";
  r.finished_at = finished_at;
  r.run_id = run_id;
  for (const auto& t : rec.results->tests)
    r.tests.push_back({t.suite.empty() ? t.name : t.suite + "/" + t.name, t.status});
  for (const auto& a : rec.results->artifacts) {
    LastArtifact la{a.path, a.kind, ""};
    for (const auto& o : rec.outputs)
      if (o.path == a.path && o.kind == OutputKind::kFile) la.sha256 = to_hex(o.digest);
    r.artifacts.push_back(std::move(la));
  }
  return r;
}

// Writes the file in the layout of nlohmann's dump(1) of the whole
// document (keys sorted, one space per level), one stage at a time, so the
// file reads as it always has and no document of every stage is built
// (issue 17: memory; and ~4x faster over 10,000 stages).
class LastResultsWriter {
 public:
  LastResultsWriter(std::ostream& out, const std::string& run_id) : out_(out) {
    out_ << "{\n \"run_id\": " << json_string(run_id) << ",\n \"stages\": {";
  }
  void stage(const std::string& name, const LastResult& r) {
    open(name);
    if (!r.artifacts.empty()) {
      out_ << "   \"artifacts\": [";
      bool first = true;
      for (const auto& a : r.artifacts) artifact(first, a.kind, a.path, a.sha256);
      out_ << "\n   ],\n";
    }
    fields(r.asil, r.cache_key, r.component, r.finished_at, r.run_id, r.status);
    out_ << "   \"tests\": [";
    bool first = true;
    for (const auto& t : r.tests) test(first, t.name, t.status);
    close(first);
  }
  void end() { out_ << (any_ ? "\n }\n}\n" : "}\n}\n"); }

 private:
  void open(const std::string& name) {
    out_ << (any_ ? ",\n  " : "\n  ") << json_string(name) << ": {\n";
    any_ = true;
  }
  void fields(const std::string& asil, const std::string& key, const std::string& component,
              const std::string& finished_at, const std::string& run_id, const std::string& status) {
    out_ << "   \"asil\": " << json_string(asil) << ",\n   \"cache_key\": " << json_string(key)
         << ",\n   \"component\": " << json_string(component) << ",\n   \"finished_at\": " << json_string(finished_at)
         << ",\n   \"run_id\": " << json_string(run_id) << ",\n   \"status\": " << json_string(status) << ",\n";
  }
  void artifact(bool& first, const std::string& kind, const std::string& path, const std::string& sha) {
    out_ << (first ? "\n    {\n" : ",\n    {\n") << "     \"kind\": " << json_string(kind)
         << ",\n     \"path\": " << json_string(path) << ",\n     \"sha256\": " << json_string(sha) << "\n    }";
    first = false;
  }
  void test(bool& first, const std::string& name, const std::string& status) {
    out_ << (first ? "\n    {\n" : ",\n    {\n") << "     \"name\": " << json_string(name)
         << ",\n     \"status\": " << json_string(status) << "\n    }";
    first = false;
  }
  // Closes the tests array (`empty`: it had no element) and the stage.
  void close(bool empty) { out_ << (empty ? "]\n  }" : "\n   ]\n  }"); }

  std::ostream& out_;
  bool any_ = false;
};

}  // namespace

Status save_last_results(const fs::path& ws, const std::vector<StageRecord>& records, const std::string& run_id) {
  const std::string digest = contribution_digest(records);
  const fs::path file = state_file(ws);
  {
    const std::string recorded = read_summary(ws);
    const std::string current = written_identity(file, digest);
    if (!current.empty() && recorded.compare(0, current.size(), current) == 0) {
      // The same results again: confirmed by this run, not rewritten.
      std::ofstream(summary_file(ws), std::ios::binary | std::ios::trunc) << summary_text(current, run_id);
      return Status::Ok();
    }
  }
  // Merged by name with what the file holds: this run's records where it
  // has one, the file's result otherwise. Only the file's results for
  // stages this run did not cover are read into memory, and the file is
  // written as it is merged, one stage at a time (see LastResultsReader).
  std::vector<const StageRecord*> mine;
  mine.reserve(records.size());
  for (const auto& rec : records)
    if (rec.status != "pending") mine.push_back(&rec);
  std::stable_sort(mine.begin(), mine.end(), [](const StageRecord* a, const StageRecord* b) { return a->name < b->name; });
  // A name twice among the records: the later one wins, as a map would.
  std::vector<const StageRecord*> unique;
  unique.reserve(mine.size());
  for (const StageRecord* r : mine) {
    if (!unique.empty() && unique.back()->name == r->name) unique.back() = r;
    else unique.push_back(r);
  }
  auto covered = [&](const std::string& name) {
    auto it = std::lower_bound(unique.begin(), unique.end(), name,
                               [](const StageRecord* r, const std::string& n) { return r->name < n; });
    return it != unique.end() && (*it)->name == name;
  };
  const LastResults old = read_last_results(ws, nullptr, [&](const std::string& name) { return !covered(name); });
  const std::string now = utc_now();
  auto fill = [&](std::ostream& out) {
    LastResultsWriter w(out, run_id);
    auto o = old.begin();
    auto m = unique.begin();
    while (o != old.end() || m != unique.end()) {
      if (m == unique.end() || (o != old.end() && o->first < (*m)->name)) {
        w.stage(o->first, o->second);
        ++o;
      } else {
        if (o != old.end() && o->first == (*m)->name) ++o;  // not read (covered), but be safe
        w.stage((*m)->name, result_of(**m, now, run_id));
        ++m;
      }
    }
    w.end();
  };
  if (Status st = write_file_atomically(file, fill); !st) return st;
  // Best effort: without the summary the next run simply rewrites the file.
  std::ofstream(summary_file(ws), std::ios::binary | std::ios::trunc) << summary_text(written_identity(file, digest), run_id);
  return Status::Ok();
}

}  // namespace wrt
