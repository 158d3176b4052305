#include <stdio.h>
#include "../core/calc.h"

int main(int argc, char** argv) {
  (void)argv;
  int r = clamp(argc, 0, 10) + sign(argc);
  if (argc > 5) printf("many\n");
  printf("%d\n", r);
  return 0;
}
