#include <stdio.h>

#include "greet.h"

int main(int argc, char** argv) {
  char buf[128];
  if (greet(argc > 1 ? argv[1] : NULL, buf, sizeof buf) < 0) return 1;
  puts(buf);
  return 0;
}
