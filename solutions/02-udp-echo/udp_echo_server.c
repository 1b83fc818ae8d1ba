/*
 * udp_echo_server: the lecture's UDP echo server, in C.
 *
 *   usage: udp_echo_server [HOST] [PORT]
 *
 * HOST defaults to every IPv4 interface ("::" for IPv6 too), PORT to 50007;
 * PORT 0 asks the kernel for any free port, and the port it chose is
 * printed.  Every datagram that arrives is sent back, unchanged, to the
 * address it came from, and logged as  Datagram from ADDR:PORT (N bytes).
 * A datagram from our own port or from a port below 1024 is not answered:
 * Datagram from ADDR:PORT (N bytes) not answered: source port is ours
 * (or: source port below 1024).
 *
 * The algorithm:
 *   1. Bind a UDP socket to HOST and PORT (net_listen() from lesson 01).
 *      There is no listen() and no accept(): UDP has no connections.
 *   2. recvfrom() the next datagram, from whichever client sent it, along
 *      with the sender's address.
 *   3. Unless its source port is ours or below 1024, sendto() the same
 *      bytes back to that address.  Go back to step 2.
 *   4. On SIGINT or SIGTERM, stop and exit 0.
 *
 * One socket serves every client: each datagram carries its sender's
 * address, so clients interleave freely and none waits for another.
 *
 * What it leaves out: reliability.  A datagram or a reply that the network
 * loses stays lost; it is the client's job to send again.  And a stop
 * signal that lands just after the loop checked its flag and just before
 * recvfrom() blocks is seen only when the next datagram comes (lesson 03's
 * self-pipe closes that gap).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "net.h"

#define DEFAULT_PORT "50007"
/* Larger than any UDP payload: 65507 bytes over IPv4, 65527 over IPv6. */
#define DATAGRAM_MAX 65535

/* The port of ADDR, an IPv4 or IPv6 address, in host byte order. */
static unsigned port_of(const struct sockaddr *addr)
{
	if (addr->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
	return ntohs(((const struct sockaddr_in *)addr)->sin_port);
}

/* $begin echo_datagram */
/*
 * Receive one datagram from any client, log it, and send it back to its
 * sender, unless it comes from OWN_PORT or a port below 1024: a forged
 * source address there could make us echo to ourselves, or to another
 * echo service that echoes back, for ever.  A reply that cannot be sent
 * concerns that client only: it is reported and the server goes on.
 * Returns 0, or -1 with errno set when receiving failed (EINTR: a signal
 * arrived; anything else is fatal).
 */
static int echo_datagram(int fd, unsigned own_port)
{
	/* BEGIN SOLUTION: return -1 ENOSYS */
	//: /* TODO: recvfrom(2) one datagram of up to DATAGRAM_MAX bytes (0 is one too),
	//:  * print "Datagram from ADDR:PORT (N bytes)", fflush(3), sendto(2) it back; but when
	//:  * its port_of() is OWN_PORT or below 1024, say "not answered" and why instead. */
	static char buf[DATAGRAM_MAX];
	struct sockaddr_storage addr;
	socklen_t len = sizeof addr;
	char who[NET_ADDRSTRLEN];
	/* One recvfrom() is one whole datagram; 0 bytes is an empty datagram,
	 * not an end: there is no connection to end. */
	ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&addr, &len);
	unsigned from;

	if (n == -1)
		return -1;
	net_format_address((struct sockaddr *)&addr, len, who);
	from = port_of((struct sockaddr *)&addr);
	if (from == own_port || from < 1024) {
		printf("Datagram from %s (%zd bytes) not answered: source port %s\n", who, n,
		       from == own_port ? "is ours" : "below 1024");
		fflush(stdout);
		return 0;
	}
	printf("Datagram from %s (%zd bytes)\n", who, n);
	fflush(stdout);
	/* One sendto() is one whole datagram, sent entirely or not at all: no
	 * short write to finish.  EINTR can only be a stop request. */
	if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&addr, len) == -1 && errno != EINTR)
		fprintf(stderr, "%s: sendto %s: %s\n", net_prog, who, strerror(errno));
	return 0;
	/* END SOLUTION */
}
/* $end echo_datagram */

int main(int argc, char *argv[])
{
	const char *host = NULL, *port = DEFAULT_PORT;
	struct sockaddr_storage local;
	socklen_t len = sizeof local;
	char where[NET_ADDRSTRLEN];
	int fd, opt;

	net_prog = "udp_echo_server";
	while ((opt = getopt(argc, argv, "")) != -1)
		net_usage("[HOST] [PORT]");
	if (argc - optind > 2)
		net_usage("[HOST] [PORT]");
	if (optind < argc && argv[optind][0] != '\0')
		host = argv[optind];
	if (optind + 1 < argc)
		port = argv[optind + 1];

	if (net_catch_signals() == -1 || (fd = net_listen(host, port, SOCK_DGRAM)) == -1)
		return 1;
	/* The address really bound, also when PORT was 0. */
	if (getsockname(fd, (struct sockaddr *)&local, &len) == -1) {
		fprintf(stderr, "%s: getsockname: %s\n", net_prog, strerror(errno));
		close(fd);
		return 1;
	}
	net_format_address((struct sockaddr *)&local, len, where);
	printf("Listening on %s\n", where);
	fflush(stdout);

	while (!net_stop) {
		/* EINTR: a signal (maybe a stop request).  ECONNREFUSED: on some
		 * systems an ICMP error about an earlier reply shows up here; it
		 * concerns that client, not the server. */
		if (echo_datagram(fd, port_of((struct sockaddr *)&local)) == -1 && errno != EINTR && errno != ECONNREFUSED) {
			fprintf(stderr, "%s: recvfrom: %s\n", net_prog, strerror(errno));
			close(fd);
			return 1;
		}
	}
	close(fd);
	return 0;
}
