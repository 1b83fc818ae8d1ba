/*
 * hostile: clients that misbehave, for the hostile-client check of make
 * test (tests/check.d/hostile): each mode throws one kind of abuse at a
 * server, then exits; the check then makes sure the server still serves.
 *
 *   hostile garbage HOST PORT N   N connections, one after another: 64 KiB
 *                                 of random bytes (NULs, CRs, no line
 *                                 structure), a half-close, then read
 *                                 what comes back until the server closes
 *                                 or 2 s pass
 *   hostile longline HOST PORT    one connection sends 1 MiB without a
 *                                 newline, reading all the while, closes
 *   hostile reset HOST PORT N     N connections: send 1 KiB, close at once
 *                                 with a reset (SO_LINGER 0)
 *   hostile halfclose HOST PORT N N connections at once send "x\n" and
 *                                 half-close, then all close
 *   hostile many HOST PORT N      N connections at once, held until each
 *                                 is connected (or 10 s), then all closed
 *   hostile datagrams HOST PORT N N datagrams of random sizes (0 to 65507
 *                                 bytes) and random bytes, sent without
 *                                 waiting for replies
 *
 * The whole run is bounded by 60 s.  Exit status 0 when the abuse was
 * delivered, 1 on an error of ours (on stderr), 2 on bad usage.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *host, *port;

static void die(const char *what)
{
	fprintf(stderr, "hostile: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A socket of TYPE connected to HOST and PORT (non-blocking when ASYNC:
 * the connection may still be under way). */
static int connect_to(int type, int async)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = type };
	struct addrinfo *ai;
	int fd, err = getaddrinfo(host, port, &hints, &ai);

	if (err != 0) {
		fprintf(stderr, "hostile: %s: %s\n", host, gai_strerror(err));
		exit(1);
	}
	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd == -1)
		die("socket");
	if (async && fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		die("fcntl");
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 && !(async && errno == EINPROGRESS))
		die("connect");
	freeaddrinfo(ai);
	return fd;
}

static void fill_random(char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(rand() & 0xff);
}

/* Send LEN bytes of BUF on FD while reading (and dropping) what comes
 * back, so that a server echoing it never blocks on us; with HALF_CLOSE,
 * half-close after and read until the end or MS milliseconds. */
static void push(int fd, const char *buf, size_t len, int half_close, int ms)
{
	char sink[65536];
	size_t sent = 0;
	int done = 0;

	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		die("fcntl");
	while (!done) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < len ? POLLOUT : 0) };
		int n = poll(&p, 1, ms);

		if (n <= 0)
			return; /* the time is up: the server need not answer */
		if (p.revents & POLLOUT) {
			ssize_t k = send(fd, buf + sent, len - sent, 0);

			if (k == -1 && errno != EAGAIN && errno != EINTR)
				return; /* the server closed or reset: that is its right */
			if (k > 0 && (sent += (size_t)k) == len && half_close)
				shutdown(fd, SHUT_WR);
			if (sent == len && !half_close)
				done = 1;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t k = recv(fd, sink, sizeof sink, 0);

			if (k == 0 || (k == -1 && errno != EAGAIN && errno != EINTR))
				done = 1;
		}
	}
}

static void reset_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(fd);
}

/* Wait until every socket of FDS is connected (or failed), at most 10 s. */
static void wait_connected(int *fds, int n)
{
	struct pollfd *p = calloc((size_t)n, sizeof *p);
	int pending = n;

	if (p == NULL)
		die("calloc");
	for (int i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLOUT };
	for (int rounds = 0; pending > 0 && rounds < 100; rounds++) {
		if (poll(p, (nfds_t)n, 100) == -1 && errno != EINTR)
			die("poll");
		for (int i = 0; i < n; i++)
			if (p[i].fd >= 0 && p[i].revents != 0) {
				p[i].fd = -1;
				pending--;
			}
	}
	free(p);
}

int main(int argc, char *argv[])
{
	static char buf[1 << 20];
	const char *mode;
	int n = 1, *fds;

	if (argc < 4 || argc > 5)
		goto usage;
	mode = argv[1];
	host = argv[2];
	port = argv[3];
	if (argc == 5 && (n = atoi(argv[4])) <= 0)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	alarm(60);
	/* Room for N descriptors at once. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	srand(42);
	if ((fds = calloc((size_t)n, sizeof *fds)) == NULL)
		die("calloc");
	if (strcmp(mode, "garbage") == 0) {
		for (int i = 0; i < n; i++) {
			int fd = connect_to(SOCK_STREAM, 0);

			fill_random(buf, 65536);
			push(fd, buf, 65536, 1, 2000);
			close(fd);
		}
	} else if (strcmp(mode, "longline") == 0) {
		int fd = connect_to(SOCK_STREAM, 0);

		memset(buf, 'a', sizeof buf);
		push(fd, buf, sizeof buf, 0, 5000);
		close(fd);
	} else if (strcmp(mode, "reset") == 0) {
		memset(buf, 'r', 1024);
		for (int i = 0; i < n; i++) {
			int fd = connect_to(SOCK_STREAM, 0);

			if (send(fd, buf, 1024, 0) == -1 && errno != EPIPE && errno != ECONNRESET)
				die("send");
			reset_close(fd);
		}
	} else if (strcmp(mode, "halfclose") == 0 || strcmp(mode, "many") == 0) {
		int half = strcmp(mode, "halfclose") == 0;

		for (int i = 0; i < n; i++)
			fds[i] = connect_to(SOCK_STREAM, 1);
		wait_connected(fds, n);
		for (int i = 0; i < n && half; i++)
			if (send(fds[i], "x\n", 2, 0) == 2)
				shutdown(fds[i], SHUT_WR);
		for (int i = 0; i < n; i++)
			close(fds[i]);
	} else if (strcmp(mode, "datagrams") == 0) {
		int fd = connect_to(SOCK_DGRAM, 0);

		for (int i = 0; i < n; i++) {
			size_t len = (size_t)rand() % 65508;

			fill_random(buf, len);
			/* ECONNREFUSED: an ICMP error for an earlier datagram. */
			if (send(fd, buf, len, 0) == -1 && errno != ECONNREFUSED && errno != EMSGSIZE)
				die("send");
		}
		close(fd);
	} else {
		goto usage;
	}
	free(fds);
	return 0;
usage:
	fprintf(stderr, "usage: hostile garbage|longline|reset|halfclose|many|datagrams HOST PORT [N]\n");
	return 2;
}
