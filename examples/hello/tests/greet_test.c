#include <stdio.h>
#include <string.h>

#include "greet.h"

static int failures = 0;
#define EXPECT(cond)                                         \
  do {                                                       \
    if (!(cond)) {                                           \
      fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                            \
    }                                                        \
  } while (0)

int main(void) {
  char buf[32];
  EXPECT(greet("wrt", buf, sizeof buf) == 11);
  EXPECT(strcmp(buf, "Hello, wrt!") == 0);
  EXPECT(greet(NULL, buf, sizeof buf) > 0 && strcmp(buf, "Hello, world!") == 0);
  EXPECT(greet("a-name-that-is-far-too-long-for-it", buf, sizeof buf) == -1);
  printf("%d failures\n", failures);
  return failures != 0;
}
