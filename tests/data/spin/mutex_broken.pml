/* A broken mutex without the turn variable check: both can enter. */
bool flag[2];
byte in_cs;

active [2] proctype user()
{
  byte me = _pid;
  byte other = 1 - _pid;
again:
  (flag[other] == false);
  flag[me] = true;
  in_cs++;
  assert(in_cs == 1);
  in_cs--;
  flag[me] = false;
  goto again
}
