/*
 * jail: run one program under test with the protections the grader chose.
 * The harness starts every program of a lesson through it; the program
 * keeps this process's PID (every step execs), except under bwrap, whose
 * monitor stays the parent.  One process, not a shell and three tools:
 * the harness starts hundreds of programs in a run.
 *
 *   jail [-e FILE] [-h PATHS] [-n SOFT[:HARD]] MODE SCRATCH MARK PROG ARGS...
 *
 *   MODE     none      limits, a clean environment, SCRATCH as its folder
 *            uid:N     as none, and the program runs as user N (the
 *                      grader runs as root): it can write only SCRATCH
 *                      and the temporary folders, signal only its own
 *                      processes, and read none of the grader's.  Through
 *                      setpriv(1): clearing the supplementary groups takes
 *                      setgroups(), which is not POSIX
 *            bwrap     as none, under bubblewrap: the whole file system is
 *                      read-only but SCRATCH (TMPDIR points there), and
 *                      /proc (where the grader's processes are) is hidden
 *   SCRATCH  the program's working and home folder, made if missing (its
 *            parent must exist), and given to user N in mode uid:N
 *   MARK     a NAME=VALUE put in its environment, by which the harness finds
 *            whatever it leaves running (daemons, children that escaped)
 *   -n       its open-file limits (ulimit -n), "-" keeping one as it is
 *   -e FILE  where to say why, when the jail itself fails (exit status 125):
 *            a program may exit 125 too, but cannot write FILE
 *   -h PATHS under bwrap, folders hidden from the program (':' between
 *            them); the program's own folder stays visible
 *
 * Limits (environment): SOCKLAB_CPU_LIMIT seconds of CPU (60),
 * SOCKLAB_FILE_LIMIT KiB a file may grow to (32768), SOCKLAB_MEM_LIMIT KiB
 * of address space (2097152), SOCKLAB_NPROC processes of the user (unset:
 * no limit); each sets both the soft and the hard limit.  Core dumps are
 * off.  Exit status 2 on a usage error, 125 when the jail fails, 126 or
 * 127 when PROG (or setpriv, or bwrap) cannot be run.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static const char *failed = "/dev/null";

/* The command line that runs the program, when setpriv or bwrap runs it. */
static char *args[8192];
static int nargs;

/* The jail could not do its part: say why in FILE, and exit 125. */
static void fail(const char *what, const char *detail)
{
	FILE *f = fopen(failed, "w");

	if (f) {
		fprintf(f, "%s%s\n", what, detail);
		fclose(f);
	}
	exit(125);
}

/* One more word on that command line. */
static void arg(const char *word)
{
	if (nargs == (int)(sizeof args / sizeof args[0]) - 1)
		fail("too many arguments", "");
	args[nargs++] = (char *)word;
}

static void usage(void)
{
	fputs("usage: jail [-e FILE] [-h PATHS] [-n SOFT[:HARD]] MODE SCRATCH MARK PROG ARGS...\n", stderr);
	exit(2);
}

/* A limit of VALUE times UNIT (nothing when VALUE is NULL); as the
 * shell's ulimit, soft and hard alike.  A limit the system refuses is left
 * as it is. */
static void limit(int resource, const char *value, rlim_t unit)
{
	struct rlimit rl;
	char *end;
	unsigned long long n;

	if (!value)
		return;
	errno = 0;
	n = strtoull(value, &end, 10);
	if (errno || end == value || *end)
		return;
	rl.rlim_cur = rl.rlim_max = (rlim_t)n * unit;
	(void)setrlimit(resource, &rl);
}

/* The environment variable NAME, or DEF if it is unset. */
static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v ? v : def;
}

/* "-", "unlimited" or a number: 0 keeps the limit as it is. */
static int nofile_value(const char *s, size_t len, rlim_t *out)
{
	char buf[32], *end;

	if (len == 0 || len >= sizeof buf || (len == 1 && s[0] == '-'))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strcmp(buf, "unlimited") == 0) {
		*out = RLIM_INFINITY;
		return 1;
	}
	errno = 0;
	*out = (rlim_t)strtoull(buf, &end, 10);
	if (errno || *end || end == buf)
		fail("bad open-file limit ", buf);
	return 1;
}

/* ulimit -n SOFT[:HARD]: the soft limit first, as a hard limit below the
 * soft one is refused. */
static void nofile(const char *spec)
{
	const char *colon = strchr(spec, ':');
	size_t soft_len = colon ? (size_t)(colon - spec) : strlen(spec);
	struct rlimit rl;
	rlim_t v;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		fail("cannot read the open-file limit", "");
	if (nofile_value(spec, soft_len, &v)) {
		rl.rlim_cur = v;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			fail("cannot set the open-file limit to ", spec);
	}
	if (colon && nofile_value(colon + 1, strlen(colon + 1), &v)) {
		rl.rlim_max = v;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			fail("cannot set the hard open-file limit to ", colon + 1);
	}
}

/* Nothing of the test's or the grader's open files goes to the program:
 * every descriptor but 0, 1 and 2 is closed. */
static void close_others(void)
{
	int fds[256], n = 0, i, more = 1;

	while (more) {
		DIR *d = opendir("/dev/fd");
		struct dirent *e;

		if (!d) {
			long max = sysconf(_SC_OPEN_MAX);

			if (max < 0 || max > 65536)
				max = 65536;
			for (i = 3; i < max; i++)
				close(i);
			return;
		}
		more = 0;
		n = 0;
		while ((e = readdir(d))) {
			char *end;
			long fd = strtol(e->d_name, &end, 10);

			if (*end || end == e->d_name || fd < 3 || fd == dirfd(d))
				continue;
			if (n == (int)(sizeof fds / sizeof fds[0])) {
				more = 1;
				break;
			}
			fds[n++] = (int)fd;
		}
		closedir(d);
		for (i = 0; i < n; i++)
			close(fds[i]);
	}
}

int main(int argc, char **argv)
{
	const char *hide = "", *nofile_spec = NULL, *mode, *scratch, *mark, *path;
	char *clean[7], home[4096], tmpdir[4096], pathvar[8192];
	int i = 1;

	while (i + 1 < argc && argv[i][0] == '-' && argv[i][1] && !argv[i][2]) {
		switch (argv[i][1]) {
		case 'e': failed = argv[i + 1]; break;
		case 'h': hide = argv[i + 1]; break;
		case 'n': nofile_spec = argv[i + 1]; break;
		default: usage();
		}
		i += 2;
	}
	if (argc - i < 4)
		usage();
	mode = argv[i];
	scratch = argv[i + 1];
	mark = argv[i + 2];
	argv += i + 3;

	limit(RLIMIT_CORE, "0", 1);
	limit(RLIMIT_CPU, env_or("SOCKLAB_CPU_LIMIT", "60"), 1);
	limit(RLIMIT_FSIZE, env_or("SOCKLAB_FILE_LIMIT", "32768"), 1024);
	limit(RLIMIT_AS, env_or("SOCKLAB_MEM_LIMIT", "2097152"), 1024);
#ifdef RLIMIT_NPROC
	limit(RLIMIT_NPROC, getenv("SOCKLAB_NPROC"), 1);
#endif
	if (nofile_spec)
		nofile(nofile_spec);

	if (mkdir(scratch, 0755) < 0 && errno != EEXIST)
		fail("cannot make ", scratch);
	if (strncmp(mode, "uid:", 4) == 0 && chown(scratch, (uid_t)atol(mode + 4), (gid_t)-1) < 0)
		fail("cannot give the jail's user ", scratch);
	if (chdir(scratch) < 0)
		fail("cannot enter ", scratch);
	close_others();

	path = getenv("PATH");
	snprintf(pathvar, sizeof pathvar, "PATH=%s", path ? path : "/usr/bin:/bin");
	snprintf(home, sizeof home, "HOME=%s", scratch);
	snprintf(tmpdir, sizeof tmpdir, "TMPDIR=%s", scratch);
	clean[0] = pathvar;
	clean[1] = home;
	clean[2] = tmpdir;
	clean[3] = "LC_ALL=C";
	clean[4] = "LANG=C";
	clean[5] = (char *)mark;
	clean[6] = NULL;

	if (strcmp(mode, "none") == 0) {
		/* nothing more */
	} else if (strncmp(mode, "uid:", 4) == 0) {
		static char reuid[32], regid[32];

		snprintf(reuid, sizeof reuid, "--reuid=%s", mode + 4);
		snprintf(regid, sizeof regid, "--regid=%s", mode + 4);
		arg("setpriv");
		arg(reuid);
		arg(regid);
		arg("--clear-groups");
	} else if (strcmp(mode, "bwrap") == 0) {
		/* /proc hidden: the program could read the grader's processes
		 * there; and the folders the grader names, its own folder bound
		 * back. */
		static char dir[4096];
		const char *p = hide, *slash = strrchr(argv[0], '/');

		if (!slash || slash == argv[0])
			snprintf(dir, sizeof dir, "%s", slash ? "/" : scratch);
		else
			snprintf(dir, sizeof dir, "%.*s", (int)(slash - argv[0]), argv[0]);
		arg("bwrap");
		arg("--ro-bind");
		arg("/");
		arg("/");
		arg("--dev");
		arg("/dev");
		arg("--tmpfs");
		arg("/proc");
		while (*p) {
			const char *end = strchr(p, ':');
			size_t len = end ? (size_t)(end - p) : strlen(p);
			char *one = strndup(p, len);
			struct stat st;

			if (!one)
				fail("out of memory", "");
			if (len && stat(one, &st) == 0 && S_ISDIR(st.st_mode)) {
				arg("--tmpfs");
				arg(one);
			} else {
				free(one);
			}
			p += len + (end != NULL);
		}
		arg("--ro-bind");
		arg(dir);
		arg(dir);
		arg("--bind");
		arg(scratch);
		arg(scratch);
		arg("--chdir");
		arg(scratch);
		arg("--die-with-parent");
	} else {
		fail("unknown mode ", mode);
	}
	/* setpriv or bwrap first: then the program and its arguments. */
	if (nargs > 0) {
		arg("--");
		for (int k = 0; argv[k]; k++)
			arg(argv[k]);
		argv = args;
	}

	environ = clean;
	execvp(argv[0], argv);
	fprintf(stderr, "jail: cannot run %s: %s\n", argv[0], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
