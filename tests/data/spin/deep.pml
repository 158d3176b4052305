/* Counts to 2000 before terminating: a depth limit of 100 cannot reach the end. */
short n;

active proctype deep()
{
  do
  :: n < 2000 -> n++
  :: else -> break
  od;
  assert(n == 2000)
}
