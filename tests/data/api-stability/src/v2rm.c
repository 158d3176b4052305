struct point { int x; int y; };
int add(int a, int b) { return a + b; }
int norm(struct point* p) { return p->x * p->x + p->y * p->y; }
