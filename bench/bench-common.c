// SPDX-License-Identifier: MIT
/* Shared helpers of the bench/ programs: see bench-common.h. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench-common.h"

int bench_parse_opts(int argc, char **argv, const char *what, struct bench_opts *opts)
{
	const char *quick = getenv("BHC_BENCH_QUICK");
	const char *out = getenv("BHC_BENCH_OUT");
	int c;

	opts->out_dir = out && *out ? out : NULL;
	opts->quick = quick && *quick && strcmp(quick, "0") != 0;
	while ((c = getopt(argc, argv, "ho:q")) != -1) {
		switch (c) {
		case 'o':
			opts->out_dir = optarg;
			break;
		case 'q':
			opts->quick = true;
			break;
		case 'h':
			printf("Usage: %s [-q] [-o DIR]\n%s\n\n"
			       "  -q      quick smoke run (also BHC_BENCH_QUICK=1)\n"
			       "  -o DIR  write the tables as CSV and Markdown into DIR (also BHC_BENCH_OUT)\n",
			       argv[0], what);
			return 1;
		default:
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (try -h)\n", argv[0], argv[optind]);
		return -EINVAL;
	}
	/* Fail now, not after minutes of measuring. */
	if (opts->out_dir && mkdir(opts->out_dir, 0777) < 0 && errno != EEXIST) {
		fprintf(stderr, "%s: cannot create %s: %s\n", argv[0], opts->out_dir,
			strerror(errno));
		return -errno;
	}
	if (opts->out_dir && access(opts->out_dir, W_OK) < 0) {
		fprintf(stderr, "%s: cannot write into %s: %s\n", argv[0], opts->out_dir,
			strerror(errno));
		return -errno;
	}
	return 0;
}

int bench_out_path(const struct bench_opts *opts, const char *name, char **pathp)
{
	char *path;

	if (!opts->out_dir)
		return -ENOENT;
	if (mkdir(opts->out_dir, 0777) < 0 && errno != EEXIST)
		return -errno;
	if (asprintf(&path, "%s/%s", opts->out_dir, name) < 0)
		return -ENOMEM;
	*pathp = path;
	return 0;
}

/* --- time ------------------------------------------------------------------------ */

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	/* Cannot fail for CLOCK_MONOTONIC with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_timer_overhead_ns(size_t n_samples)
{
	double *v = calloc(n_samples ? n_samples : 1, sizeof(*v));
	double med;
	size_t i;

	if (!v)
		return 0;
	for (i = 0; i < n_samples; i++) {
		uint64_t t0 = bench_now_ns();

		v[i] = (double)(bench_now_ns() - t0);
	}
	qsort(v, n_samples, sizeof(*v), cmp_double);
	med = bench_percentile(v, n_samples, 0.5);
	free(v);
	return med;
}

/* --- statistics ------------------------------------------------------------------- */

double bench_percentile(const double *sorted, size_t n, double q)
{
	size_t rank;

	if (!n)
		return NAN;
	/* Nearest rank: the smallest sample with at least q * n samples at or below it. */
	rank = (size_t)ceil(q * (double)n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

int bench_stats_compute(const double *samples, size_t n, struct bench_stats *st)
{
	double *v, sum = 0;
	size_t i;

	if (!n)
		return -EINVAL;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v, samples, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_double);
	for (i = 0; i < n; i++)
		sum += v[i];
	st->n = n;
	st->min = v[0];
	st->max = v[n - 1];
	st->p50 = bench_percentile(v, n, 0.5);
	st->p99 = bench_percentile(v, n, 0.99);
	st->mean = sum / (double)n;
	free(v);
	return 0;
}

int bench_robust_mean(const double *samples, size_t n, double slack, struct bench_mean *m)
{
	double *v, cut, sum = 0, sq = 0;
	size_t i, kept = 0;

	if (!n)
		return -EINVAL;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v, samples, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_double);
	cut = bench_percentile(v, n, 0.5) + slack;
	for (i = 0; i < n && v[i] <= cut; i++) {
		sum += v[i];
		kept++;
	}
	m->n_kept = kept;
	m->mean = sum / (double)kept;
	for (i = 0; i < kept; i++)
		sq += (v[i] - m->mean) * (v[i] - m->mean);
	m->sem = kept > 1 ? sqrt(sq / (double)(kept - 1) / (double)kept) : NAN;
	free(v);
	return 0;
}

/* --- interleaved repeats ------------------------------------------------------------ */

int bench_interleave(struct bench_case *cases, size_t n_cases, unsigned int n_warmup,
		     unsigned int n_rounds)
{
	unsigned int round;
	size_t i;

	for (i = 0; i < n_cases; i++) {
		cases[i].err = 0;
		cases[i].samples = calloc(n_rounds ? n_rounds : 1, sizeof(double));
		if (!cases[i].samples)
			goto out_free_samples;
	}
	for (round = 0; round < n_warmup + n_rounds; round++) {
		for (i = 0; i < n_cases; i++) {
			double v;

			if (!cases[i].run)
				cases[i].err = -ENOENT;
			if (cases[i].err)
				continue;
			v = cases[i].run(cases[i].ctx);
			if (v < 0) {
				cases[i].err = -EIO;
				continue;
			}
			if (round >= n_warmup)
				cases[i].samples[round - n_warmup] = v;
		}
	}
	return 0;

out_free_samples:
	while (i-- > 0) {
		free(cases[i].samples);
		cases[i].samples = NULL;
	}
	return -ENOMEM;
}

/* --- tables --------------------------------------------------------------------- */

struct bench_row {
	bool rule;
	size_t n_filled;
	char **cells; /* n_columns, owned */
};

struct bench_table {
	char *title;
	size_t n_columns;
	struct bench_column *columns; /* names owned */
	size_t n_rows;
	size_t n_alloc;
	struct bench_row *rows;
	int err; /* first failure while filling, reported when written */
};

void bench_table_free(struct bench_table *table)
{
	size_t r, c;

	if (!table)
		return;
	for (r = 0; r < table->n_rows; r++) {
		for (c = 0; table->rows[r].cells && c < table->n_columns; c++)
			free(table->rows[r].cells[c]);
		free(table->rows[r].cells);
	}
	free(table->rows);
	for (c = 0; c < table->n_columns; c++)
		free((char *)table->columns[c].name);
	free(table->columns);
	free(table->title);
	free(table);
}

int bench_table_new(const char *title, const struct bench_column *columns, size_t n_columns,
		    struct bench_table **tablep)
{
	struct bench_table *t;
	size_t c;

	if (!n_columns)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->title = strdup(title ? title : "");
	t->columns = calloc(n_columns, sizeof(*t->columns));
	if (!t->title || !t->columns)
		goto out_free_table;
	t->n_columns = n_columns;
	for (c = 0; c < n_columns; c++) {
		t->columns[c].text = columns[c].text;
		t->columns[c].name = strdup(columns[c].name);
		if (!t->columns[c].name)
			goto out_free_table;
	}
	*tablep = t;
	return 0;

out_free_table:
	bench_table_free(t);
	return -ENOMEM;
}

static struct bench_row *table_append(struct bench_table *t)
{
	struct bench_row *row;

	if (t->n_rows == t->n_alloc) {
		size_t n = t->n_alloc ? 2 * t->n_alloc : 16;
		struct bench_row *rows = realloc(t->rows, n * sizeof(*rows));

		if (!rows)
			return NULL;
		t->rows = rows;
		t->n_alloc = n;
	}
	row = &t->rows[t->n_rows];
	memset(row, 0, sizeof(*row));
	t->n_rows++;
	return row;
}

int bench_table_row(struct bench_table *table)
{
	struct bench_row *row = table_append(table);

	if (!row)
		goto out_fail;
	row->cells = calloc(table->n_columns, sizeof(*row->cells));
	if (!row->cells) {
		table->n_rows--;
		goto out_fail;
	}
	return 0;

out_fail:
	if (!table->err)
		table->err = -ENOMEM;
	return -ENOMEM;
}

int bench_table_cell(struct bench_table *table, const char *fmt, ...)
{
	struct bench_row *row = table->n_rows ? &table->rows[table->n_rows - 1] : NULL;
	va_list ap;
	int r;

	if (!row || row->rule || row->n_filled == table->n_columns) {
		r = -EINVAL;
		goto out_fail;
	}
	va_start(ap, fmt);
	r = vasprintf(&row->cells[row->n_filled], fmt, ap);
	va_end(ap);
	if (r < 0) {
		row->cells[row->n_filled] = NULL;
		r = -ENOMEM;
		goto out_fail;
	}
	row->n_filled++;
	return 0;

out_fail:
	if (!table->err)
		table->err = r;
	return r;
}

int bench_table_add_rule(struct bench_table *table)
{
	struct bench_row *row = table_append(table);

	if (!row) {
		if (!table->err)
			table->err = -ENOMEM;
		return -ENOMEM;
	}
	row->rule = true;
	return 0;
}

static const char *cell_text(const struct bench_row *row, size_t c)
{
	return c < row->n_filled && row->cells[c] ? row->cells[c] : "";
}

/* Display width of a UTF-8 string: count the bytes that start a character. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void print_padded(FILE *f, const char *s, size_t width, bool left)
{
	size_t w = text_width(s);
	size_t pad = width > w ? width - w : 0;

	if (left)
		fprintf(f, "%s%*s", s, (int)pad, "");
	else
		fprintf(f, "%*s%s", (int)pad, "", s);
}

static void column_widths(const struct bench_table *t, size_t *width)
{
	size_t r, c;

	for (c = 0; c < t->n_columns; c++) {
		width[c] = text_width(t->columns[c].name);
		for (r = 0; r < t->n_rows; r++) {
			size_t w;

			if (t->rows[r].rule)
				continue;
			w = text_width(cell_text(&t->rows[r], c));
			if (w > width[c])
				width[c] = w;
		}
	}
}

static void print_rule(FILE *f, const size_t *width, size_t n_columns)
{
	size_t c, i, total = 0;

	for (c = 0; c < n_columns; c++)
		total += width[c] + (c ? 2 : 0);
	for (i = 0; i < total; i++)
		fputc('-', f);
	fputc('\n', f);
}

void bench_table_print(const struct bench_table *table, FILE *f)
{
	size_t *width = calloc(table->n_columns, sizeof(*width));
	size_t r, c;

	if (!width) {
		fprintf(f, "(%s: out of memory)\n", table->title);
		return;
	}
	column_widths(table, width);
	if (*table->title)
		fprintf(f, "\n%s\n\n", table->title);
	for (c = 0; c < table->n_columns; c++) {
		fputs(c ? "  " : "", f);
		/* No trailing blanks after a left-aligned last column. */
		if (c == table->n_columns - 1 && table->columns[c].text)
			fputs(table->columns[c].name, f);
		else
			print_padded(f, table->columns[c].name, width[c], table->columns[c].text);
	}
	fputc('\n', f);
	print_rule(f, width, table->n_columns);
	for (r = 0; r < table->n_rows; r++) {
		if (table->rows[r].rule) {
			print_rule(f, width, table->n_columns);
			continue;
		}
		for (c = 0; c < table->n_columns; c++) {
			fputs(c ? "  " : "", f);
			if (c == table->n_columns - 1 && table->columns[c].text)
				fputs(cell_text(&table->rows[r], c), f);
			else
				print_padded(f, cell_text(&table->rows[r], c), width[c],
					     table->columns[c].text);
		}
		fputc('\n', f);
	}
	free(width);
}

static void print_md_cell(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s, f);
	}
}

void bench_table_print_markdown(const struct bench_table *table, FILE *f)
{
	size_t r, c;

	for (c = 0; c < table->n_columns; c++) {
		fputs("| ", f);
		print_md_cell(f, table->columns[c].name);
		fputc(' ', f);
	}
	fputs("|\n", f);
	for (c = 0; c < table->n_columns; c++)
		fputs(table->columns[c].text ? "|:---" : "|---:", f);
	fputs("|\n", f);
	for (r = 0; r < table->n_rows; r++) {
		if (table->rows[r].rule)
			continue;
		for (c = 0; c < table->n_columns; c++) {
			fputs("| ", f);
			print_md_cell(f, cell_text(&table->rows[r], c));
			fputc(' ', f);
		}
		fputs("|\n", f);
	}
}

static void print_csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

int bench_table_write_csv(const struct bench_table *table, const char *path)
{
	FILE *f;
	size_t r, c;

	if (table->err)
		return table->err;
	f = fopen(path, "we");
	if (!f)
		return -errno;
	for (c = 0; c < table->n_columns; c++) {
		fputs(c ? "," : "", f);
		print_csv_field(f, table->columns[c].name);
	}
	fputs("\r\n", f);
	for (r = 0; r < table->n_rows; r++) {
		if (table->rows[r].rule)
			continue;
		for (c = 0; c < table->n_columns; c++) {
			fputs(c ? "," : "", f);
			print_csv_field(f, cell_text(&table->rows[r], c));
		}
		fputs("\r\n", f);
	}
	if (ferror(f)) {
		fclose(f);
		return -EIO;
	}
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

static int write_markdown(const struct bench_table *table, const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	bench_table_print_markdown(table, f);
	if (ferror(f)) {
		fclose(f);
		return -EIO;
	}
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

int bench_table_save(const struct bench_table *table, const struct bench_opts *opts,
		     const char *name)
{
	char *csv, *md = NULL, *path = NULL;
	int r;

	if (!opts->out_dir)
		return 0;
	if (asprintf(&csv, "%s.csv", name) < 0)
		return -ENOMEM;
	r = bench_out_path(opts, csv, &path);
	if (r < 0)
		goto out_complain;
	r = bench_table_write_csv(table, path);
	if (r < 0)
		goto out_complain;
	free(path);
	path = NULL;
	r = -ENOMEM;
	if (asprintf(&md, "%s.md", name) < 0) {
		md = NULL;
		goto out_complain;
	}
	r = bench_out_path(opts, md, &path);
	if (r < 0)
		goto out_complain;
	r = write_markdown(table, path);
	if (r < 0)
		goto out_complain;
	goto out_free;

out_complain:
	fprintf(stderr, "cannot write %s/%s: %s\n", opts->out_dir, md ? md : csv, strerror(-r));
out_free:
	free(path);
	free(md);
	free(csv);
	return r;
}

/* --- the machine ----------------------------------------------------------------- */

/* The first line of @path that starts with @key, from after its ':' on. */
static bool read_keyed_line(const char *path, const char *key, char *buf, size_t size)
{
	char line[512];
	bool found = false;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *v = strchr(line, ':');

		if (strncmp(line, key, strlen(key)) != 0 || !v)
			continue;
		v += 1 + strspn(v + 1, " \t");
		v[strcspn(v, "\n")] = '\0';
		snprintf(buf, size, "%s", v);
		found = true;
	}
	fclose(f);
	return found;
}

static bool read_first_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, (int)size, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

void bench_machine_get(struct bench_machine *m)
{
	struct utsname u;
	time_t now = time(NULL);
	struct tm tm;
	size_t len;

	memset(m, 0, sizeof(*m));
	if (!read_keyed_line("/proc/cpuinfo", "model name", m->cpu, sizeof(m->cpu)))
		snprintf(m->cpu, sizeof(m->cpu), "unknown");
	if (uname(&u) == 0)
		snprintf(m->kernel, sizeof(m->kernel), "%s %s %s", u.sysname, u.release, u.machine);
	else
		snprintf(m->kernel, sizeof(m->kernel), "unknown");
	snprintf(m->compiler, sizeof(m->compiler), "%s", BENCH_COMPILER);
	/* __clang_version__ ends in a blank. */
	len = strlen(m->compiler);
	while (len > 0 && m->compiler[len - 1] == ' ')
		m->compiler[--len] = '\0';
	if (!localtime_r(&now, &tm) ||
	    !strftime(m->date, sizeof(m->date), "%Y-%m-%d %H:%M:%S %z", &tm))
		snprintf(m->date, sizeof(m->date), "unknown");
	if (!read_first_line("/sys/devices/system/clocksource/clocksource0/current_clocksource",
			     m->clocksource, sizeof(m->clocksource)))
		snprintf(m->clocksource, sizeof(m->clocksource), "unknown");
	m->n_cpus = sysconf(_SC_NPROCESSORS_ONLN);
}

void bench_machine_print(const struct bench_machine *m, FILE *f)
{
	fprintf(f, "cpu:         %s (%ld online)\n", m->cpu, m->n_cpus);
	fprintf(f, "kernel:      %s\n", m->kernel);
	fprintf(f, "compiler:    %s\n", m->compiler);
	fprintf(f, "clocksource: %s\n", m->clocksource);
	fprintf(f, "date:        %s\n", m->date);
}
