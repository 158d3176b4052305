// The shape of wrt.toml as data: every table, its keys, their types, enums
// and descriptions. The loader (config.cc) takes each table's allowed keys
// from here, and `wrt schema` turns the same description into a JSON Schema,
// so an "unknown key" error and an editor's completion can never disagree.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wrt::schema {

enum class Type {
  kString,
  kPath,            // a string naming a workspace path
  kInteger,         // minimum 1 unless `minimum` says otherwise
  kPositiveNumber,  // integer or float, > 0
  kBoolean,
  kStringList,
  kStringOrList,    // one string or a list of strings (patterns)
  kSize,            // a byte count or "8GiB"
  kAsil,            // QM, A, B, C or D (case-insensitive, "ASIL-" prefix allowed)
  kAnyTable,        // free-form (a stage's `with`, a profile's `verifier`)
  kTable,           // a table with the keys of `table`
  kNamedTables,     // NAME -> a table with the keys of `table`
};

struct Table;

struct Key {
  std::string name;
  Type type;
  std::string description;
  std::vector<std::string> values;  // allowed values of a kString; empty: any
  const Table* table = nullptr;     // for kTable and kNamedTables
  long long minimum = 1;            // for kInteger
  bool required = false;
};

struct Table {
  std::string where;  // how messages name it: "[settings]", "[stages.NAME]"
  std::string description;
  std::vector<Key> keys;

  std::vector<std::string> key_names() const;
  const Key* find(const std::string& name) const;
};

// The tables of wrt.toml, from the top-level one down.
const Table& root();
const Table& project();
const Table& settings();
const Table& stage();
const Table& pipeline();
const Table& component();
const Table& asil_levels();   // [asil]: QM, A, B, C, D
const Table& asil_profile();  // [asil.LEVEL]
const Table& stage_when();    // stages.NAME.when
const Table& notify();        // [notify]
const Table& notify_webhook();
const Table& notify_email();
const Table& notify_github();

// The JSON Schema of wrt.toml (draft-07; see config_schema.cc for why).
nlohmann::json json_schema();

}  // namespace wrt::schema
