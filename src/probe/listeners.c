#include "derpcheck/probe/listeners.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "derpcheck/util/cursor.h"

#define TABLE_MAX (8u * 1024u * 1024u)

/* The next field of a line: bytes up to a space; empty at the end. */
static bool field(const char *line, size_t len, size_t *pos, const char **f, size_t *flen)
{
	while (*pos < len && line[*pos] == ' ')
		(*pos)++;
	size_t start = *pos;
	while (*pos < len && line[*pos] != ' ')
		(*pos)++;
	*f = line + start;
	*flen = *pos - start;
	return *flen > 0;
}

static bool hex_value(const char *s, size_t n, unsigned long long max, unsigned long long *out)
{
	if (n == 0 || n > 16)
		return false;
	unsigned long long v = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return false;
		v = v * 16 + (unsigned long long)d;
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static bool dec_value(const char *s, size_t n, unsigned long long *out)
{
	if (n == 0 || n > 19)
		return false;
	unsigned long long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long long)(s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * "0100007F:1F90" (IPv4) or 32 hex digits (IPv6) and a port: the kernel prints each
 * 32-bit word of the address in host byte order (little-endian here), the port as a number.
 */
static bool parse_addr(const char *s, size_t n, bool v6, struct dc_endpoint *e)
{
	size_t alen = v6 ? 32 : 8;
	if (n != alen + 5 || s[alen] != ':')
		return false;
	memset(e, 0, sizeof(*e));
	e->family = v6 ? 6 : 4;
	for (size_t w = 0; w < alen / 8; w++) {
		unsigned long long word;
		if (!hex_value(s + w * 8, 8, 0xffffffffULL, &word))
			return false;
		uint32_t v = (uint32_t)word;
		uint8_t *b = e->ip + w * 4;
		memcpy(b, &v, 4); /* host order, as the kernel wrote it */
	}
	unsigned long long port;
	if (!hex_value(s + alen + 1, 4, 0xffff, &port))
		return false;
	e->port = (uint16_t)port;
	return true;
}

static void push(struct dc_listeners *l, const struct dc_socket_entry *e)
{
	if (l->count == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->items = dc_xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	l->items[l->count++] = *e;
}

int dc_proc_net_parse(const char *text, size_t len, bool udp, bool v6, struct dc_listeners *out, struct dc_error *err)
{
	struct dc_cursor c;
	dc_cursor_init(&c, text, len);
	const uint8_t *raw;
	size_t n;
	unsigned line_no = 0;
	while (dc_cursor_line(&c, &raw, &n)) {
		line_no++;
		const char *line = (const char *)raw;
		if (line_no == 1)
			continue; /* "  sl  local_address rem_address   st ..." */
		size_t pos = 0;
		const char *f[10];
		size_t fl[10];
		int k = 0;
		while (k < 10 && field(line, n, &pos, &f[k], &fl[k]))
			k++;
		if (k == 0)
			continue;
		/* sl, local, remote, st, tx:rx, tr:when, retrnsmt, uid, timeout, inode */
		if (k < 10 || fl[0] < 2 || f[0][fl[0] - 1] != ':')
			return dc_error_set(err, NULL, "line %u: not a /proc/net/%s%s socket line", line_no, udp ? "udp" : "tcp",
					    v6 ? "6" : "");
		struct dc_socket_entry e = {.udp = udp};
		struct dc_endpoint remote;
		unsigned long long st, inode;
		if (!parse_addr(f[1], fl[1], v6, &e.local) || !parse_addr(f[2], fl[2], v6, &remote) ||
		    !hex_value(f[3], fl[3], 0xff, &st) || !dec_value(f[9], fl[9], &inode))
			return dc_error_set(err, NULL, "line %u: unreadable address, state or inode", line_no);
		e.state = (unsigned)st;
		e.inode = (unsigned long)inode;
		if (udp ? remote.port != 0 : e.state != DC_TCP_LISTEN)
			continue;
		push(out, &e);
	}
	return 0;
}

static int read_table(const char *path, struct dc_buf *b)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return -1;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0 && b->len < TABLE_MAX)
		dc_buf_append(b, chunk, n);
	fclose(fp);
	if (!b->data)
		dc_buf_append(b, "", 0);
	return 0;
}

static int compare_inode(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
	return x < y ? -1 : x > y;
}

int dc_listeners_read(const char *proc, pid_t pid, struct dc_listeners *out, struct dc_error *err)
{
	static const struct {
		const char *name;
		bool udp, v6;
	} tables[] = {{"tcp", false, false}, {"tcp6", false, true}, {"udp", true, false}, {"udp6", true, true}};
	memset(out, 0, sizeof(*out));
	char path[PATH_MAX];
	for (size_t i = 0; i < DC_ARRAY_LEN(tables); i++) {
		if (pid > 0)
			snprintf(path, sizeof(path), "%s/%d/net/%s", proc, (int)pid, tables[i].name);
		else
			snprintf(path, sizeof(path), "%s/net/%s", proc, tables[i].name);
		struct dc_buf b = {0};
		if (read_table(path, &b) < 0) {
			/* no IPv6 in the kernel: tcp6/udp6 are missing, which is not an error */
			if (!tables[i].v6)
				snprintf(out->error, sizeof(out->error), "%.120s: %s", path, strerror(errno));
			dc_buf_free(&b);
			continue;
		}
		int rc = dc_proc_net_parse(b.data, b.len, tables[i].udp, tables[i].v6, out, err);
		dc_buf_free(&b);
		if (rc < 0) {
			char what[sizeof(err->what)];
			snprintf(what, sizeof(what), "%s", err->what);
			dc_error_set(err, path, "%s", what);
			return -1;
		}
	}
	if (pid <= 0)
		return 0;
	/* the process's sockets: /proc/PID/fd/N -> "socket:[INODE]" */
	snprintf(path, sizeof(path), "%s/%d/fd", proc, (int)pid);
	DIR *dir = opendir(path);
	if (!dir)
		return 0;
	unsigned long inodes[4096];
	size_t ni = 0;
	struct dirent *e;
	while ((e = readdir(dir)) != NULL && ni < DC_ARRAY_LEN(inodes)) {
		if (e->d_name[0] == '.')
			continue;
		char link[PATH_MAX + 300], target[64];
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		ssize_t tl = readlink(link, target, sizeof(target) - 1);
		if (tl <= 9)
			continue;
		target[tl] = '\0';
		unsigned long long v;
		if (strncmp(target, "socket:[", 8) == 0 && target[tl - 1] == ']' && dec_value(target + 8, (size_t)tl - 9, &v))
			inodes[ni++] = (unsigned long)v;
	}
	closedir(dir);
	out->owner_known = true;
	qsort(inodes, ni, sizeof(*inodes), compare_inode);
	for (size_t i = 0; i < out->count; i++)
		out->items[i].owned = bsearch(&out->items[i].inode, inodes, ni, sizeof(*inodes), compare_inode) != NULL;
	return 0;
}

size_t dc_listeners_on(const struct dc_listeners *l, bool udp, int port, const struct dc_socket_entry **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < l->count && n < max; i++)
		if (l->items[i].udp == udp && l->items[i].local.port == port)
			out[n++] = &l->items[i];
	return n;
}

void dc_listeners_free(struct dc_listeners *l)
{
	free(l->items);
	memset(l, 0, sizeof(*l));
}
