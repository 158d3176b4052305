/* Tokenizer for the configuration language (ASIL B). */
#ifndef DEMO_LEXER_H
#define DEMO_LEXER_H
#include <stddef.h>

typedef struct token {
  size_t start;
  size_t length;
} token;

/* Next token at or after *pos; returns 0 at end of input. Never reads past len. */
int lexer_next(const char* text, size_t len, size_t* pos, token* out);
#endif
