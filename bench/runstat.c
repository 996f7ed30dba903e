/*
 * runstat CMD [ARGS...]: run a command, then print "WALL_SECONDS MAXRSS_KB EXIT CPU_SECONDS"
 * on stderr (the command's own output passes through; CPU is user + system time of all its
 * threads). For bench scripts, instead of depending on /usr/bin/time.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "derpcheck/util/util.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: runstat CMD [ARGS...]\n");
		return 2;
	}
	uint64_t t0 = dc_now_ns();
	pid_t pid = fork();
	if (pid < 0) {
		perror("runstat: fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		perror("runstat: exec");
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("runstat: wait4");
		return 2;
	}
	double wall = (double)(dc_now_ns() - t0) / 1e9;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		     (double)ru.ru_stime.tv_usec / 1e6;
	fprintf(stderr, "%.4f %ld %d %.4f\n", wall, ru.ru_maxrss, code, cpu);
	return code;
}
