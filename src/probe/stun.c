#include "derpcheck/probe/stun.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "derpcheck/util/cursor.h"

const char *dc_stun_style_name(enum dc_stun_style style)
{
	return style == DC_STUN_STYLE_TAILSCALE ? "tailscale" : "rfc5389";
}

uint32_t dc_crc32(const uint8_t *data, size_t len)
{
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < len; i++) {
		crc ^= data[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void write_header(struct dc_writer *w, uint16_t type, const uint8_t txid[DC_STUN_TXID_LEN])
{
	dc_writer_be16(w, type);
	dc_writer_be16(w, 0); /* length, patched when the attributes are written */
	dc_writer_be32(w, DC_STUN_COOKIE);
	dc_writer_bytes(w, txid, DC_STUN_TXID_LEN);
}

static void write_attr(struct dc_writer *w, uint16_t type, const void *value, size_t len)
{
	static const uint8_t pad[3];
	dc_writer_be16(w, type);
	dc_writer_be16(w, (uint16_t)len);
	dc_writer_bytes(w, value, len);
	if (len % 4)
		dc_writer_bytes(w, pad, 4 - len % 4);
}

static void set_length(struct dc_writer *w, size_t body)
{
	dc_writer_put_be16_at(w, 2, (uint16_t)body);
}

/* RFC 5389 §15.5: the header length already counts the 8-byte FINGERPRINT attribute. */
static void write_fingerprint(struct dc_writer *w)
{
	if (!w->ok)
		return;
	set_length(w, w->off - DC_STUN_HEADER_LEN + 8);
	uint32_t crc = dc_crc32(w->p, w->off) ^ DC_STUN_FINGERPRINT_XOR;
	dc_writer_be16(w, DC_STUN_ATTR_FINGERPRINT);
	dc_writer_be16(w, 4);
	dc_writer_be32(w, crc);
}

size_t dc_stun_request(enum dc_stun_style style, const uint8_t txid[DC_STUN_TXID_LEN], uint8_t *buf, size_t cap)
{
	struct dc_writer w;
	dc_writer_init(&w, buf, cap);
	write_header(&w, DC_STUN_BINDING_REQUEST, txid);
	if (style == DC_STUN_STYLE_TAILSCALE) {
		/* derper answers only this: SOFTWARE "tailnode" then a trailing FINGERPRINT. */
		write_attr(&w, DC_STUN_ATTR_SOFTWARE, DC_STUN_TAILSCALE_SOFTWARE, strlen(DC_STUN_TAILSCALE_SOFTWARE));
		write_fingerprint(&w);
	}
	return w.ok ? w.off : 0;
}

static void write_address(struct dc_writer *w, uint16_t type, const struct dc_endpoint *e, bool as_v6,
			  const uint8_t txid[DC_STUN_TXID_LEN])
{
	uint8_t v[20] = {0};
	uint8_t ip[16];
	int fam = e->family;
	if (fam == 4 && as_v6) {
		memset(ip, 0, 10);
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, e->ip, 4);
		fam = 6;
	} else {
		memcpy(ip, e->ip, 16);
	}
	size_t alen = fam == 4 ? 4 : 16;
	uint16_t port = e->port;
	bool xor = type == DC_STUN_ATTR_XOR_MAPPED_ADDRESS || type == DC_STUN_ATTR_XOR_MAPPED_ADDRESS_ALT;
	if (xor) {
		uint8_t key[16] = {0x21, 0x12, 0xA4, 0x42};
		memcpy(key + 4, txid, DC_STUN_TXID_LEN);
		port ^= (uint16_t)(DC_STUN_COOKIE >> 16);
		for (size_t i = 0; i < alen; i++)
			ip[i] ^= key[i];
	}
	v[1] = fam == 4 ? 0x01 : 0x02;
	v[2] = (uint8_t)(port >> 8);
	v[3] = (uint8_t)port;
	memcpy(v + 4, ip, alen);
	write_attr(w, type, v, 4 + alen);
}

size_t dc_stun_reply(const uint8_t txid[DC_STUN_TXID_LEN], const struct dc_stun_reply_opts *o, uint8_t *buf, size_t cap)
{
	struct dc_writer w;
	dc_writer_init(&w, buf, cap);
	write_header(&w, o->error_code > 0 ? DC_STUN_BINDING_ERROR : DC_STUN_BINDING_SUCCESS, txid);
	if (o->error_code > 0) {
		const char *reason = o->error_reason ? o->error_reason : "";
		size_t rl = strlen(reason);
		if (rl > 500)
			rl = 500;
		uint8_t v[4 + 500] = {0, 0, (uint8_t)(o->error_code / 100 % 8), (uint8_t)(o->error_code % 100)};
		memcpy(v + 4, reason, rl);
		write_attr(&w, DC_STUN_ATTR_ERROR_CODE, v, 4 + rl);
	} else if (o->mapped && o->mapped->family) {
		write_address(&w, DC_STUN_ATTR_XOR_MAPPED_ADDRESS, o->mapped, o->v4_as_mapped_v6, txid);
		if (o->plain_mapped)
			write_address(&w, DC_STUN_ATTR_MAPPED_ADDRESS, o->mapped, false, txid);
	}
	if (o->software)
		write_attr(&w, DC_STUN_ATTR_SOFTWARE, o->software, strlen(o->software));
	if (w.ok)
		set_length(&w, w.off - DC_STUN_HEADER_LEN);
	if (o->fingerprint)
		write_fingerprint(&w);
	return w.ok ? w.off : 0;
}

const char *dc_stun_attr_name(uint16_t type)
{
	switch (type) {
	case DC_STUN_ATTR_MAPPED_ADDRESS: return "MAPPED-ADDRESS";
	case DC_STUN_ATTR_RESPONSE_ADDRESS: return "RESPONSE-ADDRESS";
	case DC_STUN_ATTR_CHANGE_REQUEST: return "CHANGE-REQUEST";
	case DC_STUN_ATTR_SOURCE_ADDRESS: return "SOURCE-ADDRESS";
	case DC_STUN_ATTR_CHANGED_ADDRESS: return "CHANGED-ADDRESS";
	case DC_STUN_ATTR_USERNAME: return "USERNAME";
	case DC_STUN_ATTR_PASSWORD: return "PASSWORD";
	case DC_STUN_ATTR_MESSAGE_INTEGRITY: return "MESSAGE-INTEGRITY";
	case DC_STUN_ATTR_ERROR_CODE: return "ERROR-CODE";
	case DC_STUN_ATTR_UNKNOWN_ATTRIBUTES: return "UNKNOWN-ATTRIBUTES";
	case DC_STUN_ATTR_REFLECTED_FROM: return "REFLECTED-FROM";
	case DC_STUN_ATTR_REALM: return "REALM";
	case DC_STUN_ATTR_NONCE: return "NONCE";
	case DC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256: return "MESSAGE-INTEGRITY-SHA256";
	case DC_STUN_ATTR_PASSWORD_ALGORITHM: return "PASSWORD-ALGORITHM";
	case DC_STUN_ATTR_USERHASH: return "USERHASH";
	case DC_STUN_ATTR_XOR_MAPPED_ADDRESS: return "XOR-MAPPED-ADDRESS";
	case DC_STUN_ATTR_XOR_MAPPED_ADDRESS_ALT: return "XOR-MAPPED-ADDRESS (0x8020)";
	case DC_STUN_ATTR_SOFTWARE: return "SOFTWARE";
	case DC_STUN_ATTR_ALTERNATE_SERVER: return "ALTERNATE-SERVER";
	case DC_STUN_ATTR_FINGERPRINT: return "FINGERPRINT";
	case DC_STUN_ATTR_RESPONSE_ORIGIN: return "RESPONSE-ORIGIN";
	case DC_STUN_ATTR_OTHER_ADDRESS: return "OTHER-ADDRESS";
	}
	return NULL;
}

bool dc_stun_is_stun(const uint8_t *buf, size_t len)
{
	struct dc_cursor c;
	uint8_t first;
	uint32_t cookie;
	dc_cursor_init(&c, buf, len);
	if (len < DC_STUN_HEADER_LEN || !dc_cursor_u8(&c, &first) || (first & 0xc0) != 0)
		return false;
	return dc_cursor_skip(&c, 3) && dc_cursor_be32(&c, &cookie) && cookie == DC_STUN_COOKIE;
}

/* Printable ASCII for display; other bytes as '?'; trailing NULs (stund pads with one) dropped. */
static void copy_text(char *dst, size_t cap, const uint8_t *src, size_t len)
{
	while (len && src[len - 1] == 0)
		len--;
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		if (n == cap - 4 && i + 1 < len) {
			memcpy(dst + n, "...", 3);
			n += 3;
			break;
		}
		dst[n++] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	}
	dst[n] = '\0';
}

static const char *attr_label(uint16_t type, char *buf, size_t len)
{
	const char *name = dc_stun_attr_name(type);
	if (name)
		snprintf(buf, len, "%s attribute", name);
	else
		snprintf(buf, len, "attribute 0x%04x", type);
	return buf;
}

static int attr_error(struct dc_error *err, uint16_t type, size_t off, const char *fmt, ...) DC_PRINTF(4, 5);
static int attr_error(struct dc_error *err, uint16_t type, size_t off, const char *fmt, ...)
{
	char what[200], label[48];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return dc_error_set(err, NULL, "%s at offset %zu: %s", attr_label(type, label, sizeof(label)), off, what);
}

/* MAPPED-ADDRESS and its relatives (RFC 5389 §15.1, §15.2). */
static int decode_address(struct dc_cursor *v, uint16_t type, size_t off, const uint8_t txid[DC_STUN_TXID_LEN],
			  bool xor, struct dc_endpoint *out, struct dc_error *err)
{
	uint8_t reserved, family;
	uint16_t port;
	size_t vlen = dc_cursor_left(v);
	if (!dc_cursor_u8(v, &reserved) || !dc_cursor_u8(v, &family) || !dc_cursor_be16(v, &port))
		return attr_error(err, type, off, "value is %zu bytes, an address needs at least 8", vlen);
	size_t alen;
	if (family == 0x01)
		alen = 4;
	else if (family == 0x02)
		alen = 16;
	else
		return attr_error(err, type, off, "unknown address family 0x%02x (want 0x01 IPv4 or 0x02 IPv6)", family);
	if (dc_cursor_left(v) != alen)
		return attr_error(err, type, off, "%s value must be %zu bytes, got %zu", family == 1 ? "IPv4" : "IPv6",
				  4 + alen, vlen);
	struct dc_endpoint e = {.family = family == 1 ? 4 : 6};
	dc_cursor_bytes(v, e.ip, alen);
	if (xor) {
		uint8_t key[16] = {0x21, 0x12, 0xA4, 0x42};
		memcpy(key + 4, txid, DC_STUN_TXID_LEN);
		port ^= (uint16_t)(DC_STUN_COOKIE >> 16);
		for (size_t i = 0; i < alen; i++)
			e.ip[i] ^= key[i];
	}
	e.port = port;
	dc_endpoint_unmap(&e); /* dual-stack derper answers IPv4 clients as ::ffff:a.b.c.d */
	*out = e;
	return 0;
}

static int decode_error_code(struct dc_cursor *v, size_t off, struct dc_stun_msg *msg, struct dc_error *err)
{
	uint16_t zero;
	uint8_t cls, number;
	size_t vlen = dc_cursor_left(v);
	if (!dc_cursor_be16(v, &zero) || !dc_cursor_u8(v, &cls) || !dc_cursor_u8(v, &number))
		return attr_error(err, DC_STUN_ATTR_ERROR_CODE, off, "value is %zu bytes, needs at least 4", vlen);
	cls &= 0x07;
	if (cls < 3 || cls > 6 || number > 99)
		return attr_error(err, DC_STUN_ATTR_ERROR_CODE, off, "invalid code: class %u, number %u (want 300-699)",
				  cls, number);
	msg->has_error_code = true;
	msg->error_code = cls * 100 + number;
	const uint8_t *reason;
	size_t rlen = dc_cursor_left(v);
	dc_cursor_view(v, rlen, &reason);
	copy_text(msg->error_reason, sizeof(msg->error_reason), reason, rlen);
	return 0;
}

static void note_unknown(struct dc_stun_msg *msg, uint16_t type)
{
	if (type < 0x8000 && msg->unknown_required_count < DC_STUN_MAX_UNKNOWN)
		msg->unknown_required[msg->unknown_required_count++] = type;
}

static int decode_attribute(struct dc_stun_msg *msg, uint16_t type, struct dc_cursor *v, size_t off,
			    struct dc_error *err)
{
	struct dc_endpoint e;
	switch (type) {
	case DC_STUN_ATTR_XOR_MAPPED_ADDRESS:
	case DC_STUN_ATTR_XOR_MAPPED_ADDRESS_ALT:
		if (decode_address(v, type, off, msg->txid, true, &e, err) < 0)
			return -1;
		/* RFC 8489 §5: only the first occurrence of an attribute needs processing. */
		if (!msg->has_xor_mapped) {
			msg->has_xor_mapped = true;
			msg->xor_mapped_alt = type == DC_STUN_ATTR_XOR_MAPPED_ADDRESS_ALT;
			msg->xor_mapped = e;
		}
		return 0;
	case DC_STUN_ATTR_MAPPED_ADDRESS:
		if (decode_address(v, type, off, msg->txid, false, &e, err) < 0)
			return -1;
		if (!msg->has_mapped) {
			msg->has_mapped = true;
			msg->mapped = e;
		}
		return 0;
	case DC_STUN_ATTR_RESPONSE_ORIGIN:
	case DC_STUN_ATTR_SOURCE_ADDRESS:
		if (decode_address(v, type, off, msg->txid, false, &e, err) < 0)
			return -1;
		msg->has_response_origin = true;
		msg->response_origin = e;
		return 0;
	case DC_STUN_ATTR_OTHER_ADDRESS:
	case DC_STUN_ATTR_CHANGED_ADDRESS:
		if (decode_address(v, type, off, msg->txid, false, &e, err) < 0)
			return -1;
		msg->has_other_address = true;
		msg->other_address = e;
		return 0;
	case DC_STUN_ATTR_SOFTWARE: {
		size_t n = dc_cursor_left(v);
		const uint8_t *p;
		dc_cursor_view(v, n, &p);
		if (!msg->has_software) {
			msg->has_software = true;
			msg->software_is_tailnode = n == strlen(DC_STUN_TAILSCALE_SOFTWARE) &&
						    memcmp(p, DC_STUN_TAILSCALE_SOFTWARE, n) == 0;
			copy_text(msg->software, sizeof(msg->software), p, n);
		}
		return 0;
	}
	case DC_STUN_ATTR_ERROR_CODE:
		return msg->has_error_code ? 0 : decode_error_code(v, off, msg, err);
	default:
		if (!dc_stun_attr_name(type))
			note_unknown(msg, type);
		return 0;
	}
}

int dc_stun_parse(const uint8_t *buf, size_t len, struct dc_stun_msg *msg, struct dc_error *err)
{
	struct dc_cursor c;
	uint16_t type, length;
	uint32_t cookie;
	memset(msg, 0, sizeof(*msg));
	dc_cursor_init(&c, buf, len);
	if (len < DC_STUN_HEADER_LEN)
		return dc_error_set(err, NULL, "%zu bytes is shorter than the 20-byte STUN header", len);
	dc_cursor_be16(&c, &type);
	dc_cursor_be16(&c, &length);
	dc_cursor_be32(&c, &cookie);
	if (type & 0xc000)
		return dc_error_set(err, NULL, "not STUN: the first two bits of the message type 0x%04x are not zero", type);
	if (cookie != DC_STUN_COOKIE)
		return dc_error_set(err, NULL, "not STUN (RFC 5389): magic cookie is 0x%08x, want 0x2112a442", cookie);
	dc_cursor_bytes(&c, msg->txid, DC_STUN_TXID_LEN);
	msg->type = type;
	/* RFC 5389 §6: M11..M0 and C1C0 interleaved as 00 M11-M7 C1 M6-M4 C0 M3-M0. */
	msg->method = (uint16_t)((type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2));
	msg->cls = (enum dc_stun_class)(((type >> 4) & 1) | ((type >> 7) & 2));
	msg->length = length;
	if (msg->method != 0x001)
		return dc_error_set(err, NULL, "message type 0x%04x is method 0x%03x, not Binding (0x001)", type,
				    msg->method);
	if (length % 4)
		return dc_error_set(err, NULL, "header length %u is not a multiple of 4", length);
	if (length > dc_cursor_left(&c))
		return dc_error_set(err, NULL, "truncated: the header announces %u bytes of attributes but only %zu follow",
				    length, dc_cursor_left(&c));
	msg->trailing = dc_cursor_left(&c) - length; /* Tailscale trims these; so do we */

	struct dc_cursor attrs;
	dc_cursor_sub(&c, length, &attrs);
	while (dc_cursor_left(&attrs) > 0) {
		size_t off = DC_STUN_HEADER_LEN + attrs.off;
		uint16_t atype, alen;
		if (!dc_cursor_be16(&attrs, &atype) || !dc_cursor_be16(&attrs, &alen))
			return dc_error_set(err, NULL, "attribute header at offset %zu: %zu bytes left, need 4", off,
					    dc_cursor_left(&attrs));
		if (msg->has_fingerprint)
			return attr_error(err, atype, off, "follows FINGERPRINT, which must be the last attribute");
		size_t padded = ((size_t)alen + 3) & ~(size_t)3;
		if (padded > dc_cursor_left(&attrs)) {
			return attr_error(err, atype, off, "length %u (padded to %zu) runs past the end of the message (%zu bytes left)",
					  alen, padded, dc_cursor_left(&attrs));
		}
		struct dc_cursor value;
		dc_cursor_sub(&attrs, alen, &value);
		dc_cursor_skip(&attrs, padded - alen); /* padding may hold any value */
		msg->attr_count++;
		if (atype == DC_STUN_ATTR_FINGERPRINT) {
			uint32_t got;
			if (alen != 4 || !dc_cursor_be32(&value, &got))
				return attr_error(err, atype, off, "length %u, must be 4", alen);
			uint32_t want = dc_crc32(buf, off) ^ DC_STUN_FINGERPRINT_XOR;
			if (got != want)
				return attr_error(err, atype, off, "value 0x%08x, but the message computes to 0x%08x",
						  got, want);
			msg->has_fingerprint = true;
			msg->fingerprint_last = true;
			continue;
		}
		if (decode_attribute(msg, atype, &value, off, err) < 0)
			return -1;
	}
	return 0;
}

const struct dc_endpoint *dc_stun_msg_mapped(const struct dc_stun_msg *msg)
{
	if (msg->has_xor_mapped)
		return &msg->xor_mapped;
	if (msg->has_mapped)
		return &msg->mapped;
	return NULL;
}

bool dc_stun_is_tailscale_request(const struct dc_stun_msg *msg)
{
	return msg->type == DC_STUN_BINDING_REQUEST && msg->software_is_tailnode && msg->has_fingerprint &&
	       msg->fingerprint_last;
}
