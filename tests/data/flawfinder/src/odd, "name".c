#include <stdlib.h>
#include <stdio.h>

void run(const char *cmd) {
  system(cmd);
}

void show(const char *fmt) {
  printf(fmt);
}
