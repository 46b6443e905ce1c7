# Benchmarks: built and run only by `make bench`, never by `make all` or
# `make check`. bench/run-bench.sh runs them one after the other; the tables
# go to stdout, CSV and Markdown copies to $(builddir)/bench-results/.
# BHC_BENCH_QUICK=1 shrinks every run to a smoke test of a few seconds.

# Shared by every benchmark: timer, statistics, tables (bench/bench-common.h).
EXTRA_LIBRARIES = bench/libbench.a
bench_libbench_a_SOURCES = bench/bench-common.c bench/bench-common.h

# The programs `make bench` builds and runs, in this order.
BENCH_RUN =
EXTRA_PROGRAMS =

EXTRA_DIST += bench/run-bench.sh
CLEANFILES += $(EXTRA_PROGRAMS) $(EXTRA_LIBRARIES)

PHONY_TARGETS += bench clean-bench-results
bench: $(BENCH_RUN)
	$(AM_V_at)CC='$(CC)' CFLAGS='$(CFLAGS)' srcdir='$(srcdir)' \
		$(SHELL) $(srcdir)/bench/run-bench.sh -o '$(abs_builddir)/bench-results' \
		$(BENCH_RUN)

clean-local: clean-bench-results
clean-bench-results:
	-rm -rf bench-results
