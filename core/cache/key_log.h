// The key records of a workspace (.wrt/state/key-records): for every stage,
// the inputs its last key was computed from (cache_key.h's KeyInputs as
// JSON), which `wrt explain` and the run's "reason" compare with the next
// key's, and which the evidence package includes as the stage's key.json.
//
// One append-only file of lines "<key hex> <stage> <compact JSON>\n" instead
// of one file per stage: a fresh checkout whose every stage is a cache hit
// would otherwise create as many files for these records as it restores
// outputs (issue 17: restoring is bounded by creating files). The latest
// line of a stage wins. A line is a record only when it parses and its JSON
// names the same stage and key as its prefix; anything else (damage, a hand
// edit) leaves its stage without a record, which only costs `explain` its
// comparison for that stage. The torn last line of a killed run is no line:
// the next writer cuts it off. The file is rewritten with the latest line
// per stage when superseded lines outweigh live ones.
//
// Private to one checkout (like the stat cache); one `wrt run` writes it at
// a time (the workspace lock), readers may run alongside.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/util/flat_string_map.h"
#include "core/util/result.h"

namespace wrt {

class KeyLog {
 public:
  explicit KeyLog(std::filesystem::path file);
  ~KeyLog();
  KeyLog(const KeyLog&) = delete;
  KeyLog& operator=(const KeyLog&) = delete;

  // The record on the latest line of `stage`; nullopt when there is none or
  // that line is not a record. The first call reads the whole file (once).
  // Thread-safe.
  std::optional<nlohmann::json> latest(const std::string& stage);

  // Appends the record of `stage` under `key_hex` (buffered; written by
  // flush() or when the buffer fills). It becomes latest(). Thread-safe.
  void append(const std::string& stage, const std::string& key_hex, const nlohmann::json& record);
  // The same with the record already serialised (one line of JSON, an
  // object naming `stage` and `key_hex`, as key_record_text writes it).
  void append_text(const std::string& stage, const std::string& key_hex, std::string_view record);

  // Writes what is buffered, then rewrites the file without superseded lines
  // when they are the larger part of it. Error names the file.
  Status flush();

  const std::filesystem::path& file() const { return file_; }

 private:
  struct Line {
    std::uint64_t offset = 0;  // in the file, or in pending_ when pending
    std::uint32_t size = 0;    // without the line break
    bool pending = false;
  };
  void load_locked();
  Status write_pending_locked();
  Status compact_locked();
  std::optional<nlohmann::json> parse_line(std::string_view line, const std::string& stage) const;

  const std::filesystem::path file_;
  std::mutex mu_;
  bool loaded_ = false;
  FlatStringMap<Line> latest_;  // by stage
  std::uint64_t file_size_ = 0;  // bytes of the file that were scanned
  std::uint64_t live_bytes_ = 0; // sum of the latest lines' sizes (+1 each)
  std::string pending_;          // appended lines not yet written
  std::vector<std::string> pending_stages_;  // whose latest line is in pending_
  int fd_ = -1;                  // the file, open for reading
};

}  // namespace wrt
