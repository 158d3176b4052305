#include "core/util/blocking_region.h"

namespace wrt {

namespace {
thread_local BlockingHooks* t_hooks = nullptr;
}  // namespace

void BlockingRegion::set_thread_hooks(BlockingHooks* hooks) { t_hooks = hooks; }

// Hooks are cleared inside a region: a nested region (a wait within a
// wait) reports nothing more.
BlockingRegion::BlockingRegion() : hooks_(t_hooks) {
  if (!hooks_) return;
  t_hooks = nullptr;
  hooks_->blocking();
}

BlockingRegion::~BlockingRegion() {
  if (!hooks_) return;
  hooks_->running();
  t_hooks = hooks_;
}

}  // namespace wrt
