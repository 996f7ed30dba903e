/*
 * STUN (RFC 5389 / RFC 8489) binding messages as Tailscale uses them (protocols.md §2):
 * the exact 40-byte request derper answers, a plain request for generic servers, the
 * minimal success response derper sends, and a strict decoder for whatever comes back.
 * Pure functions over byte buffers; every read goes through the cursor module.
 */
#ifndef DERPCHECK_STUN_H
#define DERPCHECK_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "derpcheck/net/netaddr.h"
#include "derpcheck/util/util.h"

#define DC_STUN_HEADER_LEN 20
#define DC_STUN_COOKIE 0x2112A442u
#define DC_STUN_TXID_LEN 12
#define DC_STUN_DEFAULT_PORT 3478
#define DC_STUN_TAILSCALE_REQUEST_LEN 40
#define DC_STUN_PLAIN_REQUEST_LEN 20
/* The SOFTWARE value derper insists on. */
#define DC_STUN_TAILSCALE_SOFTWARE "tailnode"
/* RFC 5389 §15.5: the CRC-32 is XORed with this ("STUN"). */
#define DC_STUN_FINGERPRINT_XOR 0x5354554Eu

/* Message types of the Binding method (RFC 5389 §6: class bits interleaved with method). */
#define DC_STUN_BINDING_REQUEST 0x0001
#define DC_STUN_BINDING_INDICATION 0x0011
#define DC_STUN_BINDING_SUCCESS 0x0101
#define DC_STUN_BINDING_ERROR 0x0111

/* Attribute types (protocols.md §2.4). */
#define DC_STUN_ATTR_MAPPED_ADDRESS 0x0001
#define DC_STUN_ATTR_RESPONSE_ADDRESS 0x0002
#define DC_STUN_ATTR_CHANGE_REQUEST 0x0003
#define DC_STUN_ATTR_SOURCE_ADDRESS 0x0004
#define DC_STUN_ATTR_CHANGED_ADDRESS 0x0005
#define DC_STUN_ATTR_USERNAME 0x0006
#define DC_STUN_ATTR_PASSWORD 0x0007
#define DC_STUN_ATTR_MESSAGE_INTEGRITY 0x0008
#define DC_STUN_ATTR_ERROR_CODE 0x0009
#define DC_STUN_ATTR_UNKNOWN_ATTRIBUTES 0x000A
#define DC_STUN_ATTR_REFLECTED_FROM 0x000B
#define DC_STUN_ATTR_REALM 0x0014
#define DC_STUN_ATTR_NONCE 0x0015
#define DC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 0x001C
#define DC_STUN_ATTR_PASSWORD_ALGORITHM 0x001D
#define DC_STUN_ATTR_USERHASH 0x001E
#define DC_STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
#define DC_STUN_ATTR_XOR_MAPPED_ADDRESS_ALT 0x8020 /* pre-RFC code point some servers still send */
#define DC_STUN_ATTR_SOFTWARE 0x8022
#define DC_STUN_ATTR_ALTERNATE_SERVER 0x8023
#define DC_STUN_ATTR_FINGERPRINT 0x8028
#define DC_STUN_ATTR_RESPONSE_ORIGIN 0x802B
#define DC_STUN_ATTR_OTHER_ADDRESS 0x802C

enum dc_stun_style {
	DC_STUN_STYLE_TAILSCALE, /* SOFTWARE "tailnode" + FINGERPRINT: what derper answers */
	DC_STUN_STYLE_RFC5389,   /* the bare 20-byte header every generic server answers */
};

enum dc_stun_class {
	DC_STUN_CLASS_REQUEST = 0,
	DC_STUN_CLASS_INDICATION = 1,
	DC_STUN_CLASS_SUCCESS = 2,
	DC_STUN_CLASS_ERROR = 3,
};

/* "tailscale" / "rfc5389" (the --style words). */
const char *dc_stun_style_name(enum dc_stun_style style);

/*
 * Write a Binding request of the given style into buf. Returns its length (40 or 20),
 * or 0 when cap is too small.
 */
size_t dc_stun_request(enum dc_stun_style style, const uint8_t txid[DC_STUN_TXID_LEN], uint8_t *buf, size_t cap);

/* The reply derper sends: Binding success with one XOR-MAPPED-ADDRESS, nothing else. */
struct dc_stun_reply_opts {
	const struct dc_endpoint *mapped;
	bool v4_as_mapped_v6;  /* encode an IPv4 address as ::ffff:a.b.c.d, like a dual-stack derper */
	bool plain_mapped;     /* add MAPPED-ADDRESS too (generic servers do) */
	const char *software;  /* add SOFTWARE when not NULL */
	bool fingerprint;      /* end with FINGERPRINT */
	int error_code;        /* > 0: a Binding error response with this code instead */
	const char *error_reason;
};
size_t dc_stun_reply(const uint8_t txid[DC_STUN_TXID_LEN], const struct dc_stun_reply_opts *o, uint8_t *buf, size_t cap);

#define DC_STUN_SOFTWARE_MAX 127
#define DC_STUN_REASON_MAX 127
#define DC_STUN_MAX_UNKNOWN 8

/* A decoded message. Text values are sanitised to printable ASCII for display. */
struct dc_stun_msg {
	uint16_t type;
	uint16_t method;
	enum dc_stun_class cls;
	uint8_t txid[DC_STUN_TXID_LEN];
	size_t length;   /* declared attribute bytes */
	size_t trailing; /* bytes after the declared message (ignored, as Tailscale does) */
	unsigned attr_count;

	bool has_xor_mapped;
	bool xor_mapped_alt; /* it came as 0x8020 */
	struct dc_endpoint xor_mapped;
	bool has_mapped;
	struct dc_endpoint mapped;
	bool has_response_origin;
	struct dc_endpoint response_origin;
	bool has_other_address;
	struct dc_endpoint other_address;

	bool has_software;
	char software[DC_STUN_SOFTWARE_MAX + 4]; /* "..." when cut */
	bool software_is_tailnode;               /* exactly "tailnode" */
	bool has_error_code;
	int error_code; /* 300..699 */
	char error_reason[DC_STUN_REASON_MAX + 4];
	bool has_fingerprint; /* present and correct (a wrong one is a parse error) */
	bool fingerprint_last;

	/* comprehension-required attributes we do not know (Tailscale ignores them too) */
	uint16_t unknown_required[DC_STUN_MAX_UNKNOWN];
	unsigned unknown_required_count;
};

/* Tailscale's "is STUN" test: >= 20 bytes, top two bits zero, magic cookie. */
bool dc_stun_is_stun(const uint8_t *buf, size_t len);

/*
 * Decode buf strictly: header, cookie, a Binding method, length a multiple of 4 and
 * not beyond the buffer, every attribute within the declared length, address families
 * and value lengths, ERROR-CODE ranges, FINGERPRINT value and position. On failure err
 * says what and at which byte offset; msg holds what was decoded before it (at least
 * the header when msg->type != 0).
 */
int dc_stun_parse(const uint8_t *buf, size_t len, struct dc_stun_msg *msg, struct dc_error *err);

/* The address a success response reports: XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS. */
const struct dc_endpoint *dc_stun_msg_mapped(const struct dc_stun_msg *msg);

/* A request derper would answer (protocols.md §2.2). */
bool dc_stun_is_tailscale_request(const struct dc_stun_msg *msg);

/* "XOR-MAPPED-ADDRESS", "SOFTWARE", ... or NULL when unknown. */
const char *dc_stun_attr_name(uint16_t type);

/* IEEE CRC-32 (zlib's crc32), as the FINGERPRINT attribute uses. */
uint32_t dc_crc32(const uint8_t *data, size_t len);

#endif
