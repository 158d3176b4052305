// Reader for a ccache stats log (CCACHE_STATSLOG): ccache appends, per
// compilation, a "# <source>" line and one line per counter it bumped.
// Giving each build its own log file measures that build alone, even when
// other builds share the cache directory at the same time — unlike
// comparing `ccache --print-stats` before and after, which counts every
// concurrent build's compilations.
#pragma once

#include <cstdint>
#include <string_view>

namespace wrt::plugins {

struct CcacheStats {
  std::int64_t hits = 0;         // direct or preprocessor-mode hits
  std::int64_t misses = 0;       // compilations ccache had to run
  std::int64_t uncacheable = 0;  // calls ccache passed through (linking, unsupported options)
};

CcacheStats parse_ccache_statslog(std::string_view log);

}  // namespace wrt::plugins
