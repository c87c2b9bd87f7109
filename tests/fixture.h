/*
 * fixture.h - the per-program fixture most multi-process tests share: a
 * private ledger directory, the environment that preloads the library
 * with it (lib_env) or runs bare (bare_env), and cmocka setup/teardown
 * that create and remove them and clear this namespace's segments.
 * Include once per test program, after sgtest.h.
 */
#ifndef FIXTURE_H
#define FIXTURE_H

#include "sgtest.h"

static char dir[PATH_MAX];
static char env_ledger[PATH_MAX + 32];
static char env_preload[PATH_MAX + 32];
static char *lib_env[] __attribute__((unused)) = { env_preload, env_ledger, "SHMGUARD_MODE=", NULL };
static char *bare_env[] __attribute__((unused)) = { "LD_PRELOAD=", env_ledger, NULL };

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s", sgt_ledger_dir());
    snprintf(env_ledger, sizeof env_ledger, "SHMGUARD_LEDGER=%s", dir);
    snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s", SGT_LIB);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sgt_clear_ipc();
    sgt_msgmni_restore();
    sgt_rmdir(dir);
    return 0;
}

__attribute__((unused)) static int after_each(void **state)
{
    (void)state;
    sgt_clear_ipc();
    return 0;
}

#endif
