/* The exporter's schedule and its latest results (watch.h). */
#include "derpcheck/judge/watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A finished region replaces its old report (the pool's on_done, on a worker thread). */
static void on_done(void *user, struct dc_diag_job *job)
{
	struct dc_watch *w = user;
	size_t i = 0;
	while (i < w->o.count && w->o.regions[i] != job->region)
		i++;
	struct dc_diag_report old = {0};
	pthread_mutex_lock(&w->lock);
	struct dc_watch_region *wr = &w->regions[i];
	if (wr->have)
		old = wr->report;
	wr->report = job->report;
	wr->have = true;
	wr->finished_ns = dc_now_ns();
	wr->runs++;
	pthread_mutex_unlock(&w->lock);
	memset(&job->report, 0, sizeof(job->report)); /* now owned by the watch */
	job->done = false;
	dc_diag_report_free(&old);
}

static struct timespec abs_time(uint64_t mono_ns)
{
	return (struct timespec){.tv_sec = (time_t)(mono_ns / 1000000000u), .tv_nsec = (long)(mono_ns % 1000000000u)};
}

static void *schedule(void *arg)
{
	struct dc_watch *w = arg;
	struct dc_diag_job *jobs = dc_xcalloc(w->o.count, sizeof(*jobs));
	struct dc_diag_pool_opts po = {.workers = w->o.workers, .on_done = on_done, .user = w};
	for (;;) {
		uint64_t start = dc_now_ns();
		for (size_t i = 0; i < w->o.count; i++)
			jobs[i] = (struct dc_diag_job){.region = w->o.regions[i]};
		dc_diag_pool_run(w->o.map, &w->o.diag, jobs, w->o.count, &po);
		pthread_mutex_lock(&w->lock);
		w->rounds++;
		struct timespec until = abs_time(start + w->o.interval_ns);
		while (!w->stopping && dc_now_ns() < start + w->o.interval_ns)
			if (pthread_cond_timedwait(&w->wake, &w->lock, &until) == ETIMEDOUT)
				break;
		bool stop = w->stopping;
		pthread_mutex_unlock(&w->lock);
		if (stop)
			break;
	}
	free(jobs);
	pthread_mutex_lock(&w->lock);
	w->finished = true;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int dc_watch_start(struct dc_watch *w, const struct dc_watch_opts *o, struct dc_error *err)
{
	memset(w, 0, sizeof(*w));
	w->o = *o;
	w->regions = dc_xcalloc(o->count ? o->count : 1, sizeof(*w->regions));
	for (size_t i = 0; i < o->count; i++)
		w->regions[i].region = o->regions[i];
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (dc_diag_pool_prepare(err) < 0)
		return -1;
	if (pthread_create(&w->thread, NULL, schedule, w) != 0)
		return dc_error_set(err, NULL, "cannot start the schedule's thread: %s", strerror(errno));
	w->started = true;
	return 0;
}

bool dc_watch_stop(struct dc_watch *w, uint64_t grace_ns)
{
	if (!w->started)
		return true;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->wake);
	struct timespec until = abs_time(dc_now_ns() + grace_ns);
	while (!w->finished)
		if (pthread_cond_timedwait(&w->wake, &w->lock, &until) == ETIMEDOUT)
			break;
	bool finished = w->finished;
	pthread_mutex_unlock(&w->lock);
	if (!finished)
		return false;
	pthread_join(w->thread, NULL);
	for (size_t i = 0; i < w->o.count; i++)
		if (w->regions[i].have)
			dc_diag_report_free(&w->regions[i].report);
	free(w->regions);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	w->started = false;
	return true;
}

void dc_watch_read(struct dc_watch *w,
		   void (*fn)(void *user, const struct dc_watch_region *regions, size_t n, uint64_t rounds), void *user)
{
	pthread_mutex_lock(&w->lock);
	fn(user, w->regions, w->o.count, w->rounds);
	pthread_mutex_unlock(&w->lock);
}
