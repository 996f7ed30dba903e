/*
 * Files derpcheck reads and writes, safely in directories other users can write to.
 *
 * Reading: only regular files (or standard input, which callers handle themselves). A
 * FIFO, a socket, a device or a directory given as a path would block a read forever or
 * never end (a FIFO nobody writes to, /dev/zero), so it is refused with a clear error
 * before any byte is read; the open itself never blocks.
 *
 * Writing: never through a name someone else can plant. The new content goes to a fresh
 * temporary file in the target's directory, created with O_EXCL (mkstemp: a symbolic link
 * or any existing file at that name makes the creation fail instead of being followed),
 * is flushed to disk and then renamed over the target, which replaces a link at the
 * target itself instead of writing through it. Readers see the old or the new file, never
 * a half-written one.
 */
#ifndef DERPCHECK_FILE_H
#define DERPCHECK_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "derpcheck/util/util.h"

/*
 * Open path for reading if it is a regular file (symbolic links to one are fine). Returns
 * the descriptor (O_CLOEXEC, blocking), or -1 with errno set and err saying why:
 * "cannot open: No such file or directory", "is a FIFO (named pipe), not a regular file",
 * ... errno is EINVAL for a file that exists but is not regular.
 */
int dc_file_open_regular(const char *path, struct dc_error *err);

/* The same check without opening (for paths handed to OpenSSL or libcurl): 0 or -1 with err. */
int dc_file_check_regular(const char *path, struct dc_error *err);

/* "a FIFO (named pipe)", "a directory", "a socket", ... for a st_mode that is not regular. */
const char *dc_file_kind(mode_t mode);

/*
 * Read all of fd (at most max bytes; more is an error naming name) into out, which stays
 * NUL-terminated. Does not close fd. 0, or -1 with err (errno EFBIG when it is too large).
 */
int dc_file_read_fd(int fd, const char *name, size_t max, struct dc_buf *out, struct dc_error *err);

/* Replace path with data (mode, e.g. 0644) as described above. 0, or -1 with err. */
int dc_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct dc_error *err);

#endif
