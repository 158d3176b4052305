/* A shared library that is not a wrt plugin: it lacks wrt_plugin_entry. */
int wrt_not_a_plugin(int x);
int wrt_not_a_plugin(int x) { return x + 1; }
