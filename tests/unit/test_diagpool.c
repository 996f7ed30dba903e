/* diagpool: every region diagnosed once on the pool; the start deadline; on_done per region. */
#include "testlib.h"

#include <pthread.h>

#include "derpcheck/input/mapload.h"
#include "derpcheck/judge/diagpool.h"

/* Regions without nodes: diagnosed at once, without any traffic. */
static void load(struct dc_map_doc *doc, int regions)
{
	char path[] = "/tmp/derpcheck-diagpool.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("{\"Regions\":{", f);
	for (int i = 0; i < regions; i++)
		fprintf(f, "%s\"%d\":{\"RegionID\":%d,\"RegionCode\":\"r%d\",\"Nodes\":[]}", i ? "," : "", 901 + i, 901 + i,
			901 + i);
	fputs("}}\n", f);
	fclose(f);
	struct dc_error err;
	assert_int_equal(dc_map_doc_load(path, NULL, doc, &err), 0); /* reads and decodes */
	unlink(path);
	assert_true(doc->decoded);
	assert_int_equal(doc->map.region_count, (size_t)regions);
}

struct counter {
	pthread_mutex_t lock;
	size_t calls;
};

static void on_done(void *user, struct dc_diag_job *job)
{
	struct counter *c = user;
	assert_true(job->done);
	pthread_mutex_lock(&c->lock);
	c->calls++;
	pthread_mutex_unlock(&c->lock);
}

static void test_every_region_is_diagnosed_once_by_at_most_the_workers_asked(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	load(&doc, 7);
	struct dc_diag_job jobs[7];
	memset(jobs, 0, sizeof(jobs));
	for (size_t i = 0; i < 7; i++)
		jobs[i].region = &doc.map.regions[i];
	struct counter c = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct dc_diag_opts o = {.timeout_ms = 100};
	struct dc_diag_pool_opts po = {.workers = 3, .on_done = on_done, .user = &c};
	assert_int_equal(dc_diag_pool_run(&doc.map, &o, jobs, 7, &po), 3);
	assert_int_equal(c.calls, 7);
	for (size_t i = 0; i < 7; i++) {
		assert_true(jobs[i].started && jobs[i].done);
		assert_ptr_equal(jobs[i].report.region, &doc.map.regions[i]);
		dc_diag_report_free(&jobs[i].report);
	}
	dc_map_doc_free(&doc);
}

static void test_no_region_starts_after_the_deadline(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	load(&doc, 3);
	struct dc_diag_job jobs[3];
	memset(jobs, 0, sizeof(jobs));
	for (size_t i = 0; i < 3; i++)
		jobs[i].region = &doc.map.regions[i];
	struct dc_diag_opts o = {.timeout_ms = 100};
	struct dc_diag_pool_opts po = {.workers = 2, .start_deadline_ns = 1}; /* long past */
	dc_diag_pool_run(&doc.map, &o, jobs, 3, &po);
	for (size_t i = 0; i < 3; i++)
		assert_false(jobs[i].started || jobs[i].done);
	dc_map_doc_free(&doc);
}

static void test_one_region_runs_on_the_calling_thread(void **state)
{
	(void)state;
	struct dc_map_doc doc;
	load(&doc, 1);
	struct dc_diag_job job = {.region = &doc.map.regions[0]};
	struct dc_diag_opts o = {.timeout_ms = 100};
	assert_int_equal(dc_diag_pool_run(&doc.map, &o, &job, 1, NULL), 0);
	assert_true(job.done);
	dc_diag_report_free(&job.report);
	dc_map_doc_free(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_region_is_diagnosed_once_by_at_most_the_workers_asked),
		cmocka_unit_test(test_no_region_starts_after_the_deadline),
		cmocka_unit_test(test_one_region_runs_on_the_calling_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
