/*
 * ss_peer: test clients for lesson 03 (socketserver), for what netcat
 * cannot do: hold many connections at once, and one UDP exchange with a
 * time limit that does not cost a fixed second.
 *
 *   ss_peer many HOST PORT N [SECS]
 *       Open N connections and keep them all open.  Then, from the last to
 *       the first, send "client I\n" on connection I and read until the
 *       server closes; the reply must be "CLIENT I" (what upper_server
 *       answers).  The last client speaks first while the others are
 *       connected and silent, so a server that serves one connection at a
 *       time never answers it.  Prints "served N clients".
 *   ss_peer udp HOST PORT MESSAGE [SECS]
 *       Send MESSAGE as one datagram and print the first datagram that
 *       comes back, as is.
 *
 * SECS (default 5) bounds the whole run.  Exit status 0 on success, 1 on
 * failure (with a message on stderr), 2 on bad usage.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 1000

static double deadline;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds left before the deadline, at least 0. */
static int left_ms(void)
{
	double left = deadline - now();

	return left > 0 ? (int)(left * 1000) + 1 : 0;
}

static int connect_to(const char *host, const char *port, int type)
{
	struct addrinfo hints = { .ai_socktype = type }, *list, *ai;
	int fd = -1, err = getaddrinfo(host, port, &hints, &list);

	if (err != 0) {
		fprintf(stderr, "ss_peer: %s: %s\n", host, gai_strerror(err));
		exit(1);
	}
	for (ai = list; ai != NULL && fd == -1; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd != -1 && connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(list);
	if (fd == -1) {
		fprintf(stderr, "ss_peer: connect to %s:%s: %s\n", host, port, strerror(errno));
		exit(1);
	}
	return fd;
}

/* Wait until FD is readable; exit with MESSAGE when the time is up. */
static void wait_readable(int fd, const char *message, int client)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (;;) {
		int n = poll(&p, 1, left_ms());

		if (n > 0)
			return;
		if (n == -1 && errno == EINTR)
			continue;
		fprintf(stderr, "ss_peer: client %d: %s\n", client, message);
		exit(1);
	}
}

static int many(const char *host, const char *port, int count)
{
	static int fds[MAX_CLIENTS];
	int i;

	for (i = 0; i < count; i++)
		fds[i] = connect_to(host, port, SOCK_STREAM);
	for (i = count - 1; i >= 0; i--) {
		char request[64], expected[64], reply[256];
		size_t len = 0;
		ssize_t n;
		int k;

		snprintf(request, sizeof request, "client %d\n", i);
		snprintf(expected, sizeof expected, "CLIENT %d", i);
		if (send(fds[i], request, strlen(request), 0) != (ssize_t)strlen(request)) {
			fprintf(stderr, "ss_peer: client %d: send: %s\n", i, strerror(errno));
			return 1;
		}
		do {
			wait_readable(fds[i], "no reply (or no end of it) in time, while the clients "
				      "before it were connected and silent", i);
			n = recv(fds[i], reply + len, sizeof reply - 1 - len, 0);
			if (n == -1 && errno != EINTR) {
				fprintf(stderr, "ss_peer: client %d: recv: %s\n", i, strerror(errno));
				return 1;
			}
			if (n > 0)
				len += (size_t)n;
		} while (n != 0 && len < sizeof reply - 1);
		reply[len] = '\0';
		if (strcmp(reply, expected) != 0) {
			fprintf(stderr, "ss_peer: client %d: expected '%s', got '", i, expected);
			for (k = 0; k < (int)len; k++)
				fprintf(stderr, isprint((unsigned char)reply[k]) ? "%c" : "\\x%02x",
					(unsigned char)reply[k]);
			fprintf(stderr, "'\n");
			return 1;
		}
		close(fds[i]);
	}
	printf("served %d clients\n", count);
	return 0;
}

static int udp(const char *host, const char *port, const char *message)
{
	static char reply[65536];
	int fd = connect_to(host, port, SOCK_DGRAM);
	ssize_t n;

	if (send(fd, message, strlen(message), 0) == -1) {
		fprintf(stderr, "ss_peer: send: %s\n", strerror(errno));
		return 1;
	}
	wait_readable(fd, "no reply datagram in time", 0);
	n = recv(fd, reply, sizeof reply, 0);
	if (n == -1) {
		fprintf(stderr, "ss_peer: recv: %s\n", strerror(errno));
		return 1;
	}
	fwrite(reply, 1, (size_t)n, stdout);
	close(fd);
	return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char *argv[])
{
	signal(SIGPIPE, SIG_IGN);
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "many") == 0) {
		int count = atoi(argv[4]);

		deadline = now() + (argc == 6 ? atof(argv[5]) : 5);
		if (count > 0 && count <= MAX_CLIENTS)
			return many(argv[2], argv[3], count);
	}
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "udp") == 0) {
		deadline = now() + (argc == 6 ? atof(argv[5]) : 5);
		return udp(argv[2], argv[3], argv[4]);
	}
	fprintf(stderr, "usage: ss_peer many HOST PORT N [SECS] | ss_peer udp HOST PORT MESSAGE [SECS]\n");
	return 2;
}
