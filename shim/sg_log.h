/*
 * sg_log.h - the library's log sink: stderr, syslog or a file.
 *
 * Each message goes out with a single write(2) (or one syslog() call), so
 * lines from concurrent processes never interleave.  Messages are
 * rate-limited per process: a crash loop cannot flood a log.  errno is
 * preserved by every function here.  The library never writes to stdout.
 */
#ifndef SG_LOG_H
#define SG_LOG_H

#include "sg_config.h"

/* Send one message (printf format, no trailing newline needed) at a
 * debug level: level 0 messages always go out (subject to rate limiting),
 * level N only when SHMGUARD_DEBUG >= N. */
void sg_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like sg_log(0, ...) but only the first call with the same *once flag
 * in this process emits anything. */
void sg_log_once(int *once, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Use this configuration for the sink (default: sg_config_get()). */
void sg_log_use(const struct sg_config *c);

#endif
