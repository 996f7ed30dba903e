/* src/util/file.c: only regular files are read; writes never go through a planted link. */
#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "derpcheck/util/file.h"

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/derpcheck-test-file.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *path_in(const char *name)
{
	static char p[4][128];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	static char buf[256];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_open_regular_refuses_a_fifo_without_blocking(void **state)
{
	(void)state;
	assert_int_equal(mkfifo(path_in("fifo"), 0600), 0);
	struct dc_error err;
	assert_int_equal(dc_file_open_regular(path_in("fifo"), &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(err.what, "is a FIFO (named pipe), not a regular file");
	assert_string_equal(err.where, path_in("fifo"));
	assert_non_null(strstr(err.hint, "give - and redirect it"));
}

static void test_open_regular_refuses_directories_and_devices(void **state)
{
	(void)state;
	struct dc_error err;
	assert_int_equal(dc_file_open_regular(dir, &err), -1);
	assert_string_equal(err.what, "is a directory, not a regular file");
	assert_int_equal(dc_file_open_regular("/dev/null", &err), -1);
	assert_string_equal(err.what, "is a character device, not a regular file");
	assert_int_equal(dc_file_check_regular("/dev/null", &err), -1);
	assert_int_equal(errno, EINVAL);
}

static void test_open_regular_reports_a_missing_file_with_its_errno(void **state)
{
	(void)state;
	struct dc_error err;
	assert_int_equal(dc_file_open_regular(path_in("missing"), &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(err.what, "cannot open: No such file or directory");
}

static void test_open_regular_follows_a_link_to_a_regular_file(void **state)
{
	(void)state;
	struct dc_error err;
	assert_int_equal(dc_file_write_atomic(path_in("real"), "abc", 3, 0600, &err), 0);
	assert_int_equal(symlink("real", path_in("link")), 0);
	int fd = dc_file_open_regular(path_in("link"), &err);
	assert_true(fd >= 0);
	struct dc_buf b = {0};
	assert_int_equal(dc_file_read_fd(fd, "link", 100, &b, &err), 0);
	close(fd);
	assert_string_equal(b.data, "abc");
	assert_int_equal(fcntl(fd, F_GETFD), -1); /* closed, and it was blocking, not O_NONBLOCK */
	dc_buf_free(&b);
}

static void test_read_fd_refuses_more_than_max_with_efbig(void **state)
{
	(void)state;
	struct dc_error err;
	assert_int_equal(dc_file_write_atomic(path_in("big"), "0123456789", 10, 0600, &err), 0);
	int fd = dc_file_open_regular(path_in("big"), &err);
	struct dc_buf b = {0};
	assert_int_equal(dc_file_read_fd(fd, "big", 9, &b, &err), -1);
	assert_int_equal(errno, EFBIG);
	assert_string_equal(err.what, "larger than 9 bytes");
	close(fd);
	dc_buf_free(&b);
}

static void test_write_atomic_replaces_a_link_instead_of_writing_through_it(void **state)
{
	(void)state;
	struct dc_error err;
	assert_int_equal(dc_file_write_atomic(path_in("victim"), "precious", 8, 0600, &err), 0);
	assert_int_equal(symlink("victim", path_in("out")), 0);
	assert_int_equal(dc_file_write_atomic(path_in("out"), "report", 6, 0644, &err), 0);
	assert_string_equal(slurp(path_in("victim")), "precious");
	assert_string_equal(slurp(path_in("out")), "report");
	struct stat st;
	assert_int_equal(lstat(path_in("out"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0644);
}

static void test_write_atomic_leaves_no_temporary_file(void **state)
{
	(void)state;
	struct dc_error err;
	assert_int_equal(dc_file_write_atomic(path_in("clean"), "x", 1, 0644, &err), 0);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "ls -A %s | grep -q '^\\.clean\\.'", dir);
	assert_int_not_equal(system(cmd), 0);
}

static void test_write_atomic_into_a_missing_directory_says_so(void **state)
{
	(void)state;
	struct dc_error err;
	assert_int_equal(dc_file_write_atomic(path_in("nodir/out"), "x", 1, 0644, &err), -1);
	assert_string_equal(err.what, "cannot create a temporary file next to it: No such file or directory");
	assert_string_equal(err.where, path_in("nodir/out"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_regular_refuses_a_fifo_without_blocking),
		cmocka_unit_test(test_open_regular_refuses_directories_and_devices),
		cmocka_unit_test(test_open_regular_reports_a_missing_file_with_its_errno),
		cmocka_unit_test(test_open_regular_follows_a_link_to_a_regular_file),
		cmocka_unit_test(test_read_fd_refuses_more_than_max_with_efbig),
		cmocka_unit_test(test_write_atomic_replaces_a_link_instead_of_writing_through_it),
		cmocka_unit_test(test_write_atomic_leaves_no_temporary_file),
		cmocka_unit_test(test_write_atomic_into_a_missing_directory_says_so),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
