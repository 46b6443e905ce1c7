/* SPDX-License-Identifier: MIT */
/*
 * The fuzz targets (fuzz/fuzz-*.c) without libFuzzer: every file of the
 * checked-in corpus of one target (fuzz/corpus/FUZZ_TARGET/), crash
 * reproducers included, goes through the target's LLVMFuzzerTestOneInput()
 * in a child of its own, with whatever compiler and sanitizer make check
 * runs under (gcc, clang, ASan+UBSan, Valgrind). A target's checks abort()
 * on a violated invariant, which fails the corpus's one result with a
 * message that names the file. The valid seeds must be accepted by the
 * target's parser (fuzz_accepts()), and some invalid ones refused.
 *
 * Beside the corpus, the unit tests of the bugs the fuzzers found.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "../daemon/config.h"
#include "tap.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET names the corpus: proto, config or admin"
#endif

#define MAX_FILES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static char corpus_dir[1024];
static char *files[MAX_FILES];
static int n_files;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_corpus(void)
{
	const char *top = getenv("abs_top_srcdir");
	struct dirent *e;
	DIR *dir;

	snprintf(corpus_dir, sizeof(corpus_dir), "%s/fuzz/corpus/%s", top ? top : ".", FUZZ_TARGET);
	dir = opendir(corpus_dir);
	if (!dir)
		return;
	while ((e = readdir(dir)) && n_files < MAX_FILES) {
		if (e->d_name[0] == '.')
			continue;
		files[n_files] = strdup(e->d_name);
		if (files[n_files])
			n_files++;
	}
	closedir(dir);
	qsort(files, (size_t)n_files, sizeof(files[0]), cmp_str);
}

int fuzz_accepts(const uint8_t *data, size_t size);

/* The file @name of the corpus, read whole (malloc'd); fails the test if it cannot be. */
static unsigned char *read_seed(const char *name, size_t *sizep)
{
	char path[2048];
	unsigned char *buf;
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", corpus_dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	n = read(fd, buf, (size_t)st.st_size);
	ck_assert_int_eq(n, st.st_size);
	close(fd);
	*sizep = (size_t)n;
	return buf;
}

/*
 * Every file through the target, each in a child of its own (so that an
 * abort() names the file): one result for the whole corpus.
 */
START_TEST(test_corpus)
{
	unsigned char *buf;
	size_t size;
	int i, status;
	pid_t pid;

	for (i = 0; i < n_files; i++) {
		buf = read_seed(files[i], &size);
		fflush(NULL);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			_exit(LLVMFuzzerTestOneInput(buf, size) == 0 ? 0 : 1);
		free(buf);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "%s/%s: wait status 0x%x (%s)", corpus_dir, files[i], status,
			      WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exit");
	}
}
END_TEST

/*
 * The seeds that are valid input (and some that are not) get the parser's
 * answer they must: a target whose parser refused everything, or took
 * everything, would pass test_corpus but not this.
 */
static const char *const valid_seeds[] = {
#if defined(FUZZ_VALID_PROTO)
	"acquire", "acquire-huge", "hello", "hello-admin", "release", "admin",
#elif defined(FUZZ_VALID_CONFIG)
	"minimal.conf",
	"full.conf",
	"comments.conf",
#else
	"req-00", "req-01", "req-02", "req-05", "req-07",
#endif
};

static const char *const invalid_seeds[] = {
#if defined(FUZZ_VALID_PROTO)
	"badmagic", "badversion", "badlength", "short", "empty", "unknown",
#elif defined(FUZZ_VALID_CONFIG)
	"bad-key.conf",
	"bad-syntax.conf",
#else
	"req-10", "req-11", "req-12", "req-14", "req-15",
#endif
};

START_TEST(test_valid_seeds)
{
	unsigned char *buf;
	size_t i, size;

	for (i = 0; i < sizeof(valid_seeds) / sizeof(valid_seeds[0]); i++) {
		buf = read_seed(valid_seeds[i], &size);
		ck_assert_msg(fuzz_accepts(buf, size), "%s: a valid seed, refused", valid_seeds[i]);
		free(buf);
	}
	for (i = 0; i < sizeof(invalid_seeds) / sizeof(invalid_seeds[0]); i++) {
		buf = read_seed(invalid_seeds[i], &size);
		ck_assert_msg(!fuzz_accepts(buf, size), "%s: an invalid seed, accepted",
			      invalid_seeds[i]);
		free(buf);
	}
}
END_TEST

START_TEST(test_corpus_present)
{
	/* at least the seeds: an empty or missing corpus would test nothing */
	ck_assert_msg(n_files >= 3, "%s: %d files", corpus_dir, n_files);
}
END_TEST

/*
 * fuzz/corpus/config/regress-admin-group-comment: "admin_group =;bh" was
 * taken as the group ";bh", which --check-config printed as
 * "admin_group = ;bh", which reads back as no group at all (';' after
 * a space starts a comment). A group name is now checked.
 */
START_TEST(test_admin_group_must_be_a_name)
{
	static const char *const bad[] = { ";bh = in", "a b", "wheel;", "x\ty", "#g" };
	static const char *const good[] = { "bhc-arena-admin", "wheel", "grp_1.x", "smb$", "" };
	char err[CONFIG_ERROR_MAX];
	struct config *cfg;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_int_eq(config_new(&cfg), 0);
		ck_assert_int_eq(
			config_set(cfg, "daemon", "socket", "/run/x.sock", err, sizeof(err)), 0);
		ck_assert_int_eq(config_set(cfg, "daemon", "admin_group", bad[i], err, sizeof(err)),
				 0);
		ck_assert_int_eq(config_validate(cfg, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, "admin_group") && strstr(err, "not a group name"), "%s",
			      err);
		config_free(cfg);
	}
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		ck_assert_int_eq(config_new(&cfg), 0);
		ck_assert_int_eq(
			config_set(cfg, "daemon", "socket", "/run/x.sock", err, sizeof(err)), 0);
		ck_assert_int_eq(
			config_set(cfg, "daemon", "admin_group", good[i], err, sizeof(err)), 0);
		ck_assert_msg(config_validate(cfg, err, sizeof(err)) == 0, "%s: %s", good[i], err);
		config_free(cfg);
	}
	/* the file that found it: parses, and is refused by validation with that message */
	ck_assert_int_eq(config_new(&cfg), 0);
	ck_assert_int_eq(config_parse_string(cfg,
					     "[daemon]\nsocket = /run/x.sock\n"
					     "admin_group =;bh = in\n",
					     "regress.conf", err, sizeof(err)),
			 0);
	ck_assert_str_eq(cfg->admin_group, ";bh = in");
	ck_assert_int_eq(config_validate(cfg, err, sizeof(err)), -EINVAL);
	config_free(cfg);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("fuzz-corpus-" FUZZ_TARGET);
	TCase *tc;

	list_corpus();
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	tc = tcase_create("corpus_present");
	tcase_add_test(tc, test_corpus_present);
	suite_add_tcase(s, tc);
	tc = tcase_create("corpus");
	tcase_add_test(tc, test_corpus);
	suite_add_tcase(s, tc);
	tc = tcase_create("valid_seeds");
	tcase_add_test(tc, test_valid_seeds);
	suite_add_tcase(s, tc);
	if (strcmp(FUZZ_TARGET, "config") == 0) {
		tc = tcase_create("regressions");
		tcase_add_test(tc, test_admin_group_must_be_a_name);
		suite_add_tcase(s, tc);
	}
	return bhc_test_run(s);
}
