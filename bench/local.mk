# Benchmarks: built and run only by `make bench`, never by `make all` or
# `make check`. bench/run-bench.sh runs them one after the other; the tables
# go to stdout, CSV and Markdown copies to $(builddir)/bench-results/.
# BHC_BENCH_QUICK=1 shrinks every run to a smoke test of a few seconds.

# Shared by every benchmark: timer, statistics, tables (bench/bench-common.h).
EXTRA_LIBRARIES = bench/libbench.a
bench_libbench_a_SOURCES = bench/bench-common.c bench/bench-common.h

# The programs `make bench` builds and runs, in this order.
BENCH_RUN = bench/bench-alloc$(EXEEXT)
EXTRA_PROGRAMS = bench/bench-alloc

# The allocation fast path against glibc malloc, obstack, APR, talloc,
# jemalloc and mimalloc. jemalloc and mimalloc are dlopen()ed, not linked:
# both would otherwise replace glibc's malloc for the whole process.
bench_bench_alloc_SOURCES = \
	bench/bench-alloc.c \
	bench/alloc-peers.h \
	bench/alloc-peer-apr.c \
	bench/alloc-peer-jemalloc.c \
	bench/alloc-peer-mimalloc.c \
	bench/alloc-peer-obstack.c \
	bench/alloc-peer-talloc.c
bench_bench_alloc_CFLAGS = $(AM_CFLAGS) $(APR_CFLAGS) $(TALLOC_CFLAGS)
# -no-install: a real binary, not a libtool wrapper (objdump, /proc/self/exe).
bench_bench_alloc_LDFLAGS = -no-install
bench_bench_alloc_LDADD = bench/libbench.a client/libbhc-arena.la \
	$(APR_LIBS) $(TALLOC_LIBS) -ldl -lm

EXTRA_DIST += bench/run-bench.sh bench/plot-alloc.gp docs/img/alloc.svg
CLEANFILES += $(EXTRA_PROGRAMS) $(EXTRA_LIBRARIES)

PHONY_TARGETS += bench clean-bench-results
bench: $(BENCH_RUN)
	$(AM_V_at)CC='$(CC)' CFLAGS='$(CFLAGS)' srcdir='$(srcdir)' \
		$(SHELL) $(srcdir)/bench/run-bench.sh -o '$(abs_builddir)/bench-results' \
		$(BENCH_RUN)

clean-local: clean-bench-results
clean-bench-results:
	-rm -rf bench-results

# --- region benchmarks: bhc-arenad against what a process can do alone ---------
# Each starts its own bhc-arenad (the one built here, or $BHC_ARENAD) on a
# private socket, reserves the hugepages it needs when it runs as root and
# gives them back at the end. bench/bench-daemon.c holds what they share;
# the admin session comes from bhc-arenactl's library.
EXTRA_LIBRARIES += bench/libbench-daemon.a
bench_libbench_daemon_a_SOURCES = bench/bench-daemon.c bench/bench-daemon.h
bench_libbench_daemon_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/ctl
bench_libbench_daemon_a_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
BENCH_DAEMON_LIBS = bench/libbench-daemon.a bench/libbench.a ctl/libarenactl.la \
	client/libbhc-arena.la $(JSONC_LIBS) -lm

BENCH_RUN += bench/bench-acquire$(EXEEXT)
EXTRA_PROGRAMS += bench/bench-acquire
# Acquire latency of a warm 64 MiB region, 1 and 16 clients, against a
# local hugetlb mmap.
bench_bench_acquire_SOURCES = bench/bench-acquire.c
bench_bench_acquire_LDFLAGS = -no-install
bench_bench_acquire_LDADD = $(BENCH_DAEMON_LIBS)

# The benchmarks above run the daemon built here.
bench: daemon/bhc-arenad$(EXEEXT)

BENCH_RUN += bench/bench-firsttouch$(EXEEXT)
EXTRA_PROGRAMS += bench/bench-firsttouch
# First full write of a 512 MiB daemon region against fresh small pages
# and against resident memory (the limit).
bench_bench_firsttouch_SOURCES = bench/bench-firsttouch.c
bench_bench_firsttouch_LDFLAGS = -no-install
bench_bench_firsttouch_LDADD = $(BENCH_DAEMON_LIBS)

BENCH_RUN += bench/bench-handout$(EXEEXT)
EXTRA_PROGRAMS += bench/bench-handout
# Sustained hand-out of 2 MiB regions against the kernel's own hugetlb
# memfd fallocate rate.
bench_bench_handout_SOURCES = bench/bench-handout.c bench/handout-ref.c bench/handout-ref.h
bench_bench_handout_CFLAGS = $(AM_CFLAGS) $(LIBURING_CFLAGS)
bench_bench_handout_LDFLAGS = -no-install
bench_bench_handout_LDADD = $(BENCH_DAEMON_LIBS) $(LIBURING_LIBS)

# --- numeric kernels on daemon hugepage arenas, local arenas and malloc -------
# GUPS and a dependent-read chase over 1 GiB tables, a stencil over 1 GiB, a
# blocked matrix multiply whose temporaries live in arena scopes, and OpenBLAS
# sgemm when configure found it. bench-kernels-mem.c is the kinds of memory
# and the side-by-side driver.
BENCH_KERNELS_SOURCES = bench/bench-kernels-mem.c bench/bench-kernels-mem.h
if HAVE_OPENBLAS
BENCH_RUN += bench/bench-blas$(EXEEXT)
endif
BENCH_RUN += bench/bench-kernels$(EXEEXT)
EXTRA_PROGRAMS += bench/bench-kernels bench/bench-blas

bench_bench_kernels_SOURCES = bench/bench-kernels.c $(BENCH_KERNELS_SOURCES)
bench_bench_kernels_LDFLAGS = -no-install
bench_bench_kernels_LDADD = $(BENCH_DAEMON_LIBS)

bench_bench_blas_SOURCES = bench/bench-blas.c $(BENCH_KERNELS_SOURCES)
bench_bench_blas_LDFLAGS = -no-install
bench_bench_blas_LDADD = $(BENCH_DAEMON_LIBS) $(OPENBLAS_LIBS)

# The Rust crate's 16-byte allocation against bumpalo and the C fast path
# (rust/bhc-rts-arena/benches/alloc.rs, through cargo; skipped without it).
BENCH_RUN += $(srcdir)/bench/bench-rust.sh
EXTRA_DIST += bench/bench-rust.sh

# `make bench-plot`: every chart as PNG from the CSVs in bench-results/ (gnuplot).
EXTRA_DIST += bench/bench-plot.sh bench/plot-kernels.gp docs/img/kernels.png
PHONY_TARGETS += bench-plot
bench-plot:
	$(AM_V_at)srcdir='$(srcdir)' $(SHELL) $(srcdir)/bench/bench-plot.sh \
		-o '$(abs_builddir)/bench-results'

BENCH_RUN += bench/bench-reuse$(EXEEXT)
EXTRA_PROGRAMS += bench/bench-reuse
# Process-local reuse: new + alloc + free cycles with reuse on and off, and
# bhc_with_arena() within and beyond the thread's arena.
bench_bench_reuse_SOURCES = bench/bench-reuse.c
bench_bench_reuse_LDFLAGS = -no-install
bench_bench_reuse_LDADD = $(BENCH_DAEMON_LIBS)
