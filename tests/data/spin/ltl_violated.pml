/* A counter that wraps at 5: "always below 3" and "eventually 9" fail,
   "infinitely often 0" holds. */
byte count;

active proctype counter()
{
  do
  :: count < 5 -> count++
  :: count >= 5 -> count = 0
  od
}

ltl bounded { [] (count < 3) }
ltl resets { [] <> (count == 0) }
ltl reaches_nine { <> (count == 9) }
