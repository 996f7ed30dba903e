#include "derpcheck/output/output_status.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/output/term.h"
#include <time.h>

/* The colour table and dc_paint are in src/output/term.c. */
#define paint(st, sgr) dc_paint(st, sgr)

bool dc_status_peer_shown(const struct dc_peer_view *v, const struct dc_status_context *ctx)
{
	if (ctx->only)
		return v == ctx->only;
	return !ctx->active_only || v->active;
}

/* "1.2 MiB": binary units, one decimal below 10. */
static void format_bytes(int64_t n, char *out, size_t size)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
	if (n < 1024) {
		snprintf(out, size, "%lld B", (long long)(n < 0 ? 0 : n));
		return;
	}
	double v = (double)n;
	size_t u = 0;
	for (v /= 1024; v >= 1024 && u + 1 < DC_ARRAY_LEN(units); u++)
		v /= 1024;
	if (v < 10)
		snprintf(out, size, "%.1f %s", v, units[u]);
	else
		snprintf(out, size, "%.0f %s", v, units[u]);
}

static void format_time(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!t || !gmtime_r(&tt, &tm)) {
		snprintf(out, size, "never");
		return;
	}
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "4s ago", or "never". */
static void format_ago(int64_t t, int64_t now, char *out, size_t size)
{
	if (!t) {
		snprintf(out, size, "never");
		return;
	}
	char age[16];
	dc_format_age(now - t, age, sizeof(age));
	snprintf(out, size, "%s ago", age);
}

/* `nyc "New York City"`, plus " (region 2)" or " (custom region 900)" when long. */
static void format_region(struct dc_buf *b, const struct dc_region_ref *ref, bool with_id)
{
	if (!*ref->code)
		dc_buf_printf(b, "none");
	else if (!ref->id)
		dc_buf_printf(b, "%s (not in the DERP map)", dc_term_safe(ref->code));
	else {
		dc_buf_printf(b, "%s", dc_term_safe(ref->code));
		if (*ref->name)
			dc_buf_printf(b, " \"%s\"", dc_term_safe(ref->name));
		if (with_id)
			dc_buf_printf(b, " (%sregion %lld)", ref->custom ? "custom " : "", (long long)ref->id);
	}
}

static void format_path(struct dc_buf *b, const struct dc_peer_view *v, bool long_form)
{
	switch (v->path) {
	case DC_PATH_DIRECT:
		dc_buf_printf(b, "%s%s", long_form ? "direct " : "", dc_term_safe(v->st->cur_addr));
		break;
	case DC_PATH_PEER_RELAY:
		dc_buf_printf(b, "peer relay %s", dc_term_safe(v->relay_endpoint));
		if (long_form && v->relay_vni >= 0)
			dc_buf_printf(b, " (VNI %lld)", (long long)v->relay_vni);
		break;
	case DC_PATH_DERP:
		dc_buf_printf(b, "DERP ");
		format_region(b, &v->home, long_form);
		break;
	case DC_PATH_NONE:
		dc_buf_printf(b, long_form ? "none" : "-");
		break;
	}
}

/* Display width of UTF-8 text, in characters. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

static void pad(FILE *out, size_t n)
{
	while (n--)
		fputc(' ', out);
}

static void print_endpoints(FILE *out, char *const *addrs, size_t n, bool reported)
{
	if (!reported) {
		fprintf(out, "not reported by this tailscaled");
		return;
	}
	if (n == 0) {
		fprintf(out, "none");
		return;
	}
	size_t pub = 0;
	for (size_t i = 0; i < n; i++) {
		if (i < 4)
			fprintf(out, "%s%s", i ? ", " : "", dc_term_safe(addrs[i]));
		pub += dc_endpoint_is_public(addrs[i]);
	}
	if (n > 4)
		fprintf(out, " and %zu more", n - 4);
	if (pub == 0)
		fprintf(out, " (none public)");
	else
		fprintf(out, " (%zu of %zu public)", pub, n);
}

static void print_ips(FILE *out, const struct dc_peer_status *p)
{
	if (!p->ip_count)
		fprintf(out, "(no Tailscale IP)");
	for (size_t i = 0; i < p->ip_count; i++)
		fprintf(out, "%s%s", i ? ", " : "", dc_term_safe(p->ips[i]));
}

static void print_header(FILE *out, const struct dc_tailnet_report *r, const struct dc_status_context *ctx,
			 const struct dc_style *st)
{
	const struct dc_status *s = r->status;
	const char *src = ctx->source == DC_STATUS_FROM_STDIN ? "standard input" : dc_term_safe(ctx->source_name);
	fprintf(out, "%ssource:%s %s (tailscaled %s, %s)\n", paint(st, BOLD), paint(st, RESET), src,
		*s->version ? dc_term_safe(s->version) : "version not given",
		*s->backend_state ? dc_term_safe(s->backend_state) : "state not given");
	if (s->have_self) {
		struct dc_buf home = {0};
		format_region(&home, &r->self_home, false);
		fprintf(out, "%sthis node:%s %s ", paint(st, BOLD), paint(st, RESET), dc_term_safe(r->self_name));
		print_ips(out, &s->self);
		fprintf(out, ", %s, home DERP %s\n", *s->self.os ? dc_term_safe(s->self.os) : "OS not given", home.data);
		dc_buf_free(&home);
		fprintf(out, "  endpoints: ");
		print_endpoints(out, s->self.addrs, s->self.addr_count, s->self.addrs_reported);
		fprintf(out, "\n");
	}
	if (ctx->map_source == DC_MAP_SOURCE_FILE || ctx->map_source == DC_MAP_SOURCE_URL)
		fprintf(out, "%sDERP map:%s %s\n", paint(st, BOLD), paint(st, RESET), dc_term_safe(ctx->map_name));
	else
		fprintf(out, "%sDERP map:%s %s\n", paint(st, BOLD), paint(st, RESET), dc_map_source_name(ctx->map_source));
	if (ctx->map_note)
		fprintf(out, "  (%s)\n", dc_term_safe(ctx->map_note));
	for (size_t i = 0; i < s->health_count; i++)
		fprintf(out, "%shealth:%s %s\n", paint(st, YELLOW), paint(st, RESET), dc_term_safe(s->health[i]));
}

static const char *state_color(enum dc_peer_state state)
{
	switch (state) {
	case DC_PEER_DIRECT: return GREEN;
	case DC_PEER_RELAYED: return YELLOW;
	case DC_PEER_NO_PATH: return RED;
	default: return "";
	}
}

enum { COL_NAME, COL_IP, COL_OS, COL_STATE, COL_PATH, COL_RX, COL_TX, COL_HANDSHAKE, NCOLS };

static void print_table(FILE *out, const struct dc_tailnet_report *r, const struct dc_status_context *ctx,
			const struct dc_style *st)
{
	static const char *const head[NCOLS] = {"PEER", "TAILSCALE IP", "OS", "STATE", "PATH", "RX", "TX", "HANDSHAKE"};
	size_t w[NCOLS], shown = 0;
	for (int c = 0; c < NCOLS; c++)
		w[c] = width(head[c]);
	/* Every cell first, to size the columns; then print them padded. */
	struct dc_buf(*cells)[NCOLS] = dc_xcalloc(r->count ? r->count : 1, sizeof(*cells));
	for (size_t i = 0; i < r->count; i++) {
		const struct dc_peer_view *v = &r->peers[i];
		if (!dc_status_peer_shown(v, ctx))
			continue;
		struct dc_buf *row = cells[i];
		char bytes[32];
		dc_buf_printf(&row[COL_NAME], "%s", dc_term_safe(v->name));
		dc_buf_printf(&row[COL_IP], "%s", v->st->ip_count ? dc_term_safe(v->st->ips[0]) : "-");
		dc_buf_printf(&row[COL_OS], "%s", *v->st->os ? dc_term_safe(v->st->os) : "-");
		dc_buf_printf(&row[COL_STATE], "%s", v->state == DC_PEER_NO_PATH ? "no path" : dc_peer_state_name(v->state));
		format_path(&row[COL_PATH], v, false);
		format_bytes(v->st->rx_bytes, bytes, sizeof(bytes));
		dc_buf_printf(&row[COL_RX], "%s", bytes);
		format_bytes(v->st->tx_bytes, bytes, sizeof(bytes));
		dc_buf_printf(&row[COL_TX], "%s", bytes);
		format_ago(v->st->last_handshake, ctx->now, bytes, sizeof(bytes));
		dc_buf_printf(&row[COL_HANDSHAKE], "%s", bytes);
		for (int c = 0; c < NCOLS; c++)
			if (width(row[c].data) > w[c])
				w[c] = width(row[c].data);
		shown++;
	}
	fprintf(out, "\n");
	if (!shown)
		fprintf(out, "%s\n", r->count ? "no active peers" : "no peers");
	for (int c = 0; shown && c < NCOLS; c++) {
		fprintf(out, "%s%s%s", paint(st, BOLD), head[c], paint(st, RESET));
		if (c + 1 < NCOLS)
			pad(out, w[c] - width(head[c]) + 2);
		else
			fprintf(out, "\n");
	}
	for (size_t i = 0; i < r->count; i++) {
		const struct dc_peer_view *v = &r->peers[i];
		if (!dc_status_peer_shown(v, ctx))
			continue;
		for (int c = 0; c < NCOLS; c++) {
			const char *text = cells[i][c].data;
			const char *color = c == COL_STATE ? state_color(v->state) : "";
			bool right = c == COL_RX || c == COL_TX; /* numbers align right */
			if (right)
				pad(out, w[c] - width(text));
			fprintf(out, "%s%s%s", paint(st, color), text, *color ? paint(st, RESET) : "");
			if (c + 1 < NCOLS)
				pad(out, (right ? 0 : w[c] - width(text)) + 2);
		}
		fprintf(out, "\n");
	}
	for (size_t i = 0; i < r->count; i++)
		for (int c = 0; c < NCOLS; c++)
			dc_buf_free(&cells[i][c]);
	free(cells);
}

static void print_why(FILE *out, const struct dc_tailnet_report *r, const struct dc_status_context *ctx,
		      const struct dc_style *st, bool blank_first)
{
	bool any = false;
	for (size_t i = 0; i < r->count; i++) {
		const struct dc_peer_view *v = &r->peers[i];
		if (!dc_peer_not_direct(v) || !dc_status_peer_shown(v, ctx))
			continue;
		if (!any)
			fprintf(out, "%s%swhy not direct:%s\n", blank_first ? "\n" : "", paint(st, BOLD), paint(st, RESET));
		any = true;
		struct dc_buf path = {0};
		format_path(&path, v, true);
		if (v->path == DC_PATH_NONE)
			fprintf(out, "  %s: no path\n", dc_term_safe(v->name));
		else
			fprintf(out, "  %s via %s\n", dc_term_safe(v->name), path.data);
		dc_buf_free(&path);
		fprintf(out, "    %s%s:%s %s\n", paint(st, YELLOW), dc_reason_code(v->reason), paint(st, RESET), dc_term_safe(v->message));
		fprintf(out, "    %sfix:%s %s\n", paint(st, CYAN), paint(st, RESET), dc_term_safe(v->fix));
	}
}

static void print_summary(FILE *out, const struct dc_tailnet_report *r, const struct dc_status_context *ctx)
{
	fprintf(out, "\n%zu %s: %zu direct, %zu relayed", r->count, r->count == 1 ? "peer" : "peers", r->direct, r->relayed);
	if (r->peer_relay)
		fprintf(out, " (%zu DERP, %zu peer relay)", r->derp, r->peer_relay);
	fprintf(out, ", %zu idle, %zu offline", r->idle, r->offline);
	if (r->no_path)
		fprintf(out, ", %zu without a path", r->no_path);
	fprintf(out, "\n");
	if (r->hidden)
		fprintf(out, "%zu hidden, as `tailscale status` does: shared-in nodes and Mullvad exit nodes\n", r->hidden);
	if (ctx->active_only && r->idle + r->offline)
		fprintf(out, "idle and offline peers are not listed (--active)\n");
}

/* Region codes the map does not know, for a note (at most a few). */
static size_t unknown_codes(const struct dc_tailnet_report *r, const char **codes, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i <= r->count; i++) {
		const struct dc_region_ref *ref = i < r->count ? &r->peers[i].home : &r->self_home;
		if (!*ref->code || ref->id)
			continue;
		bool seen = false;
		for (size_t k = 0; k < n; k++)
			seen |= strcmp(codes[k], ref->code) == 0;
		if (!seen && n < max)
			codes[n++] = ref->code;
	}
	return n;
}

/* The notes under a report, shared by text and JSON: at most four, caller frees. */
static size_t collect_notes(const struct dc_tailnet_report *r, char **notes)
{
	const struct dc_status *s = r->status;
	size_t n = 0;
	if (r->activity_inferred)
		notes[n++] = dc_xasprintf("this tailscaled does not report Active; a peer counts as active when its last handshake is at most %d s old",
					  DC_INFERRED_ACTIVE_S);
	if (s->ignored_count)
		notes[n++] = dc_xasprintf("%zu %s an unexpected type and %s ignored (first: %s)", s->ignored_count,
					  s->ignored_count == 1 ? "field had" : "fields had", s->ignored_count == 1 ? "was" : "were",
					  s->first_ignored);
	if (s->dropped_count)
		notes[n++] = dc_xasprintf("%zu list %s beyond derpcheck's limits not read", s->dropped_count,
					  s->dropped_count == 1 ? "item was" : "items were");
	const char *codes[5];
	size_t k = unknown_codes(r, codes, DC_ARRAY_LEN(codes));
	if (k) {
		struct dc_buf b = {0};
		dc_buf_printf(&b, "DERP region%s ", k == 1 ? "" : "s");
		for (size_t i = 0; i < k; i++)
			dc_buf_printf(&b, "%s%s", i ? ", " : "", codes[i]);
		dc_buf_printf(&b, " %s not in the DERP map used; give the tailnet's map with --derp-map to name %s",
			      k == 1 ? "is" : "are", k == 1 ? "it" : "them");
		notes[n++] = b.data;
	}
	return n;
}

static void print_notes(FILE *out, const struct dc_tailnet_report *r)
{
	char *notes[4];
	size_t n = collect_notes(r, notes);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "note: %s\n", dc_term_safe(notes[i]));
		free(notes[i]);
	}
}

static void detail_label(FILE *out, const char *label)
{
	fprintf(out, "  %s:", label);
	pad(out, 16 - strlen(label));
}

static void print_detail(FILE *out, const struct dc_tailnet_report *r, const struct dc_peer_view *v,
			 const struct dc_status_context *ctx, const struct dc_style *st)
{
	const struct dc_peer_status *p = v->st;
	char buf[64], buf2[64];
	fprintf(out, "\n%s%s%s", paint(st, BOLD), dc_term_safe(v->name), paint(st, RESET));
	if (*p->dns_name)
		fprintf(out, " (%s)", dc_term_safe(p->dns_name));
	fprintf(out, "\n");
	detail_label(out, "Tailscale IPs");
	print_ips(out, p);
	fprintf(out, "\n");
	detail_label(out, "host name");
	fprintf(out, "%s\n", *p->host_name ? dc_term_safe(p->host_name) : "-");
	detail_label(out, "OS");
	fprintf(out, "%s\n", *p->os ? dc_term_safe(p->os) : "-");
	const char *owner = dc_status_login_name(r->status, p->user_id);
	detail_label(out, "owner");
	fprintf(out, "%s\n", owner ? dc_term_safe(owner) : "-");
	detail_label(out, "node key");
	fprintf(out, "%s\n", *p->public_key ? dc_term_safe(p->public_key) : *p->key ? dc_term_safe(p->key) : "-");
	detail_label(out, "online");
	if (p->online == DC_UNKNOWN) {
		fprintf(out, "not reported by this tailscaled\n");
	} else if (p->online == DC_YES) {
		fprintf(out, "yes\n");
	} else {
		format_ago(p->last_seen, ctx->now, buf2, sizeof(buf2));
		fprintf(out, "no (last seen %s)\n", buf2);
	}
	detail_label(out, "state");
	fprintf(out, "%s%s%s, %s\n", paint(st, state_color(v->state)),
		v->state == DC_PEER_NO_PATH ? "no path" : dc_peer_state_name(v->state), *state_color(v->state) ? paint(st, RESET) : "",
		v->active_inferred ? (v->active ? "active (inferred from a recent handshake)" : "not active (no recent handshake)")
		: v->active ? "active (sent to in the last 45 s)" : "not active (no traffic in the last 45 s)");
	struct dc_buf text = {0};
	format_path(&text, v, true);
	detail_label(out, "path");
	fprintf(out, "%s\n", text.data);
	dc_buf_free(&text);
	format_region(&text, &v->home, true);
	detail_label(out, "home DERP");
	fprintf(out, "%s\n", text.data);
	dc_buf_free(&text);
	detail_label(out, "endpoints");
	print_endpoints(out, p->addrs, p->addr_count, p->addrs_reported);
	fprintf(out, "\n");
	detail_label(out, "traffic");
	format_bytes(p->rx_bytes, buf, sizeof(buf));
	format_bytes(p->tx_bytes, buf2, sizeof(buf2));
	fprintf(out, "rx %s (%lld bytes), tx %s (%lld bytes)\n", buf, (long long)p->rx_bytes, buf2, (long long)p->tx_bytes);
	detail_label(out, "last handshake");
	format_time(p->last_handshake, buf, sizeof(buf));
	format_ago(p->last_handshake, ctx->now, buf2, sizeof(buf2));
	fprintf(out, p->last_handshake ? "%s (%s)\n" : "%s\n", buf, buf2);
	if (p->exit_node || p->exit_node_option) {
		detail_label(out, "exit node");
		fprintf(out, "%s\n", p->exit_node ? "in use by this node" : "offered");
	}
	if (p->key_expiry) {
		detail_label(out, "key expiry");
		format_time(p->key_expiry, buf, sizeof(buf));
		fprintf(out, "%s%s\n", buf, p->expired ? " (expired)" : "");
	}
	if (v->reason != DC_REASON_NONE) {
		detail_label(out, "reason");
		fprintf(out, "%s%s:%s %s\n", paint(st, YELLOW), dc_reason_code(v->reason), paint(st, RESET), dc_term_safe(v->message));
		detail_label(out, "fix");
		fprintf(out, "%s\n", dc_term_safe(v->fix));
	}
}

void dc_output_status_text(FILE *out, const struct dc_tailnet_report *r, const struct dc_status_context *ctx,
			   const struct dc_style *st)
{
	bool quiet = st && st->quiet;
	if (!quiet)
		print_header(out, r, ctx, st);
	if (!r->running) {
		fprintf(out, "%stailscaled is not connected:%s %s\n", paint(st, RED), paint(st, RESET), dc_term_safe(r->state_message));
		fprintf(out, "  %sfix:%s %s\n", paint(st, CYAN), paint(st, RESET), dc_term_safe(r->state_fix));
	}
	if (ctx->only) {
		if (!quiet || dc_peer_not_direct(ctx->only))
			print_detail(out, r, ctx->only, ctx, st);
	} else {
		if (!quiet)
			print_table(out, r, ctx, st);
		print_why(out, r, ctx, st, !quiet);
		if (!quiet && r->count)
			print_summary(out, r, ctx);
	}
	if (!quiet)
		print_notes(out, r);
}

/* ---- JSON ----------------------------------------------------------------------- */

static cJSON *json_time(int64_t t)
{
	char buf[32];
	if (!t)
		return cJSON_CreateNull();
	format_time(t, buf, sizeof(buf));
	return cJSON_CreateString(buf);
}

static cJSON *json_tristate(enum dc_tristate v)
{
	return v == DC_UNKNOWN ? cJSON_CreateNull() : cJSON_CreateBool(v == DC_YES);
}

static cJSON *json_strings(char *const *list, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(list[i]));
	return a;
}

static cJSON *json_region(const struct dc_region_ref *ref)
{
	if (!*ref->code)
		return cJSON_CreateNull();
	cJSON *o = cJSON_CreateObject();
	if (ref->id)
		cJSON_AddNumberToObject(o, "id", (double)ref->id);
	else
		cJSON_AddNullToObject(o, "id");
	cJSON_AddStringToObject(o, "code", ref->code);
	cJSON_AddStringToObject(o, "name", ref->name);
	cJSON_AddBoolToObject(o, "custom", ref->custom);
	return o;
}

static cJSON *json_endpoints(const struct dc_peer_status *p)
{
	return p->addrs_reported ? json_strings(p->addrs, p->addr_count) : cJSON_CreateNull();
}

static cJSON *json_path(const struct dc_peer_view *v)
{
	if (v->path == DC_PATH_NONE)
		return cJSON_CreateNull();
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kind", dc_path_kind_name(v->path));
	switch (v->path) {
	case DC_PATH_DIRECT:
		cJSON_AddStringToObject(o, "endpoint", v->st->cur_addr);
		break;
	case DC_PATH_PEER_RELAY:
		cJSON_AddStringToObject(o, "endpoint", v->relay_endpoint);
		if (v->relay_vni >= 0)
			cJSON_AddNumberToObject(o, "vni", (double)v->relay_vni);
		else
			cJSON_AddNullToObject(o, "vni");
		break;
	case DC_PATH_DERP:
		cJSON_AddItemToObject(o, "region", json_region(&v->home));
		break;
	case DC_PATH_NONE:
		break;
	}
	return o;
}

static cJSON *json_reason(enum dc_reason reason, const char *message, const char *fix)
{
	if (reason == DC_REASON_NONE)
		return cJSON_CreateNull();
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "code", dc_reason_code(reason));
	cJSON_AddStringToObject(o, "message", message);
	cJSON_AddStringToObject(o, "fix", fix);
	return o;
}

static cJSON *json_peer(const struct dc_tailnet_report *r, const struct dc_peer_view *v)
{
	const struct dc_peer_status *p = v->st;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", v->name);
	cJSON_AddStringToObject(o, "dns_name", p->dns_name);
	cJSON_AddStringToObject(o, "host_name", p->host_name);
	cJSON_AddStringToObject(o, "node_key", *p->public_key ? p->public_key : p->key);
	cJSON_AddStringToObject(o, "id", p->id);
	cJSON_AddItemToObject(o, "tailscale_ips", json_strings(p->ips, p->ip_count));
	cJSON_AddStringToObject(o, "os", p->os);
	const char *owner = dc_status_login_name(r->status, p->user_id);
	if (owner)
		cJSON_AddStringToObject(o, "owner", owner);
	else
		cJSON_AddNullToObject(o, "owner");
	cJSON_AddItemToObject(o, "online", json_tristate(p->online));
	cJSON_AddBoolToObject(o, "active", v->active);
	cJSON_AddBoolToObject(o, "active_inferred", v->active_inferred);
	cJSON_AddStringToObject(o, "state", dc_peer_state_name(v->state));
	cJSON_AddItemToObject(o, "path", json_path(v));
	cJSON_AddItemToObject(o, "home_derp", json_region(&v->home));
	cJSON_AddItemToObject(o, "endpoints", json_endpoints(p));
	cJSON_AddNumberToObject(o, "rx_bytes", (double)p->rx_bytes);
	cJSON_AddNumberToObject(o, "tx_bytes", (double)p->tx_bytes);
	cJSON_AddItemToObject(o, "last_handshake", json_time(p->last_handshake));
	cJSON_AddItemToObject(o, "last_seen", json_time(p->last_seen));
	cJSON_AddItemToObject(o, "last_write", json_time(p->last_write));
	cJSON_AddBoolToObject(o, "exit_node", p->exit_node);
	cJSON_AddBoolToObject(o, "exit_node_option", p->exit_node_option);
	cJSON_AddBoolToObject(o, "key_expired", p->expired);
	cJSON_AddItemToObject(o, "reason", json_reason(v->reason, v->message, v->fix));
	return o;
}

static const char *map_source_key(enum dc_map_source s)
{
	switch (s) {
	case DC_MAP_SOURCE_FILE: return "file";
	case DC_MAP_SOURCE_STDIN: return "stdin";
	case DC_MAP_SOURCE_URL: return "url";
	case DC_MAP_SOURCE_EMBEDDED: return "embedded";
	case DC_MAP_SOURCE_LOCALAPI: return "localapi";
	}
	return "?";
}

static cJSON *json_notes(const struct dc_tailnet_report *r)
{
	char *notes[4];
	size_t n = collect_notes(r, notes);
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		cJSON_AddItemToArray(a, cJSON_CreateString(notes[i]));
		free(notes[i]);
	}
	return a;
}

/* A JSON string, escaped as RFC 8259 §7 requires (UTF-8 passes through). */
static void print_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	while (*s) {
		size_t run = 0;
		while (s[run] && (unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\')
			run++;
		fwrite(s, 1, run, out);
		s += run;
		if (!*s)
			break;
		unsigned char c = (unsigned char)*s++;
		switch (c) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default: fprintf(out, "\\u%04x", c); break;
		}
	}
	fputc('"', out);
}

static void print_json_scalar(FILE *out, const cJSON *v)
{
	if (cJSON_IsString(v)) {
		print_json_string(out, v->valuestring ? v->valuestring : "");
	} else if (cJSON_IsNumber(v)) {
		/* Our numbers are counts, IDs and byte counters: integers below 2^53. */
		int64_t i;
		if (dc_double_to_int64(v->valuedouble, &i))
			fprintf(out, "%lld", (long long)i);
		else
			fprintf(out, "%.17g", v->valuedouble);
	} else if (cJSON_IsBool(v)) {
		fputs(cJSON_IsTrue(v) ? "true" : "false", out);
	} else {
		fputs("null", out);
	}
}

/* Two-space indentation; arrays of plain values stay on one line. */
static void print_json(FILE *out, const cJSON *v, int depth)
{
	bool object = cJSON_IsObject(v), array = cJSON_IsArray(v);
	if (!object && !array) {
		print_json_scalar(out, v);
		return;
	}
	bool nested = object;
	for (const cJSON *c = array ? v->child : NULL; c && !nested; c = c->next)
		nested = cJSON_IsObject(c) || cJSON_IsArray(c);
	if (!v->child) {
		fputs(object ? "{}" : "[]", out);
		return;
	}
	fputc(object ? '{' : '[', out);
	for (const cJSON *c = v->child; c; c = c->next) {
		if (nested)
			fprintf(out, "\n%*s", (depth + 1) * 2, "");
		if (object) {
			print_json_string(out, c->string ? c->string : "");
			fputs(": ", out);
		}
		print_json(out, c, depth + 1);
		if (c->next)
			fputs(nested ? "," : ", ", out);
	}
	if (nested)
		fprintf(out, "\n%*s", depth * 2, "");
	fputc(object ? '}' : ']', out);
}

void dc_output_status_json(FILE *out, const struct dc_tailnet_report *r, const struct dc_status_context *ctx)
{
	const struct dc_status *s = r->status;
	cJSON *root = cJSON_CreateObject();

	cJSON *src = cJSON_AddObjectToObject(root, "source");
	cJSON_AddStringToObject(src, "kind", ctx->source == DC_STATUS_FROM_SOCKET ? "socket"
					     : ctx->source == DC_STATUS_FROM_STDIN ? "stdin" : "file");
	cJSON_AddStringToObject(src, "name", ctx->source_name);

	cJSON *daemon = cJSON_AddObjectToObject(root, "tailscaled");
	cJSON_AddStringToObject(daemon, "version", s->version);
	cJSON_AddStringToObject(daemon, "backend_state", s->backend_state);
	cJSON_AddBoolToObject(daemon, "running", r->running);
	if (r->running) {
		cJSON_AddNullToObject(daemon, "problem");
	} else {
		cJSON *problem = cJSON_AddObjectToObject(daemon, "problem");
		cJSON_AddStringToObject(problem, "message", r->state_message);
		cJSON_AddStringToObject(problem, "fix", r->state_fix);
	}

	cJSON *map = cJSON_AddObjectToObject(root, "derp_map");
	cJSON_AddStringToObject(map, "source", map_source_key(ctx->map_source));
	cJSON_AddStringToObject(map, "name", ctx->map_name);
	if (ctx->map_note)
		cJSON_AddStringToObject(map, "note", ctx->map_note);
	else
		cJSON_AddNullToObject(map, "note");

	if (s->have_self) {
		cJSON *self = cJSON_AddObjectToObject(root, "self");
		cJSON_AddStringToObject(self, "name", r->self_name);
		cJSON_AddStringToObject(self, "dns_name", s->self.dns_name);
		cJSON_AddItemToObject(self, "tailscale_ips", json_strings(s->self.ips, s->self.ip_count));
		cJSON_AddStringToObject(self, "os", s->self.os);
		cJSON_AddItemToObject(self, "home_derp", json_region(&r->self_home));
		cJSON_AddItemToObject(self, "endpoints", json_endpoints(&s->self));
		if (r->self_endpoints_reported)
			cJSON_AddNumberToObject(self, "public_endpoints", (double)r->self_public);
		else
			cJSON_AddNullToObject(self, "public_endpoints");
	} else {
		cJSON_AddNullToObject(root, "self");
	}
	cJSON_AddItemToObject(root, "health", json_strings(s->health, s->health_count));

	cJSON *peers = cJSON_AddArrayToObject(root, "peers");
	for (size_t i = 0; i < r->count; i++)
		if (dc_status_peer_shown(&r->peers[i], ctx))
			cJSON_AddItemToArray(peers, json_peer(r, &r->peers[i]));

	cJSON *sum = cJSON_AddObjectToObject(root, "summary");
	cJSON_AddNumberToObject(sum, "peers", (double)r->count);
	cJSON_AddNumberToObject(sum, "direct", (double)r->direct);
	cJSON_AddNumberToObject(sum, "relayed", (double)r->relayed);
	cJSON_AddNumberToObject(sum, "derp", (double)r->derp);
	cJSON_AddNumberToObject(sum, "peer_relay", (double)r->peer_relay);
	cJSON_AddNumberToObject(sum, "no_path", (double)r->no_path);
	cJSON_AddNumberToObject(sum, "idle", (double)r->idle);
	cJSON_AddNumberToObject(sum, "offline", (double)r->offline);
	cJSON_AddNumberToObject(sum, "hidden", (double)r->hidden);
	cJSON_AddItemToObject(root, "notes", json_notes(r));
	if (ctx->netcheck)
		cJSON_AddItemReferenceToObject(root, "netcheck", ctx->netcheck);

	/* Rendered in memory first: the text goes through the one JSON cleaner (src/output/term.c). */
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	if (mem) {
		print_json(mem, root, 0);
		fclose(mem);
		char *clean = dc_json_clean(text, len);
		fprintf(out, "%s\n", clean);
		free(clean);
		free(text);
	}
	cJSON_Delete(root);
}
