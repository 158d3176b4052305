/* A plugin that claims ABI major 2: the host must refuse it by name. */
#include <wrt/plugin.h>

static wrt_status run(const wrt_host* host, wrt_stage* stage) {
  (void)host;
  (void)stage;
  return WRT_STATUS_PASSED;
}

static const wrt_plugin future = {sizeof(wrt_plugin), "future", "2.0.0", "built for ABI 2", 0, run, 0};
static const wrt_plugin* const plugins[] = {&future};
static const wrt_entry entry = {sizeof(wrt_entry), 2u, 0u, 0, 0, 1, plugins};

WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &entry; }
