/* Many regions at once (output_regions.h): the sections, the summary, JSON and Prometheus. */
#include "derpcheck/output/output_regions.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/output/promtext.h"
#include "derpcheck/output/term.h"

static size_t count_healthy(const struct dc_regions_run *run, size_t *not_started)
{
	size_t ok = 0;
	*not_started = 0;
	for (size_t i = 0; i < run->count; i++) {
		if (!run->jobs[i].done)
			(*not_started)++;
		else if (dc_diag_exit_status(&run->jobs[i].report) == 0)
			ok++;
	}
	return ok;
}

int dc_regions_exit_status(const struct dc_regions_run *run)
{
	size_t not_started;
	return count_healthy(run, &not_started) == run->count ? 0 : 1;
}

static void not_started_text(char *buf, size_t n, const struct dc_regions_run *run)
{
	dc_textf(buf, n, "not checked: no worker was free before --deadline %s", run->deadline ? run->deadline : "");
}

void dc_output_regions_text(FILE *out, const struct dc_regions_run *run, const struct dc_diag_view *v)
{
	for (size_t i = 0; i < run->count; i++) {
		const struct dc_diag_job *j = &run->jobs[i];
		if (!j->done)
			continue;
		if (v->style.quiet && dc_diag_exit_status(&j->report) == 0)
			continue;
		if (v->style.quiet)
			fprintf(out, "region %lld (%s):\n", (long long)j->region->id, dc_term_safe(j->region->code));
		dc_output_diagnose_text(out, &j->report, v);
		fputc('\n', out);
	}
	size_t not_started, ok = count_healthy(run, &not_started);
	fprintf(out, "%zu region%s in %.2fs, at most %u at a time:\n", run->count, run->count == 1 ? "" : "s",
		(double)run->elapsed_ns / 1e9, run->workers);
	for (size_t i = 0; i < run->count; i++) {
		const struct dc_diag_job *j = &run->jobs[i];
		bool healthy = j->done && dc_diag_exit_status(&j->report) == 0;
		if (v->style.quiet && healthy)
			continue;
		char id[64];
		snprintf(id, sizeof(id), "%lld %s", (long long)j->region->id, dc_term_safe(j->region->code));
		if (!j->done) {
			char why[200];
			not_started_text(why, sizeof(why), run);
			fprintf(out, "  %-18s %s\n", id, why);
			continue;
		}
		const struct dc_diag_report *r = &j->report;
		fprintf(out, "  %-18s STUN %-9s DERP %-9s %5.2fs\n", id, dc_verdict_name(r->stun), dc_verdict_name(r->derp),
			(double)r->elapsed_ns / 1e9);
	}
	fprintf(out, "%zu healthy, %zu with problems", ok, run->count - ok - not_started);
	if (not_started)
		fprintf(out, ", %zu not checked", not_started);
	fputc('\n', out);
}

void dc_output_regions_json(FILE *out, const struct dc_regions_run *run, const struct dc_diag_view *v)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddBoolToObject(root, "ok", dc_regions_exit_status(run) == 0);
	cJSON_AddItemToObject(root, "map", v->map_desc ? cJSON_CreateString(v->map_desc) : cJSON_CreateNull());
	cJSON_AddItemToObject(root, "map_note", v->map_note ? cJSON_CreateString(v->map_note) : cJSON_CreateNull());
	cJSON *regions = cJSON_AddArrayToObject(root, "regions");
	for (size_t i = 0; i < run->count; i++) {
		const struct dc_diag_job *j = &run->jobs[i];
		if (j->done) {
			cJSON *doc = dc_output_diagnose_json_doc(&j->report, v);
			/* The map is the same for all: said once, at the top. */
			cJSON_DeleteItemFromObject(doc, "map");
			cJSON_DeleteItemFromObject(doc, "map_note");
			cJSON_AddBoolToObject(doc, "checked", true);
			cJSON_AddItemToArray(regions, doc);
			continue;
		}
		cJSON *o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "ok", false);
		cJSON *rg = cJSON_AddObjectToObject(o, "region");
		cJSON_AddNumberToObject(rg, "id", (double)j->region->id);
		cJSON_AddItemToObject(rg, "code", j->region->code ? cJSON_CreateString(j->region->code) : cJSON_CreateNull());
		cJSON_AddItemToObject(rg, "name", j->region->name ? cJSON_CreateString(j->region->name) : cJSON_CreateNull());
		cJSON_AddBoolToObject(o, "checked", false);
		char why[200];
		not_started_text(why, sizeof(why), run);
		cJSON_AddStringToObject(o, "reason", why);
		cJSON_AddItemToArray(regions, o);
	}
	size_t not_started, ok = count_healthy(run, &not_started);
	cJSON *sum = cJSON_AddObjectToObject(root, "summary");
	cJSON_AddNumberToObject(sum, "regions", (double)run->count);
	cJSON_AddNumberToObject(sum, "healthy", (double)ok);
	cJSON_AddNumberToObject(sum, "problems", (double)(run->count - ok - not_started));
	cJSON_AddNumberToObject(sum, "not_checked", (double)not_started);
	cJSON_AddNumberToObject(sum, "workers", run->workers);
	cJSON_AddNumberToObject(sum, "elapsed_ms", (double)(run->elapsed_ns / 1000u) / 1000.0);
	char *s = dc_json_text(root, true);
	fputs(s ? s : "null", out);
	fputc('\n', out);
	free(s);
	cJSON_Delete(root);
}

void dc_output_regions_prometheus(FILE *out, const struct dc_regions_run *run)
{
	char **texts = dc_xcalloc(run->count + 1, sizeof(*texts));
	size_t n = 0;
	for (size_t i = 0; i < run->count; i++) {
		if (!run->jobs[i].done)
			continue;
		size_t len;
		FILE *mem = open_memstream(&texts[n], &len);
		if (!mem)
			continue;
		dc_output_diagnose_prometheus(mem, &run->jobs[i].report);
		fclose(mem);
		n++;
	}
	struct dc_buf merged = {0};
	dc_prom_merge((const char *const *)texts, n, &merged);
	fwrite(merged.data, 1, merged.len, out);
	dc_buf_free(&merged);
	for (size_t i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
}
