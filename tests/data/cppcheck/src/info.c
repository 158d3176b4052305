#include <stdio.h>
#include "missing_local.h"

int f(int *p) {
  // cppcheck-suppress nullPointer
  int *q = NULL; int v = *q;
  return v + *p;
}
