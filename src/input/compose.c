/* placeholder until the YAML reader lands: see dc_compose_parse in deployment.h */
#include "derpcheck/input/deployment.h"

int dc_compose_parse(const char *text, size_t len, const char *file, const char *service, struct dc_deployment *d,
		     struct dc_error *err)
{
	(void)text, (void)len, (void)service, (void)d;
	return dc_error_set(err, file, "compose files are not read yet");
}

int dc_compose_load(const char *file, const char *service, struct dc_deployment *d, struct dc_error *err)
{
	struct dc_buf b = {0};
	if (dc_read_small_file(file, 1u << 20, &b, err) < 0)
		return -1;
	int rc = dc_compose_parse(b.data, b.len, file, service, d, err);
	dc_buf_free(&b);
	return rc;
}
