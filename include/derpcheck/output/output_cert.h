/*
 * Rendering `derpcheck cert` reports: text for people (the chain, one verdict line per
 * client, each problem with its fix) and JSON (docs/json.md, "derpcheck cert").
 */
#ifndef DERPCHECK_OUTPUT_CERT_H
#define DERPCHECK_OUTPUT_CERT_H

#include <stdio.h>

#include "derpcheck/judge/certfiles.h"
#include "derpcheck/output/output.h"
#include "derpcheck/judge/tlscheck.h"
#include "derpcheck/judge/trust.h"
#include "derpcheck/judge/proxy.h"

/* One server checked (a HOST, or one node of a region). */
struct dc_cert_target {
	struct dc_cert_report report;
	char label[400];      /* "derp.test at 127.0.0.1:443" */
	bool in_region;
	int64_t region_id;
	char node_name[128];
	char node_path[300];  /* JSON path of the node in the map */
	bool failed;          /* nothing answered: err says why, report is empty */
	struct dc_error err;
	const char *written;  /* --write-fullchain FILE, once written */
	bool trust_judged;    /* region mode: what the map's clients make of it */
	struct dc_trust_verdict trust;
	bool proxy_judged;    /* what is in front of derper on this port (judge/proxy.h) */
	struct dc_proxy_verdict proxy;
};

/*
 * Proxy lines that count as problems in cert: only where derper answers somewhere behind
 * the port (a server that is no derper at all has nothing in front of derper to judge).
 */
size_t dc_cert_proxy_problems(const struct dc_cert_target *t);

struct dc_cert_output {
	struct dc_cert_target *targets;
	size_t count;
	const struct dc_certfiles *files;        /* local-file mode, else NULL */
	const struct dc_cert_report *files_report; /* the files' chain judged; NULL if none */
	const char *files_written;
	bool verbose;         /* -v: every certificate's extensions too */
};

void dc_output_cert_text(FILE *out, const struct dc_cert_output *o, const struct dc_style *st);
void dc_output_cert_json(FILE *out, const struct dc_cert_output *o);

#endif
