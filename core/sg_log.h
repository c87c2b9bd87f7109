/*
 * sg_log.h - the library's log sink: stderr, syslog or a file.
 *
 * Each message goes out with a single write(2) (or one syslog() call), so
 * lines from concurrent processes never interleave.  Messages are
 * rate-limited per process: a crash loop cannot flood a log.  errno is
 * preserved by every function here.  The library never writes to stdout,
 * and keeps no descriptor open (syslog messages are sent on a socket
 * opened for each one).  Messages go to the configured log file or
 * syslog, or to descriptor 2 only while it is the stderr the process
 * started with (its identity is taken when this file is loaded) or a
 * file opened write-only for appending (a program's error log made its
 * stderr, as httpd does); anything else there (a data file that took the
 * number after the program closed its stderr) gets nothing, and the
 * message goes to syslog instead.
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
