/*
 * sg_config.h - the library's configuration, read once from SHMGUARD_*.
 *
 * Every SHMGUARD_* variable is read here and nowhere else, with
 * secure_getenv(), so a setuid/setgid process ignores them all.  The
 * parsing function takes a getter so tests can feed it any environment.
 */
#ifndef SG_CONFIG_H
#define SG_CONFIG_H

#include <limits.h>

enum sg_mode { SG_MODE_OFF = 0, SG_MODE_OBSERVE = 1, SG_MODE_DEFER = 2 };
enum sg_sink { SG_SINK_STDERR = 0, SG_SINK_SYSLOG = 1, SG_SINK_FILE = 2 };

#define SG_LEDGER_DIR_DEFAULT "/dev/shm/shmguard"

/* In the order a parse writes it: what every process writes (the three
 * words, problems[0], the ledger directory) lies together, so that a
 * process's first call touches one or two pages of it, not three. */
struct sg_config {
    enum sg_mode mode;          /* SHMGUARD_MODE: off|observe|defer */
    enum sg_sink sink;          /* SHMGUARD_LOG: stderr|syslog|PATH */
    int debug;                  /* SHMGUARD_DEBUG: 0..3 */
    char problems[256];         /* what was rejected, "" if nothing */
    char ledger_dir[PATH_MAX];  /* SHMGUARD_LEDGER: directory of ledgers */
    char log_path[PATH_MAX];    /* set only when sink == SG_SINK_FILE */
};

/* Fill *c from getter (NULL getter: defaults only).  Unknown or malformed
 * values fall back to the default and are described in c->problems. */
void sg_config_parse(struct sg_config *c, const char *(*getter)(const char *));

/* The process's configuration, parsed once on first use (thread-safe). */
const struct sg_config *sg_config_get(void);

/* 1 if the environment says SHMGUARD_MODE=off (and the process is not in
 * secure execution): what sg_config_get() would read as SG_MODE_OFF,
 * without parsing the rest or keeping anything.  For the library's first
 * call, which in off mode then sets nothing up. */
int sg_config_mode_off(void);

const char *sg_mode_name(enum sg_mode m);

#endif
