// Finds and loads stage plugins (shared libraries speaking sdk/wrt/plugin.h)
// with Boost.DLL, negotiates the ABI version, and keeps every library loaded
// for as long as the host lives, so no plugin pointer outlives its code.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <wrt/plugin.h>

#include "core/util/result.h"

namespace boost::dll {
class shared_library;
}

namespace wrt {

struct LoadedPlugin {
  const wrt_plugin* plugin = nullptr;
  std::string name;
  std::string version;
  std::string description;
  std::filesystem::path library;
  // Loaded from wrt's own plugin directory (bundled_plugin_dirs): wrt's own
  // code, so its cheap fingerprint() may run in wrt's process.
  bool bundled = false;
  std::uint32_t abi_major = 0;
  std::uint32_t abi_minor = 0;
};

// The directories searched, in order: settings.plugin_path (relative to the
// workspace), $WRT_PLUGIN_PATH (':'-separated), then the plugin directory
// that belongs to the running binary (<bindir>/plugins in a build tree,
// <prefix>/lib/wrt/plugins when installed).
// The plugin directories that belong to the running binary, canonical.
const std::vector<std::filesystem::path>& bundled_plugin_dirs();
std::vector<std::filesystem::path> plugin_search_path(const std::vector<std::string>& configured,
                                                      const std::filesystem::path& workspace);

class PluginHost {
 public:
  PluginHost(std::vector<std::filesystem::path> search_dirs, const wrt_host* host);
  ~PluginHost();  // calls each library's deinit, then unloads
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // The plugin named `name`: first `wrt-plugin-<name>.so` in each search
  // directory, then any other wrt-plugin-*.so that provides it. Loads and
  // initialises libraries on first use. Main thread only.
  Result<const LoadedPlugin*> find(const std::string& name);

  // Loads one library by path (also used by tests). Main thread only.
  Result<std::vector<const LoadedPlugin*>> load_library(const std::filesystem::path& path);

  // Every plugin in every search directory; `errors` gets one line per
  // library that failed to load. Main thread only.
  std::vector<const LoadedPlugin*> discover_all(std::vector<std::string>* errors);

  const std::vector<std::filesystem::path>& search_dirs() const { return dirs_; }

 private:
  struct Library;
  std::vector<std::filesystem::path> dirs_;
  const wrt_host* host_;
  std::vector<std::unique_ptr<Library>> libraries_;           // load order
  std::map<std::filesystem::path, Library*> by_path_;
  std::map<std::string, std::unique_ptr<LoadedPlugin>> plugins_;  // by name, first wins
  std::map<std::filesystem::path, std::string> failed_;       // path -> error
};

}  // namespace wrt
