/* Helpers shared by the programs in bench/ (each is its own program: static inline). */
#ifndef DERPCHECK_BENCHUTIL_H
#define DERPCHECK_BENCHUTIL_H

#include <stdio.h>

/* Write a generated input for the bench scripts; 0, or 2 (perror'd) when it cannot. */
static inline int bench_write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		return 2;
	}
	return 0;
}

#endif
