/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the daemon's admin request parser (daemon/admin.c),
 * through admin_request_check(): the JSON parsing and validation that
 * admin_handle() does on every ADMIN body, pool-set's warm targets
 * included, without the server (no peers, no pool, no reply). The input
 * is the body, not NUL-terminated, at most 4080 bytes as the protocol
 * allows (longer ones are tried too: they must be refused with EMSGSIZE).
 *
 * A request is either accepted, or refused with one of the statuses
 * docs/ADMIN.md lists and a non-empty message.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bhc/arena-protocol.h>

#include "../daemon/admin.h"

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fuzz_accepts(const uint8_t *data, size_t size);

/* Whether the parser takes @data as a valid admin request (the corpus replay asks for seeds). */
int fuzz_accepts(const uint8_t *data, size_t size)
{
	char msg[512], *json;
	int status;

	if (size == 0)
		return 0;
	json = malloc(size);
	if (!json)
		return 0;
	memcpy(json, data, size);
	status = admin_request_check(json, size, UINT64_C(2) << 20, msg, sizeof(msg));
	free(json);
	return status == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[512], *json;
	int status;

	if (size == 0)
		return 0; /* proto_decode() refuses an empty body before admin.c sees it */
	/* exactly the bytes received, so ASan sees any read past them */
	json = malloc(size);
	if (!json)
		return 0;
	memcpy(json, data, size);
	msg[0] = '\0';
	status = admin_request_check(json, size, UINT64_C(2) << 20, msg, sizeof(msg));
	switch (status) {
	case 0:
		CHECK(size <= BHC_ARENA_MSG_MAX);
		break;
	case EINVAL:
	case EMSGSIZE:
	case EPROTONOSUPPORT:
	case ENOMEM:
		CHECK(msg[0] != '\0' && memchr(msg, '\0', sizeof(msg)) != NULL);
		break;
	default:
		abort();
	}
	if (size > BHC_ARENA_MSG_MAX)
		CHECK(status == EMSGSIZE);
	free(json);
	return 0;
}
