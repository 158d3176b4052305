#include "plugins/common/git.h"

namespace wrt::plugins {

GitResult run_git(const wrt::sdk::Stage& s, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"git", "-C", s.workspace()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = s.spawn(argv, {}, {}, true);
  GitResult g;
  g.ok = r.started && r.exit_code == 0 && r.term_signal == 0;
  g.out = r.started ? r.output : r.error;
  while (!g.out.empty() && (g.out.back() == '\n' || g.out.back() == '\r' || g.out.back() == ' ')) g.out.pop_back();
  return g;
}

}  // namespace wrt::plugins
