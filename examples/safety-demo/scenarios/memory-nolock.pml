/* Two tasks share the block pool under a lock (ASIL D): a block is never
 * owned by two tasks at once. */
#define BLOCKS 2
bool used[BLOCKS];
byte owner[BLOCKS];
bool lock = false;

inline acquire() { skip }  /* the lock was "optimised" away */
inline release() { lock = false }

proctype task(byte id) {
  byte i, mine = 255;
  do
  :: mine == 255 ->
       acquire();
       i = 0;
       do
       :: i < BLOCKS && !used[i] -> used[i] = true; owner[i] = id; mine = i; break
       :: i < BLOCKS && used[i] -> i++
       :: i >= BLOCKS -> break
       od;
       release()
  :: mine != 255 ->
       assert(owner[mine] == id);
       acquire();
       used[mine] = false; owner[mine] = 0;
       release();
       mine = 255
  od
}

init { atomic { run task(1); run task(2) } }
