/*
 * json_valid FILE...: exit 0 when every FILE holds exactly one JSON document, else name
 * the first that does not. For tests that check derpcheck's --format json output.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *fp = fopen(argv[i], "rb");
		if (!fp) {
			perror(argv[i]);
			return 1;
		}
		static char buf[16 << 20];
		size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		buf[n] = '\0';
		const char *end = NULL;
		cJSON *doc = cJSON_ParseWithOpts(buf, &end, 1);
		if (!doc) {
			fprintf(stderr, "%s: not one JSON document (at byte %td)\n", argv[i], end ? end - buf : 0);
			return 1;
		}
		cJSON_Delete(doc);
	}
	return 0;
}
