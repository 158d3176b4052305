/* Compiled with -std=c11 -pedantic -Werror: the SDK header is plain C. */
#include <wrt/plugin.h>

static const wrt_plugin* const plugins[1] = {0};
const wrt_entry example_entry = {sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR,
                                 0, 0, 0, plugins};

int sdk_has_field(const wrt_finding* f);
int sdk_has_field(const wrt_finding* f) { return WRT_HAS_FIELD(f, wrt_finding, message); }
