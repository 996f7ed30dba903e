/*
 * Helpers shared by the unit tests. Header-only (every test_*.c is its own program), so
 * everything here is static inline: a test file pays only for what it uses.
 */
#ifndef DERPCHECK_TESTLIB_H
#define DERPCHECK_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "derpcheck/input/derpmap.h"
#include "derpcheck/judge/findings.h"
#include "derpcheck/input/hujson.h"
#include "derpcheck/net/netaddr.h"

/*
 * JSON in C strings drowns in backslashes, so tests write 'single quotes' and this
 * turns them into double quotes (one byte for one byte: line:col stay the same).
 * The caller frees the copy.
 */
static inline char *dq(const char *s)
{
	char *out = strdup(s);
	for (char *p = out; *p; p++)
		if (*p == '\'')
			*p = '"';
	return out;
}

/* An address (and port) the test writes as text; it must parse. */
static inline struct dc_endpoint endpoint_of(const char *ip, uint16_t port)
{
	struct dc_endpoint e;
	assert_int_equal(dc_ip_parse(ip, 0, &e), 0);
	e.port = port;
	return e;
}

/* Parse text that must be valid HuJSON (single quotes allowed, see dq). */
static inline struct dc_json *parse_ok(const char *squoted)
{
	char *text = dq(squoted);
	struct dc_error err;
	struct dc_json *root = dc_hujson_parse(text, strlen(text), &err);
	if (!root)
		fail_msg("test input does not parse: %u:%u: %s\n%s", err.pos.line, err.pos.col, err.what, text);
	free(text);
	return root;
}

/* A document parsed and decoded into a map, with the decoder's findings. */
struct decoded {
	struct dc_derpmap map;
	struct dc_findings findings;
	int rc;
};

static inline void decode_text(const char *squoted, struct decoded *d)
{
	memset(d, 0, sizeof(*d));
	struct dc_json *root = parse_ok(squoted);
	d->rc = dc_derpmap_decode(root, &d->map, &d->findings);
	dc_json_free(root);
}

static inline void decoded_free(struct decoded *d)
{
	dc_derpmap_free(&d->map);
	dc_findings_free(&d->findings);
}

/* The first finding with this code, or NULL. */
static inline const struct dc_finding *find_code(const struct dc_findings *f, const char *code)
{
	for (size_t i = 0; i < f->count; i++)
		if (strcmp(f->items[i].code, code) == 0)
			return &f->items[i];
	return NULL;
}

static inline size_t count_code(const struct dc_findings *f, const char *code)
{
	size_t n = 0;
	for (size_t i = 0; i < f->count; i++)
		n += strcmp(f->items[i].code, code) == 0;
	return n;
}

/* Print findings (for a failing test's output). */
static inline void dump_findings(const struct dc_findings *f)
{
	for (size_t i = 0; i < f->count; i++)
		print_message("    %u:%u %s %s %s: %s\n", f->items[i].pos.line, f->items[i].pos.col,
			      dc_severity_name(f->items[i].severity), f->items[i].code, f->items[i].path,
			      f->items[i].message);
}

/*
 * The checks below report the caller's file and line when they fail (they are macros
 * around functions that take the location, as cmocka's own asserts are).
 */

/* The finding with this code, failing the test (and listing what was found) if absent. */
#define expect_code(f, code) expect_code_at((f), (code), __FILE__, __LINE__)
static inline const struct dc_finding *expect_code_at(const struct dc_findings *f, const char *code,
						      const char *file, int line)
{
	const struct dc_finding *x = find_code(f, code);
	if (!x) {
		dump_findings(f);
		print_error("expected a \"%s\" finding\n", code);
		_fail(file, line);
	}
	return x;
}

#define expect_no_code(f, code) expect_no_code_at((f), (code), __FILE__, __LINE__)
static inline void expect_no_code_at(const struct dc_findings *f, const char *code, const char *file, int line)
{
	if (find_code(f, code)) {
		dump_findings(f);
		print_error("expected no \"%s\" finding\n", code);
		_fail(file, line);
	}
}

#define expect_no_findings(f) expect_no_findings_at((f), __FILE__, __LINE__)
static inline void expect_no_findings_at(const struct dc_findings *f, const char *file, int line)
{
	if (f->count) {
		dump_findings(f);
		print_error("expected no findings, got %zu\n", f->count);
		_fail(file, line);
	}
}

#define assert_pos(pos, line, col) assert_pos_at((pos), (line), (col), __FILE__, __LINE__)
static inline void assert_pos_at(struct dc_srcpos pos, unsigned line, unsigned col, const char *file, int at)
{
	if (pos.line != line || pos.col != col) {
		print_error("expected position %u:%u, got %u:%u\n", line, col, pos.line, pos.col);
		_fail(file, at);
	}
}

/* Whether haystack contains needle; fails with both strings shown if not. */
#define assert_contains(haystack, needle)                                                   \
	do {                                                                                \
		const char *hay_ = (haystack);                                              \
		if (!hay_ || !strstr(hay_, (needle)))                                       \
			fail_msg("expected \"%s\" to contain \"%s\"", hay_ ? hay_ : "(null)", \
				 (needle));                                                  \
	} while (0)

/*
 * Checks inside run_isolated (a forked child cannot use cmocka's asserts: a failure
 * would unwind into the child's copy of the test runner).
 */
#define CHILD_CHECK(cond)                                                                   \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: child check failed: %s\n", __FILE__, __LINE__, #cond); \
			return false;                                                       \
		}                                                                           \
	} while (0)

/*
 * Run fn in a forked child, for tests of code that may corrupt memory: the child's
 * crash, a failed CHILD_CHECK, or (under ASan) a leak found when it exits fails the test
 * without taking the other tests down with it.
 */
#define run_isolated(fn) run_isolated_at((fn), __FILE__, __LINE__)
static inline void run_isolated_at(bool (*fn)(void), const char *file, int line)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		fail_msg("fork failed");
	if (pid == 0)
		exit(fn() ? 0 : 1); /* exit, not _exit: LeakSanitizer checks at exit */
	int status = 0;
	if (waitpid(pid, &status, 0) != pid)
		fail_msg("waitpid failed");
	if (WIFSIGNALED(status)) {
		print_error("the child died of signal %d\n", WTERMSIG(status));
		_fail(file, line);
	}
	if (WEXITSTATUS(status) != 0) {
		print_error("the child exited with status %d (a failed check, or a sanitizer report above)\n",
			    WEXITSTATUS(status));
		_fail(file, line);
	}
}

#endif
