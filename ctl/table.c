/* SPDX-License-Identifier: MIT */
/*
 * bhc-arenactl: column tables that fit the terminal. When the natural width
 * is too much, shortenable columns (command names, tags) give up characters
 * first, down to their minimum; then the column of lowest priority goes,
 * and the shortenable ones get their room back. Cells are sanitized ASCII,
 * so the width of a cell is its length.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "arenactl.h"

#define COL_GAP 2

struct ctl_table {
	const struct ctl_column *cols;
	size_t n_cols;
	char **cells; /* n_rows * n_cols, row-major; NULL = empty; owned */
	size_t n_rows;
	size_t n_alloc; /* rows allocated in cells */
};

int ctl_table_new(const struct ctl_column *cols, size_t n_cols, struct ctl_table **tablep)
{
	struct ctl_table *t;

	if (!n_cols)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cols = cols;
	t->n_cols = n_cols;
	*tablep = t;
	return 0;
}

void ctl_table_free(struct ctl_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

int ctl_table_add_row(struct ctl_table *t)
{
	if (t->n_rows == t->n_alloc) {
		size_t n = t->n_alloc ? t->n_alloc * 2 : 16;
		char **cells;

		if (n > SIZE_MAX / sizeof(*cells) / t->n_cols)
			return -ENOMEM;
		cells = realloc(t->cells, n * t->n_cols * sizeof(*cells));
		if (!cells)
			return -ENOMEM;
		t->cells = cells;
		t->n_alloc = n;
	}
	memset(&t->cells[t->n_rows * t->n_cols], 0, t->n_cols * sizeof(*t->cells));
	t->n_rows++;
	return 0;
}

size_t ctl_table_n_rows(const struct ctl_table *t)
{
	return t->n_rows;
}

int ctl_table_set(struct ctl_table *t, size_t col, const char *text)
{
	char **cell;
	size_t len;

	if (!t->n_rows || col >= t->n_cols)
		return -EINVAL;
	cell = &t->cells[(t->n_rows - 1) * t->n_cols + col];
	len = strlen(text) + 1;
	free(*cell);
	*cell = malloc(len);
	if (!*cell)
		return -ENOMEM;
	ctl_sanitize(text, *cell, len);
	return 0;
}

int ctl_table_setf(struct ctl_table *t, size_t col, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = ctl_table_set(t, col, s);
	free(s);
	return r;
}

static const char *cell(const struct ctl_table *t, size_t row, size_t col)
{
	const char *s = t->cells[row * t->n_cols + col];

	return s ? s : "";
}

/* Total width of the visible columns at widths @w. */
static size_t total_width(const struct ctl_table *t, const bool *shown, const size_t *w)
{
	size_t i, sum = 0, n = 0;

	for (i = 0; i < t->n_cols; i++) {
		if (!shown[i])
			continue;
		sum += w[i];
		n++;
	}
	return n ? sum + COL_GAP * (n - 1) : 0;
}

/* Shorten CTL_COL_TRUNC columns, widest first, to lose @excess columns; false if they cannot. */
static bool shrink(const struct ctl_table *t, const bool *shown, size_t *w, size_t excess)
{
	while (excess) {
		size_t i, best = t->n_cols;

		for (i = 0; i < t->n_cols; i++) {
			size_t min = t->cols[i].min_width;

			if (!shown[i] || !(t->cols[i].flags & CTL_COL_TRUNC) || w[i] <= min)
				continue;
			if (best == t->n_cols || w[i] > w[best])
				best = i;
		}
		if (best == t->n_cols)
			return false;
		w[best]--;
		excess--;
	}
	return true;
}

/* Choose the visible columns and their widths for @width (0: no limit). */
static void fit(const struct ctl_table *t, size_t width, bool *shown, size_t *w, const size_t *nat)
{
	for (;;) {
		size_t i, total, drop = t->n_cols;

		memcpy(w, nat, t->n_cols * sizeof(*w));
		total = total_width(t, shown, w);
		if (!width || total <= width)
			return;
		if (shrink(t, shown, w, total - width))
			return;
		for (i = 0; i < t->n_cols; i++) {
			if (!shown[i] || t->cols[i].priority == 0)
				continue;
			if (drop == t->n_cols || t->cols[i].priority < t->cols[drop].priority)
				drop = i;
		}
		if (drop == t->n_cols) {
			/* nothing left to drop: shrink what can be, the line is cut later */
			memcpy(w, nat, t->n_cols * sizeof(*w));
			total = total_width(t, shown, w);
			shrink(t, shown, w, total - width);
			return;
		}
		shown[drop] = false;
	}
}

static void put_cell(char *line, size_t *o, const char *s, size_t w, bool right)
{
	size_t len = strlen(s), pad;

	if (len > w) {
		/* shortened: keep the start and mark the cut with '~' */
		memcpy(line + *o, s, w ? w - 1 : 0);
		*o += w ? w - 1 : 0;
		if (w)
			line[(*o)++] = '~';
		return;
	}
	pad = w - len;
	if (right) {
		memset(line + *o, ' ', pad);
		*o += pad;
	}
	memcpy(line + *o, s, len);
	*o += len;
	if (!right) {
		memset(line + *o, ' ', pad);
		*o += pad;
	}
}

static void print_row(const struct ctl_table *t, FILE *f, size_t width, const bool *shown,
		      const size_t *w, size_t row, char *line)
{
	size_t i, o = 0;
	bool first = true;

	for (i = 0; i < t->n_cols; i++) {
		const char *s;

		if (!shown[i])
			continue;
		if (!first) {
			memset(line + o, ' ', COL_GAP);
			o += COL_GAP;
		}
		first = false;
		s = row == SIZE_MAX ? t->cols[i].name : cell(t, row, i);
		put_cell(line, &o, s, w[i], t->cols[i].flags & CTL_COL_RIGHT);
	}
	line[o] = '\0';
	ctl_emit_line(f, line, width);
}

int ctl_table_print(struct ctl_table *t, FILE *f, size_t width, size_t max_rows)
{
	size_t *nat, *w, i, r, n;
	bool *shown;
	char *line;
	int ret = -ENOMEM;

	nat = calloc(t->n_cols, sizeof(*nat));
	w = calloc(t->n_cols, sizeof(*w));
	shown = calloc(t->n_cols, sizeof(*shown));
	if (!nat || !w || !shown)
		goto out_free;
	for (i = 0; i < t->n_cols; i++) {
		nat[i] = strlen(t->cols[i].name);
		shown[i] = !(t->cols[i].flags & CTL_COL_HIDDEN);
		for (r = 0; r < t->n_rows; r++) {
			size_t len = strlen(cell(t, r, i));

			if (len > nat[i])
				nat[i] = len;
		}
	}
	fit(t, width, shown, w, nat);
	line = malloc(total_width(t, shown, w) + 1);
	if (!line)
		goto out_free;
	n = max_rows && max_rows < t->n_rows ? max_rows : t->n_rows;
	print_row(t, f, width, shown, w, SIZE_MAX, line);
	for (r = 0; r < n; r++)
		print_row(t, f, width, shown, w, r, line);
	free(line);
	ret = 0;
out_free:
	free(shown);
	free(w);
	free(nat);
	return ret;
}
