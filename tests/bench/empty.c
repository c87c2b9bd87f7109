/*
 * empty.c - a preload library with nothing in it: the baseline for the
 * cost of starting a program with libshmguard preloaded (bench_start).
 */
int bench_empty_library_marker;
