#include "calc.h"

int clamp(int v, int lo, int hi) {
  if (v < lo) return lo;
  if (v > hi) return hi;
  return v;
}

int sign(int v) {
  if (v > 0 && v != 0) return 1;
  if (v < 0) return -1;
  return 0;
}

int never_called(int v) { return v * 2; }
