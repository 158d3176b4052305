/* Peterson's mutual exclusion for two processes: the assertion holds. */
bool flag[2];
byte turn;
byte in_cs;

active [2] proctype user()
{
  byte me = _pid;
  byte other = 1 - _pid;
again:
  flag[me] = true;
  turn = other;
  (flag[other] == false || turn == me);
  in_cs++;
  assert(in_cs == 1);
  in_cs--;
  flag[me] = false;
  goto again
}
