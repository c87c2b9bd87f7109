/*
 * tool_table.h - the tables `shmguard ls` prints, in one of two backends.
 *
 * On a terminal, and for --raw and --json, libsmartcols prints the table
 * (it fits columns to the terminal's width, escapes raw cells, writes
 * JSON).  Into a pipe or a file in the C locale, where libsmartcols would
 * neither truncate nor fit anything, the table is aligned here instead:
 * the same layout byte for byte (tests/test_table.c compares the two), at
 * a fraction of libsmartcols' per-character width computation, which was
 * most of the time of listing 32,000 segments.
 */
#ifndef SG_TOOL_TABLE_H
#define SG_TOOL_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct tt;

/* Output modes, as the ls options set them. */
struct tt_mode {
    int json, raw, noheadings;
    int term;           /* -1: stdout is a terminal or not (isatty); 0 or 1: forced */
};

/* A new table named name (the JSON object's key) printed to out.
 * Returns NULL when out of memory. */
struct tt *tt_new(FILE *out, const char *name, const struct tt_mode *m);

/* Add a column: name, libsmartcols width hint, SCOLS_FL_* flags, and its
 * SCOLS_JSON_* type (used only with JSON; arrays take "\n"-separated
 * cells).  Columns are added before the first line.  0, or -1 out of
 * memory. */
int tt_add_column(struct tt *t, const char *name, double whint, int flags, int json_type);

/* Start a new line; the cells that are not set stay empty.  0, or -1 out
 * of memory. */
int tt_new_line(struct tt *t);

/* Set cell col of the current line to a copy of data (NULL: empty).
 * 0, or -1 out of memory. */
int tt_set(struct tt *t, size_t col, const char *data);
/* A copy of s (malloc'd; NULL when out of memory) that is valid UTF-8
 * without control characters: each byte that is neither becomes the four
 * characters \xNN ("\n" is kept when keep_nl, the separator of list
 * cells).  For names any process may choose (comm, paths). */
char *tt_clean(const char *s, int keep_nl);

/* Print the table.  0, or -1 with errno set when it could not be
 * written. */
int tt_print(struct tt *t);

/* 1 when the table is aligned here rather than by libsmartcols. */
int tt_is_direct(const struct tt *t);

void tt_free(struct tt *t);

#endif
