/*
 * Relayed pings through one DERP region (protocols.md §1.9): two clients with throwaway
 * keys, A and B, connect to the region (to one node, or with mesh to two nodes, to test
 * that the nodes forward to each other). A sends numbered, timestamped packets to B; B
 * echoes each one back through the relay; both also measure the server's own Ping/Pong.
 * Events are reported through a callback as they happen; the result holds everything.
 *
 * Load mode (rate_pps or flood): A sends to B only, on an absolute schedule, and B counts
 * what arrives and how long each packet took (one way: both ends share one clock); nothing
 * is echoed, so the relay carries each packet once. flood starts at 1,000 packets/s and
 * doubles the rate every half second until the relay loses packets, then narrows the
 * limit down; derper drops what overflows a client's 32-packet queue (protocols.md §1.7).
 */
#ifndef DERPCHECK_DERPPING_H
#define DERPCHECK_DERPPING_H

#include "derpcheck/probe/derpconn.h"

/* The packet carries magic, kind, sequence, run id and two timestamps: 33 bytes. */
#define DC_PING_MIN_SIZE 33u
#define DC_PING_MAX_SIZE DC_DERP_MAX_PACKET

struct dc_ping_result;

enum dc_ping_event_kind {
	DC_PING_EV_CONNECTED,   /* client admitted by the server */
	DC_PING_EV_RELAYING,    /* the first packet from A reached B */
	DC_PING_EV_REPLY,       /* packet seq came back */
	DC_PING_EV_LOST,        /* no reply for seq within the timeout */
	DC_PING_EV_HEALTH,      /* the server sent a Health message (text in the conn) */
	DC_PING_EV_RESTARTING,  /* the server announced a restart */
	DC_PING_EV_PEER_GONE,   /* the server said a peer left */
	DC_PING_EV_SERVER_PING, /* the server pinged the client (answered with Pong) */
};

struct dc_ping_event {
	enum dc_ping_event_kind kind;
	int client; /* 0 = A, 1 = B */
	uint32_t seq;
	const struct dc_ping_result *result;
};

struct dc_ping_opts {
	const struct dc_derp_region *region;
	const char *node;         /* put A (and B, without mesh) on this node */
	bool mesh;                /* put B on another node of the region than A */
	unsigned count;
	long interval_ms;
	size_t size;              /* DC_PING_MIN_SIZE .. DC_PING_MAX_SIZE */
	long reply_timeout_ms;    /* a packet without a reply by then is lost */
	long connect_timeout_ms;  /* each client's whole connection */
	int family;
	const char *ca_file;
	bool insecure;
	bool no_fast_start;
	unsigned rate_pps;        /* load mode: count packets at this rate, A to B only */
	bool flood;               /* load mode: ramp the rate until the relay drops packets */
	enum dc_derp_transport transport;
	void (*on_event)(void *user, const struct dc_ping_event *ev);
	void *user;
};

struct dc_ping_client {
	char name; /* 'A' or 'B' */
	bool attempted, connected;
	struct dc_derp_conn conn;
	struct dc_error err;
	/* the server's Ping/Pong round trip on this connection */
	unsigned sping_sent, sping_received;
	double sping_min_ms, sping_max_ms, sping_sum_ms;
	bool sping_pending;
	uint8_t sping_data[8];
	uint64_t sping_at;
	unsigned peer_gone;
};

struct dc_ping_packet {
	uint32_t seq;
	uint64_t sent_ns;
	bool replied, lost, corrupted;
	double rtt_ms, there_ms, back_ms; /* A to B, B to A: both ends share one clock */
};

/* One rate held for a while in load mode. */
struct dc_load_step {
	unsigned rate_pps; /* offered */
	unsigned sent, delivered, duplicates, corrupted, late;
	uint64_t send_ns;    /* first send to last send */
	uint64_t deliver_ns; /* first send to last delivery */
	double sent_pps, delivered_pps;
	double delay_min_ms, delay_avg_ms, delay_p99_ms, delay_max_ms; /* A's send to B's receipt */
	bool sender_behind; /* derpcheck sent more than 10 % slower than asked: the limit is here */
	unsigned largest_burst; /* most packets that left in one write because they were all due */
};

/*
 * derper queues 32 packets per receiving client and drops the oldest beyond that
 * (perClientSendQueueDepth in derp_server.go). A burst larger than that means derpcheck
 * itself stalled (a busy machine): losses in that step may be this machine's doing.
 */
#define DC_DERP_CLIENT_QUEUE 32
static inline bool dc_load_step_stalled(const struct dc_load_step *s)
{
	return s->largest_burst > DC_DERP_CLIENT_QUEUE;
}

struct dc_load_result {
	bool ran;
	struct dc_load_step *steps;
	size_t step_count;
	double highest_clean_pps;   /* delivered packets/s of the best step without loss; 0: none */
	unsigned first_loss_pps;    /* the lowest offered rate at which packets were lost; 0: none */
	bool sender_limited;        /* the ramp stopped because derpcheck could not send faster */
};

enum dc_ping_stage {
	DC_PING_DONE,          /* every packet was sent; some may be lost */
	DC_PING_SETUP_FAILED,  /* a client could not connect */
	DC_PING_NOT_RELAYING,  /* both connected, but nothing from A reached B */
	DC_PING_CONN_LOST,     /* a connection failed during the pings */
};

struct dc_ping_result {
	struct dc_ping_client clients[2];
	struct dc_ping_packet *packets;
	unsigned count, sent, received, lost, duplicates, corrupted, late, unexpected;
	double min_ms, avg_ms, max_ms, mdev_ms;
	double first_relay_ms; /* from A's first packet to its arrival at B */
	uint64_t connect_ns;   /* both clients connected (they connect at the same time) */
	uint64_t send_span_ns; /* from the first packet's send to the last one's */
	uint64_t elapsed_ns;
	bool mesh;
	bool ok; /* what dc_ping_run returned 0 for */
	struct dc_load_result load;
	enum dc_ping_stage stage;
	int failed_client; /* 0 or 1, for SETUP_FAILED and CONN_LOST */
	struct dc_error err;
};

/*
 * Run the whole exchange. Returns 0 when every packet came back (load mode: --rate lost
 * nothing; --flood found a rate the relay delivers without loss), else -1 (see stage).
 */
int dc_ping_run(const struct dc_ping_opts *opts, struct dc_ping_result *r);
/*
 * For tests and fuzzing: one message that client (0 A, 1 B) received during a run with
 * run_id, handled as the exchange handles it: B echoes our pings (into its connection's
 * write queue), A matches echoes against r->packets[0 .. r->sent), Pongs against the
 * server ping in flight. r needs both clients' public keys and r->packets.
 */
void dc_ping_handle(const struct dc_ping_opts *o, struct dc_ping_result *r, uint64_t run_id, int client,
		    const struct dc_derp_msg *m, uint64_t now);

/* Close the connections (keys wiped) and free the packets. */
void dc_ping_result_free(struct dc_ping_result *r);

#endif
