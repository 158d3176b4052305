/* Lexer state machine (ASIL B): the read position only moves forward and
 * never passes the end of the input. */
#define LEN 4
byte pos = 0;
byte text[LEN];

active proctype lexer() {
  byte start;
  do
  :: pos < LEN ->
       if
       :: text[pos] == 0 -> pos++            /* whitespace */
       :: text[pos] != 0 ->                  /* a token */
            start = pos;
            do
            :: pos < LEN && text[pos] != 0 -> pos++
            :: else -> break
            od;
            assert(pos > start && pos <= LEN)
       fi
  :: pos >= LEN -> break
  od;
  assert(pos == LEN)
}

active proctype input() {
  byte i = 0;
  do
  :: i < LEN -> if :: text[i] = 0 :: text[i] = 1 fi; i++
  :: else -> break
  od
}
