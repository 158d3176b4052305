/* A plugin built against an older copy of wrt/plugin.h (tests/abi/1.x), to
 * check that the current host still loads and serves it. OLD_NAME names the
 * plugin ("abi10", "abi11"). */
#include <string.h>
#include <wrt/plugin.h>

static wrt_status run(const wrt_host* host, wrt_stage* stage) {
  const char* argv[] = {"sh", "-c", "echo hello from an old plugin", NULL};
  wrt_spawn_request req;
  wrt_spawn_result res;
  memset(&req, 0, sizeof req);
  memset(&res, 0, sizeof res);
  req.struct_size = sizeof req;
  req.argv = argv;
  req.capture_output = 1;
  res.struct_size = sizeof res;
  host->report_metric(stage, "built_minor", (double)WRT_ABI_VERSION_MINOR);
  host->report_metric(stage, "host_minor", (double)host->abi_minor);
  if (host->spawn(stage, &req, &res) != 0 || res.exit_code != 0) return WRT_STATUS_FAILED;
  host->report_metric(stage, "output_bytes", (double)res.output_size);
  host->set_message(stage, OLD_NAME " ran");
  return WRT_STATUS_PASSED;
}

static const wrt_plugin plugin = {sizeof(wrt_plugin), OLD_NAME, "1.0.0", "built against an old SDK header",
                                  NULL, run, NULL};
static const wrt_plugin* const plugins[] = {&plugin};
static const wrt_entry entry = {sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, NULL, NULL, 1,
                                plugins};

WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &entry; }
