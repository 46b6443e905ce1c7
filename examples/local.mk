# Examples from the seed, in C. Built and run by `make check` (each prints TAP).
arena_examples = \
	examples/with-arena \
	examples/manual-arena \
	examples/nested-scopes \
	examples/simd-align \
	examples/thread-arenas \
	examples/matmul
check_PROGRAMS += $(arena_examples)
TESTS += $(arena_examples)
examples_with_arena_LDADD = client/libbhc-arena.la -lm
examples_manual_arena_LDADD = client/libbhc-arena.la
examples_nested_scopes_LDADD = client/libbhc-arena.la
examples_simd_align_LDADD = client/libbhc-arena.la
examples_thread_arenas_LDADD = client/libbhc-arena.la
examples_matmul_LDADD = client/libbhc-arena.la -lm

# A job-like client for scripts/run.sh (built by `make`; also a test).
noinst_PROGRAMS += examples/job
TESTS += examples/job
examples_job_LDADD = client/libbhc-arena.la
