#include "lexer.h"

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int lexer_next(const char* text, size_t len, size_t* pos, token* out) {
  size_t i = *pos;
  while (i < len && is_space(text[i])) ++i;
  if (i >= len) {
    *pos = len;
    return 0;
  }
  out->start = i;
  while (i < len && !is_space(text[i])) ++i;
  out->length = i - out->start;
  *pos = i;
  return 1;
}
