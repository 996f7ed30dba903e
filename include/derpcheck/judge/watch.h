/*
 * The exporter's memory: the latest diagnosis of every region of a map, refreshed on a
 * schedule. A background thread runs every region through the pool (diagpool.h) once per
 * interval and swaps each region's new report in as soon as that region is done; readers
 * (the HTTP side) look at the reports under the same lock and never wait for a probe.
 * A round that takes longer than the interval delays the next one (rounds never overlap);
 * the age of each result is kept so that stale results are marked, not hidden.
 */
#ifndef DERPCHECK_WATCH_H
#define DERPCHECK_WATCH_H

#include <pthread.h>
#include <stdint.h>

#include "derpcheck/judge/diagpool.h"

struct dc_watch_region {
	const struct dc_derp_region *region;
	bool have;                    /* a diagnosis has finished */
	struct dc_diag_report report; /* the latest one */
	uint64_t finished_ns;         /* CLOCK_MONOTONIC when it finished */
	uint64_t runs;                /* diagnoses finished */
};

struct dc_watch_opts {
	const struct dc_derpmap *map;      /* for the validate rules (as dc_diagnose_run) */
	const struct dc_derp_region *const *regions;
	size_t count;
	struct dc_diag_opts diag;
	uint64_t interval_ns;
	unsigned workers;                  /* regions at a time (0: the pool's default) */
};

struct dc_watch {
	struct dc_watch_opts o;
	pthread_mutex_t lock;              /* everything below */
	pthread_cond_t wake;
	struct dc_watch_region *regions;
	uint64_t rounds;                   /* rounds finished */
	bool stopping, finished;
	pthread_t thread;
	bool started;
};

/* Start the schedule (the first round at once). Returns -1 with err when no thread can start. */
int dc_watch_start(struct dc_watch *w, const struct dc_watch_opts *o, struct dc_error *err);

/*
 * Ask the schedule to stop and wait up to grace_ns for the round in progress to end.
 * Returns true when the thread has ended and w is freed; false when diagnoses are still
 * running (each is bounded by its own timeouts): the caller must then leave w alone.
 */
bool dc_watch_stop(struct dc_watch *w, uint64_t grace_ns);

/* Run fn with the lock held on the current results (keep it short: it delays swapping in new ones). */
void dc_watch_read(struct dc_watch *w, void (*fn)(void *user, const struct dc_watch_region *regions, size_t n,
						  uint64_t rounds),
		   void *user);

#endif
