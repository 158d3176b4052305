#include "core/completions.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

namespace wrt {

namespace {

// One command of the app ("" is wrt itself, "cache gc" a nested one).
struct Command {
  std::string path;
  std::string description;
  std::vector<std::pair<std::string, std::string>> subcommands;  // name, description
  // Every spelling of every option ("-j", "--jobs"), in order.
  std::vector<std::string> options;
  // Options that take a value, with what the value is (value_kind).
  std::vector<std::pair<std::string, std::string>> value_options;
  struct OptionInfo {
    std::vector<std::string> shorts, longs;
    std::string description;
    bool takes_value = false;
    std::string kind;
  };
  std::vector<OptionInfo> option_infos;  // for fish, which wants them whole
  bool has_positional = false;
  std::string positional_kind;
};

// The values an option's IsMember check allows, from its description
// ("{dot,mermaid}"); empty for other checks.
std::string member_values(const CLI::Option& opt) {
  auto* opt_nc = const_cast<CLI::Option*>(&opt);  // CLI11 2.1 has no const get_validator
  CLI::Validator* v = nullptr;
  try {
    v = opt_nc->get_validator();
  } catch (const CLI::OptionNotFound&) {
    return "";
  }
  if (!v) return "";
  std::string d = v->get_description();
  if (d.size() < 2 || d.front() != '{' || d.back() != '}') return "";
  d = d.substr(1, d.size() - 2);
  for (char& c : d)
    if (c == ',') c = ' ';
  return d;
}

// What the value of an option or positional argument is: names from the
// workspace ("stages", "pipelines", "components", answered by `wrt
// __complete`), a fixed list of words, or "" (a file, or free text).
// Options whose values a check lists take them from the app; the others
// are known by name.
std::string value_kind(const CLI::Option& opt, const std::string& name) {
  if (std::string members = member_values(opt); !members.empty()) return members;
  if (name == "--stage" || name == "stage") return "stages";
  if (name == "pipeline") return "pipelines";
  if (name == "--component") return "components";
  if (name == "--asil-profile") return "QM A B C D";
  if (name == "--log-level") return "trace debug info warn error off";
  if (name == "shell") return "bash zsh fish";
  return "";
}

bool hidden(const CLI::App* a) { return a->get_group().empty(); }

void collect(const CLI::App& app, const std::string& path, std::vector<Command>& out) {
  Command c;
  c.path = path;
  c.description = app.get_description();
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_group().empty()) continue;  // hidden
    if (o->get_positional() && o->get_lnames().empty() && o->get_snames().empty()) {
      if (!c.has_positional) {
        c.has_positional = true;
        c.positional_kind = value_kind(*o, o->get_name());
      }
      continue;
    }
    Command::OptionInfo info;
    info.description = o->get_description();
    info.takes_value = o->get_items_expected_max() != 0;  // a flag expects no item
    for (const auto& s : o->get_snames()) info.shorts.push_back(s);
    for (const auto& l : o->get_lnames()) info.longs.push_back(l);
    std::string main_name = !info.longs.empty() ? "--" + info.longs.front() : "-" + info.shorts.front();
    info.kind = info.takes_value ? value_kind(*o, main_name) : "";
    for (const auto& s : info.shorts) c.options.push_back("-" + s);
    for (const auto& l : info.longs) c.options.push_back("--" + l);
    if (info.takes_value) {
      for (const auto& s : info.shorts) c.value_options.emplace_back("-" + s, info.kind);
      for (const auto& l : info.longs) c.value_options.emplace_back("--" + l, info.kind);
    }
    c.option_infos.push_back(std::move(info));
  }
  std::vector<const CLI::App*> subs = app.get_subcommands([](const CLI::App* a) { return !hidden(a); });
  for (const CLI::App* s : subs) c.subcommands.emplace_back(s->get_name(), s->get_description());
  out.push_back(c);
  for (const CLI::App* s : subs) collect(*s, path.empty() ? s->get_name() : path + " " + s->get_name(), out);
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

// The part bash and zsh share: the app's data as shell functions, and the
// walk over the words typed so far. Written in the subset of bash that zsh
// runs with ksh_arrays set (0-based arrays).
std::string shared_functions(const std::vector<Command>& cmds) {
  std::string subs, opts, kinds;
  for (const auto& c : cmds) {
    std::vector<std::string> names;
    for (const auto& [n, d] : c.subcommands) names.push_back(n);
    if (!names.empty()) subs += fmt::format("    \"{}\") echo \"{}\" ;;\n", c.path, join(names));
    opts += fmt::format("    \"{}\") echo \"{}\" ;;\n", c.path, join(c.options));
    for (const auto& [o, k] : c.value_options) kinds += fmt::format("    \"{}|{}\") echo \"{}\" ;;\n", c.path, o, k);
    if (c.has_positional) kinds += fmt::format("    \"{}|\") echo \"{}\" ;;\n", c.path, c.positional_kind);
  }
  return fmt::format(R"(# Generated by `wrt completions` from wrt's own command line definition.
_wrt_subcommands() {{
  case "$1" in
{0}  esac
}}
_wrt_options() {{
  case "$1" in
{1}  esac
}}
# _wrt_value_kind COMMAND OPTION: what OPTION's value is (stages, pipelines,
# components, a list of words, or empty for a file); fails for a flag. With
# an empty OPTION: the command's positional argument.
_wrt_value_kind() {{
  case "$1|$2" in
{2}    *) return 1 ;;
  esac
}}
# _wrt_values KIND DIR WRT: the words KIND stands for.
_wrt_values() {{
  case "$1" in
    stages | pipelines | components)
      if [[ -n $2 ]]; then "$3" -C "$2" {3} "$1"; else "$3" {3} "$1"; fi 2>/dev/null ;;
    "") echo __wrt_files__ ;;
    *) echo "$1" ;;
  esac
}}
# _wrt_candidates INDEX WORD...: the candidates for word INDEX of the
# command line WORD... (word 0 is wrt itself), separated by blanks.
_wrt_candidates() {{
  local cword=$1
  shift
  local -a ws
  ws=("$@")
  local cmd="" i w s dir="" kind
  for ((i = 1; i < cword; i++)); do
    w=${{ws[i]}}
    case "$w" in
      -C | --directory) dir=${{ws[i + 1]}} ;;
    esac
    if [[ $w == -* ]]; then
      if [[ $w != *=* ]] && _wrt_value_kind "$cmd" "$w" >/dev/null; then ((i++)); fi
      continue
    fi
    for s in $(_wrt_subcommands "$cmd"); do
      if [[ $s == "$w" ]]; then
        cmd="${{cmd:+$cmd }}$w"
        break
      fi
    done
  done
  local cur=${{ws[cword]}} prev=""
  ((cword > 0)) && prev=${{ws[cword - 1]}}
  if [[ $prev == -* ]] && kind=$(_wrt_value_kind "$cmd" "$prev"); then
    _wrt_values "$kind" "$dir" "${{ws[0]}}"
    return
  fi
  if [[ $cur == -* ]]; then
    _wrt_options "$cmd"
    return
  fi
  _wrt_subcommands "$cmd"
  if kind=$(_wrt_value_kind "$cmd" ""); then _wrt_values "$kind" "$dir" "${{ws[0]}}"; fi
}}
)",
                     subs, opts, kinds, kCompleteCommand);
}

std::string bash_script(const std::vector<Command>& cmds) {
  return shared_functions(cmds) + R"(_wrt() {
  # bash splits words at ':' (it is in COMP_WORDBREAKS), so a for_each
  # instance "prove:engine" arrives as "prove" ":" "engine": join them back.
  local -a ws=()
  local i w cword=0
  for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
    w=${COMP_WORDS[i]}
    if ((i > 1)) && [[ $w == :* || ${COMP_WORDS[i - 1]} == *: ]]; then
      ws[${#ws[@]} - 1]+=$w
    else
      ws+=("$w")
    fi
    ((i == COMP_CWORD)) && cword=$((${#ws[@]} - 1))
  done
  local cur=${ws[cword]} out
  out=$(_wrt_candidates "$cword" "${ws[@]}")
  if [[ $out == *__wrt_files__* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
    return 0
  fi
  # compgen fails when nothing matches; an empty COMPREPLY already says so.
  COMPREPLY=($(compgen -W "$out" -- "$cur")) || true
  # bash replaces only the part after the last ':'.
  if [[ $cur == *:* ]]; then
    local prefix=${cur%"${cur##*:}"}
    for i in "${!COMPREPLY[@]}"; do COMPREPLY[i]=${COMPREPLY[i]#"$prefix"}; done
  fi
  return 0
}
complete -F _wrt wrt
)";
}

std::string zsh_script(const std::vector<Command>& cmds) {
  return "#compdef wrt\n" + shared_functions(cmds) + R"(_wrt() {
  setopt local_options ksh_arrays
  local out
  out=$(_wrt_candidates $((CURRENT - 1)) "${words[@]}")
  if [[ $out == *__wrt_files__* ]]; then
    _files
    return
  fi
  local -a c
  c=(${=out})
  compadd -- "${c[@]}"
}
# Sourced after compinit (`source <(wrt completions zsh)`) or autoloaded
# from a file named _wrt on $fpath.
if (( $+functions[compdef] )); then compdef _wrt wrt; fi
)";
}

// fish: its own `complete` rules, one per subcommand and option.
std::string fish_script(const std::vector<Command>& cmds) {
  auto quoted = [](const std::string& s) {
    std::string out = "'";
    for (char c : s) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    return out + "'";
  };
  std::string out = "# Generated by `wrt completions fish` from wrt's own command line definition.\n";
  out += "complete -c wrt -f\n";
  for (const auto& c : cmds) {
    // The condition under which this command's words apply.
    std::string cond;
    if (c.path.empty()) {
      cond = "__fish_use_subcommand";
    } else {
      std::string last = c.path.substr(c.path.rfind(' ') == std::string::npos ? 0 : c.path.rfind(' ') + 1);
      std::string first = c.path.substr(0, c.path.find(' '));
      cond = first == last ? fmt::format("__fish_seen_subcommand_from {}", first)
                           : fmt::format("__fish_seen_subcommand_from {}; and __fish_seen_subcommand_from {}", first,
                                         last);
    }
    for (const auto& [n, d] : c.subcommands)
      out += fmt::format("complete -c wrt -n {} -a {} -d {}\n", quoted(cond), n, quoted(d));
    auto values = [&](const std::string& kind) -> std::string {
      if (kind == "stages" || kind == "pipelines" || kind == "components")
        return fmt::format(" -a '(wrt {} {})'", kCompleteCommand, kind);
      // A path: fish's -F would allow files after every word of the command.
      if (kind.empty()) return " -a '(__fish_complete_path (commandline -ct))'";
      return " -a " + quoted(kind);
    };
    for (const auto& o : c.option_infos) {
      std::string spec;
      for (const auto& s : o.shorts) spec += (s.size() == 1 ? " -s " : " -o ") + s;
      for (const auto& l : o.longs) spec += " -l " + l;
      // -x: the option takes a value, and only the listed candidates (fish
      // would add files to an -r option's candidates).
      std::string value = o.takes_value ? " -x" + values(o.kind) : "";
      out += fmt::format("complete -c wrt -n {}{}{} -d {}\n", quoted(cond), spec, value, quoted(o.description));
    }
    if (c.has_positional && !c.path.empty())
      out += fmt::format("complete -c wrt -n {}{}\n", quoted(cond), values(c.positional_kind));
  }
  return out;
}

}  // namespace

Result<std::string> completion_script(const CLI::App& app, const std::string& shell) {
  std::vector<Command> cmds;
  collect(app, "", cmds);
  if (shell == "bash") return bash_script(cmds);
  if (shell == "zsh") return zsh_script(cmds);
  if (shell == "fish") return fish_script(cmds);
  return Error{fmt::format("completions: shell must be bash, zsh or fish, not '{}'", shell)};
}

}  // namespace wrt
