/* SPDX-License-Identifier: MIT */
/*
 * Jobs of a workload manager (Slurm) on this node, told to the daemon by a
 * trusted source: root, through the job-register, job-attach and job-end
 * admin commands (the SPANK plugin in slurmstepd sends them; docs/ADMIN.md).
 *
 * A job has a budget of bytes on this node and a set of registered task
 * processes, each remembered by pid and start time (so a reused pid is not
 * mistaken for the task). A client belongs to the job of its SO_PEERCRED
 * pid or of the nearest registered ancestor of it, found by walking the
 * parent chain in /proc/PID/stat: a process a task forks belongs to the
 * task's job. The client's tag plays no part in this; it is its own to say.
 *
 * A job's clients' leases, plus their acquires in progress, count against
 * the budget; the job remembers the most it held at once (its peak).
 */
#ifndef BHC_DAEMON_JOB_H
#define BHC_DAEMON_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "list.h"

/* A registered task process. */
struct job_task {
	pid_t pid;
	uint64_t start; /* /proc/PID/stat starttime, clock ticks after boot */
};

/* One job on this node; on server->jobs. */
struct job {
	uint64_t id; /* the workload manager's job id */
	uint32_t uid; /* the job's owner, as registered */
	uint64_t budget; /* bytes its clients may hold on this node; 0: no budget */
	uint64_t registered_ns; /* CLOCK_REALTIME of the first registration */
	struct job_task *tasks;
	size_t n_tasks, cap_tasks;
	/* accounting */
	unsigned int n_peers; /* connected clients of the job */
	uint64_t n_regions; /* leased, plus one for each acquire in progress */
	uint64_t bytes; /* bytes of those */
	uint64_t peak; /* most bytes held at once (at a grant) */
	uint64_t n_acquired; /* grants, ever */
	uint64_t n_refused; /* acquires refused by the budget */
	struct list_head link; /* server->jobs */
};

/* Tasks a job may register; more are refused with ENOSPC. */
#define JOB_TASKS_MAX 4096u

/** job_find() - the job @id on @jobs, or NULL. */
struct job *job_find(struct list_head *jobs, uint64_t id);

/**
 * job_register() - create job @id on @jobs with @uid and @budget, or find
 * it: a later step of the job registers again, and the first registration
 * fixed the uid and the budget. Returns 0 or -ENOMEM.
 */
int job_register(struct list_head *jobs, uint64_t id, uint32_t uid, uint64_t budget,
		 struct job **jobp);

/**
 * job_attach() - register the live process @pid as a task of @job. Returns
 * 0, -ESRCH if there is no such process, -ENOSPC past JOB_TASKS_MAX, or
 * -ENOMEM.
 */
int job_attach(struct job *job, pid_t pid);

/**
 * job_of_pid() - the job of @pid: the job that registered @pid or its
 * nearest registered ancestor, or NULL. Reads /proc only while @jobs is
 * not empty.
 */
struct job *job_of_pid(struct list_head *jobs, pid_t pid);

/** job_charge() - @size more bytes (one more region) held by @job's clients; NULL is no job. */
void job_charge(struct job *job, uint64_t size);

/** job_uncharge() - @size bytes (one region) fewer. */
void job_uncharge(struct job *job, uint64_t size);

/** job_granted() - a region was granted: count it and update the peak. */
void job_granted(struct job *job);

/**
 * job_check() - whether @size more bytes fit @job's budget. Returns 0, or
 * -EDQUOT with a message naming the job and its budget in @text.
 */
int job_check(struct job *job, uint64_t size, char *text, size_t len);

/** job_free() - unlist and free @job; its clients must have been detached. */
void job_free(struct job *job);

/** job_read_stat() - ppid and start time of @pid from /proc/PID/stat. Returns 0 or -errno. */
int job_read_stat(pid_t pid, pid_t *ppidp, uint64_t *startp);

#endif
