#include "core/host/plugin_host.h"
#include "core/util/log.h"

#include <algorithm>
#include <cstdlib>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <fmt/core.h>

namespace wrt {

namespace fs = std::filesystem;

struct PluginHost::Library {
  fs::path path;
  boost::dll::shared_library lib;
  const wrt_entry* entry = nullptr;
  bool initialised = false;
};

const std::vector<fs::path>& bundled_plugin_dirs() {
  static const std::vector<fs::path> dirs = [] {
    std::vector<fs::path> out;
    boost::dll::fs::error_code ec;
    fs::path exe = boost::dll::program_location(ec);
    if (ec) return out;
    fs::path bindir = exe.parent_path();
    out.push_back(bindir / "plugins");
    // <prefix>/<bindir> -> <prefix>/<libdir>/wrt/plugins
    fs::path prefix = bindir;
    for (const auto& part : fs::path(WRT_BIN_INSTALL_RELDIR)) {
      (void)part;
      prefix = prefix.parent_path();
    }
    out.push_back(prefix / WRT_PLUGIN_INSTALL_RELDIR);
    for (auto& d : out) {
      std::error_code e;
      fs::path c = fs::weakly_canonical(d, e);
      if (!e) d = c;
    }
    return out;
  }();
  return dirs;
}

std::vector<fs::path> plugin_search_path(const std::vector<std::string>& configured, const fs::path& workspace) {
  std::vector<fs::path> dirs;
  for (const auto& d : configured) dirs.push_back(fs::path(d).is_absolute() ? fs::path(d) : workspace / d);
  if (const char* env = std::getenv("WRT_PLUGIN_PATH")) {
    std::string s = env;
    std::size_t i = 0;
    while (i <= s.size()) {
      std::size_t j = s.find(':', i);
      if (j == std::string::npos) j = s.size();
      if (j > i) dirs.emplace_back(s.substr(i, j - i));
      i = j + 1;
    }
  }
  for (auto& d : bundled_plugin_dirs()) dirs.push_back(d);
  return dirs;
}

PluginHost::PluginHost(std::vector<fs::path> search_dirs, const wrt_host* host)
    : dirs_(std::move(search_dirs)), host_(host) {}

PluginHost::~PluginHost() {
  plugins_.clear();
  for (auto it = libraries_.rbegin(); it != libraries_.rend(); ++it) {
    if ((*it)->initialised && (*it)->entry->deinit) (*it)->entry->deinit();
  }
  libraries_.clear();
}

Result<std::vector<const LoadedPlugin*>> PluginHost::load_library(const fs::path& path_in) {
  std::error_code ec;
  fs::path path = fs::weakly_canonical(path_in, ec);
  if (ec) path = path_in;
  if (auto f = failed_.find(path); f != failed_.end()) return Error{f->second};
  auto fail = [&](std::string msg) -> Result<std::vector<const LoadedPlugin*>> {
    failed_[path] = msg;
    return Error{msg};
  };
  std::vector<const LoadedPlugin*> provided;
  if (auto it = by_path_.find(path); it != by_path_.end()) {
    for (const auto& [name, p] : plugins_)
      if (p->library == path) provided.push_back(p.get());
    return provided;
  }
  if (!fs::exists(path, ec)) return fail(fmt::format("{}: plugin library not found", path.string()));

  auto lib = std::make_unique<Library>();
  lib->path = path;
  try {
    lib->lib.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return fail(fmt::format("{}: cannot load plugin library: {}", path.string(), e.what()));
  }
  if (!lib->lib.has(WRT_PLUGIN_ENTRY_SYMBOL))
    return fail(fmt::format("{}: not a wrt plugin (no '{}' symbol exported)", path.string(), WRT_PLUGIN_ENTRY_SYMBOL));
  auto entry_fn = lib->lib.get<const wrt_entry*()>(WRT_PLUGIN_ENTRY_SYMBOL);
  const wrt_entry* entry = entry_fn();
  if (!entry) return fail(fmt::format("{}: {}() returned NULL", path.string(), WRT_PLUGIN_ENTRY_SYMBOL));
  if (entry->struct_size < offsetof(wrt_entry, abi_minor) + sizeof(entry->abi_minor))
    return fail(fmt::format("{}: malformed plugin entry (struct_size {})", path.string(), entry->struct_size));
  if (entry->abi_major != WRT_ABI_VERSION_MAJOR)
    return fail(fmt::format(
        "{}: plugin built for wrt plugin ABI {}.{}, but this wrt supports ABI {}.{}; rebuild it against this wrt's SDK",
        path.string(), entry->abi_major, entry->abi_minor, WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR));
  if (!WRT_HAS_FIELD(entry, wrt_entry, plugins))
    return fail(fmt::format("{}: malformed plugin entry (struct_size {})", path.string(), entry->struct_size));
  if (entry->plugin_count > 0 && !entry->plugins)
    return fail(fmt::format("{}: plugin entry lists {} plugins but no table", path.string(), entry->plugin_count));
  for (std::uint32_t i = 0; i < entry->plugin_count; ++i) {
    const wrt_plugin* p = entry->plugins[i];
    if (!p || !WRT_HAS_FIELD(p, wrt_plugin, run) || !p->name || !p->run)
      return fail(fmt::format("{}: plugin #{} is malformed (needs struct_size, name and run)", path.string(), i));
  }
  lib->entry = entry;
  if (entry->init) {
    if (!entry->init(host_)) return fail(fmt::format("{}: plugin init refused to load", path.string()));
  }
  lib->initialised = true;
  const auto& own = bundled_plugin_dirs();
  const bool bundled = std::find(own.begin(), own.end(), path.parent_path()) != own.end();
  for (std::uint32_t i = 0; i < entry->plugin_count; ++i) {
    const wrt_plugin* p = entry->plugins[i];
    auto lp = std::make_unique<LoadedPlugin>();
    lp->plugin = p;
    lp->name = p->name;
    lp->version = p->version ? p->version : "0";
    lp->description = p->description ? p->description : "";
    lp->library = path;
    lp->bundled = bundled;
    lp->abi_major = entry->abi_major;
    lp->abi_minor = entry->abi_minor;
    provided.push_back(lp.get());
    plugins_.try_emplace(lp->name, std::move(lp));
  }
  if (spdlog::default_logger_raw()->should_log(spdlog::level::debug)) {
    std::string names;
    for (const auto* lp : provided) names += (names.empty() ? "" : ", ") + lp->name;
    spdlog::debug("loaded plugin library {} (ABI {}.{}{}): {}", path.string(), entry->abi_major, entry->abi_minor,
                  bundled ? ", bundled" : "", names);
  }
  by_path_[path] = lib.get();
  libraries_.push_back(std::move(lib));
  return provided;
}

Result<const LoadedPlugin*> PluginHost::find(const std::string& name) {
  if (auto it = plugins_.find(name); it != plugins_.end()) return static_cast<const LoadedPlugin*>(it->second.get());
  std::vector<std::string> errors;
  std::error_code ec;
  for (const auto& dir : dirs_) {
    fs::path candidate = dir / ("wrt-plugin-" + name + ".so");
    if (!fs::exists(candidate, ec)) continue;
    auto r = load_library(candidate);
    if (!r) return Error{r.error()};
    if (auto it = plugins_.find(name); it != plugins_.end()) return static_cast<const LoadedPlugin*>(it->second.get());
  }
  // A library may provide plugins under other names than its file name.
  discover_all(&errors);
  if (auto it = plugins_.find(name); it != plugins_.end()) return static_cast<const LoadedPlugin*>(it->second.get());
  std::string searched;
  for (const auto& d : dirs_) searched += (searched.empty() ? "" : ", ") + d.string();
  return Error{fmt::format("plugin '{}' not found (searched {})", name, searched)};
}

std::vector<const LoadedPlugin*> PluginHost::discover_all(std::vector<std::string>* errors) {
  std::error_code ec;
  for (const auto& dir : dirs_) {
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> libs;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      std::string fn = e.path().filename().string();
      if (fn.rfind("wrt-plugin-", 0) == 0 && e.path().extension() == ".so") libs.push_back(e.path());
    }
    std::sort(libs.begin(), libs.end());
    for (const auto& l : libs) {
      auto r = load_library(l);
      if (!r && errors) errors->push_back(r.error());
    }
  }
  std::vector<const LoadedPlugin*> all;
  for (const auto& [name, p] : plugins_) all.push_back(p.get());
  return all;
}

}  // namespace wrt
