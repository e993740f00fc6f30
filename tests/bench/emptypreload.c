/* The floor of any LD_PRELOAD library: a shared object with an empty constructor and nothing
 * else (no extra DT_NEEDED beyond libc). `gvnet-harness bench` (part exec) builds it with
 * `gcc -shared -fPIC -O2` and times `/bin/true` under it against libgvnet.so. */
__attribute__((constructor)) static void gvnet_bench_empty(void) {}
