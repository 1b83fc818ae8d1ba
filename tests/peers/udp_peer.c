/*
 * udp_peer: a known-good UDP peer for the tests, for the jobs that no
 * netcat does: exact datagram boundaries, empty datagrams, servers that
 * lose or spoof replies, and a datagram from a server's own port.
 *
 *   udp_peer listen HOST ACTION...
 *       Bind a UDP socket on HOST, any free port, and print "PORT n".  Do
 *       the i-th ACTION with the i-th datagram (the last ACTION repeats):
 *         drop   ignore it (as if the network had lost it)
 *         echo   send it back
 *         decoy  send "decoy" from another port of ours, then echo it
 *       and print "DATAGRAM i N bytes after MS ms" (MS: since the previous
 *       datagram; 0 for the first).  Runs until killed.
 *   udp_peer forge HOST PORT TO_HOST TO_PORT FILE ACTION...
 *       As listen, but bound to HOST:PORT, and first send FILE as one
 *       datagram to TO_HOST:TO_PORT from there.  With HOST 127.0.0.2 and
 *       PORT the port of a server on 127.0.0.1, the server sees what
 *       another copy of itself would send.
 *   udp_peer send SECS HOST PORT FILE...
 *       From one socket, print "LOCAL PORT n", send each FILE as one
 *       datagram, back to back, then receive as many replies: the i-th is
 *       written to FILE.reply and announced as "REPLY i N bytes".  Gives up
 *       SECS seconds after the start.
 *
 * Exit status 0 on success, 1 on any error (with a message on stderr), 2
 * on bad usage.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DATAGRAM_MAX 65536

static char buf[DATAGRAM_MAX];

static void die(const char *what)
{
	fprintf(stderr, "udp_peer: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct addrinfo *resolve(const char *host, const char *port, int passive)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = passive ? AI_PASSIVE : 0 };
	struct addrinfo *list;
	int err = getaddrinfo(host, port, &hints, &list);

	if (err != 0) {
		fprintf(stderr, "udp_peer: %s: %s\n", host, gai_strerror(err));
		exit(1);
	}
	return list;
}

/* A UDP socket bound to HOST and PORT ("0": any free port). */
static int bound_socket(const char *host, const char *port)
{
	struct addrinfo *ai = resolve(host, port, 1);
	int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);

	if (fd == -1 || bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		die("bind");
	freeaddrinfo(ai);
	return fd;
}

/* Read FILE (at most one datagram) into buf; returns its size. */
static size_t read_file(const char *file)
{
	FILE *f = fopen(file, "rb");
	size_t len;

	if (f == NULL)
		die(file);
	len = fread(buf, 1, sizeof buf, f);
	if (ferror(f))
		die(file);
	fclose(f);
	return len;
}

/* Print "WHAT n" with the local port of FD. */
static void print_port(int fd, const char *what)
{
	struct sockaddr_storage addr;
	socklen_t len = sizeof addr;
	char port[16];

	if (getsockname(fd, (struct sockaddr *)&addr, &len) == -1 ||
	    getnameinfo((struct sockaddr *)&addr, len, NULL, 0, port, sizeof port, NI_NUMERICSERV) != 0)
		die("getsockname");
	printf("%s %s\n", what, port);
	fflush(stdout);
}

static long now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		die("clock_gettime");
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Serve datagrams on FD, bound on HOST, as ACTIONS say, until killed. */
static _Noreturn void do_listen(int fd, const char *host, char **actions, int count)
{
	int decoy_fd = bound_socket(host, "0");
	long last = -1;

	print_port(fd, "PORT");
	for (int i = 1;; i++) {
		const char *action = actions[i <= count ? i - 1 : count - 1];
		struct sockaddr_storage from;
		socklen_t len = sizeof from;
		ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
		long now = now_ms();

		if (n == -1) {
			if (errno == EINTR || errno == ECONNREFUSED) {
				i--;
				continue;
			}
			die("recvfrom");
		}
		printf("DATAGRAM %d %zd bytes after %ld ms\n", i, n, last < 0 ? 0 : now - last);
		fflush(stdout);
		last = now;
		if (strcmp(action, "decoy") == 0 &&
		    sendto(decoy_fd, "decoy", 5, 0, (struct sockaddr *)&from, len) == -1)
			die("sendto (decoy)");
		if (strcmp(action, "drop") != 0 &&
		    sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len) == -1)
			die("sendto");
	}
}

/* Send each file as a datagram, then collect the replies. */
static int do_send(long secs, const char *host, const char *port, char **files, int count)
{
	struct addrinfo *ai = resolve(host, port, 0);
	long deadline = now_ms() + secs * 1000;
	char name[4096];
	int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);

	if (fd == -1 || connect(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		die("connect");
	freeaddrinfo(ai);
	print_port(fd, "LOCAL PORT");
	for (int i = 0; i < count; i++)
		if (send(fd, buf, read_file(files[i]), 0) == -1)
			die("send");
	for (int i = 0; i < count; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left = deadline - now_ms();
		ssize_t n;
		FILE *f;

		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			fprintf(stderr, "udp_peer: no reply to datagram %d within %ld s\n", i + 1, secs);
			return 1;
		}
		n = recv(fd, buf, sizeof buf, 0);
		if (n == -1)
			die("recv");
		snprintf(name, sizeof name, "%s.reply", files[i]);
		f = fopen(name, "wb");
		if (f == NULL || fwrite(buf, 1, (size_t)n, f) != (size_t)n || fclose(f) != 0)
			die(name);
		printf("REPLY %d %zd bytes\n", i + 1, n);
		fflush(stdout);
	}
	return 0;
}

/* Whether each of the COUNT ACTIONS is one listen knows. */
static int actions_valid(char **actions, int count)
{
	for (int i = 0; i < count; i++)
		if (strcmp(actions[i], "drop") != 0 && strcmp(actions[i], "echo") != 0 &&
		    strcmp(actions[i], "decoy") != 0)
			return 0;
	return 1;
}

int main(int argc, char *argv[])
{
	if (argc >= 4 && strcmp(argv[1], "listen") == 0 && actions_valid(argv + 3, argc - 3))
		do_listen(bound_socket(argv[2], "0"), argv[2], argv + 3, argc - 3);
	if (argc >= 8 && strcmp(argv[1], "forge") == 0 && actions_valid(argv + 7, argc - 7)) {
		int fd = bound_socket(argv[2], argv[3]);
		struct addrinfo *to = resolve(argv[4], argv[5], 0);

		if (sendto(fd, buf, read_file(argv[6]), 0, to->ai_addr, to->ai_addrlen) == -1)
			die("sendto");
		freeaddrinfo(to);
		do_listen(fd, argv[2], argv + 7, argc - 7);
	}
	if (argc >= 6 && strcmp(argv[1], "send") == 0)
		return do_send(strtol(argv[2], NULL, 10), argv[3], argv[4], argv + 5, argc - 5);
	fprintf(stderr, "usage: udp_peer listen HOST ACTION... | udp_peer send SECS HOST PORT FILE... |\n"
			"       udp_peer forge HOST PORT TO_HOST TO_PORT FILE ACTION...\n");
	return 2;
}
