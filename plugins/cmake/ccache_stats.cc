#include "plugins/cmake/ccache_stats.h"

#include "plugins/common/tool.h"

namespace wrt::plugins {

CcacheStats parse_ccache_statslog(std::string_view log) {
  CcacheStats s;
  for (std::string_view raw : split_lines(log)) {
    std::string_view line = trim(raw);
    // ccache 4.x logs a hit only as direct_cache_hit or
    // preprocessed_cache_hit (never both for one compilation).
    if (line == "direct_cache_hit" || line == "preprocessed_cache_hit")
      ++s.hits;
    else if (line == "cache_miss")
      ++s.misses;
    else if (line == "could_not_use_precompiled_header" || line == "called_for_link" ||
             line == "called_for_preprocessing" || line == "unsupported_compiler_option" ||
             line == "compiler_produced_no_output" || line == "multiple_source_files" || line == "no_input_file" ||
             line == "unsupported_source_language")
      ++s.uncacheable;
  }
  return s;
}

}  // namespace wrt::plugins
