/*
 * libFuzzer target for the deployment readers of `derpcheck server` and what follows
 * them: the first byte picks the reader (compose YAML, docker inspect JSON, systemd unit,
 * /proc cmdline, /proc/net table), the rest is its input; whatever is read goes through
 * derper's flag parser and the judgement (no map, no process: nothing touches the
 * network). Any input must be refused with an error or read without a fault or a leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpcheck/input/deployment.h"
#include "derpcheck/input/derperflags.h"
#include "derpcheck/judge/serverconf.h"
#include "derpcheck/output/output_server.h"
#include "derpcheck/probe/listeners.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	if (!sink && !(sink = fopen("/dev/null", "w")))
		return 0;
	if (size < 1)
		return 0;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	struct dc_error err;
	static struct dc_deployment d;
	int rc = -1;
	switch (data[0] % 5) {
	case 0:
		dc_deployment_init(&d, DC_DEPLOY_COMPOSE);
		rc = dc_compose_parse(text, len, "/fuzz/c.yml", NULL, &d, &err);
		break;
	case 1:
		dc_deployment_init(&d, DC_DEPLOY_INSPECT);
		rc = dc_inspect_parse(text, len, "i.json", &d, &err);
		break;
	case 2:
		dc_deployment_init(&d, DC_DEPLOY_SYSTEMD);
		rc = dc_sysunit_parse(text, len, "u.service", &d, &err);
		break;
	case 3:
		dc_deployment_init(&d, DC_DEPLOY_SYSTEMD);
		rc = dc_proc_parse_cmdline(text, len, &d, &err);
		break;
	default: {
		struct dc_listeners l = {0};
		char *copy = malloc(len + 1);
		memcpy(copy, text, len);
		copy[len] = '\0';
		dc_proc_net_parse(copy, len, (data[0] & 8) != 0, (data[0] & 16) != 0, &l, &err);
		free(copy);
		dc_listeners_free(&l);
		return 0;
	}
	}
	if (rc == 0) {
		/* the judgement reads only files under /nonexistent-ish paths: point certdirs nowhere */
		d.root[0] = '\0';
		struct dc_server_opts o = {.file = &d, .now = 1798761600};
		static struct dc_server_report r;
		dc_server_check_run(&o, &r);
		struct dc_server_view v = {.utf8 = (data[0] & 32) != 0, .opts = &o};
		dc_output_server_text(sink, &r, &v);
		dc_output_server_json(sink, &r, &v);
	}
	dc_deployment_free(&d);
	return 0;
}
