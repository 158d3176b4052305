// libFuzzer target for the wrt.toml loader: the bytes go through what the CLI
// does with wrt.toml before it runs anything (parse_config, the config cache's
// encoding, build_graph). Built by scripts/fuzz.sh with -DWRT_FUZZ=ON; see
// README.md next to this file.
//
// Besides crashes, hangs and sanitizer reports, it checks the loader's
// promises: an error is one line starting with the file name, and a valid
// configuration survives the config cache's encoding unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/config/config.h"
#include "core/config/config_cache.h"
#include "core/config/graph.h"

namespace {

const char kFile[] = "/fuzz-ws/wrt.toml";  // need not exist: nothing here reads the workspace

[[noreturn]] void broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "config_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void check_error(const std::string& message) {
  if (message.rfind(kFile, 0) != 0) broken("error does not start with the file name", message);
  if (message.find('\n') != std::string::npos) broken("error spans lines", message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto cfg = wrt::parse_config(text, kFile);
  if (!cfg) {
    check_error(cfg.error());
    return 0;
  }
  // Compared as encodings: `with` may hold a NaN, which equals nothing.
  const std::string encoded = wrt::encode_config(*cfg);
  auto decoded = wrt::decode_config(encoded);
  if (!decoded) broken("the config cache cannot decode its own encoding", decoded.error());
  if (wrt::encode_config(*decoded) != encoded) broken("the config cache's encoding changes the configuration", text);
  auto graph = wrt::build_graph(*cfg);
  if (!graph) {
    check_error(graph.error());
    return 0;
  }
  auto order = wrt::select_stages(*graph, {});
  if (!order || order->size() != cfg->stages.size()) broken("select_stages dropped stages of a valid graph", text);
  return 0;
}
