/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the daemon's configuration parser (daemon/config.c),
 * through config_parse_string(), the same INI handler and key parsers as a
 * file or a SIGHUP reload goes through. The input is the file's text.
 *
 * Beyond "no crash, no leak, no undefined behaviour": a parse either works
 * or leaves a message; a configuration that parses and validates prints
 * (config_print(), as --check-config does) as text that parses back to
 * the same configuration; and the restart-only keys of any parsed
 * configuration can be carried over from the defaults as a reload does.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../daemon/config.h"
#include "../daemon/log.h"

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

/* inih's line buffer: longer printed lines cannot be read back as they are. */
#define LINE_MAX_INI 200

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fuzz_accepts(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* reload's warnings go to stderr otherwise: keep the fuzzer's output readable */
	log_set_level(LOG_EMERG);
	return 0;
}

/* config_print() into a malloc'd string. */
static char *print(const struct config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	config_print(cfg, f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static bool lines_fit(const char *text)
{
	const char *nl;

	for (; *text; text = nl + 1) {
		nl = strchr(text, '\n');
		if (!nl)
			return strlen(text) < LINE_MAX_INI;
		if (nl - text >= LINE_MAX_INI - 1)
			return false;
	}
	return true;
}

/* A valid configuration prints as text that parses back to the same one. */
static void round_trip(const struct config *cfg)
{
	char err[CONFIG_ERROR_MAX], *text, *again;
	struct config *back;
	int r;

	text = print(cfg);
	if (!text)
		return;
	if (!lines_fit(text) || config_new(&back) < 0) {
		free(text);
		return;
	}
	r = config_parse_string(back, text, "printed", err, sizeof(err));
	if (r == -ENOMEM)
		goto out;
	if (r < 0) {
		fprintf(stderr, "printed configuration does not parse: %s\n%s", err, text);
		abort();
	}
	CHECK(config_validate(back, err, sizeof(err)) == 0);
	again = print(back);
	if (again) {
		if (strcmp(text, again) != 0) {
			fprintf(stderr, "round trip changed the configuration:\n%s---\n%s", text,
				again);
			abort();
		}
		free(again);
	}
out:
	config_free(back);
	free(text);
}

/* Whether @data parses and validates as a configuration (the corpus replay asks for seeds). */
int fuzz_accepts(const uint8_t *data, size_t size)
{
	char err[CONFIG_ERROR_MAX], *text;
	struct config *cfg;
	int r;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (config_new(&cfg) < 0) {
		free(text);
		return 0;
	}
	r = config_parse_string(cfg, text, "seed.conf", err, sizeof(err));
	if (r == 0 && (!cfg->socket || !cfg->socket[0]))
		r = config_set(cfg, "daemon", "socket", "/run/fuzz/arenad.sock", err, sizeof(err));
	if (r == 0)
		r = config_validate(cfg, err, sizeof(err));
	config_free(cfg);
	free(text);
	return r == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CONFIG_ERROR_MAX], *text;
	struct config *cfg, *defaults;
	int r;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (config_new(&cfg) < 0) {
		free(text);
		return 0;
	}
	err[0] = '\0';
	r = config_parse_string(cfg, text, "fuzz.conf", err, sizeof(err));
	CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == -EINVAL)
		CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
	if (r == 0) {
		/* config_load() fills in the socket when the file leaves it out */
		if (!cfg->socket || !cfg->socket[0])
			CHECK(config_set(cfg, "daemon", "socket", "/run/fuzz/arenad.sock", err,
					 sizeof(err)) != -EINVAL);
		if (cfg->socket && config_validate(cfg, err, sizeof(err)) == 0)
			round_trip(cfg);
		/* a reload keeps what only a restart may change */
		if (config_new(&defaults) == 0) {
			config_keep_restart_only(cfg, defaults);
			config_free(defaults);
		}
	}
	config_free(cfg);
	free(text);
	return 0;
}
