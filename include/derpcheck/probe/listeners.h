/*
 * What listens on this machine, read from /proc/PID/net/{tcp,tcp6,udp,udp6} (proc(5);
 * the files show the sockets of PID's network namespace, so a container's own sockets
 * too), and which of them belong to one process: the inodes behind its
 * /proc/PID/fd/N -> "socket:[INODE]" links. Reading only: no socket is opened.
 */
#ifndef DERPCHECK_LISTENERS_H
#define DERPCHECK_LISTENERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "derpcheck/net/netaddr.h"

#define DC_TCP_LISTEN 0x0A /* include/net/tcp_states.h */

struct dc_socket_entry {
	bool udp;
	struct dc_endpoint local;
	unsigned state;      /* TCP state; UDP sockets that are not connected show 07 */
	unsigned long inode;
	bool owned;          /* the inode is one of the process's descriptors */
};

struct dc_listeners {
	struct dc_socket_entry *items;
	size_t count, cap;
	bool owner_known;    /* the process's descriptors could be read (root, or our own user) */
	char error[200];     /* why a file could not be read ("" when all were) */
};

/*
 * Parse one /proc/net/{tcp,udp}[6] table (header line first). Only listening TCP
 * sockets and unconnected UDP sockets (remote port 0) are kept. Returns 0, or -1 with
 * err for a line that does not have the table's form.
 */
int dc_proc_net_parse(const char *text, size_t len, bool udp, bool v6, struct dc_listeners *out, struct dc_error *err);

/* Read the four tables of pid's namespace (pid 0: /proc/net, ours) and mark pid's sockets. */
int dc_listeners_read(const char *proc, pid_t pid, struct dc_listeners *out, struct dc_error *err);

/* Entries on port (udp or TCP listeners). */
size_t dc_listeners_on(const struct dc_listeners *l, bool udp, int port, const struct dc_socket_entry **out, size_t max);

void dc_listeners_free(struct dc_listeners *l);

#endif
