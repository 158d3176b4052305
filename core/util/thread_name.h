// Names the calling thread (at most 15 characters are kept), so that `top
// -H`, perf and gdb tell wrt's threads apart: runners, remote cache
// lookups, the HTTP transfer thread, the upload thread.
#pragma once

#include <pthread.h>

namespace wrt {

inline void name_this_thread(const char* name) { ::pthread_setname_np(::pthread_self(), name); }

}  // namespace wrt
