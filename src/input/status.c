#include "derpcheck/input/status.h"

#include "derpcheck/input/hujson.h"
#include "derpcheck/util/file.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int dc_status_read_file(const char *path, struct dc_buf *out, struct dc_error *err)
{
	bool is_stdin = strcmp(path, "-") == 0;
	const char *name = is_stdin ? "standard input" : path;
	int fd = is_stdin ? STDIN_FILENO : dc_file_open_regular(path, err);
	if (fd < 0) {
		if (errno == ENOENT)
			dc_error_hint(err, "save it first: tailscale status --json > %s (or read standard input with --file -)", path);
		return -1;
	}
	int rc = dc_file_read_fd(fd, name, DC_STATUS_MAX_BYTES, out, err);
	if (rc < 0 && errno == EFBIG)
		dc_error_set(err, name, "larger than %u MiB; that is not a Status document", DC_STATUS_MAX_BYTES >> 20);
	if (!is_stdin)
		close(fd);
	if (rc < 0)
		dc_buf_free(out);
	return rc;
}

/*
 * The member of obj called name, matched case-insensitively; the last one wins when
 * a name is repeated. Both as Go's encoding/json decodes into a struct.
 */
static const cJSON *field(const cJSON *obj, const char *name)
{
	const cJSON *found = NULL;
	int first = tolower((unsigned char)name[0]);
	for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next)
		if (c->string && tolower((unsigned char)c->string[0]) == first && strcasecmp(c->string, name) == 0)
			found = c;
	return found;
}

static bool absent(const cJSON *v)
{
	return !v || cJSON_IsNull(v);
}

/* Remember a skipped field: how many, and where the first one was. */
static void ignore(struct dc_status *st, const char *owner, const char *name)
{
	if (st->ignored_count++ == 0)
		st->first_ignored = dc_xasprintf("%s%s%s", owner, *owner ? "." : "", name);
}

static char *cut_dup(const char *s)
{
	size_t n = strlen(s);
	if (n > DC_STATUS_MAX_STRING) {
		/* Cut on a UTF-8 character boundary. */
		n = DC_STATUS_MAX_STRING;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	return dc_xstrndup(s, n);
}

static char *get_string(struct dc_status *st, const cJSON *obj, const char *owner, const char *name)
{
	const cJSON *v = field(obj, name);
	if (absent(v))
		return dc_xstrdup("");
	if (!cJSON_IsString(v) || !v->valuestring) {
		ignore(st, owner, name);
		return dc_xstrdup("");
	}
	return cut_dup(v->valuestring);
}

static int64_t get_int(struct dc_status *st, const cJSON *obj, const char *owner, const char *name)
{
	const cJSON *v = field(obj, name);
	if (absent(v))
		return 0;
	double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
	/* Go would refuse a fraction or a value beyond int64; we skip it. */
	if (!isfinite(d) || d != floor(d) || d < -9.2e18 || d > 9.2e18) {
		ignore(st, owner, name);
		return 0;
	}
	return (int64_t)d;
}

static enum dc_tristate get_bool(struct dc_status *st, const cJSON *obj, const char *owner, const char *name)
{
	const cJSON *v = field(obj, name);
	if (absent(v))
		return DC_UNKNOWN;
	if (!cJSON_IsBool(v)) {
		ignore(st, owner, name);
		return DC_UNKNOWN;
	}
	return cJSON_IsTrue(v) ? DC_YES : DC_NO;
}

static bool get_flag(struct dc_status *st, const cJSON *obj, const char *owner, const char *name)
{
	return get_bool(st, obj, owner, name) == DC_YES;
}

static int64_t get_time(struct dc_status *st, const cJSON *obj, const char *owner, const char *name)
{
	const cJSON *v = field(obj, name);
	int64_t t;
	if (absent(v))
		return 0;
	if (!cJSON_IsString(v) || !v->valuestring || dc_parse_rfc3339(v->valuestring, &t) < 0) {
		ignore(st, owner, name);
		return 0;
	}
	return t;
}

/* An array of strings, at most max kept; *reported says it was an array at all. */
static char **get_strings(struct dc_status *st, const cJSON *obj, const char *owner, const char *name, size_t max,
			  size_t *count, bool *reported)
{
	const cJSON *v = field(obj, name);
	*count = 0;
	if (reported)
		*reported = false;
	if (absent(v))
		return NULL;
	if (!cJSON_IsArray(v)) {
		ignore(st, owner, name);
		return NULL;
	}
	if (reported)
		*reported = true;
	char **out = NULL;
	size_t cap = 0;
	for (const cJSON *item = v->child; item; item = item->next) {
		if (!cJSON_IsString(item) || !item->valuestring) {
			ignore(st, owner, name);
			continue;
		}
		if (*count == max) {
			st->dropped_count++;
			continue;
		}
		if (*count == cap) {
			cap = cap ? cap * 2 : 4;
			out = dc_xrealloc(out, cap * sizeof(*out));
		}
		out[(*count)++] = cut_dup(item->valuestring);
	}
	return out;
}

static void free_strings(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* "Peer[\"nodekey:0123456789ab…\"]": short enough for a message. */
static void peer_owner(char *out, size_t size, const char *key)
{
	if (!*key)
		snprintf(out, size, "Self");
	else if (strlen(key) > 20)
		snprintf(out, size, "Peer[\"%.20s…\"]", key);
	else
		snprintf(out, size, "Peer[\"%s\"]", key);
}

static void read_peer(struct dc_status *st, const cJSON *obj, const char *key, struct dc_peer_status *p)
{
	char owner[64];
	peer_owner(owner, sizeof(owner), key);
	memset(p, 0, sizeof(*p));
	p->key = cut_dup(key);
	p->public_key = get_string(st, obj, owner, "PublicKey");
	p->id = get_string(st, obj, owner, "ID");
	p->host_name = get_string(st, obj, owner, "HostName");
	p->dns_name = get_string(st, obj, owner, "DNSName");
	p->os = get_string(st, obj, owner, "OS");
	p->user_id = get_int(st, obj, owner, "UserID");
	p->ips = get_strings(st, obj, owner, "TailscaleIPs", DC_STATUS_MAX_IPS, &p->ip_count, NULL);
	if (p->ip_count == 0) {
		/* Before 1.8 a node had one Tailscale IP, in TailAddr. */
		char *one = get_string(st, obj, owner, "TailAddr");
		if (*one) {
			free(p->ips);
			p->ips = dc_xmalloc(sizeof(*p->ips));
			p->ips[0] = one;
			p->ip_count = 1;
		} else {
			free(one);
		}
	}
	p->addrs = get_strings(st, obj, owner, "Addrs", DC_STATUS_MAX_ADDRS, &p->addr_count, &p->addrs_reported);
	p->cur_addr = get_string(st, obj, owner, "CurAddr");
	p->relay = get_string(st, obj, owner, "Relay");
	p->peer_relay = get_string(st, obj, owner, "PeerRelay");
	p->rx_bytes = get_int(st, obj, owner, "RxBytes");
	p->tx_bytes = get_int(st, obj, owner, "TxBytes");
	p->created = get_time(st, obj, owner, "Created");
	p->last_write = get_time(st, obj, owner, "LastWrite");
	p->last_seen = get_time(st, obj, owner, "LastSeen");
	p->last_handshake = get_time(st, obj, owner, "LastHandshake");
	p->key_expiry = get_time(st, obj, owner, "KeyExpiry");
	p->online = get_bool(st, obj, owner, "Online");
	p->active = get_bool(st, obj, owner, "Active");
	p->exit_node = get_flag(st, obj, owner, "ExitNode");
	p->exit_node_option = get_flag(st, obj, owner, "ExitNodeOption");
	p->expired = get_flag(st, obj, owner, "Expired");
	p->sharee_node = get_flag(st, obj, owner, "ShareeNode");
	p->in_network_map = get_flag(st, obj, owner, "InNetworkMap");
	p->in_magic_sock = get_flag(st, obj, owner, "InMagicSock");
	p->in_engine = get_flag(st, obj, owner, "InEngine");
}

static void free_peer(struct dc_peer_status *p)
{
	free(p->key);
	free(p->public_key);
	free(p->id);
	free(p->host_name);
	free(p->dns_name);
	free(p->os);
	free_strings(p->ips, p->ip_count);
	free_strings(p->addrs, p->addr_count);
	free(p->cur_addr);
	free(p->relay);
	free(p->peer_relay);
	memset(p, 0, sizeof(*p));
}

static void read_peers(struct dc_status *st, const cJSON *map)
{
	if (absent(map))
		return;
	if (!cJSON_IsObject(map)) {
		ignore(st, "", "Peer");
		return;
	}
	size_t n = 0;
	for (const cJSON *c = map->child; c; c = c->next)
		n++;
	if (n > DC_STATUS_MAX_PEERS) {
		st->dropped_count += n - DC_STATUS_MAX_PEERS;
		n = DC_STATUS_MAX_PEERS;
	}
	st->peers = dc_xcalloc(n, sizeof(*st->peers));
	for (const cJSON *c = map->child; c && st->peer_count < n; c = c->next) {
		if (!cJSON_IsObject(c)) {
			char owner[64];
			peer_owner(owner, sizeof(owner), c->string ? c->string : "?");
			ignore(st, "", owner);
			continue;
		}
		read_peer(st, c, c->string ? c->string : "", &st->peers[st->peer_count++]);
	}
}

static void read_users(struct dc_status *st, const cJSON *map)
{
	if (absent(map))
		return;
	if (!cJSON_IsObject(map)) {
		ignore(st, "", "User");
		return;
	}
	size_t cap = 0;
	for (const cJSON *c = map->child; c; c = c->next) {
		if (!cJSON_IsObject(c)) {
			ignore(st, "", "User");
			continue;
		}
		if (st->user_count == DC_STATUS_MAX_USERS) {
			st->dropped_count++;
			continue;
		}
		if (st->user_count == cap) {
			cap = cap ? cap * 2 : 8;
			st->users = dc_xrealloc(st->users, cap * sizeof(*st->users));
		}
		struct dc_status_user *u = &st->users[st->user_count++];
		u->id = get_int(st, c, "User", "ID");
		if (u->id == 0 && c->string) {
			long long id;
			if (dc_parse_int(c->string, 0, INT64_MAX, &id) == 0)
				u->id = id;
		}
		u->login_name = get_string(st, c, "User", "LoginName");
		u->display_name = get_string(st, c, "User", "DisplayName");
	}
}

/* 1-based line and column (in characters) of byte offset off. */
static struct dc_srcpos position_of(const char *text, size_t len, size_t off)
{
	struct dc_srcpos pos = {1, 1};
	for (size_t i = 0; i < off && i < len; i++)
		dc_srcpos_advance(&pos, text, len, i);
	return pos;
}

/*
 * Why text is not one JSON document, said precisely: cJSON only knows where it gave up
 * (and is sometimes a character late), so ask the HuJSON reader, which names what it
 * expected and what it found.
 */
static int not_json(const char *text, size_t len, size_t cjson_off, const char *name, struct dc_error *err)
{
	struct dc_error perr;
	struct dc_srcpos pos;
	char what[sizeof(err->what)];
	bool derp_map = false;
	struct dc_json *tree = NULL;
	if (len > DC_HUJSON_MAX_SIZE) {
		/* Too big for the HuJSON reader: cJSON's position is all there is. */
		pos = position_of(text, len, cjson_off);
		snprintf(what, sizeof(what), "the parser gave up here");
	} else if (!(tree = dc_hujson_parse(text, len, &perr))) {
		pos = perr.pos;
		snprintf(what, sizeof(what), "%s", perr.what);
	} else {
		/* Valid HuJSON but not JSON: tailscaled never writes comments or trailing commas. */
		for (size_t i = 0; tree->type == DC_JSON_OBJECT && i < tree->count; i++)
			derp_map |= strcasecmp(tree->items[i].key, "derpMap") == 0 || strcasecmp(tree->items[i].key, "Regions") == 0;
		dc_json_free(tree);
		pos = position_of(text, len, cjson_off);
		snprintf(what, sizeof(what), "comments or a trailing comma, which JSON does not allow");
	}
	char where[sizeof(err->where)];
	snprintf(where, sizeof(where), "%s:%u:%u", name, pos.line, pos.col);
	dc_error_set(err, where, "not valid JSON: %s", what);
	err->pos = pos;
	/* People save the text output of `tailscale status` by mistake. */
	size_t skip = 0;
	while (skip < len && isspace((unsigned char)text[skip]))
		skip++;
	if (derp_map)
		dc_error_hint(err, "this is a DERP map or policy file; give it with --derp-map");
	else if (skip < len && isdigit((unsigned char)text[skip]))
		dc_error_hint(err, "this looks like the text output of `tailscale status`; save `tailscale status --json` instead");
	else
		dc_error_hint(err, "give the output of `tailscale status --json`, unchanged");
	return -1;
}

int dc_status_parse(const char *text, size_t len, const char *name, struct dc_status *st, struct dc_error *err)
{
	memset(st, 0, sizeof(*st));
	size_t skip = 0;
	while (skip < len && isspace((unsigned char)text[skip]))
		skip++;
	if (skip == len) {
		dc_error_set(err, name, "empty: no Status document");
		dc_error_hint(err, "give the output of `tailscale status --json`");
		return -1;
	}
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root)
		return not_json(text, len, end && end >= text ? (size_t)(end - text) : 0, name, err);
	size_t off = end && end >= text ? (size_t)(end - text) : len;
	while (off < len && isspace((unsigned char)text[off]))
		off++;
	if (off < len) { /* more after the document */
		cJSON_Delete(root);
		return not_json(text, len, off, name, err);
	}
	if (!cJSON_IsObject(root)) {
		dc_error_set(err, name, "not a Status document: the top level is not a JSON object");
		dc_error_hint(err, "give the output of `tailscale status --json`");
		cJSON_Delete(root);
		return -1;
	}
	if (!field(root, "BackendState") && !field(root, "Peer") && !field(root, "Self")) {
		dc_error_set(err, name, "not a Status document: it has none of BackendState, Self and Peer");
		if (field(root, "Regions") || field(root, "derpMap"))
			dc_error_hint(err, "this is a DERP map or policy file; give it with --derp-map");
		else
			dc_error_hint(err, "give the output of `tailscale status --json`");
		cJSON_Delete(root);
		return -1;
	}

	st->version = get_string(st, root, "", "Version");
	st->backend_state = get_string(st, root, "", "BackendState");
	st->auth_url = get_string(st, root, "", "AuthURL");
	st->tun = get_bool(st, root, "", "TUN");
	const cJSON *tailnet = field(root, "CurrentTailnet");
	if (cJSON_IsObject(tailnet)) {
		st->tailnet_name = get_string(st, tailnet, "CurrentTailnet", "Name");
		st->magic_dns_suffix = get_string(st, tailnet, "CurrentTailnet", "MagicDNSSuffix");
	} else if (!absent(tailnet)) {
		ignore(st, "", "CurrentTailnet");
	}
	if (!st->tailnet_name)
		st->tailnet_name = dc_xstrdup("");
	if (!st->magic_dns_suffix || !*st->magic_dns_suffix) {
		free(st->magic_dns_suffix);
		st->magic_dns_suffix = get_string(st, root, "", "MagicDNSSuffix");
	}
	st->health = get_strings(st, root, "", "Health", DC_STATUS_MAX_HEALTH, &st->health_count, NULL);
	const cJSON *self = field(root, "Self");
	if (cJSON_IsObject(self)) {
		read_peer(st, self, "", &st->self);
		st->have_self = true;
	} else if (!absent(self)) {
		ignore(st, "", "Self");
	}
	read_peers(st, field(root, "Peer"));
	read_users(st, field(root, "User"));
	cJSON_Delete(root);
	return 0;
}

void dc_status_free(struct dc_status *st)
{
	free(st->version);
	free(st->backend_state);
	free(st->auth_url);
	free(st->magic_dns_suffix);
	free(st->tailnet_name);
	free_strings(st->health, st->health_count);
	if (st->have_self)
		free_peer(&st->self);
	for (size_t i = 0; i < st->peer_count; i++)
		free_peer(&st->peers[i]);
	free(st->peers);
	for (size_t i = 0; i < st->user_count; i++) {
		free(st->users[i].login_name);
		free(st->users[i].display_name);
	}
	free(st->users);
	free(st->first_ignored);
	memset(st, 0, sizeof(*st));
}

const char *dc_status_login_name(const struct dc_status *st, int64_t user_id)
{
	for (size_t i = 0; i < st->user_count; i++)
		if (st->users[i].id == user_id && *st->users[i].login_name)
			return st->users[i].login_name;
	return NULL;
}

/* Exactly n digits at *p, advancing it. */
static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int expect(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int dc_parse_rfc3339(const char *text, int64_t *out)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p = text;
	int y, mo, d, h, mi, s;
	if (digits(&p, 4, &y) || expect(&p, '-') || digits(&p, 2, &mo) || expect(&p, '-') || digits(&p, 2, &d))
		return -1;
	if (*p != 'T' && *p != 't')
		return -1;
	p++;
	if (digits(&p, 2, &h) || expect(&p, ':') || digits(&p, 2, &mi) || expect(&p, ':') || digits(&p, 2, &s))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || s > 60)
		return -1;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	int offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if (digits(&p, 2, &oh) || expect(&p, ':') || digits(&p, 2, &om) || oh > 23 || om > 59)
			return -1;
		offset = sign * (oh * 3600 + om * 60);
	} else {
		return -1;
	}
	if (*p)
		return -1;
	if (y < 1970) {
		*out = 0; /* Go's zero time, 0001-01-01T00:00:00Z, means "never" */
		return 0;
	}
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset;
	if (*out < 0)
		*out = 0;
	return 0;
}
