/*
 * tool_enable.c - `shmguard enable SERVICE` and `shmguard disable
 * SERVICE`: a systemd drop-in (SERVICE.service.d/shmguard.conf) that
 * preloads the library into a service and, before each start, removes
 * that service's own orphans (`shmguard gc --user U --command C`), so
 * that a service killed uncleanly (httpd's AH00023 "No space left on
 * device" at its next start) starts again; and its removal.  Both say
 * what changed and what to run next: systemd reads drop-ins only at a
 * daemon-reload.
 */
#define _GNU_SOURCE
#include "tool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNIT_DIR_DEFAULT "/etc/systemd/system"
#define DROPIN "shmguard.conf"

static void enable_usage(FILE *f, const char *cmd)
{
    int en = !strcmp(cmd, "enable");
    fprintf(f,
            "Usage:\n"
            " %s %s [options] <service>\n"
            "\n",
            sg_prog, cmd);
    if (en)
        fprintf(f,
                "Write a systemd drop-in for the service (<unit-dir>/<service>.service.d/\n"
                "shmguard.conf) that preloads libshmguard.so into it and, before each start,\n"
                "removes its own orphans: segments and semaphore sets that the ledger says a\n"
                "process of its command created, owned or created by its user, whose creator\n"
                "and users are dead (shmguard gc --user <user> --command <name>).  A service\n"
                "killed uncleanly then starts again instead of failing with \"No space left\n"
                "on device\".  Run systemctl daemon-reload and restart the service after it.\n"
                "\n"
                "Options:\n"
                "     --user <user>      the service's user (default: the unit's User=, its\n"
                "                        drop-ins' too, else root; needed with DynamicUser=)\n"
                "     --command <name>   its processes' name as ps shows it (default: the\n"
                "                        service's name up to '@' or '.', 15 bytes at most)\n"
                "     --library <path>   the library to preload (default: the one installed\n"
                "                        beside this shmguard)\n");
    else
        fprintf(f,
                "Remove the drop-in that 'shmguard enable' wrote for the service.  Run\n"
                "systemctl daemon-reload and restart the service after it.\n"
                "\n"
                "Options:\n");
    fprintf(f,
            "     --unit-dir <dir>   where drop-ins go (default: %s)\n"
            "\n"
            " -h, --help             display this help\n"
            " -V, --version          display version\n"
            "\n"
            "Exit status:\n"
            " 0  done (disable: also when there was nothing to remove)\n"
            " 1  error or bad usage\n"
            "\n"
            "For more details see shmguard(1).\n",
            UNIT_DIR_DEFAULT);
}

/* NAME or NAME.service (or a template instance NAME@I.service): the unit
 * name with ".service" into unit; -1 for anything else. */
static int unit_name(const char *arg, char *unit, size_t n)
{
    size_t l = strlen(arg);
    if (l == 0 || l > 200)
        return -1;
    for (const char *p = arg; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
            !strchr(":_.@-\\", *p))
            return -1;
    if (arg[0] == '.' || arg[0] == '-')
        return -1;
    const char *suf = ".service";
    int has = l > 8 && !strcmp(arg + l - 8, suf);
    if (!has && strchr(arg, '.'))
        return -1; /* another kind of unit (.socket, .timer) */
    snprintf(unit, n, "%s%s", arg, has ? "" : suf);
    return 0;
}

/* 1 if s needs no quoting in a unit file's command line: letters, digits
 * and _.:+@- only (no quotes, no ';' separator, no '%' specifier, no '$'
 * expansion, no space). */
static int unit_word(const char *s)
{
    for (; *s; s++)
        if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') && !(*s >= '0' && *s <= '9') &&
            !strchr("_.:+@-", *s))
            return 0;
    return 1;
}

/* Read the [Service] User= and DynamicUser= settings of one unit file or
 * drop-in into *user / *dynamic (later settings win, as in systemd).
 * Keys and values may have blanks around '='.  0 if the file was read. */
static int read_unit_file(const char *path, char *user, size_t n, int *dynamic, int *have_user)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    char line[512];
    int in_service = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *p = line + strspn(line, " \t");
        if (*p == '[') {
            in_service = !strncmp(p, "[Service]", 9);
            continue;
        }
        char *eq = strchr(p, '=');
        if (!in_service || !eq)
            continue;
        char *ke = eq;
        while (ke > p && (ke[-1] == ' ' || ke[-1] == '\t'))
            ke--;
        char *v = eq + 1 + strspn(eq + 1, " \t");
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            v[--vl] = '\0';
        size_t kl = (size_t)(ke - p);
        if (kl == 4 && !strncmp(p, "User", 4)) {
            if (vl && vl < n) {
                memcpy(user, v, vl + 1);
                *have_user = 1;
            } else if (!vl)
                *have_user = 0; /* "User=" resets */
        } else if (kl == 11 && !strncmp(p, "DynamicUser", 11))
            *dynamic = !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on");
    }
    fclose(f);
    return 0;
}

/* The unit's user from its unit file (the first of systemd's unit
 * directories that has it; a template instance's "name@.service") and
 * its drop-ins (unit.d/ *.conf in each directory, in name order): 0 with
 * the User= in user; -1 when none is set (root); -2 when it runs under a
 * DynamicUser=, whose uid exists only while it runs. */
static int unit_user(const char *unit, const char *unit_dir, char *user, size_t n)
{
    const char *dirs[] = { unit_dir, "/etc/systemd/system", "/run/systemd/system",
                           "/lib/systemd/system", "/usr/lib/systemd/system" };
    char tmpl[256] = "";
    const char *at = strchr(unit, '@');
    if (at && at[1] != '.')
        snprintf(tmpl, sizeof tmpl, "%.*s@.service", (int)(at - unit), unit);
    int dynamic = 0, have = 0, found = 0;
    size_t nd = sizeof dirs / sizeof dirs[0];
    for (size_t i = 0; i < nd && !found; i++) {
        char path[PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", dirs[i], unit);
        found = read_unit_file(path, user, n, &dynamic, &have) == 0;
        if (!found && tmpl[0]) {
            snprintf(path, sizeof path, "%s/%s", dirs[i], tmpl);
            found = read_unit_file(path, user, n, &dynamic, &have) == 0;
        }
    }
    for (size_t i = nd; i-- > 0;) { /* drop-ins: /etc's last, so they win */
        const char *names[2] = { unit, tmpl };
        for (int k = 0; k < 2; k++) {
            if (!names[k][0])
                continue;
            char dir[PATH_MAX + 256];
            snprintf(dir, sizeof dir, "%s/%s.d", dirs[i], names[k]);
            struct dirent **list = NULL;
            int m = scandir(dir, &list, NULL, alphasort);
            for (int e = 0; e < m; e++) {
                size_t l = strlen(list[e]->d_name);
                if (l > 5 && !strcmp(list[e]->d_name + l - 5, ".conf")) {
                    char path[2 * PATH_MAX + 512];
                    snprintf(path, sizeof path, "%s/%s", dir, list[e]->d_name);
                    read_unit_file(path, user, n, &dynamic, &have);
                }
                free(list[e]);
            }
            free(list);
        }
    }
    if (dynamic)
        return -2;
    return have ? 0 : -1;
}

/* Write text to path through a temporary file renamed over it. */
static int write_atomic(const char *path, const char *text)
{
    char tmp[PATH_MAX + 64];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fchmod(fd, 0644) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            errno = e;
            return -1;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int cmd_enable(int argc, char **argv)
{
    const char *cmd = argv[0];
    int en = !strcmp(cmd, "enable");
    enum { OPT_USER = 256, OPT_COMMAND, OPT_LIBRARY, OPT_UNITDIR };
    static const struct option opts[] = {
        { "user", required_argument, NULL, OPT_USER },
        { "command", required_argument, NULL, OPT_COMMAND },
        { "library", required_argument, NULL, OPT_LIBRARY },
        { "unit-dir", required_argument, NULL, OPT_UNITDIR },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *user = NULL, *command = NULL, *library = NULL, *unit_dir = UNIT_DIR_DEFAULT;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hV", opts, NULL)) != -1) {
        switch (c) {
        case OPT_USER: user = optarg; break;
        case OPT_COMMAND: command = optarg; break;
        case OPT_LIBRARY: library = optarg; break;
        case OPT_UNITDIR: unit_dir = optarg; break;
        case 'h': enable_usage(stdout, cmd); return SG_EXIT_OK;
        case 'V': tool_print_version(); return SG_EXIT_OK;
        default: tool_getopt_error(cmd, c, argv); return SG_EXIT_FAILURE;
        }
    }
    if (!en && (user || command || library)) {
        tool_cmd_usage_error(cmd, "--user, --command and --library are options of enable");
        return SG_EXIT_FAILURE;
    }
    if (optind != argc - 1) {
        tool_cmd_usage_error(cmd, optind >= argc ? "a service name is needed"
                                                 : "one service at a time");
        return SG_EXIT_FAILURE;
    }
    char unit[256];
    if (unit_name(argv[optind], unit, sizeof unit) != 0) {
        tool_cmd_usage_error(cmd, "not a service name: '%s'", argv[optind]);
        return SG_EXIT_FAILURE;
    }
    if (unit_dir[0] != '/') {
        tool_cmd_usage_error(cmd, "--unit-dir must be an absolute path: '%s'", unit_dir);
        return SG_EXIT_FAILURE;
    }
    char ddir[PATH_MAX], path[PATH_MAX + 32];
    snprintf(ddir, sizeof ddir, "%s/%s.d", unit_dir, unit);
    snprintf(path, sizeof path, "%s/" DROPIN, ddir);

    if (!en) {
        if (unlink(path) != 0) {
            if (errno == ENOENT) {
                printf("%s: %s: not enabled (no %s); nothing changed\n", sg_prog, unit, path);
                return SG_EXIT_OK;
            }
            fprintf(stderr, "%s: disable: cannot remove %s: %m\n", sg_prog, path);
            return SG_EXIT_FAILURE;
        }
        rmdir(ddir); /* only if empty: other drop-ins stay */
        printf("%s: %s: removed %s (no preload, no gc before start)\n"
               "run: systemctl daemon-reload && systemctl restart %s\n",
               sg_prog, unit, path, unit);
        return SG_EXIT_OK;
    }

    /* The service's user and command. */
    char ubuf[64] = "root", cbuf[SG_COMM_LEN];
    if (user)
        snprintf(ubuf, sizeof ubuf, "%s", user);
    else if (unit_user(unit, unit_dir, ubuf, sizeof ubuf) == -2) {
        tool_cmd_usage_error(cmd, "%s runs under DynamicUser=, a uid that exists only while it "
                                  "runs: give --user (its objects' owner) or leave it alone",
                             unit);
        return SG_EXIT_FAILURE;
    }
    uid_t uid;
    if (tool_parse_user(ubuf, &uid) != 0) {
        tool_cmd_usage_error(cmd, "--user: no such user: '%s'", ubuf);
        return SG_EXIT_FAILURE;
    }
    if (command)
        snprintf(cbuf, sizeof cbuf, "%s", command);
    else
        snprintf(cbuf, sizeof cbuf, "%.*s", (int)strcspn(unit, "@."), unit);
    if (!cbuf[0] || strchr(cbuf, '/') || (command && strlen(command) >= SG_COMM_LEN)) {
        tool_cmd_usage_error(cmd, "--command: a process name of 1 to %d bytes, no '/': '%s'",
                             SG_COMM_LEN - 1, command ? command : cbuf);
        return SG_EXIT_FAILURE;
    }
    if (!unit_word(cbuf)) {
        tool_cmd_usage_error(cmd, "--command: '%s' holds a character a unit file would have to "
                                  "quote (only letters, digits and _.:+@- are taken)", cbuf);
        return SG_EXIT_FAILURE;
    }
    if (!unit_word(ubuf)) {
        tool_cmd_usage_error(cmd, "--user: '%s' holds a character a unit file would have to "
                                  "quote (only letters, digits and _.:+@- are taken)", ubuf);
        return SG_EXIT_FAILURE;
    }

    /* The library and this tool, by absolute paths. */
    char lib[PATH_MAX], tried[2 * PATH_MAX + 128], self[PATH_MAX];
    if (library) {
        if (library[0] != '/' || !realpath(library, lib) || access(lib, R_OK) != 0) {
            fprintf(stderr, "%s: enable: --library %s: not a readable absolute path\n", sg_prog,
                    library);
            return SG_EXIT_FAILURE;
        }
    } else if (tool_find_lib(lib, sizeof lib, tried, sizeof tried) != 0) {
        fprintf(stderr, "%s: enable: cannot find libshmguard.so: looked for %s; give --library\n",
                sg_prog, tried);
        return SG_EXIT_FAILURE;
    }
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        fprintf(stderr, "%s: enable: cannot read /proc/self/exe: %m\n", sg_prog);
        return SG_EXIT_FAILURE;
    }
    self[sl] = '\0';
    if (strpbrk(lib, " :\"\\%$") || strpbrk(self, " \"\\%$")) {
        fprintf(stderr, "%s: enable: %s or %s holds a character a unit file would have to quote\n",
                sg_prog, lib, self);
        return SG_EXIT_FAILURE;
    }

    char text[4 * PATH_MAX + 1024];
    snprintf(text, sizeof text,
             "# Written by `shmguard enable %s`; `shmguard disable %s` removes it.\n"
             "# Preloads libshmguard.so into the service (see libshmguard(7)), and before\n"
             "# each start removes the service's own orphans: segments and semaphore sets\n"
             "# that a process of %s made, owned or created by %s, whose creator and\n"
             "# users are dead (\"-\": a failure of that step never stops the start).  gc\n"
             "# itself runs without the library (env -u LD_PRELOAD).\n"
             "[Service]\n"
             "Environment=LD_PRELOAD=%s\n"
             "ExecStartPre=-/usr/bin/env -u LD_PRELOAD %s gc --user %s --command %s\n",
             unit, unit, cbuf, ubuf, lib, self, ubuf, cbuf);
    if (mkdir(ddir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: enable: cannot create %s: %m\n", sg_prog, ddir);
        return SG_EXIT_FAILURE;
    }
    if (write_atomic(path, text) != 0) {
        fprintf(stderr, "%s: enable: cannot write %s: %m\n", sg_prog, path);
        return SG_EXIT_FAILURE;
    }
    printf("%s: %s: wrote %s\n"
           "  preloads %s\n"
           "  before each start: %s gc --user %s --command %s (without the library)\n"
           "run: systemctl daemon-reload && systemctl restart %s\n",
           sg_prog, unit, path, lib, self, ubuf, cbuf, unit);
    return SG_EXIT_OK;
}
