#include "derpcheck/util/util.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define DC_OSSL_TABLE_ITSELF
#include "derpcheck/net/ossl.h"

struct dc_ossl_table dc_ossl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_bool ready;

/* Fill the table from a handle of libssl (dlsym also searches libcrypto, its dependency). */
static const char *resolve(void *lib)
{
	/* POSIX dlsym returns void *; converting it to a function pointer is the documented idiom. */
#define DC_OSSL_RESOLVE(name)                                      \
	*(void **)(&dc_ossl.name) = dlsym(lib, #name);             \
	if (!dc_ossl.name)                                         \
		return #name;
	DC_OSSL_FUNCTIONS(DC_OSSL_RESOLVE)
#undef DC_OSSL_RESOLVE
	return NULL;
}

static void load(void)
{
	void *lib = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
	const char *missing = lib ? resolve(lib) : NULL;
	if (!lib || missing) {
		fprintf(stderr, "derpcheck: cannot load OpenSSL 3: %s%s\n", lib ? "it lacks " : dlerror(),
			lib ? missing : "");
		fprintf(stderr, "  hint: install it: apt-get install libssl3\n");
		exit(2);
	}
	atomic_store(&ready, true);
}

void dc_ossl_need(void)
{
	if (!atomic_load_explicit(&ready, memory_order_acquire))
		pthread_once(&once, load);
}

bool dc_ossl_loaded(void)
{
	return atomic_load(&ready);
}

/*
 * A program linked with OpenSSL (a unit test, a test server, a fuzz target) may hand us
 * objects it made itself before any of our entry points ran: fill the table at start-up
 * there. derpcheck itself is not linked with OpenSSL, so this finds nothing and costs one
 * look at the already loaded objects.
 */
__attribute__((constructor)) static void adopt_linked_openssl(void)
{
	void *linked = dlopen("libssl.so.3", RTLD_NOW | RTLD_NOLOAD);
	if (linked) {
		dlclose(linked);
		dc_ossl_need();
	}
}
