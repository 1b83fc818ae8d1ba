/*
 * osprobe: what the test harness asks the operating system, answered with
 * POSIX calls only, so that the harness's portable mode works wherever the
 * course builds (macOS, WSL, any Linux without /proc).
 *
 *   osprobe now                   monotonic time in milliseconds
 *   osprobe ipv6                  exit 0 if a socket can be bound to ::1
 *   osprobe inuse tcp|udp PORT    exit 0 if a socket of that protocol is
 *                                 bound to PORT on 127.0.0.1 or ::1 (a bind
 *                                 there fails with EADDRINUSE), 1 if not
 *   osprobe lines FILE REGEX COUNT MS [PID]
 *                                 wait until COUNT lines of FILE (of its
 *                                 first MiB) match the extended regular
 *                                 expression REGEX; exit 0 then, 1 if MS
 *                                 milliseconds pass first, 3 if process
 *                                 PID is gone first (FILE read once more
 *                                 then).  One process that reads only what
 *                                 is new: polling with grep would cost a
 *                                 process every few ms
 *   osprobe escape MAX            print standard input C-escaped (\n, \t,
 *                                 \xNN, ...), at most MAX bytes of it, with
 *                                 "..." when there was more
 *   osprobe tail                  the last lines of standard input (of its
 *                                 last 4 KiB, at most 8), each as "   | "
 *                                 and at most 200 bytes, every byte that
 *                                 is not printable ASCII or a tab made "?"
 *   osprobe strerror NAME...      for each errno NAME (EADDRINUSE, ...),
 *                                 print "NAME<TAB>text", the C library's
 *                                 strerror text (in the C locale: neither
 *                                 this program nor the lessons' programs
 *                                 call setlocale)
 *
 * These answer from Linux's /proc, for the harness's linux mode: each
 * does in one process what would take a dozen shell tools every time.
 *   osprobe listen tcp|udp PORT PID MS
 *                                 wait until PORT listens (tcp) or is bound
 *                                 (udp): exit 0; 3 as soon as process PID
 *                                 is gone; 4 as soon as PID's process group
 *                                 listens on other TCP ports only (printed,
 *                                 one a line); 1 when MS milliseconds pass
 *   osprobe procs                 every process as "PID PPID PGID STATE"
 *   osprobe sockets tcp|udp [inode]
 *                                 every socket of the kernel's table (IPv4
 *                                 and IPv6) as "LOCALPORT REMOTEPORT STATE
 *                                 RXQUEUE [INODE]", STATE a name (LISTEN,
 *                                 ESTABLISHED, ...)
 *   osprobe sweep MARK PREFIX UID SELF
 *                                 print the PIDs of the processes, zombies
 *                                 left out, whose environment holds MARK,
 *                                 whose command line holds PREFIX, whose
 *                                 executable is under PREFIX, whose user is
 *                                 UID (unless "-"), or (unless SELF is "-")
 *                                 that descend neither from SELF's oldest
 *                                 ancestor below PID 1 nor are PID 1
 *
 * The grader builds this program with the compiler that built the programs
 * under test, so that "strerror" answers with their C library's words.
 * Exit status 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const struct {
	const char *name;
	int value;
} errnos[] = {
	{ "EACCES", EACCES },
	{ "EADDRINUSE", EADDRINUSE },
	{ "EADDRNOTAVAIL", EADDRNOTAVAIL },
	{ "EBADMSG", EBADMSG },
	{ "ECONNREFUSED", ECONNREFUSED },
	{ "ECONNRESET", ECONNRESET },
	{ "EHOSTUNREACH", EHOSTUNREACH },
	{ "EMFILE", EMFILE },
	{ "EMSGSIZE", EMSGSIZE },
	{ "ENETUNREACH", ENETUNREACH },
	{ "EPIPE", EPIPE },
	{ "ETIMEDOUT", ETIMEDOUT },
};

static int usage(void)
{
	fprintf(stderr, "usage: osprobe now | ipv6 | inuse tcp|udp PORT | lines FILE REGEX COUNT MS [PID] | strerror NAME...\n"
			"       osprobe escape MAX | tail\n"
			"       osprobe listen tcp|udp PORT PID MS | sweep MARK PREFIX UID SELF | procs | sockets tcp|udp [inode]\n");
	return 2;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int now(void)
{
	printf("%lld\n", now_ms());
	return 0;
}

enum { LINES_MAX = 1 << 20 };

static int gone(long pid);

/* Count the matching lines of FILE as it grows, reading only what is new;
 * a line counts once it ends with LF, and the line being written when it
 * is the last one needed (as grep reads it).  NUL bytes in a line are read
 * as the end of the text that regexec() sees. */
static int lines(const char *file, const char *pattern, const char *count_text, const char *ms_text,
		 const char *pid_text)
{
	static char buf[LINES_MAX + 1];
	const struct timespec pause = { .tv_nsec = 2000000 };
	long want = strtol(count_text, NULL, 10);
	long long end = now_ms() + strtol(ms_text, NULL, 10);
	long pid = pid_text ? strtol(pid_text, NULL, 10) : 0;
	size_t len = 0, start = 0;
	long found = 0;
	int status = 1, last = 0;
	regex_t re;
	int fd = -1;

	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
		fprintf(stderr, "osprobe: bad regular expression: %s\n", pattern);
		return 2;
	}
	for (;;) {
		ssize_t n = 0;

		if (fd == -1)
			fd = open(file, O_RDONLY);
		if (fd != -1 && len < LINES_MAX)
			n = read(fd, buf + len, LINES_MAX - len);
		if (n > 0) {
			size_t i;

			len += (size_t)n;
			for (i = start; i < len; i++) {
				if (buf[i] != '\n')
					continue;
				buf[i] = '\0';
				if (regexec(&re, buf + start, 0, NULL, 0) == 0)
					found++;
				buf[i] = '\n';
				start = i + 1;
			}
		}
		if (found >= want) {
			status = 0;
			break;
		}
		if (len > start && found + 1 == want) {
			buf[len] = '\0';
			if (regexec(&re, buf + start, 0, NULL, 0) == 0) {
				status = 0;
				break;
			}
		}
		if (n <= 0) {
			if (last) {
				status = 3;
				break;
			}
			if (pid > 0 && gone(pid)) {
				last = 1;
				continue;
			}
			if (now_ms() >= end)
				break;
			nanosleep(&pause, NULL);
		}
	}
	regfree(&re);
	if (fd != -1)
		close(fd);
	return status;
}

/* Standard input C-escaped, at most MAX_TEXT bytes of it. */
static int escape(const char *max_text)
{
	long max = strtol(max_text, NULL, 10), n = 0;
	int c, more = 0;

	while ((c = getchar()) != EOF) {
		if (++n > max) {
			more = 1;
			break;
		}
		switch (c) {
		case '\n': fputs("\\n", stdout); break;
		case '\r': fputs("\\r", stdout); break;
		case '\t': fputs("\\t", stdout); break;
		case '\\': fputs("\\\\", stdout); break;
		case '\'': fputs("\\'", stdout); break;
		default:
			if (c < 32 || c > 126)
				printf("\\x%02x", c);
			else
				putchar(c);
		}
	}
	printf("%s\n", more ? "..." : "");
	return 0;
}

enum { TAIL_BYTES = 4096, TAIL_LINES = 8, TAIL_WIDTH = 200 };

/* The last lines of standard input, fit for a terminal. */
static int tail(void)
{
	static char buf[2 * TAIL_BYTES];
	size_t len = 0, start, i, lines = 0;
	ssize_t n;

	/* Keep the last TAIL_BYTES bytes read. */
	while ((n = read(0, buf + len, sizeof buf - len)) > 0) {
		len += (size_t)n;
		if (len == sizeof buf) {
			memmove(buf, buf + len - TAIL_BYTES, TAIL_BYTES);
			len = TAIL_BYTES;
		}
	}
	start = len > TAIL_BYTES ? len - TAIL_BYTES : 0;
	/* Back from the end to the start of the last TAIL_LINES lines. */
	i = len;
	if (i > start && buf[i - 1] == '\n')
		i--;
	while (i > start) {
		if (buf[i - 1] == '\n' && ++lines == TAIL_LINES)
			break;
		i--;
	}
	while (i < len) {
		size_t col = 0;

		fputs("   | ", stdout);
		for (; i < len && buf[i] != '\n'; i++)
			if (col++ < TAIL_WIDTH)
				putchar(buf[i] == '\t' || (buf[i] >= 32 && buf[i] < 127) ? buf[i] : '?');
		putchar('\n');
		i++;
	}
	return 0;
}

static int ipv6(void)
{
	struct sockaddr_in6 addr = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	int ok = fd != -1 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0;

	if (fd != -1)
		close(fd);
	return ok ? 0 : 1;
}

/* True if binding ADDR fails with EADDRINUSE.  No SO_REUSEADDR: any
 * socket on the port, listening or not, makes the bind fail. */
/* True if binding ADDR fails with EADDRINUSE.  No SO_REUSEADDR: any
 * socket on the port, listening or not, makes the bind fail. */
static int bind_fails(int family, const struct sockaddr *addr, socklen_t len, int type)
{
	int fd = socket(family, type, 0);
	int err;

	if (fd == -1)
		return 0;
	err = bind(fd, addr, len) == -1 ? errno : 0;
	close(fd);
	return err == EADDRINUSE;
}

static int inuse(const char *proto, const char *port_text)
{
	struct sockaddr_in v4 = { .sin_family = AF_INET };
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	char *end;
	long port = strtol(port_text, &end, 10);
	int type = strcmp(proto, "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM;

	if (*port_text == '\0' || *end != '\0' || port < 1 || port > 65535)
		return usage();
	v4.sin_port = htons((unsigned short)port);
	v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	v6.sin6_port = v4.sin_port;
	if (bind_fails(AF_INET, (struct sockaddr *)&v4, sizeof v4, type))
		return 0;
	return bind_fails(AF_INET6, (struct sockaddr *)&v6, sizeof v6, type) ? 0 : 1;
}

/* ------------------------------------------------------------- /proc -- */

enum { PROCS_MAX = 1 << 16, INODES_MAX = 4096, SOCKS_MAX = 1 << 16, FILE_MAX = 1 << 20, PATH_MAX_LINK = 4096 };

struct proc {
	long pid, ppid, pgid;
	char state;
};

/* Read /proc/PID/stat into P; 0 if the process is gone.  The command name
 * may hold spaces and parentheses: the fields start after the last ")". */
static int proc_stat(long pid, struct proc *p)
{
	char path[64], buf[1024], *rest;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((rest = strrchr(buf, ')')) == NULL)
		return 0;
	p->pid = pid;
	return sscanf(rest + 1, " %c %ld %ld", &p->state, &p->ppid, &p->pgid) == 3;
}

/* Whether process PID is gone: it does not exist, or (where /proc says
 * so) it is a zombie. */
static int gone(long pid)
{
	struct proc p;

	if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
		return 1;
	return proc_stat(pid, &p) && p.state == 'Z';
}

/* Every process, in PROCS (at most PROCS_MAX); their number. */
static size_t proc_list(struct proc *procs)
{
	DIR *dir = opendir("/proc");
	struct dirent *e;
	size_t n = 0;

	if (dir == NULL)
		return 0;
	while ((e = readdir(dir)) != NULL && n < PROCS_MAX) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end == '\0' && pid > 0 && proc_stat(pid, &procs[n]))
			n++;
	}
	closedir(dir);
	return n;
}

static int procs_print(void)
{
	static struct proc procs[PROCS_MAX];
	size_t n = proc_list(procs);

	for (size_t i = 0; i < n; i++)
		printf("%ld %ld %ld %c\n", procs[i].pid, procs[i].ppid, procs[i].pgid, procs[i].state);
	return 0;
}

/* FILE into BUF, at most FILE_MAX bytes: their number, or -1. */
static ssize_t read_file(const char *file, char *buf)
{
	int fd = open(file, O_RDONLY);
	size_t len = 0;
	ssize_t n = 0;

	if (fd == -1)
		return -1;
	while (len < FILE_MAX && (n = read(fd, buf + len, FILE_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	return n == -1 ? -1 : (ssize_t)len;
}

/* Whether the LEN bytes at HAY hold the string NEEDLE. */
static int holds(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; n <= len && i <= len - n; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return 1;
	return 0;
}

/* A socket of the kernel's tables: ports, state and receive queue as
 * numbers. */
struct sock {
	unsigned port, remote, state;
	unsigned long rx, inode;
};

/* The sockets of /proc/net/PROTO and PROTO6 in state STATE (0: in any),
 * into SOCKS (at most SOCKS_MAX): their number.  Reading a table costs the
 * kernel a walk of its whole hash of connections (milliseconds): read it
 * seldom. */
static size_t sockets(const char *proto, unsigned state, struct sock *socks)
{
	size_t n = 0;

	for (int v6 = 0; v6 < 2; v6++) {
		char path[32], line[512];
		FILE *f;

		snprintf(path, sizeof path, "/proc/net/%s%s", proto, v6 ? "6" : "");
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (n < SOCKS_MAX && fgets(line, sizeof line, f) != NULL) {
			struct sock *s = &socks[n];

			if (sscanf(line, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%x %x %*x:%lx %*s %*s %*s %*s %lu",
				   &s->port, &s->remote, &s->state, &s->rx, &s->inode) == 5 &&
			    (state == 0 || s->state == state))
				n++;
		}
		fclose(f);
	}
	return n;
}

/* Every socket of PROTO's tables, a line each (see the top). */
static int sockets_print(const char *proto, int with_inode)
{
	static const char *const names[] = { "", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
					     "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING" };
	static struct sock socks[SOCKS_MAX];
	size_t n;

	if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
		return usage();
	n = sockets(proto, 0, socks);
	for (size_t i = 0; i < n; i++) {
		const struct sock *s = &socks[i];

		printf("%u %u %s %lu", s->port, s->remote, s->state < sizeof names / sizeof names[0] ? names[s->state] : "",
		       s->rx);
		if (with_inode)
			printf(" %lu", s->inode);
		putchar('\n');
	}
	return 0;
}

/* The socket inodes held by the processes of group PGID, into INODES (at
 * most INODES_MAX): their number. */
static size_t group_sockets(long pgid, unsigned long *inodes)
{
	static struct proc procs[PROCS_MAX];
	size_t n = proc_list(procs), count = 0;

	for (size_t i = 0; i < n; i++) {
		char path[64];
		DIR *dir;
		struct dirent *e;

		if (procs[i].pgid != pgid)
			continue;
		snprintf(path, sizeof path, "/proc/%ld/fd", procs[i].pid);
		if ((dir = opendir(path)) == NULL)
			continue;
		while ((e = readdir(dir)) != NULL && count < INODES_MAX) {
			char link[PATH_MAX_LINK], target[64];
			ssize_t len;

			snprintf(link, sizeof link, "%s/%s", path, e->d_name);
			if ((len = readlink(link, target, sizeof target - 1)) <= 0)
				continue;
			target[len] = '\0';
			if (sscanf(target, "socket:[%lu]", &inodes[count]) == 1)
				count++;
		}
		closedir(dir);
	}
	return count;
}

/* The socket table is read only once the program's group holds a socket
 * (or every tenth look, for a program that left its group). */
static int listen_wait(const char *proto, const char *port_text, const char *pid_text, const char *ms_text)
{
	const struct timespec soon = { .tv_nsec = 5000000 }, later = { .tv_nsec = 25000000 };
	static struct sock socks[SOCKS_MAX];
	static unsigned long inodes[INODES_MAX];
	long pid = strtol(pid_text, NULL, 10);
	unsigned port = (unsigned)strtoul(port_text, NULL, 10);
	long long end = now_ms() + strtol(ms_text, NULL, 10);
	int tcp = strcmp(proto, "tcp") == 0;
	/* LISTEN; for UDP, CLOSE: bound and not connected. */
	unsigned state = tcp ? 0x0A : 0x07;
	struct proc p;

	if (!tcp && strcmp(proto, "udp") != 0)
		return usage();
	for (int tries = 0;; tries++) {
		size_t held, n, others = 0;

		if (pid <= 0 || !proc_stat(pid, &p) || p.state == 'Z')
			return 3;
		held = group_sockets(pid, inodes);
		if (held > 0 || tries % 10 == 9) {
			n = sockets(proto, state, socks);
			for (size_t i = 0; i < n; i++)
				if (socks[i].port == port)
					return 0;
			/* The group listens, but elsewhere: print those ports once. */
			for (size_t i = 0; tcp && i < n; i++) {
				size_t j = 0, k = 0;

				while (j < held && inodes[j] != socks[i].inode)
					j++;
				while (k < i && socks[k].port != socks[i].port)
					k++;
				if (j < held && k == i) {
					printf("%u\n", socks[i].port);
					others++;
				}
			}
			if (others > 0)
				return 4;
		}
		if (now_ms() >= end)
			return 1;
		/* Most programs listen within milliseconds: look often at first. */
		nanosleep(tries < 20 ? &soon : &later, NULL);
	}
}

static int sweep(const char *mark, const char *prefix, const char *uid_text, const char *self_text)
{
	static struct proc procs[PROCS_MAX];
	static char buf[FILE_MAX];
	size_t n = proc_list(procs);
	long self = strcmp(self_text, "-") == 0 ? 0 : strtol(self_text, NULL, 10);
	long bats = self;
	int by_uid = strcmp(uid_text, "-") != 0;
	uid_t uid = (uid_t)strtoul(uid_text, NULL, 10);

	/* bats: the ancestor of SELF whose parent is PID 1 (or 0). */
	for (int hops = 0; self > 0 && hops < PROCS_MAX; hops++) {
		size_t j;

		for (j = 0; j < n && procs[j].pid != bats; j++)
			;
		if (j == n || procs[j].ppid <= 1)
			break;
		bats = procs[j].ppid;
	}
	for (size_t i = 0; i < n; i++) {
		char path[64], target[PATH_MAX_LINK];
		struct stat st;
		ssize_t len;
		int hit = 0;

		if (procs[i].state == 'Z')
			continue;
		snprintf(path, sizeof path, "/proc/%ld/environ", procs[i].pid);
		if ((len = read_file(path, buf)) > 0 && holds(buf, (size_t)len, mark))
			hit = 1;
		snprintf(path, sizeof path, "/proc/%ld/cmdline", procs[i].pid);
		if (!hit && (len = read_file(path, buf)) > 0 && holds(buf, (size_t)len, prefix))
			hit = 1;
		snprintf(path, sizeof path, "/proc/%ld/exe", procs[i].pid);
		if (!hit && (len = readlink(path, target, sizeof target - 1)) > 0) {
			target[len] = '\0';
			hit = strncmp(target, prefix, strlen(prefix)) == 0;
		}
		snprintf(path, sizeof path, "/proc/%ld", procs[i].pid);
		if (!hit && by_uid && stat(path, &st) == 0 && st.st_uid == uid)
			hit = 1;
		if (!hit && self > 0 && procs[i].pid != 1) {
			/* A stranger: no ancestor is bats. */
			long q = procs[i].pid;

			for (int hops = 0; hops < PROCS_MAX && q != bats && q > 1; hops++) {
				size_t j;

				for (j = 0; j < n && procs[j].pid != q; j++)
					;
				q = j == n ? 0 : procs[j].ppid;
			}
			hit = q != bats;
		}
		if (hit)
			printf("%ld\n", procs[i].pid);
	}
	return 0;
}

static int print_strerror(int argc, char **argv)
{
	int status = 0;

	for (int i = 0; i < argc; i++) {
		size_t j = 0;

		while (j < sizeof errnos / sizeof errnos[0] && strcmp(errnos[j].name, argv[i]) != 0)
			j++;
		if (j == sizeof errnos / sizeof errnos[0]) {
			fprintf(stderr, "osprobe: unknown errno name %s\n", argv[i]);
			status = 2;
			continue;
		}
		printf("%s\t%s\n", argv[i], strerror(errnos[j].value));
	}
	return status;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "now") == 0)
		return now();
	if (argc == 2 && strcmp(argv[1], "ipv6") == 0)
		return ipv6();
	if (argc == 4 && strcmp(argv[1], "inuse") == 0)
		return inuse(argv[2], argv[3]);
	if ((argc == 6 || argc == 7) && strcmp(argv[1], "lines") == 0)
		return lines(argv[2], argv[3], argv[4], argv[5], argc == 7 ? argv[6] : NULL);
	if (argc == 6 && strcmp(argv[1], "listen") == 0)
		return listen_wait(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 6 && strcmp(argv[1], "sweep") == 0)
		return sweep(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 2 && strcmp(argv[1], "procs") == 0)
		return procs_print();
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "sockets") == 0)
		return sockets_print(argv[2], argc == 4);
	if (argc == 3 && strcmp(argv[1], "escape") == 0)
		return escape(argv[2]);
	if (argc == 2 && strcmp(argv[1], "tail") == 0)
		return tail();
	if (argc >= 3 && strcmp(argv[1], "strerror") == 0)
		return print_strerror(argc - 2, argv + 2);
	return usage();
}
