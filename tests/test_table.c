/*
 * test_table.c - the directly aligned tables of `shmguard ls` against
 * libsmartcols.
 *
 * Into a pipe or a file, ls aligns its tables itself (tool_table.c) and
 * promises libsmartcols' layout byte for byte.  These tests print random
 * tables both ways, with libsmartcols itself as the oracle: column names
 * and width hints of every kind, right-aligned and truncatable columns,
 * empty and missing cells, cells with control characters, bytes past
 * ASCII and "\x" sequences, with and without headings, no lines at all.
 * Then the backend choice: JSON, raw and terminal output go to
 * libsmartcols, everything else is aligned here.
 */
#include "sgtest.h"

#include <libsmartcols/libsmartcols.h>

#include "tool_table.c"

struct rcol {
    const char *name;
    double whint;
    int flags;
};

/* A random cell: NULL, "", or up to 30 bytes from a pool that mixes
 * printable ASCII with what has to be escaped. */
static const char *rand_cell(char *buf, size_t n, unsigned *seed)
{
    int kind = rand_r(seed) % 10;
    if (kind == 0)
        return NULL;
    if (kind == 1)
        return "";
    size_t len = (size_t)(rand_r(seed) % 31);
    if (len >= n)
        len = n - 1;
    static const char pool[] = "abcXYZ019 ()-,.\\x\\x";
    for (size_t i = 0; i < len; i++) {
        int k = rand_r(seed) % 20;
        if (kind == 2 && k < 4) /* some cells carry odd bytes */
            buf[i] = (char)(1 + rand_r(seed) % 255);
        else
            buf[i] = pool[rand_r(seed) % (sizeof pool - 1)];
    }
    buf[len] = '\0';
    return buf;
}

/* Fail with the first line where the two outputs differ. */
static void same_or_fail(const char *a, size_t alen, const char *b, size_t blen, unsigned what)
{
    if (alen == blen && memcmp(a, b, alen) == 0)
        return;
    size_t i = 0, line = 1, start = 0;
    for (; i < alen && i < blen && a[i] == b[i]; i++)
        if (a[i] == '\n') {
            line++;
            start = i + 1;
        }
    int la = (int)(strcspn(a + start, "\n")), lb = (int)(strcspn(b + start, "\n"));
    fail_msg("case %u: line %zu differs at column %zu\n direct: [%.*s]\n scols:  [%.*s]", what, line,
             i - start, la, a + start, lb, b + start);
}

/* Print the same random table with tool_table.c (direct) and with
 * libsmartcols (non-terminal); compare. */
static void one_table(unsigned seed)
{
    static const char *names[] = { "A", "ID", "KEY", "SIZE", "STATE", "COMMAND", "ATTACHERS",
                                   "LEDGERUID" };
    static const double hints[] = { 0, 0.3, 1, 2, 3, 5, 6, 8, 12, 20 };
    static const int flags[] = { 0, SCOLS_FL_RIGHT, SCOLS_FL_TRUNC, SCOLS_FL_RIGHT | SCOLS_FL_TRUNC };
    unsigned s = seed;
    size_t ncols = 1 + (size_t)(rand_r(&s) % 8), nlines = (size_t)(rand_r(&s) % 25);
    int nohead = rand_r(&s) % 4 == 0;
    struct rcol cols[8];
    for (size_t c = 0; c < ncols; c++) {
        cols[c].name = names[rand_r(&s) % 8];
        cols[c].whint = hints[rand_r(&s) % 10];
        cols[c].flags = flags[rand_r(&s) % 4];
    }

    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    FILE *fa = open_memstream(&a, &alen), *fb = open_memstream(&b, &blen);
    assert_non_null(fa);
    assert_non_null(fb);
    struct tt_mode m = { .noheadings = nohead, .term = 0 };
    struct tt *t = tt_new(fa, "t", &m);
    assert_non_null(t);
    assert_true(tt_is_direct(t));
    struct libscols_table *sc = scols_new_table();
    assert_non_null(sc);
    scols_table_set_stream(sc, fb);
    scols_table_set_termforce(sc, SCOLS_TERMFORCE_NEVER);
    scols_table_enable_noheadings(sc, nohead);
    for (size_t c = 0; c < ncols; c++) {
        assert_int_equal(tt_add_column(t, cols[c].name, cols[c].whint, cols[c].flags, 0), 0);
        assert_non_null(scols_table_new_column(sc, cols[c].name, cols[c].whint, cols[c].flags));
    }
    for (size_t l = 0; l < nlines; l++) {
        assert_int_equal(tt_new_line(t), 0);
        struct libscols_line *ln = scols_table_new_line(sc, NULL);
        assert_non_null(ln);
        for (size_t c = 0; c < ncols; c++) {
            char buf[64];
            const char *d = rand_cell(buf, sizeof buf, &s);
            assert_int_equal(tt_set(t, c, d), 0);
            if (d)
                assert_int_equal(scols_line_set_data(ln, c, d), 0);
        }
    }
    assert_int_equal(tt_print(t), 0);
    assert_int_equal(scols_print_table(sc), 0);
    tt_free(t);
    scols_unref_table(sc);
    fclose(fa);
    fclose(fb);
    same_or_fail(a, alen, b, blen, seed);
    free(a);
    free(b);
}

static void test_same_as_libsmartcols(void **state)
{
    (void)state;
    for (unsigned seed = 1; seed <= 3000; seed++)
        one_table(seed);
}

/* The cells that must be escaped, one by one, against libsmartcols. */
static void test_escapes(void **state)
{
    (void)state;
    for (int byte = 1; byte < 256; byte++) {
        char cell[8] = { 'a', (char)byte, 'x', 'b', '\0' };
        char *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0;
        FILE *fa = open_memstream(&a, &alen), *fb = open_memstream(&b, &blen);
        struct tt_mode m = { .term = 0 };
        struct tt *t = tt_new(fa, "t", &m);
        struct libscols_table *sc = scols_new_table();
        scols_table_set_stream(sc, fb);
        scols_table_set_termforce(sc, SCOLS_TERMFORCE_NEVER);
        assert_int_equal(tt_add_column(t, "C", 3, 0, 0), 0);
        assert_int_equal(tt_add_column(t, "R", 2, SCOLS_FL_RIGHT, 0), 0);
        scols_table_new_column(sc, "C", 3, 0);
        scols_table_new_column(sc, "R", 2, SCOLS_FL_RIGHT);
        assert_int_equal(tt_new_line(t), 0);
        struct libscols_line *ln = scols_table_new_line(sc, NULL);
        tt_set(t, 0, cell);
        tt_set(t, 1, cell);
        scols_line_set_data(ln, 0, cell);
        scols_line_set_data(ln, 1, cell);
        tt_print(t);
        scols_print_table(sc);
        tt_free(t);
        scols_unref_table(sc);
        fclose(fa);
        fclose(fb);
        same_or_fail(a, alen, b, blen, (unsigned)byte);
        free(a);
        free(b);
    }
}

/* Which backend: only a plain table to a non-terminal is aligned here. */
static void test_backend_choice(void **state)
{
    (void)state;
    static const struct {
        struct tt_mode m;
        int direct;
    } cases[] = {
        { { .term = 0 }, 1 },
        { { .term = 0, .noheadings = 1 }, 1 },
        { { .term = 1 }, 0 },
        { { .term = 0, .raw = 1 }, 0 },
        { { .term = 0, .json = 1 }, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tt *t = tt_new(stdout, "t", &cases[i].m);
        assert_non_null(t);
        assert_int_equal(tt_is_direct(t), cases[i].direct);
        tt_free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_libsmartcols),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_backend_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
