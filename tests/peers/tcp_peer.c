/*
 * tcp_peer: a known-good TCP peer for the tests, for the two jobs that no
 * netcat does reliably.
 *
 *   tcp_peer echo HOST         listen on HOST, any free port; print
 *                              "PORT n"; echo one connection, reading and
 *                              writing at once, and close after the
 *                              client half-closes and all is echoed
 *   tcp_peer reset HOST PORT N connect, send N bytes, wait for the first
 *                              byte of the reply, then close with a reset
 *                              (SO_LINGER 0) while the server still sends
 *   tcp_peer leave HOST PORT N connect, send N bytes, and close at once
 *                              without reading: the server's next sends
 *                              fail with EPIPE (SIGPIPE if not ignored)
 *   tcp_peer stall HOST PORT N connect with a small receive buffer and
 *                              send up to N bytes of a known pattern
 *                              without reading, so that the server's
 *                              send() blocks; print "STALLED" the first
 *                              time the server takes no more; for each
 *                              byte on standard input read 1 MiB of the
 *                              echo, then print "READ k" (the k-th time)
 *                              and stall again; at the end of standard
 *                              input, read the echo while sending
 *                              the rest, half-close, and check that all N
 *                              bytes came back intact ("ECHO OK N")
 *   tcp_peer rst HOST          listen on HOST, any free port; print
 *                              "PORT n"; read one connection until the
 *                              client half-closes, then reset it
 *
 * Exit status 0 on success, 1 on any error (with a message on stderr).
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
#include <sys/socket.h>
#include <unistd.h>

static int die(const char *what)
{
	fprintf(stderr, "tcp_peer: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct addrinfo *resolve(const char *host, const char *port, int passive)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = passive ? AI_PASSIVE : 0 };
	struct addrinfo *list;
	int err = getaddrinfo(host, port, &hints, &list);

	if (err != 0) {
		fprintf(stderr, "tcp_peer: %s: %s\n", host, gai_strerror(err));
		exit(1);
	}
	return list;
}

/* Echo one connection: a buffer of pending bytes, sent as the socket allows. */
static int echo_one(int fd)
{
	static char buf[1 << 16];
	size_t len = 0, sent = 0;
	int eof = 0;

	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		die("fcntl");
	while (!eof || sent < len) {
		struct pollfd p = { .fd = fd, .events = (sent < len ? POLLOUT : 0) | (!eof && sent == len ? POLLIN : 0) };
		ssize_t n;

		if (poll(&p, 1, 10000) <= 0)
			die("poll (10 s without progress)");
		if (sent == len && !eof) {
			n = recv(fd, buf, sizeof buf, 0);
			if (n == 0)
				eof = 1;
			else if (n > 0)
				len = (size_t)n, sent = 0;
			else if (errno != EAGAIN && errno != EINTR)
				die("recv");
		} else if (sent < len) {
			n = send(fd, buf + sent, len - sent, 0);
			if (n > 0)
				sent += (size_t)n;
			else if (errno != EAGAIN && errno != EINTR)
				die("send");
		}
	}
	return close(fd);
}

/* Byte I of the stall pattern: a period (251) prime to every buffer size,
 * so that a lost, repeated or misplaced piece shows. */
static unsigned char pattern(size_t i)
{
	return (unsigned char)(i % 251);
}

/* Mode stall: how much of the echo to read for each byte of standard input. */
#define STALL_READ (1 << 20)

/* Mode stall: see the header comment. */
static int stall(int fd, size_t total)
{
	static char buf[1 << 16];
	size_t sent = 0, got = 0, budget = 0, reads = 0;
	int go = 0, stalled = 0, eof = 0;

	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		die("fcntl");
	while (!eof) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = (sent < total ? POLLOUT : 0) | (go || budget ? POLLIN : 0) },
			{ .fd = go ? -1 : 0, .events = POLLIN },
		};
		ssize_t n;

		if (poll(p, 2, 10000) <= 0)
			die("poll (10 s without progress)");
		if (p[1].revents) {
			n = read(0, buf, sizeof buf);
			if (n <= 0)
				go = 1;
			else
				/* A little more each time: the server then blocks
				 * at another point of its buffer. */
				budget += (size_t)n * STALL_READ + reads * 1021;
		}
		if ((p[0].revents & POLLIN) || (go && (p[0].revents & (POLLHUP | POLLERR)))) {
			n = recv(fd, buf, go || budget > sizeof buf ? sizeof buf : budget, 0);
			if (n == 0)
				eof = 1;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				die("recv");
			for (ssize_t i = 0; i < n; i++, got++) {
				if (got >= total || (unsigned char)buf[i] != pattern(got)) {
					printf("ECHO DIFFERS at byte %zu of %zu\n", got + 1, total);
					return 1;
				}
			}
			if (!go && n > 0 && (budget -= (size_t)n) == 0) {
				printf("READ %zu\n", ++reads);
				fflush(stdout);
			}
		}
		/* Send until the socket takes no more. */
		while ((p[0].revents & POLLOUT) && sent < total) {
			size_t len = total - sent < sizeof buf ? total - sent : sizeof buf;

			for (size_t i = 0; i < len; i++)
				buf[i] = (char)pattern(sent + i);
			n = send(fd, buf, len, 0);
			if (n > 0) {
				sent += (size_t)n;
			} else if (errno == EAGAIN) {
				if (!stalled)
					printf("STALLED after %zu bytes\n", sent);
				fflush(stdout);
				stalled = 1;
				break;
			} else if (errno != EINTR) {
				die("send");
			}
			if (sent == total && shutdown(fd, SHUT_WR) == -1)
				die("shutdown");
		}
	}
	if (got != total) {
		printf("ECHO ENDED after %zu of %zu bytes\n", got, total);
		return 1;
	}
	printf("ECHO OK %zu\n", total);
	return 0;
}

/*
 * Listen on a free port of HOST, print "PORT N", accept one client and
 * stop listening: return the client's socket.  SMALL > 0 sets the kernel
 * buffers before listen(), so that the accepted socket starts with them:
 * a client that sends everything before it reads anything stalls here, as
 * it would on a slow network.
 */
static int accept_one(const char *host, int small)
{
	struct addrinfo *ai = resolve(host, "0", 1);
	struct sockaddr_storage addr;
	socklen_t len = sizeof addr;
	char port[16];
	int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol), client;

	if (fd == -1 ||
	    (small > 0 && (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == -1 ||
			   setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == -1)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 || listen(fd, 1) == -1)
		die("listen");
	freeaddrinfo(ai);
	if (getsockname(fd, (struct sockaddr *)&addr, &len) == -1 ||
	    getnameinfo((struct sockaddr *)&addr, len, NULL, 0, port, sizeof port, NI_NUMERICSERV) != 0)
		die("getsockname");
	printf("PORT %s\n", port);
	fflush(stdout);
	client = accept(fd, NULL, NULL);
	if (client == -1)
		die("accept");
	close(fd);
	return client;
}

int main(int argc, char *argv[])
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && strcmp(argv[1], "echo") == 0)
		return echo_one(accept_one(argv[2], 16384)) == 0 ? 0 : 1;
	if (argc == 5 && strcmp(argv[1], "reset") == 0) {
		struct addrinfo *ai = resolve(argv[2], argv[3], 0);
		size_t total = strtoul(argv[4], NULL, 10), done = 0;
		struct linger hard = { .l_onoff = 1, .l_linger = 0 };
		static char buf[1 << 16];
		char first;
		int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);

		if (fd == -1 || connect(fd, ai->ai_addr, ai->ai_addrlen) == -1)
			die("connect");
		freeaddrinfo(ai);
		memset(buf, 'r', sizeof buf);
		if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
			die("fcntl");
		/* Send as much as the server takes; stop at the first echoed byte. */
		for (;;) {
			struct pollfd p = { .fd = fd, .events = POLLIN | (done < total ? POLLOUT : 0) };
			ssize_t n;

			if (poll(&p, 1, 10000) <= 0)
				die("poll (10 s without progress)");
			if (p.revents & POLLIN) {
				if (recv(fd, &first, 1, 0) == 1)
					break;
				die("recv (no echo)");
			}
			n = send(fd, buf, total - done < sizeof buf ? total - done : sizeof buf, 0);
			if (n > 0)
				done += (size_t)n;
			else if (errno != EAGAIN && errno != EINTR)
				die("send");
		}
		if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard) == -1)
			die("setsockopt SO_LINGER");
		return close(fd) == 0 ? 0 : 1;
	}
	if (argc == 5 && strcmp(argv[1], "leave") == 0) {
		struct addrinfo *ai = resolve(argv[2], argv[3], 0);
		size_t total = strtoul(argv[4], NULL, 10);
		static char buf[1 << 16];
		int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);

		if (fd == -1 || connect(fd, ai->ai_addr, ai->ai_addrlen) == -1)
			die("connect");
		freeaddrinfo(ai);
		memset(buf, 'l', sizeof buf);
		while (total > 0) {
			ssize_t n = send(fd, buf, total < sizeof buf ? total : sizeof buf, 0);

			if (n == -1)
				die("send");
			total -= (size_t)n;
		}
		return close(fd) == 0 ? 0 : 1;
	}
	if (argc == 5 && strcmp(argv[1], "stall") == 0) {
		struct addrinfo *ai = resolve(argv[2], argv[3], 0);
		int small = 16384;
		int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);

		/* A small receive buffer, set before connect(): the server's
		 * send() blocks soon. */
		if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == -1 ||
		    connect(fd, ai->ai_addr, ai->ai_addrlen) == -1)
			die("connect");
		freeaddrinfo(ai);
		return stall(fd, strtoul(argv[4], NULL, 10));
	}
	if (argc == 3 && strcmp(argv[1], "rst") == 0) {
		struct linger hard = { .l_onoff = 1, .l_linger = 0 };
		static char buf[1 << 16];
		int client = accept_one(argv[2], 0);
		ssize_t n;

		while ((n = recv(client, buf, sizeof buf, 0)) != 0)
			if (n == -1 && errno != EINTR)
				die("recv");
		if (setsockopt(client, SOL_SOCKET, SO_LINGER, &hard, sizeof hard) == -1)
			die("setsockopt SO_LINGER");
		return close(client) == 0 ? 0 : 1;
	}
	fprintf(stderr, "usage: tcp_peer echo|rst HOST | tcp_peer reset|leave|stall HOST PORT BYTES\n");
	return 2;
}
