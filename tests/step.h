/*
 * step.h - drive helper_step processes from a test: start one with a
 * given environment, send it a command, read its one-line answer.  Every
 * read has a timeout, so a hung process fails the test instead of hanging.
 */
#ifndef STEP_H
#define STEP_H

#include "sgtest.h"

struct step {
    pid_t pid;
    FILE *in;       /* commands to the process */
    int out;        /* its answers */
    char buf[4096];
    size_t len;
};

/* Start helper_step with extra env entries (NAME=value; "NAME=" unsets). */
static inline void step_start(struct step *s, char *const env[])
{
    int pin[2], pout[2];
    if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC))
        abort();
    memset(s, 0, sizeof *s);
    s->pid = fork();
    if (s->pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        sgt_apply_env(env);
        const char *h = SGT_HELPER("helper_step");
        execl(h, h, (char *)NULL);
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    s->in = fdopen(pin[1], "w");
    s->out = pout[0];
}

/* Send a command and return its answer line (static buffer per step);
 * "TIMEOUT" if none within 10 s, "EOF" if the process went away. */
static inline const char *step(struct step *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline const char *step(struct step *s, const char *fmt, ...)
{
    static __thread char line[512];
    va_list ap;
    va_start(ap, fmt);
    vfprintf(s->in, fmt, ap);
    va_end(ap);
    fputc('\n', s->in);
    fflush(s->in);
    for (;;) {
        char *nl = memchr(s->buf, '\n', s->len);
        if (nl) {
            size_t n = (size_t)(nl - s->buf);
            snprintf(line, sizeof line, "%.*s", (int)n, s->buf);
            memmove(s->buf, nl + 1, s->len - n - 1);
            s->len -= n + 1;
            return line;
        }
        struct pollfd p = { s->out, POLLIN, 0 };
        if (poll(&p, 1, 10000) <= 0)
            return "TIMEOUT";
        ssize_t r = read(s->out, s->buf + s->len, sizeof s->buf - s->len - 1);
        if (r <= 0)
            return "EOF";
        s->len += (size_t)r;
    }
}

/* The id from an answer "id N", or -1. */
static inline int step_id(const char *answer)
{
    int id;
    return sscanf(answer, "id %d", &id) == 1 ? id : -1;
}

/* Ask the process to exit normally and reap it (bounded). */
static inline int step_end(struct step *s, const char *how)
{
    fprintf(s->in, "%s\n", how);
    fclose(s->in);
    close(s->out);
    for (int i = 0; i < 1000; i++) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid)
            return st;
        usleep(10000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    return -1;
}

/* SIGKILL the process and reap it. */
static inline void step_kill(struct step *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    fclose(s->in);
    close(s->out);
}

#endif
