int clamp(int v, int lo, int hi);
int sign(int v);
int never_called(int v);
