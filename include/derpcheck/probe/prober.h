/*
 * The STUN prober: one event loop that runs any number of STUN binding probes at once
 * over ONE UDP socket per address family, so every server sees the same NAT mapping
 * (netcheck compares them to detect a mapping that varies by destination).
 *
 * A probe is a destination, a request style and a schedule: when to send, how many
 * transmissions, the first retransmit interval (doubling after that) and a deadline.
 * Every transmission gets its own random transaction ID, so a reply tells exactly which
 * transmission it answers and the RTT has no retransmission ambiguity (Karn's problem).
 * Replies are matched by transaction ID AND source address; anything else — unknown
 * IDs, replies from another address, duplicates, replies after the probe ended,
 * undecodable datagrams — is counted and ignored. RTTs use CLOCK_MONOTONIC and the
 * kernel's receive timestamp, so our own scheduling delay is not part of them. ICMP
 * errors (port unreachable, ...) end the probe at once with the reason.
 *
 * The caller may add probes and cancel them from the completion callback while the
 * loop runs (netcheck's incremental plan and early stop).
 */
#ifndef DERPCHECK_PROBER_H
#define DERPCHECK_PROBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "derpcheck/net/netaddr.h"
#include "derpcheck/net/udp.h"
#include "derpcheck/probe/stun.h"

struct dc_prober;

struct dc_prober_config {
	bool want4, want6;                   /* which family sockets to open */
	const struct dc_endpoint *bind_addr; /* NULL: the wildcard; else only its family is opened */
	uint16_t bind_port;                  /* 0: any */
};

struct dc_probe_spec {
	struct dc_endpoint dst;
	enum dc_stun_style style;
	uint64_t start_ns;   /* CLOCK_MONOTONIC time of the first transmission (0: now) */
	unsigned tries;      /* transmissions, at least 1 */
	uint64_t rto_ns;     /* first retransmission after this; the interval doubles */
	uint64_t timeout_ns; /* the probe fails this long after start_ns */
	unsigned group;      /* > 0: the first success cancels the group's other probes */
	uintptr_t tag;       /* the caller's, returned untouched */
};

enum dc_probe_status {
	DC_PROBE_WAITING,        /* not sent yet */
	DC_PROBE_INFLIGHT,
	DC_PROBE_OK,             /* a success response with a mapped address */
	DC_PROBE_ERROR_RESPONSE, /* a STUN error response */
	DC_PROBE_TIMEOUT,        /* no acceptable reply before the deadline */
	DC_PROBE_UNREACHABLE,    /* an ICMP error came back */
	DC_PROBE_SEND_FAILED,    /* the kernel refused to send (no route, firewall, no socket) */
	DC_PROBE_CANCELLED,
};

struct dc_probe_result {
	enum dc_probe_status status;
	struct dc_probe_spec spec;
	unsigned sent;          /* transmissions made */
	unsigned answered_try;  /* 1-based transmission the reply answered */
	uint64_t first_sent_ns; /* CLOCK_MONOTONIC */
	uint64_t sent_ns;       /* of the answered transmission */
	uint64_t recv_ns;
	uint64_t rtt_ns;
	bool kernel_timestamp;  /* recv_ns is the kernel's arrival time */

	bool has_mapped;
	struct dc_endpoint mapped;
	bool mapped_from_xor;   /* XOR-MAPPED-ADDRESS (else the MAPPED-ADDRESS fallback) */
	bool has_software;
	char software[DC_STUN_SOFTWARE_MAX + 4];
	int error_code;         /* DC_PROBE_ERROR_RESPONSE */
	char error_reason[DC_STUN_REASON_MAX + 4];
	size_t reply_len;
	size_t reply_trailing;  /* bytes after the STUN message (oversized reply) */
	unsigned unknown_required; /* comprehension-required attributes we did not know */

	/*
	 * What else came back. Replies carrying one of this probe's transaction IDs are
	 * counted here exactly; replies from dst that cannot be tied to a probe (unknown ID,
	 * not STUN) are counted on every probe open to dst at the time. For totals that
	 * count each datagram once, use dc_prober_dest_stats.
	 */
	unsigned duplicates;    /* more replies after the accepted one */
	unsigned late;          /* replies after the probe had failed or been cancelled */
	unsigned wrong_source;  /* our transaction ID, but from another address */
	struct dc_endpoint wrong_source_addr;
	unsigned unknown_txid;  /* STUN replies from dst with a transaction ID we never sent */
	unsigned malformed;     /* datagrams from dst (or with our ID) that did not decode */
	char malformed_reason[200];

	bool cut_short;         /* dc_prober_set_deadline moved its deadline earlier */
	int sys_errno;          /* DC_PROBE_SEND_FAILED / DC_PROBE_UNREACHABLE */
	char detail[384];       /* why it failed, in words */
	/*
	 * DC_PROBE_UNREACHABLE: the ICMP message as evidence. icmp_from is who sent it
	 * (family 0 for an error this host raised itself, icmp_local); icmp_port_closed is
	 * a port unreachable, which proves UDP reached icmp_from.
	 */
	struct dc_endpoint icmp_from;
	uint8_t icmp_type, icmp_code;
	bool icmp_v6, icmp_local, icmp_port_closed;
};

struct dc_prober_stats {
	uint64_t first_send_ns; /* CLOCK_MONOTONIC time of the first datagram; 0 before it */
	uint64_t sent;
	uint64_t send_errors;
	uint64_t received;      /* datagrams */
	uint64_t accepted;      /* replies that completed a probe */
	uint64_t not_stun;
	uint64_t malformed;
	uint64_t requests;      /* STUN requests or indications sent to us: ignored */
	uint64_t unknown_txid;
	uint64_t wrong_source;
	uint64_t duplicates;
	uint64_t late;
	uint64_t icmp_errors;
	uint64_t oversized;     /* datagrams larger than the receive buffer */
	size_t peak_inflight;
};

/* Everything ignored that concerns one destination, each datagram counted once. */
struct dc_prober_dest_stats {
	unsigned duplicates, late, wrong_source, unknown_txid, malformed;
	struct dc_endpoint wrong_source_addr; /* the last one */
	char malformed_reason[200];           /* the last one */
};

/* Called when a probe reaches a final state. May add or cancel probes, or stop. Also
 * called with id DC_PROBER_WAKE and r NULL at each time asked for with dc_prober_wake_at. */
typedef void (*dc_probe_done_fn)(struct dc_prober *p, size_t id, const struct dc_probe_result *r, void *user);
#define DC_PROBER_WAKE SIZE_MAX

/*
 * Open the sockets. Returns NULL with err only when an explicit bind fails or no
 * requested family could be opened; a family that cannot be opened otherwise is
 * reported by dc_prober_family_error and its probes fail with that reason.
 */
struct dc_prober *dc_prober_new(const struct dc_prober_config *cfg, struct dc_error *err);
void dc_prober_free(struct dc_prober *p);

/* NULL when the family's socket is open, else why not. */
const char *dc_prober_family_error(const struct dc_prober *p, int family);
/* The local address of the family's socket (the wildcard unless bound). */
int dc_prober_local(const struct dc_prober *p, int family, struct dc_endpoint *out);

/* Queue a probe; returns its id. Pointers from dc_prober_result stay valid until the next add. */
size_t dc_prober_add(struct dc_prober *p, const struct dc_probe_spec *spec);
size_t dc_prober_count(const struct dc_prober *p);
/* Make room for this many more probes now (memory written up front): for planning a large
 * run before its clock starts, so the first sends are not slowed by page faults. */
void dc_prober_reserve(struct dc_prober *p, size_t probes);
void dc_prober_cancel(struct dc_prober *p, size_t id);
void dc_prober_cancel_group(struct dc_prober *p, unsigned group);
/* Move an open probe's deadline (CLOCK_MONOTONIC), e.g. to stop waiting sooner. */
void dc_prober_set_deadline(struct dc_prober *p, size_t id, uint64_t deadline_ns);
/*
 * Have the running loop call back (DC_PROBER_WAKE) at when (CLOCK_MONOTONIC), to add
 * probes only when they are due and still needed. The run goes on until every wake-up
 * asked for has come (it may add probes: Tailscale's later tries go to other nodes), the
 * deadline, or dc_prober_stop.
 */
void dc_prober_wake_at(struct dc_prober *p, uint64_t when);
/* End the current run after the callback returns; open probes become cancelled. */
void dc_prober_stop(struct dc_prober *p);

/*
 * Run until every probe has finished, dc_prober_stop, or deadline_ns (CLOCK_MONOTONIC;
 * open probes then time out). Returns 0, or -1 with err if the event loop itself fails.
 */
int dc_prober_run(struct dc_prober *p, uint64_t deadline_ns, dc_probe_done_fn done, void *user,
		  struct dc_error *err);

/*
 * For tests and fuzzing, without the event loop: transmit what is due now; the
 * transaction ID of probe id's latest transmission (-1 if none); and hand the prober a
 * datagram or an ICMP error as if its socket had delivered it.
 */
void dc_prober_send_due(struct dc_prober *p);
int dc_prober_txid(const struct dc_prober *p, size_t id, uint8_t txid[DC_STUN_TXID_LEN]);
void dc_prober_feed(struct dc_prober *p, const uint8_t *data, size_t len, const struct dc_endpoint *from, uint64_t rx_ns);
void dc_prober_feed_icmp(struct dc_prober *p, const struct dc_udp_icmp *e);

const struct dc_probe_result *dc_prober_result(const struct dc_prober *p, size_t id);
const struct dc_prober_stats *dc_prober_stats(const struct dc_prober *p);
/* Zeroes and -1 when no probe went to dst. */
int dc_prober_dest_stats(const struct dc_prober *p, const struct dc_endpoint *dst, struct dc_prober_dest_stats *out);

/* "ok", "timeout", "unreachable", ... (stable words for JSON). */
const char *dc_probe_status_name(enum dc_probe_status s);

#endif
