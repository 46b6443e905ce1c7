/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/size.h"
#include "job.h"
#include "region.h"

/* Ancestors looked at before giving up (a deeper tree is not a job's). */
#define JOB_ANCESTRY_MAX 64

struct job *job_find(struct list_head *jobs, uint64_t id)
{
	struct list_head *pos;

	list_for_each(pos, jobs) {
		struct job *job = list_entry(pos, struct job, link);

		if (job->id == id)
			return job;
	}
	return NULL;
}

int job_register(struct list_head *jobs, uint64_t id, uint32_t uid, uint64_t budget,
		 struct job **jobp)
{
	struct job *job = job_find(jobs, id);
	struct timespec ts;

	if (!job) {
		job = calloc(1, sizeof(*job));
		if (!job)
			return -ENOMEM;
		job->id = id;
		clock_gettime(CLOCK_REALTIME, &ts);
		job->registered_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		job->uid = uid;
		job->budget = budget;
		list_add_tail(&job->link, jobs);
	}
	*jobp = job;
	return 0;
}

int job_read_stat(pid_t pid, pid_t *ppidp, uint64_t *startp)
{
	char path[64], buf[1024], *p;
	unsigned long long start;
	ssize_t n;
	int fd, ppid, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, so go by the last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -EIO;
	/* starttime is field 22; after ')' comes field 3 */
	for (field = 2; field < 21 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &start) != 1)
		return -EIO;
	*ppidp = ppid;
	*startp = start;
	return 0;
}

int job_attach(struct job *job, pid_t pid)
{
	struct job_task *tasks;
	uint64_t start = 0;
	pid_t ppid = 0;
	size_t i;
	int r;

	r = job_read_stat(pid, &ppid, &start);
	if (r < 0)
		return r == -EIO ? -ESRCH : r;
	for (i = 0; i < job->n_tasks; i++) {
		/* the same process again, or a dead task's pid reused */
		if (job->tasks[i].pid == pid) {
			job->tasks[i].start = start;
			return 0;
		}
	}
	if (job->n_tasks >= JOB_TASKS_MAX)
		return -ENOSPC;
	if (job->n_tasks == job->cap_tasks) {
		size_t cap = job->cap_tasks ? job->cap_tasks * 2 : 8;

		tasks = realloc(job->tasks, cap * sizeof(*tasks));
		if (!tasks)
			return -ENOMEM;
		job->tasks = tasks;
		job->cap_tasks = cap;
	}
	job->tasks[job->n_tasks].pid = pid;
	job->tasks[job->n_tasks].start = start;
	job->n_tasks++;
	return 0;
}

/* The job that registered the process @pid started at @start, or NULL. */
static struct job *registered(struct list_head *jobs, pid_t pid, uint64_t start)
{
	struct list_head *pos;
	size_t i;

	list_for_each(pos, jobs) {
		struct job *job = list_entry(pos, struct job, link);

		for (i = 0; i < job->n_tasks; i++)
			if (job->tasks[i].pid == pid && job->tasks[i].start == start)
				return job;
	}
	return NULL;
}

struct job *job_of_pid(struct list_head *jobs, pid_t pid)
{
	struct job *job;
	uint64_t start = 0;
	pid_t ppid = 0;
	int depth;

	if (list_empty(jobs))
		return NULL;
	for (depth = 0; depth < JOB_ANCESTRY_MAX && pid > 1; depth++) {
		if (job_read_stat(pid, &ppid, &start) < 0)
			return NULL;
		job = registered(jobs, pid, start);
		if (job)
			return job;
		pid = ppid;
	}
	return NULL;
}

void job_charge(struct job *job, uint64_t size)
{
	if (!job)
		return;
	job->n_regions++;
	job->bytes += size;
}

void job_uncharge(struct job *job, uint64_t size)
{
	if (!job)
		return;
	job->n_regions--;
	job->bytes -= size;
}

void job_granted(struct job *job)
{
	if (!job)
		return;
	job->n_acquired++;
	if (job->bytes > job->peak)
		job->peak = job->bytes;
}

int job_check(struct job *job, uint64_t size, char *text, size_t len)
{
	char held[32], asked[32], budget[32];

	if (!job || !job->budget || (job->bytes <= job->budget && size <= job->budget - job->bytes))
		return 0;
	job->n_refused++;
	snprintf(text, len,
		 "job %" PRIu64 " is over its arena budget: %s held + %s asked > %s "
		 "(--bhc-arena budget on this node)",
		 job->id, size_format_iec(job->bytes, held, sizeof(held)),
		 size_format_iec(size, asked, sizeof(asked)),
		 size_format_iec(job->budget, budget, sizeof(budget)));
	return -EDQUOT;
}

void job_free(struct job *job)
{
	if (!job)
		return;
	list_del(&job->link);
	free(job->tasks);
	free(job);
}
