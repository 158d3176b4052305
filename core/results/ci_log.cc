#include "core/results/ci_log.h"

#include <algorithm>
#include <fstream>
#include <iterator>

namespace wrt {

std::optional<std::string> ci_stage_log(const std::filesystem::path& workspace, const StageRecord& rec) {
  if (rec.status == "cached" || rec.status == "skipped" || rec.status == "pending" || rec.log.empty())
    return std::nullopt;
  constexpr std::size_t kLimit = 256 * 1024;
  std::ifstream in(workspace / rec.log, std::ios::binary);
  if (!in) return std::string();
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(std::max<std::streamoff>(0, in.tellg()));
  in.seekg(static_cast<std::streamoff>(size > kLimit ? size - kLimit : 0));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (size > kLimit) {
    text.erase(0, text.find('\n') + 1);  // start at a line
    text = "[wrt] ... (the start is cut; the whole log: wrt log " + rec.name + ")\n" + text;
  }
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

}  // namespace wrt
