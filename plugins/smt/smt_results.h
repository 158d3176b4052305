// SMT-LIB obligations and solver answers. An .smt2 file holds one proof
// obligation per (check-sat); the solver prints one answer per check-sat
// (sat / unsat / unknown / timeout), plus a model for (get-model) and
// (error "...") for commands it rejected. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "plugins/common/tool.h"

namespace wrt::plugins::smt {

struct Obligation {
  std::string name;  // "; @name X" or (set-info :name X) before it, else "file#N"
  std::uint32_t line = 0;
  bool wants_model = false;  // a (get-model) follows before the next check-sat
};

// The check-sat commands of `text` in order. Comments, strings and |quoted|
// symbols are skipped; unbalanced parentheses are a ParseError at the
// offending position. `file` names the file in errors and default names.
std::variant<std::vector<Obligation>, ParseError> find_obligations(std::string_view text, const std::string& file);

enum class Verdict { kProved, kCounterexample, kInconclusive, kError };

struct ObligationResult {
  Obligation obligation;
  Verdict verdict = Verdict::kInconclusive;
  std::string answer;  // "sat", "unsat", "unknown", "timeout", "" (no answer)
  std::string model;   // the (get-model) response, when there was one
  std::string error;   // the solver's error message
};

// Pairs the solver's answers in `output` with `obligations`. `expect` is the
// answer that proves an obligation ("unsat" or "sat"). Lines that are not
// answers (cvc5 warnings, "cvc5 interrupted by timeout.") are ignored except
// that a timeout notice marks the remaining obligations as timed out.
std::vector<ObligationResult> match_answers(std::string_view output, const std::vector<Obligation>& obligations,
                                            const std::string& expect);

}  // namespace wrt::plugins::smt
