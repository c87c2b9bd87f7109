/*
 * tool_table.c - the tables of `shmguard ls`: libsmartcols, or aligned
 * here when the output is neither a terminal, raw nor JSON.
 *
 * The direct backend keeps every cell, already escaped, in one arena and
 * each column's widest cell, then prints the lines with the layout
 * libsmartcols gives a non-terminal table in the C locale (the locale the
 * tool runs in): a cell escapes a byte outside printable ASCII, and a
 * backslash before 'x', as "\xHH"; a column is as wide as its widest cell,
 * at least as wide as its name, and widened to its width hint when both
 * the cells and the name are narrower; one space between columns; cells
 * are padded on the right (on the left for right-aligned columns) except
 * the last column's; a table without lines prints nothing, not even its
 * heading.  tests/test_table.c prints random tables both ways
 * and compares them byte for byte, so a libsmartcols that lays tables out
 * differently shows up there.
 */
#define _GNU_SOURCE
#include "tool_table.h"

#include <errno.h>
#include <libsmartcols/libsmartcols.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tt_col {
    char *name;
    double whint;
    int flags;
    size_t width;       /* widest escaped cell */
};

struct tt_cell {
    uint32_t off, len;  /* escaped text in the arena; len 0: empty */
};

struct tt {
    FILE *out;
    int direct, noheadings, json;
    /* libsmartcols backend */
    struct libscols_table *sc;
    struct libscols_line *ln;
    /* direct backend */
    struct tt_col *col;
    size_t ncols;
    struct tt_cell *cell;       /* nlines * ncols */
    size_t nlines, cap_lines;
    char *arena;
    size_t alen, acap;
};

struct tt *tt_new(FILE *out, const char *name, const struct tt_mode *m)
{
    struct tt *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->out = out;
    t->noheadings = m->noheadings;
    int term = m->term >= 0 ? m->term : isatty(STDOUT_FILENO);
    t->direct = !m->json && !m->raw && !term && MB_CUR_MAX == 1;
    if (t->direct)
        return t;
    t->sc = scols_new_table();
    if (!t->sc) {
        free(t);
        return NULL;
    }
    scols_table_set_name(t->sc, name);
    scols_table_set_stream(t->sc, out);
    scols_table_enable_json(t->sc, m->json);
    scols_table_enable_raw(t->sc, m->raw);
    scols_table_enable_noheadings(t->sc, m->noheadings);
    if (m->term >= 0)
        scols_table_set_termforce(t->sc, m->term ? SCOLS_TERMFORCE_ALWAYS : SCOLS_TERMFORCE_NEVER);
    t->json = m->json;
    return t;
}

int tt_is_direct(const struct tt *t)
{
    return t->direct;
}

int tt_add_column(struct tt *t, const char *name, double whint, int flags, int json_type)
{
    if (!t->direct) {
        int array = json_type == SCOLS_JSON_ARRAY_STRING || json_type == SCOLS_JSON_ARRAY_NUMBER;
        /* Lists are "\n"-separated multi-line cells for JSON arrays. */
        int wrap = t->json && array ? SCOLS_FL_WRAP : 0;
        struct libscols_column *cl = scols_table_new_column(t->sc, name, whint, flags | wrap);
        if (!cl)
            return -1;
        if (t->json) {
            scols_column_set_json_type(cl, json_type);
            if (array)
                scols_column_set_wrapfunc(cl, scols_wrapnl_chunksize, scols_wrapnl_nextchunk, NULL);
        }
        return 0;
    }
    if (t->nlines)
        return errno = EINVAL, -1;
    struct tt_col *nc = realloc(t->col, (t->ncols + 1) * sizeof *nc);
    if (!nc)
        return -1;
    t->col = nc;
    struct tt_col *c = &t->col[t->ncols];
    c->name = strdup(name);
    if (!c->name)
        return -1;
    c->whint = whint;
    c->flags = flags;
    c->width = 0;
    t->ncols++;
    return 0;
}

int tt_new_line(struct tt *t)
{
    if (!t->direct) {
        t->ln = scols_table_new_line(t->sc, NULL);
        return t->ln ? 0 : -1;
    }
    if (t->nlines == t->cap_lines) {
        size_t n = t->cap_lines ? t->cap_lines * 2 : 256;
        struct tt_cell *c = reallocarray(t->cell, n, t->ncols * sizeof *c);
        if (!c)
            return -1;
        t->cell = c;
        t->cap_lines = n;
    }
    memset(&t->cell[t->nlines * t->ncols], 0, t->ncols * sizeof *t->cell);
    t->nlines++;
    return 0;
}

/* Make room for need more bytes in the arena.  0, or -1 out of memory (or
 * past the 4 GiB the cells' offsets address). */
static int arena_room(struct tt *t, size_t need)
{
    if (t->alen + need <= t->acap)
        return 0;
    size_t n = t->acap ? t->acap : 1 << 16;
    while (n < t->alen + need)
        n *= 2;
    if (n > UINT32_MAX)
        return errno = ENOMEM, -1;
    char *a = realloc(t->arena, n);
    if (!a)
        return -1;
    t->arena = a;
    t->acap = n;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if it is not one
 * (RFC 3629: no overlong forms, surrogates, or code points past U+10FFFF). */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3
             : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
        (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
        return 0;
    return n;
}

char *tt_clean(const char *s, int keep_nl)
{
    size_t n = strlen(s);
    char *out = malloc(4 * n + 1), *w = out;
    if (!out)
        return NULL;
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t k = utf8_len(p);
        int ctl = *p < 0x20 || *p == 0x7f;
        if (k && !(ctl && !(keep_nl && *p == '\n'))) {
            memcpy(w, p, k);
            w += k;
            p += k;
            continue;
        }
        *w++ = '\\';
        *w++ = 'x';
        *w++ = hex[*p >> 4];
        *w++ = hex[*p & 15];
        p++;
    }
    *w = '\0';
    return out;
}

int tt_set(struct tt *t, size_t col, const char *data)
{
    if (!t->direct) {
        if (!t->ln)
            return errno = EINVAL, -1;
        if (!data)
            return 0;
        /* libsmartcols writes a cell's bytes as they are: valid UTF-8 and
         * no control characters but the separators of list cells, or its
         * JSON would not parse and a terminal would obey them. */
        char *clean = tt_clean(data, 1);
        int r = clean && scols_line_set_data(t->ln, col, clean) == 0 ? 0 : -1;
        free(clean);
        return r;
    }
    if (!t->nlines || col >= t->ncols)
        return errno = EINVAL, -1;
    if (!data || !data[0])
        return 0;
    size_t n = strlen(data);
    if (n > UINT32_MAX / 4 || arena_room(t, 4 * n) != 0) /* every byte escaped at worst */
        return -1;
    static const char hex[] = "0123456789abcdef";
    char *w = t->arena + t->alen;
    for (const unsigned char *p = (const unsigned char *)data; *p; p++) {
        if (*p >= 0x20 && *p < 0x7f && !(*p == '\\' && p[1] == 'x')) {
            *w++ = (char)*p;
            continue;
        }
        *w++ = '\\';
        *w++ = 'x';
        *w++ = hex[*p >> 4];
        *w++ = hex[*p & 15];
    }
    struct tt_cell *c = &t->cell[(t->nlines - 1) * t->ncols + col];
    c->off = (uint32_t)t->alen;
    c->len = (uint32_t)(w - (t->arena + t->alen));
    t->alen += c->len;
    if (c->len > t->col[col].width)
        t->col[col].width = c->len;
    return 0;
}

/* Write s (len bytes) into a field of width w: a right-aligned cell is
 * padded on its left; the rest of the field is filled unless fill is 0
 * (the last column). */
static void put_field(FILE *f, const char *s, size_t len, size_t w, int right, int fill)
{
    size_t done = len;
    if (len && right)
        for (; done < w; done++)
            fputc_unlocked(' ', f);
    if (len)
        fwrite_unlocked(s, 1, len, f);
    if (fill)
        for (; done < w; done++)
            fputc_unlocked(' ', f);
}

int tt_print(struct tt *t)
{
    if (!t->direct)
        return scols_print_table(t->sc) == 0 ? 0 : -1;
    /* The widths, as libsmartcols sets them for a non-terminal. */
    for (size_t c = 0; c < t->ncols; c++) {
        struct tt_col *cl = &t->col[c];
        size_t min = strlen(cl->name);
        if (!min)
            min = 1;
        if (cl->width < min)
            cl->width = min;
        else if (cl->whint >= 1 && cl->width < (size_t)cl->whint && min < (size_t)cl->whint)
            cl->width = (size_t)cl->whint;
    }
    FILE *f = t->out;
    if (!t->nlines) /* libsmartcols prints nothing, not even the heading */
        return 0;
    if (!t->noheadings) {
        for (size_t c = 0; c < t->ncols; c++) {
            if (c)
                fputc_unlocked(' ', f);
            put_field(f, t->col[c].name, strlen(t->col[c].name), t->col[c].width,
                      t->col[c].flags & SCOLS_FL_RIGHT, c + 1 < t->ncols);
        }
        fputc_unlocked('\n', f);
    }
    for (size_t l = 0; l < t->nlines; l++) {
        const struct tt_cell *row = &t->cell[l * t->ncols];
        for (size_t c = 0; c < t->ncols; c++) {
            if (c)
                fputc_unlocked(' ', f);
            put_field(f, t->arena + row[c].off, row[c].len, t->col[c].width,
                      t->col[c].flags & SCOLS_FL_RIGHT,
                      c + 1 < t->ncols);
        }
        fputc_unlocked('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

void tt_free(struct tt *t)
{
    if (!t)
        return;
    if (t->sc)
        scols_unref_table(t->sc);
    for (size_t c = 0; c < t->ncols; c++)
        free(t->col[c].name);
    free(t->col);
    free(t->cell);
    free(t->arena);
    free(t);
}
