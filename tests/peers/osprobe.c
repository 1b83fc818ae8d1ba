/*
 * osprobe: what the test harness asks the operating system, answered with
 * POSIX calls only, so that the harness's portable mode works wherever the
 * course builds (macOS, WSL, any Linux without /proc).
 *
 *   osprobe now                   monotonic time in milliseconds
 *   osprobe ipv6                  exit 0 if a socket can be bound to ::1
 *   osprobe inuse tcp|udp PORT    exit 0 if a socket of that protocol is
 *                                 bound to PORT on 127.0.0.1 (a bind there
 *                                 fails with EADDRINUSE), 1 if not
 *   osprobe lines FILE REGEX COUNT MS
 *                                 wait until COUNT lines of FILE (of its
 *                                 first MiB) match the extended regular
 *                                 expression REGEX; exit 0 then, 1 if MS
 *                                 milliseconds pass first.  One process
 *                                 that reads only what is new: polling with
 *                                 grep would cost a process every few ms
 *   osprobe strerror NAME...      for each errno NAME (EADDRINUSE, ...),
 *                                 print "NAME<TAB>text", the C library's
 *                                 strerror text (in the C locale: neither
 *                                 this program nor the lessons' programs
 *                                 call setlocale)
 *
 * The grader builds this program with the compiler that built the programs
 * under test, so that "strerror" answers with their C library's words.
 * Exit status 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
	fprintf(stderr, "usage: osprobe now | ipv6 | inuse tcp|udp PORT | lines FILE REGEX COUNT MS | strerror NAME...\n");
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

/* Count the matching lines of FILE as it grows, reading only what is new;
 * a line counts once it ends with LF.  NUL bytes in a line are read as
 * the end of the text that regexec() sees. */
static int lines(const char *file, const char *pattern, const char *count_text, const char *ms_text)
{
	static char buf[LINES_MAX + 1];
	const struct timespec pause = { .tv_nsec = 2000000 };
	long want = strtol(count_text, NULL, 10);
	long long end = now_ms() + strtol(ms_text, NULL, 10);
	size_t len = 0, start = 0;
	long found = 0;
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
		if (found >= want)
			break;
		if (n <= 0) {
			if (now_ms() >= end)
				break;
			nanosleep(&pause, NULL);
		}
	}
	regfree(&re);
	if (fd != -1)
		close(fd);
	return found >= want ? 0 : 1;
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
	if (argc == 6 && strcmp(argv[1], "lines") == 0)
		return lines(argv[2], argv[3], argv[4], argv[5]);
	if (argc >= 3 && strcmp(argv[1], "strerror") == 0)
		return print_strerror(argc - 2, argv + 2);
	return usage();
}
