/*
 * Many regions diagnosed at once (`diagnose --all`, the exporter's schedule): a bounded
 * pool of worker threads, each running whole per-region diagnoses (diagnose.h) one after
 * another. derpcheck's probes block on their own sockets with their own deadlines, so a
 * region is one unit of work and the pool only bounds how many run at the same time: with
 * as many workers as regions, the whole map takes about as long as its slowest region.
 *
 * The pool has one deadline for starting work: a region no worker has started by then is
 * not diagnosed (job->started stays false) and says so; a region that has started runs to
 * its end, bounded by its own per-step timeouts (--timeout). Nothing is printed here.
 */
#ifndef DERPCHECK_DIAGPOOL_H
#define DERPCHECK_DIAGPOOL_H

#include <stdint.h>

#include "derpcheck/judge/diagnose.h"

/* Workers when the caller does not say (Tailscale's default map has 28 regions). */
#define DC_DIAG_POOL_DEFAULT_WORKERS 32u
#define DC_DIAG_POOL_MAX_WORKERS 256u

struct dc_diag_job {
	const struct dc_derp_region *region;
	bool started;               /* a worker took it before the deadline */
	bool done;                  /* report is filled (free it with dc_diag_report_free) */
	struct dc_diag_report report;
};

struct dc_diag_pool_opts {
	unsigned workers;            /* at most this many regions at once (0: the default; capped at the job count) */
	uint64_t start_deadline_ns;  /* CLOCK_MONOTONIC (dc_now_ns); 0: none */
	/* Called from the worker thread as each region finishes (may be NULL). */
	void (*on_done)(void *user, struct dc_diag_job *job);
	void *user;
};

/*
 * Diagnose every job's region with dc_diagnose_run (map and opts as there). Returns when
 * every started job is done; the number of workers used is returned (0 when none could
 * be started: then the jobs ran one by one on the calling thread).
 */
unsigned dc_diag_pool_run(const struct dc_derpmap *map, const struct dc_diag_opts *opts, struct dc_diag_job *jobs,
			  size_t njobs, const struct dc_diag_pool_opts *pool);

/*
 * Whatever the probes initialise once per process (libcurl's global state, libsodium),
 * done before threads exist. dc_diag_pool_run calls it; callers that start their own
 * threads (the exporter) call it first. Returns -1 with err when a library cannot start.
 */
int dc_diag_pool_prepare(struct dc_error *err);

#endif
