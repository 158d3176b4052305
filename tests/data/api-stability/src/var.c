int counter;
int add(int a,int b){return a+b;}
int sub(int a, int b) { return a - b; }
int norm(void*p){return 0;}
