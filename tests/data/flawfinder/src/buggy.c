#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int overrun(void) {
  int buf[10];
  buf[10] = 1;
  return buf[0];
}

int null_deref(void) {
  int *p = NULL;
  return *p;
}

int uninit(void) {
  int x;
  return x + 1;
}

void copy_name(const char *name) {
  char dst[16];
  strcpy(dst, name);
  printf("%s\n", dst);
}

void read_line(void) {
  char line[64];
  gets(line);
  puts(line);
}

void format(char *out, const char *who) {
  sprintf(out, "hello %s", who);
}

void leak(void) {
  char *m = malloc(10);
  m[0] = 0;
}
