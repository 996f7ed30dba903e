#include "derpcheck/util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *dc_file_kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO (named pipe)";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "not a file";
}

static int not_regular(const char *path, mode_t mode, struct dc_error *err)
{
	dc_error_set(err, path, "is %s, not a regular file", dc_file_kind(mode));
	if (S_ISDIR(mode))
		dc_error_hint(err, "give a file in it, not the directory");
	else
		dc_error_hint(err, "derpcheck reads regular files; to read from a pipe, give - and redirect it: derpcheck validate - < %s",
			      path);
	errno = EINVAL;
	return -1;
}

int dc_file_check_regular(const char *path, struct dc_error *err)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		int e = errno;
		dc_error_set(err, path, "cannot open: %s", strerror(e));
		errno = e;
		return -1;
	}
	return S_ISREG(st.st_mode) ? 0 : not_regular(path, st.st_mode, err);
}

int dc_file_open_regular(const char *path, struct dc_error *err)
{
	/* O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer, forever. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		dc_error_set(err, path, "cannot open: %s", strerror(e));
		errno = e;
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		dc_error_set(err, path, "cannot open: %s", strerror(e));
		errno = e;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return not_regular(path, st.st_mode, err);
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return fd;
}

int dc_file_read_fd(int fd, const char *name, size_t max, struct dc_buf *out, struct dc_error *err)
{
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			dc_error_set(err, name, "read failed: %s", strerror(e));
			errno = e;
			return -1;
		}
		if (out->len + (size_t)n > max) {
			dc_error_set(err, name, "larger than %zu bytes", max);
			errno = EFBIG;
			return -1;
		}
		dc_buf_append(out, chunk, (size_t)n);
	}
	if (!out->data)
		dc_buf_append(out, "", 0);
	return 0;
}

/* "dir/name" -> "dir/.name.XXXXXX": hidden, in the same directory (so rename is atomic). */
static int temp_name(const char *path, char *out, size_t n)
{
	const char *slash = strrchr(path, '/');
	size_t dir_len = slash ? (size_t)(slash - path + 1) : 0;
	const char *base = slash ? slash + 1 : path;
	if (!*base)
		return -1;
	int w = snprintf(out, n, "%.*s.%s.XXXXXX", (int)dir_len, path, base);
	return w < 0 || (size_t)w >= n ? -1 : 0;
}

static bool write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

int dc_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct dc_error *err)
{
	char tmp[PATH_MAX];
	if (temp_name(path, tmp, sizeof(tmp)) < 0)
		return dc_error_set(err, path, "not a file name that can be written");
	/* mkstemp: O_CREAT|O_EXCL with a random name; an existing link there is never followed. */
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int e = errno;
		dc_error_set(err, path, "cannot create a temporary file next to it: %s", strerror(e));
		dc_error_hint(err, "the directory must exist and be writable by this user");
		return -1;
	}
	bool ok = fchmod(fd, mode) == 0 && write_all(fd, data, len) && fsync(fd) == 0;
	int e = errno;
	ok = close(fd) == 0 && ok;
	if (ok && rename(tmp, path) == 0)
		return 0;
	if (ok)
		e = errno;
	unlink(tmp);
	return dc_error_set(err, path, "cannot write: %s", strerror(e ? e : EIO));
}
