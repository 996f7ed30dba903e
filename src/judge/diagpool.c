/*
 * A bounded pool of threads that run whole per-region diagnoses (diagpool.h). Workers take
 * the next job by an atomic index, so jobs start in the caller's order and no worker waits
 * for another; the caller joins them all before it returns.
 */
#include "derpcheck/judge/diagpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "derpcheck/net/http.h"

struct pool {
	const struct dc_derpmap *map;
	const struct dc_diag_opts *opts;
	struct dc_diag_job *jobs;
	size_t njobs;
	const struct dc_diag_pool_opts *po;
	atomic_size_t next;
};

int dc_diag_pool_prepare(struct dc_error *err)
{
	/* libsodium's own init is thread-safe, but doing it here keeps the first region's timings clean. */
	if (sodium_init() < 0)
		return dc_error_set(err, NULL, "libsodium could not initialise (no source of randomness?)");
	/* curl_global_init is not thread-safe: load libcurl before any worker exists. */
	return dc_http_init(err);
}

static void run_job(struct pool *p, struct dc_diag_job *job)
{
	if (p->po->start_deadline_ns && dc_now_ns() >= p->po->start_deadline_ns)
		return; /* not started: the caller reports it */
	job->started = true;
	dc_diagnose_run(p->map, job->region, p->opts, &job->report);
	job->done = true;
	if (p->po->on_done)
		p->po->on_done(p->po->user, job);
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&p->next, 1);
		if (i >= p->njobs)
			return NULL;
		run_job(p, &p->jobs[i]);
	}
}

unsigned dc_diag_pool_run(const struct dc_derpmap *map, const struct dc_diag_opts *opts, struct dc_diag_job *jobs,
			  size_t njobs, const struct dc_diag_pool_opts *po)
{
	static const struct dc_diag_pool_opts none;
	struct pool p = {.map = map, .opts = opts, .jobs = jobs, .njobs = njobs, .po = po ? po : &none};
	atomic_init(&p.next, 0);
	for (size_t i = 0; i < njobs; i++)
		jobs[i].started = jobs[i].done = false;
	struct dc_error err;
	unsigned want = p.po->workers ? p.po->workers : DC_DIAG_POOL_DEFAULT_WORKERS;
	if (want > DC_DIAG_POOL_MAX_WORKERS)
		want = DC_DIAG_POOL_MAX_WORKERS;
	if (want > njobs)
		want = (unsigned)njobs;
	pthread_t *threads = dc_xcalloc(want ? want : 1, sizeof(*threads));
	unsigned started = 0;
	if (want > 1 && dc_diag_pool_prepare(&err) == 0) {
		/* The default stack: only the pages a diagnosis touches are ever resident. */
		for (; started < want; started++)
			if (pthread_create(&threads[started], NULL, worker, &p) != 0)
				break;
	}
	if (started == 0)
		worker(&p); /* one region, or no thread could be made: run them here, in order */
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	return started;
}
