/*
 * udp_echo_server: the lecture's UDP echo server, in C.
 *
 *   usage: udp_echo_server [HOST] [PORT]
 *
 * HOST defaults to every IPv4 interface ("::" for IPv6 too), PORT to 50007;
 * PORT 0 asks the kernel for any free port, and the port it chose is
 * printed.  Every datagram that arrives is sent back, unchanged, to the
 * address it came from, and logged as  Datagram from ADDR:PORT (N bytes).
 *
 * The algorithm:
 *   1. Resolve HOST and PORT with getaddrinfo() and bind a UDP socket to
 *      the first address that works (IPv4 or IPv6).  There is no listen()
 *      and no accept(): UDP has no connections.
 *   2. recvfrom() the next datagram, from whichever client sent it, along
 *      with the sender's address.
 *   3. sendto() the same bytes back to that address, then go back to step 2.
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
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define DEFAULT_PORT "50007"
/* Larger than any UDP payload: 65507 bytes over IPv4, 65527 over IPv6. */
#define DATAGRAM_MAX 65535
#define NUMERIC_HOST_SIZE 64 /* a numeric IPv6 address with its %scope fits */
#define ADDR_TEXT_SIZE 80    /* and so does "[that]:port" */

static const char *prog = "udp_echo_server";

/* Set by the signal handler; the loop checks it when a call returns EINTR. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int signo)
{
	(void)signo;
	stop_requested = 1;
}

/*
 * Install the SIGINT/SIGTERM handler without SA_RESTART, so that a blocked
 * recvfrom() returns EINTR and the loop can notice the request.
 */
static int install_signal_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop_signal;
	if (sigaction(SIGINT, &sa, NULL) == -1 || sigaction(SIGTERM, &sa, NULL) == -1)
		return -1;
	return 0;
}

/* Format a socket address as "ADDR:PORT", with IPv6 addresses in brackets. */
static void format_address(const struct sockaddr *addr, socklen_t len, char *out, size_t size)
{
	char host[NUMERIC_HOST_SIZE], port[8];
	int err = getnameinfo(addr, len, host, sizeof host, port, sizeof port,
			      NI_NUMERICHOST | NI_NUMERICSERV);

	if (err != 0)
		snprintf(out, size, "?:?");
	else if (strchr(host, ':') != NULL)
		snprintf(out, size, "[%s]:%s", host, port);
	else
		snprintf(out, size, "%s:%s", host, port);
}

/*
 * Resolve HOST and PORT and return a UDP socket bound to the first address
 * that works, or -1 with an error already printed.
 */
static int open_socket(const char *host, const char *port)
{
	/* TODO: bind(2) a SOCK_DGRAM socket to the first address getaddrinfo(3)
	 * gives for HOST, PORT (no SO_REUSEADDR); errors as the page's table shows. */
	(void)host;
	(void)port;
	fprintf(stderr, "%s: open_socket: not implemented yet\n", prog);
	return -1;
}

/*
 * Receive one datagram from any client, log it, and send it back to its
 * sender.  A reply that cannot be sent concerns that client only: it is
 * reported and the server goes on.  Returns 0, or -1 with errno set when
 * receiving failed (EINTR: a signal arrived; anything else is fatal).
 */
static int echo_datagram(int fd)
{
	/* TODO: recvfrom(2) one datagram of up to DATAGRAM_MAX bytes (0 is one too),
	 * print "Datagram from ADDR:PORT (N bytes)", fflush(3), sendto(2) it back. */
	(void)fd;
	errno = ENOSYS;
	return -1;
}

/* Report a usage error the Unix way: a manual-style line, exit status 2. */
static void usage(void)
{
	/* TODO: print "usage: udp_echo_server [HOST] [PORT]" on stderr and
	 * exit(3) with status 2, the convention for a usage error. */
	exit(1);
}

int main(int argc, char *argv[])
{
	const char *host = NULL, *port = DEFAULT_PORT;
	struct sockaddr_storage addr;
	socklen_t len = sizeof addr;
	char where[ADDR_TEXT_SIZE];
	int fd;

	if (argc > 3 || (argc > 1 && argv[1][0] == '-') || (argc > 2 && argv[2][0] == '-'))
		usage();
	if (argc > 1 && argv[1][0] != '\0')
		host = argv[1];
	if (argc > 2)
		port = argv[2];

	if (install_signal_handlers() == -1) {
		fprintf(stderr, "%s: sigaction: %s\n", prog, strerror(errno));
		return 1;
	}
	fd = open_socket(host, port);
	if (fd == -1)
		return 1;

	/* getsockname() tells the port really bound, also when PORT was 0. */
	if (getsockname(fd, (struct sockaddr *)&addr, &len) == -1) {
		fprintf(stderr, "%s: getsockname: %s\n", prog, strerror(errno));
		close(fd);
		return 1;
	}
	format_address((struct sockaddr *)&addr, len, where, sizeof where);
	printf("Listening on %s\n", where);
	fflush(stdout);

	while (!stop_requested) {
		if (echo_datagram(fd) == -1) {
			/* EINTR: a signal (maybe a stop request).  ECONNREFUSED: on
			 * some systems an ICMP error about an earlier reply shows up
			 * here; it concerns that client, not the server. */
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			fprintf(stderr, "%s: recvfrom: %s\n", prog, strerror(errno));
			close(fd);
			return 1;
		}
	}
	close(fd);
	return 0;
}
