/*
 * target.c: the proxy under test (see bench.h): Loka with a temporary
 * configuration and SQLite database, or HAProxy in TCP mode, each in its
 * own temporary directory, started as a child of the benchmark (it gets
 * SIGTERM if the benchmark dies) and reaped at the end.
 *
 * Loka's configuration is what a farm would run, with the limits opened
 * for the load: max_connections above the miner count, rate_limit off
 * (the benchmark sends more than 100 messages/s on a connection), metrics
 * off (no fixed port), logging at warn. LOKA_* variables in the
 * environment still apply. HAProxy gets maxconn and nbthread, plain TCP
 * forwarding and long client/server timeouts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* How long a proxy may take to start listening. */
#define TARGET_START_S	20
/* Descriptors HAProxy 2.6 keeps beside its connections (17 measured with
 * one listener and two threads; some slack). */
#define HAPROXY_FDS_OWN	24
/* How long it may take to stop on SIGTERM before SIGKILL. */
#define TARGET_STOP_S	15

const char *const target_names[TARGET_MAX] = {
	[TARGET_DIRECT] = "direct",
	[TARGET_LOKA] = "loka",
	[TARGET_HAPROXY] = "haproxy",
	[TARGET_LOKA_B] = "loka-b",
	[TARGET_LOKA_AGG] = "loka-agg",
};

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "loka-bench-proxy: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

/*
 * Aggregate mode: every share is hashed and judged at a difficulty any
 * hash meets (so each is accepted and booked, none goes to the pool,
 * whose difficulty is 65,536), held there for the whole run.
 */
static const char loka_aggregate[] =
    "\n"
    "[aggregate]\n"
    "start_difficulty = 0.00000001\n"
    "min_difficulty = 0.00000001\n"
    "retarget_interval = \"1h\"\n";

static int
write_loka_config(const struct target *t, const struct target_opts *o,
    uint16_t pool_port, unsigned max_conns, char *path, size_t len)
{
	char text[2048];

	snprintf(path, len, "%s/loka.toml", t->dir);
	snprintf(text, sizeof(text),
	    "[server]\n"
	    "mode = \"%s\"\n"
	    "bind = \"127.0.0.1:%u\"\n"
	    "max_connections = %u\n"
	    "connection_timeout = \"5m\"\n"
	    "idle_timeout = \"1h\"\n"
	    "shutdown_timeout = \"1s\"\n"
	    "\n"
	    "[[pools]]\n"
	    "name = \"bench\"\n"
	    "url = \"stratum+tcp://127.0.0.1:%u\"\n"
	    "username = \"bench\"\n"
	    "password = \"x\"\n"
	    "\n"
	    "[database]\n"
	    "url = \"sqlite://%s/loka.db\"\n"
	    "spool_path = \"%s/loka.spool\"\n"
	    "\n"
	    "[metrics]\n"
	    "enabled = false\n"
	    "\n"
	    "[logging]\n"
	    "level = \"warn\"\n"
	    "stats_interval = 0\n"
	    "\n"
	    "[performance]\n"
	    "worker_threads = %u\n"
	    "\n"
	    "[security]\n"
	    "rate_limit = 0\n"
	    "%s",
	    t->kind == TARGET_LOKA_AGG ? "aggregate" : "passthrough", t->port,
	    max_conns, pool_port, t->dir, t->dir, o->threads,
	    t->kind == TARGET_LOKA_AGG ? loka_aggregate : "");
	return write_file(path, text);
}

static int
write_haproxy_config(const struct target *t, const struct target_opts *o,
    uint16_t pool_port, unsigned max_conns, char *path, size_t len)
{
	char text[1024];

	struct rlimit rl;

	/* HAProxy refuses to start when maxconn needs more descriptors than
	 * it may open (two per connection and a few of its own). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    max_conns > (rl.rlim_max - HAPROXY_FDS_OWN) / 2)
		max_conns = (unsigned)((rl.rlim_max - HAPROXY_FDS_OWN) / 2);
	snprintf(path, len, "%s/haproxy.cfg", t->dir);
	snprintf(text, sizeof(text),
	    "global\n"
	    "    maxconn %u\n"
	    "    nbthread %u\n"
	    "\n"
	    "defaults\n"
	    "    mode tcp\n"
	    "    timeout connect 10s\n"
	    "    timeout client 1h\n"
	    "    timeout server 1h\n"
	    "\n"
	    "listen stratum\n"
	    "    bind 127.0.0.1:%u\n"
	    "    server pool 127.0.0.1:%u\n",
	    max_conns, o->threads, t->port, pool_port);
	return write_file(path, text);
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* rm -r dir (Loka's journal is a directory of segments). */
static void
remove_dir(const char *dir)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
print_log_tail(const struct target *t)
{
	char path[512], line[512];
	FILE *f;
	long n = 0;

	snprintf(path, sizeof(path), "%s/stderr.log", t->dir);
	if ((f = fopen(path, "r")) == NULL)
		return;
	fprintf(stderr, "--- %s (last lines) ---\n", path);
	while (fgets(line, sizeof(line), f) != NULL)
		n++;
	rewind(f);
	for (long i = 0; fgets(line, sizeof(line), f) != NULL; i++)
		if (i >= n - 20)
			fputs(line, stderr);
	fclose(f);
}

/* Does something accept connections on 127.0.0.1:port? */
static bool
port_open(uint16_t port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return ok;
}

static pid_t
spawn(const struct target *t, const struct target_opts *o, char *const argv[])
{
	char log[512];
	pid_t pid;
	int fd;

	snprintf(log, sizeof(log), "%s/stderr.log", t->dir);
	pid = fork();
	if (pid != 0)
		return pid;
	/* The child: die with the benchmark; output to the log. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	if (chdir(t->dir) != 0)
		_exit(127);
	signal(SIGINT, SIG_IGN);
	if (t->kind == TARGET_LOKA_B)
		for (size_t i = 0; i < o->nloka_b_env; i++)
			putenv((char *)o->loka_b_env[i]);
	if (o->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o->cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	execv(argv[0], argv);
	fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int
target_start(struct target *t, enum target_kind kind,
    const struct target_opts *o, uint16_t pool_port, unsigned max_conns)
{
	char cfg[512];
	const char *tmp;
	int port, status, n;

	memset(t, 0, sizeof(t[0]));
	t->kind = kind;
	t->keep = o->keep;
	if (kind == TARGET_DIRECT) {
		t->port = pool_port;
		return 0;
	}
	/* $TMPDIR when set: bench/compare.sh keeps everything in its own. */
	tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] != '/')
		tmp = "/tmp";
	n = snprintf(t->dir, sizeof(t->dir), "%s/loka-bench-%s.XXXXXX", tmp,
	    target_names[kind]);
	if (n < 0 || (size_t)n >= sizeof(t->dir)) {
		fprintf(stderr, "loka-bench-proxy: TMPDIR too long\n");
		t->dir[0] = '\0';
		return -1;
	}
	if (mkdtemp(t->dir) == NULL) {
		perror("loka-bench-proxy: mkdtemp");
		return -1;
	}
	if ((port = free_port()) < 0)
		goto fail;
	t->port = (uint16_t)port;
	if (kind == TARGET_LOKA || kind == TARGET_LOKA_B ||
	    kind == TARGET_LOKA_AGG) {
		char *argv[] = { (char *)(kind == TARGET_LOKA_B ? o->loka_b :
		    o->loka), "start", "-c", cfg, NULL };

		if (write_loka_config(t, o, pool_port, max_conns, cfg,
		    sizeof(cfg)) != 0)
			goto fail;
		t->pid = spawn(t, o, argv);
	} else {
		char *argv[] = { (char *)o->haproxy, "-db", "-f", cfg, NULL };

		if (write_haproxy_config(t, o, pool_port, max_conns, cfg,
		    sizeof(cfg)) != 0)
			goto fail;
		t->pid = spawn(t, o, argv);
	}
	if (t->pid < 0) {
		perror("loka-bench-proxy: fork");
		t->pid = 0;
		goto fail;
	}
	for (int i = 0; i < TARGET_START_S * 20; i++) {
		if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
			fprintf(stderr, "loka-bench-proxy: %s exited at start\n",
			    target_names[kind]);
			t->pid = 0;
			goto fail;
		}
		if (port_open(t->port))
			return 0;
		sleep_ms(50);
	}
	fprintf(stderr, "loka-bench-proxy: %s does not listen on 127.0.0.1:%u\n",
	    target_names[kind], t->port);
fail:
	print_log_tail(t);
	target_stop(t);
	return -1;
}

void
target_stop(struct target *t)
{
	int status = 0;
	bool reaped = false;

	if (t->pid > 0) {
		kill(t->pid, SIGTERM);
		for (int i = 0; i < TARGET_STOP_S * 100; i++) {
			if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
				reaped = true;
				break;
			}
			sleep_ms(10);
		}
		if (!reaped) {
			fprintf(stderr, "loka-bench-proxy: %s ignored SIGTERM; "
			    "killing it\n", target_names[t->kind]);
			kill(t->pid, SIGKILL);
			waitpid(t->pid, &status, 0);
		} else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
		    !(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)) {
			fprintf(stderr, "loka-bench-proxy: %s ended with status "
			    "%d\n", target_names[t->kind], status);
			print_log_tail(t);
		}
		t->pid = 0;
	}
	if (t->dir[0] != '\0') {
		if (!t->keep)
			remove_dir(t->dir);
		else
			fprintf(stderr, "loka-bench-proxy: kept %s\n", t->dir);
		t->dir[0] = '\0';
	}
}
