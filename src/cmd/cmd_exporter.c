/*
 * derpcheck exporter: a long-running Prometheus exporter (docs/metrics.md). A schedule
 * diagnoses every region of the map each --interval (judge/watch.h) and /metrics shows the
 * latest results without waiting for any probe; /probe?region=... runs one region on
 * demand in the blackbox exporter's manner, at most --probe-limit at a time; / is a status
 * page and /healthz says the process serves. SIGTERM and SIGINT stop it.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "derpcheck/input/effective.h"
#include "derpcheck/input/mapchoice.h"
#include "derpcheck/judge/watch.h"
#include "derpcheck/net/httpserver.h"
#include "derpcheck/output/output_exporter.h"
#include "derpcheck/output/promtext.h"
#include "derpcheck/output/term.h"

enum { OPT_LISTEN = 1, OPT_INTERVAL, OPT_PARALLEL, OPT_PROBE_LIMIT, OPT_PROBE_TIMEOUT, OPT_CERT_WARN_DAYS, OPT_COUNT,
       OPT_MESH_PSK_FILE };

static const struct dc_option exporter_options[] = {
	{"listen", 0, "ADDR:PORT", OPT_LISTEN, "serve HTTP on this address (default 127.0.0.1:9479; :PORT for every address)"},
	{"interval", 0, "DURATION", OPT_INTERVAL, "diagnose every region this often (default 60s, at least 1s)"},
	{"parallel", 0, "N", OPT_PARALLEL, "diagnose at most N regions at a time (default 32)"},
	{"probe-limit", 0, "N", OPT_PROBE_LIMIT, "run at most N /probe requests at a time; more get 503 (default 4)"},
	{"probe-timeout", 0, "DURATION", OPT_PROBE_TIMEOUT, "answer a /probe that takes longer with 503 (default 30s)"},
	{"cert-warn-days", 0, "DAYS", OPT_CERT_WARN_DAYS, "warn when a certificate expires within DAYS (default 14)"},
	{"count", 'c', "N", OPT_COUNT, "relayed test pings per node and per mesh pair (default 3)"},
	{"mesh-psk-file", 0, "FILE", OPT_MESH_PSK_FILE,
	 "derper's mesh key: check that every node lists the other nodes' mesh clients"},
	{0},
};

const struct dc_command_spec dc_exporter_spec = {
	.name = "exporter",
	.args = "[REGION...]",
	.summary = "serve Prometheus metrics of every region, diagnosed on a schedule",
	.description =
		"Diagnoses every region of --derp-map (or the REGIONs given) every --interval, as\n"
		"'derpcheck diagnose' does, and serves the latest results over HTTP:\n"
		"  /metrics         Prometheus text format 0.0.4: diagnose's series for every region,\n"
		"                   verdicts and certificate states as 0/1 gauges, RTTs, loss,\n"
		"                   certificate expiry, and the age of each result (stale: 1)\n"
		"  /probe?region=R  one region diagnosed now (blackbox exporter style: probe_success,\n"
		"                   probe_duration_seconds), at most --probe-limit at a time\n"
		"  /                a status page; /healthz answers ok\n"
		"Scrapes never wait for a probe. The map is read once, at start. Needs --derp-map.\n"
		"SIGTERM or SIGINT stop it.",
	.shared = DC_SHARED_ALL,
	.options = exporter_options,
	.verbose = "every HTTP request on standard error, with the status it was answered with; a /probe also when its "
		   "diagnosis is done, with how long it took and its STUN and DERP verdicts",
	.exit_status = {
		"stopped by SIGTERM or SIGINT after serving",
		"never: the problems it finds are served in /metrics, not told by its exit status",
		"a usage error, an unreadable map, an unknown region, or an address that cannot be listened on",
	},
};

struct exporter_args {
	const char *listen;
	long long interval_ms;
	unsigned parallel;
	unsigned probe_limit;
	long long probe_timeout_ms;
	int cert_warn_days;
	unsigned count;
	const char *mesh_key_file;
	char mesh_key[DC_MESH_KEY_MAX + 1];
};

static int on_option(void *user, int id, const char *arg, struct dc_error *err)
{
	struct exporter_args *a = user;
	long long v;
	switch (id) {
	case OPT_LISTEN:
		a->listen = arg;
		return 0;
	case OPT_INTERVAL:
		if (dc_parse_duration_ms(arg, 1000, 24LL * 3600 * 1000, &v) < 0) {
			dc_error_set(err, NULL, "invalid --interval '%s'", arg);
			dc_error_hint(err, "give a duration from 1s to 24h, such as 30s or 5m");
			return -1;
		}
		a->interval_ms = v;
		return 0;
	case OPT_PARALLEL:
	case OPT_PROBE_LIMIT:
	case OPT_COUNT:
		if (dc_parse_int(arg, 1, id == OPT_PARALLEL ? DC_DIAG_POOL_MAX_WORKERS : id == OPT_COUNT ? 100 : 64, &v) < 0) {
			const char *flag = id == OPT_PARALLEL ? "parallel" : id == OPT_COUNT ? "count" : "probe-limit";
			dc_error_set(err, NULL, "invalid --%s '%s'", flag, arg);
			dc_error_hint(err, "give a number from 1 to %u",
				      id == OPT_PARALLEL ? DC_DIAG_POOL_MAX_WORKERS : id == OPT_COUNT ? 100u : 64u);
			return -1;
		}
		if (id == OPT_PARALLEL)
			a->parallel = (unsigned)v;
		else if (id == OPT_COUNT)
			a->count = (unsigned)v;
		else
			a->probe_limit = (unsigned)v;
		return 0;
	case OPT_PROBE_TIMEOUT:
		if (dc_parse_duration_ms(arg, 100, 600000, &v) < 0) {
			dc_error_set(err, NULL, "invalid --probe-timeout '%s'", arg);
			dc_error_hint(err, "give a duration from 100ms to 10m, such as 30s");
			return -1;
		}
		a->probe_timeout_ms = v;
		return 0;
	case OPT_CERT_WARN_DAYS:
		return dc_command_cert_warn_days(arg, &a->cert_warn_days, err);
	case OPT_MESH_PSK_FILE:
		a->mesh_key_file = arg;
		return dc_command_mesh_psk_file(arg, a->mesh_key, err);
	}
	return 0;
}

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
	stop_requested = 1;
}

/* Everything the HTTP handler needs. */
struct exporter {
	const struct exporter_args *a;
	struct dc_map_choice *maps;
	const struct dc_derpmap *rules_map;
	struct dc_diag_opts diag;
	char map_desc[600];
	struct dc_watch watch;
	struct dc_httpd *httpd;
	pthread_mutex_t lock; /* the probe counters */
	unsigned probes_running;
	uint64_t probes_run, probes_refused;
	bool verbose; /* -v: every request and its answer on standard error */
};

struct render_ctx {
	struct exporter *x;
	struct dc_buf *out;
	bool html;
};

static void fill_view(struct exporter *x, uint64_t rounds, struct dc_httpd_stats *http, struct dc_exporter_view *v)
{
	dc_httpd_get_stats(x->httpd, http);
	*v = (struct dc_exporter_view){
		.now_ns = dc_now_ns(),
		.now_unix = (int64_t)time(NULL),
		.interval_ns = (uint64_t)x->a->interval_ms * 1000000u,
		.stale_after_ns = 2u * (uint64_t)x->a->interval_ms * 1000000u,
		.rounds = rounds,
		.map_desc = x->map_desc,
		.http = http,
	};
	pthread_mutex_lock(&x->lock);
	v->probes_run = x->probes_run;
	v->probes_refused = x->probes_refused;
	v->probes_running = x->probes_running;
	pthread_mutex_unlock(&x->lock);
}

static void render(void *user, const struct dc_watch_region *regions, size_t n, uint64_t rounds)
{
	struct render_ctx *c = user;
	struct dc_httpd_stats http;
	struct dc_exporter_view v;
	fill_view(c->x, rounds, &http, &v);
	if (c->html)
		dc_output_exporter_status(c->out, regions, n, &v);
	else
		dc_output_exporter_metrics(c->out, regions, n, &v);
}

struct probe_job {
	struct exporter *x;
	const struct dc_derp_region *region;
	uint64_t id;
};

static void *probe_thread(void *arg)
{
	struct probe_job *j = arg;
	struct exporter *x = j->x;
	uint64_t start = dc_now_ns();
	struct dc_diag_report r;
	dc_diagnose_run(x->rules_map, j->region, &x->diag, &r);
	struct dc_httpd_response resp = {.status = 200, .content_type = DC_PROM_CONTENT_TYPE};
	dc_output_exporter_probe(&resp.body, &r, (double)(dc_now_ns() - start) / 1e9);
	if (x->verbose)
		fprintf(stderr, "derpcheck: exporter: /probe region %lld answered 200 after %.2fs: STUN %s, DERP %s\n",
			(long long)j->region->id, (double)(dc_now_ns() - start) / 1e9, dc_verdict_name(r.stun),
			dc_verdict_name(r.derp));
	dc_diag_report_free(&r);
	dc_httpd_answer(x->httpd, j->id, &resp);
	pthread_mutex_lock(&x->lock);
	x->probes_running--;
	pthread_mutex_unlock(&x->lock);
	free(j);
	return NULL;
}

/* /probe?region=R: a region diagnosed now, on a thread of its own; the loop answers when it is done. */
static bool handle_probe(struct exporter *x, const struct dc_httpd_request *req, uint64_t id,
			 struct dc_httpd_response *resp)
{
	char want[128];
	int got = dc_httpd_query_param(req->query, "region", want, sizeof(want));
	if (got <= 0) {
		dc_httpd_text(resp, 400, "%s", got < 0 ? "the region parameter is malformed"
						       : "give the region to probe: /probe?region=ID or RegionCode");
		return true;
	}
	const char *guess;
	struct dc_error err;
	const struct dc_derp_region *region = dc_region_find(x->maps->map, want, x->maps->name, NULL, &guess, &err);
	if (!region) {
		/* The name is the request's own, decoded without control characters; the answer is plain text. */
		dc_httpd_text(resp, 404, "%s%s%s", err.what, guess ? "; did you mean " : "", guess ? guess : "");
		return true;
	}
	pthread_mutex_lock(&x->lock);
	bool full = x->probes_running >= x->a->probe_limit;
	if (full)
		x->probes_refused++;
	else
		x->probes_running++, x->probes_run++;
	pthread_mutex_unlock(&x->lock);
	if (full) {
		dc_httpd_text(resp, 503, "%u probes are running already (--probe-limit); try again shortly",
			      x->a->probe_limit);
		resp->retry_after = "5";
		return true;
	}
	struct probe_job *j = dc_xcalloc(1, sizeof(*j));
	*j = (struct probe_job){.x = x, .region = region, .id = id};
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* The probe's thread never takes the stop signals (see dc_cmd_exporter): it starts with them blocked. */
	sigset_t stop_set, old_set;
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_set, &old_set);
	int rc = pthread_create(&t, &attr, probe_thread, j);
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		free(j);
		pthread_mutex_lock(&x->lock);
		x->probes_running--;
		pthread_mutex_unlock(&x->lock);
		dc_httpd_text(resp, 503, "cannot start a probe now");
		return true;
	}
	return false;
}

static bool route(struct exporter *x, const struct dc_httpd_request *req, uint64_t id, struct dc_httpd_response *resp)
{
	if (strcmp(req->path, "/metrics") == 0 || strcmp(req->path, "/") == 0) {
		bool html = strcmp(req->path, "/") == 0;
		struct render_ctx c = {.x = x, .out = &resp->body, .html = html};
		dc_watch_read(&x->watch, render, &c);
		resp->status = 200;
		resp->content_type = html ? "text/html; charset=utf-8" : DC_PROM_CONTENT_TYPE;
		return true;
	}
	if (strcmp(req->path, "/probe") == 0)
		return handle_probe(x, req, id, resp);
	if (strcmp(req->path, "/healthz") == 0) {
		dc_httpd_text(resp, 200, "ok");
		return true;
	}
	dc_httpd_text(resp, 404, "not found: try /metrics, /probe?region=ID, /healthz or /");
	return true;
}

/* -v: the request as sent (the path and query are the client's: through the sanitiser) and what it got. */
static bool handle(void *user, const struct dc_httpd_request *req, uint64_t id, struct dc_httpd_response *resp)
{
	struct exporter *x = user;
	bool answered = route(x, req, id, resp);
	if (x->verbose) {
		char status[48];
		if (answered)
			snprintf(status, sizeof(status), "%d", resp->status);
		else
			snprintf(status, sizeof(status), "diagnosing the region now");
		fprintf(stderr, "derpcheck: exporter: %s %s%s%s: %s\n", req->method == DC_HTTPD_HEAD ? "HEAD" : "GET",
			dc_term_safe(req->path), req->query[0] ? "?" : "", dc_term_safe(req->query), status);
	}
	return answered;
}

/* Probes on demand still running after stop: wait a little for them (they use the server). */
static bool probes_done(struct exporter *x, uint64_t grace_ns)
{
	uint64_t until = dc_now_ns() + grace_ns;
	for (;;) {
		pthread_mutex_lock(&x->lock);
		unsigned running = x->probes_running;
		pthread_mutex_unlock(&x->lock);
		if (running == 0)
			return true;
		if (dc_now_ns() >= until)
			return false;
		usleep(20000);
	}
}

int dc_cmd_exporter(struct dc_cli *cli, int argc, char **argv)
{
	struct exporter_args a = {.listen = "127.0.0.1:9479", .interval_ms = 60000, .probe_limit = 4,
				  .probe_timeout_ms = 30000};
	struct dc_error err;
	char **args;
	int nargs;
	int start = dc_command_start(cli, &dc_exporter_spec, argc, argv, on_option, &a, &args, &nargs);
	if (start != DC_COMMAND_GO)
		return start;
	if (!cli->derp_map) {
		dc_error_set(&err, NULL, "exporter needs --derp-map");
		dc_error_hint(&err, "name the map to watch: derpcheck exporter --derp-map policy.hujson (or embedded: for "
				    "Tailscale's default regions)");
		dc_report_error(&err);
		free(args);
		return DC_EXIT_USAGE;
	}
	if (cli->format != DC_FORMAT_TEXT) {
		dc_error_set(&err, NULL, "exporter has no --format: /metrics is the Prometheus text format");
		dc_error_hint(&err, "leave --format out");
		dc_report_error(&err);
		free(args);
		return DC_EXIT_USAGE;
	}
	struct dc_map_choice maps;
	struct dc_map_choice_opts mo = {.spec = cli->derp_map, .fetch = dc_command_fetch_opts(cli)};
	if (dc_map_choose(&mo, &maps, &err) < 0) {
		dc_report_error(&err);
		dc_map_choice_free(&maps);
		free(args);
		return DC_EXIT_USAGE;
	}
	dc_command_map_origin(cli, &maps);
	struct exporter x = {.a = &a, .maps = &maps, .verbose = cli->verbose > 0};
	pthread_mutex_init(&x.lock, NULL);
	dc_map_choice_describe(&maps, x.map_desc, sizeof(x.map_desc));
	x.rules_map = maps.have_doc && maps.doc.decoded ? &maps.doc.map : maps.map;
	const struct dc_derp_region **regions;
	size_t nregions;
	if (dc_command_regions(cli, &maps, args, nargs, nargs == 0, &regions, &nregions, &err) < 0) {
		dc_report_error(&err);
		dc_map_choice_free(&maps);
		free(args);
		return DC_EXIT_USAGE;
	}
	free(args);
	x.diag = (struct dc_diag_opts){
		.map_name = cli->derp_map,
		.map_format = dc_map_format_flag(cli->map_format),
		.ca_file = cli->ca_file,
		.family = cli->family,
		.timeout_ms = cli->timeout_ms,
		.ping_count = a.count,
		.defaults = &maps.defaults,
		.cert_warn_days = a.cert_warn_days,
		.mesh_key = a.mesh_key_file ? a.mesh_key : NULL,
		.mesh_key_file = a.mesh_key_file,
	};
	struct dc_httpd_opts ho = {
		.listen = a.listen, .wait_timeout_ms = (long)a.probe_timeout_ms, .handler = handle, .user = &x,
	};
	if (dc_httpd_open(&ho, &x.httpd, &err) < 0) {
		dc_report_error(&err);
		free(regions);
		dc_map_choice_free(&maps);
		return DC_EXIT_USAGE;
	}
	/*
	 * Stop signals go to this thread only: one arriving on a probe's thread would cut a
	 * poll() short and turn into a failed check. Threads inherit the mask at creation.
	 */
	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigset_t stop_set, old_set;
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_set, &old_set);
	struct dc_watch_opts wo = {
		.map = x.rules_map, .regions = regions, .count = nregions, .diag = x.diag,
		.interval_ns = (uint64_t)a.interval_ms * 1000000u, .workers = a.parallel,
	};
	int rc = dc_watch_start(&x.watch, &wo, &err);
	if (rc == 0) {
		fprintf(stderr, "derpcheck: exporter on http://%s/metrics: %zu region%s of %s every %.0fs\n",
			dc_httpd_address(x.httpd), nregions, nregions == 1 ? "" : "s", x.map_desc, (double)a.interval_ms / 1e3);
		fflush(stderr);
		/* This thread, in dc_httpd_run's poll(), is the only one that takes them. */
		pthread_sigmask(SIG_SETMASK, &old_set, NULL);
		rc = dc_httpd_run(x.httpd, &stop_requested, &err);
	}
	if (rc < 0)
		dc_report_error(&err);
	else
		fprintf(stderr, "derpcheck: exporter stopping (%s)\n", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
	bool clean = dc_watch_stop(&x.watch, 2000000000u) && probes_done(&x, 2000000000u);
	if (!clean) {
		/* A diagnosis is still in its own timeouts: leave it, and everything it uses, to the exit. */
		fflush(stdout);
		fflush(stderr);
		_exit(rc < 0 ? DC_EXIT_USAGE : DC_EXIT_OK);
	}
	dc_httpd_close(x.httpd);
	pthread_mutex_destroy(&x.lock);
	free(regions);
	dc_map_choice_free(&maps);
	return rc < 0 ? DC_EXIT_USAGE : DC_EXIT_OK;
}
