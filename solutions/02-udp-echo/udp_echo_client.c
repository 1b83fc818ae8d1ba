/*
 * udp_echo_client: send one datagram to a UDP echo server, print the reply.
 *
 *   usage: udp_echo_client [-t SECONDS] [-r TRIES] [HOST [PORT [MESSAGE | -]]]
 *
 * Defaults: localhost, port 50007, the message "Hello, world", a timeout
 * of 1 second (fractions allowed: -t 0.5) and 3 tries.  The client sends
 * MESSAGE as one datagram and prints the reply as  Received 'Hello, world'
 * with non-printable bytes escaped as in C ("\n", "\x00").  When no reply
 * comes within SECONDS it sends the datagram again; after TRIES tries it
 * gives up with an error and exit status 1.
 *
 * MESSAGE "-" sends standard input instead, as one datagram (at most 65507
 * bytes over IPv4, 65527 over IPv6), and writes the raw reply to standard
 * output.
 *
 * The algorithm:
 *   1. Resolve HOST and PORT with getaddrinfo() (IPv4 or IPv6).
 *   2. Make a UDP socket and connect() it to the first address.  On UDP,
 *      connect() sends nothing: it fixes the peer, so that send() needs no
 *      address, datagrams from anyone else are dropped, and an ICMP "port
 *      unreachable" comes back to us as the error ECONNREFUSED.
 *   3. Send the message as one datagram.
 *   4. poll() up to SECONDS for the reply.  If it comes, recv() and print
 *      it: done.  If not, go back to step 3, TRIES times in all.
 *   5. If the address refused, try the next address from step 1.
 *
 * What it leaves out: a reply that arrives after the client gave up is
 * lost, and a server may see the same message twice (see the lesson page).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "net.h"

#define DEFAULT_HOST "localhost"
#define DEFAULT_PORT "50007"
#define DEFAULT_MESSAGE "Hello, world"
/* The largest UDP payload: 65535 bytes minus the 8-byte UDP header.  Over
 * IPv4 the 20-byte IP header counts too, which leaves 65507. */
#define PAYLOAD_MAX 65527
#define SYNOPSIS "[-t SECONDS] [-r TRIES] [HOST [PORT [MESSAGE | -]]]"

/* What to send, and how hard to try. */
struct request {
	const char *data;
	size_t len;
	int timeout_ms;
	int tries;
};

/* $begin exchange */
/*
 * Send the request as one datagram on the connected socket FD and wait for
 * the reply; when none comes in time, send again, REQ->tries times in all.
 * Returns the length of the reply, received into REPLY (SIZE bytes), or -1
 * with errno set: ETIMEDOUT when no reply came, ECONNREFUSED when nobody
 * listens at that address.  (The client catches no signal: no call here
 * fails with EINTR.)
 */
static ssize_t exchange(int fd, const struct request *req, char *reply, size_t size)
{
	/* BEGIN SOLUTION: return -1 ENOSYS */
	//: /* TODO: REQ->tries times: send(2) the datagram, poll(2) REQ->timeout_ms for the
	//:  * reply, recv(2) it once it is there; no reply at all is ETIMEDOUT. */
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (int tried = 0; tried < req->tries; tried++) {
		int ready;

		/* One send() is one datagram, sent whole or not at all. */
		if (send(fd, req->data, req->len, 0) == -1)
			return -1;
		/* Wait for a datagram, or for an error such as ECONNREFUSED that
		 * recv() reports.  0: the time is up, the datagram or its reply
		 * was lost, so send again. */
		ready = poll(&pfd, 1, req->timeout_ms);
		if (ready != 0)
			return ready == -1 ? -1 : recv(fd, reply, size, 0);
	}
	errno = ETIMEDOUT;
	return -1;
	/* END SOLUTION */
}
/* $end exchange */

/* $begin ask_server */
/*
 * Resolve HOST and PORT and run exchange() with each address in turn,
 * through a UDP socket connected to it.  Move on to the next address only
 * when this one refused (or could not be reached): with UDP, that is the
 * only sign that nobody is there.  Returns the length of the reply in
 * REPLY, or -1 with an error printed.
 */
static ssize_t ask_server(const char *host, const char *port, const struct request *req,
			  char *reply, size_t size)
{
	/* BEGIN SOLUTION: return -1 */
	//: /* TODO: socket(2), connect(2) and exchange() with each address getaddrinfo(3)
	//:  * gives, moving on only after ECONNREFUSED; errors as the page's table shows. */
	//: (void)exchange;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *list, *ai;
	char where[300]; /* "HOST:PORT"; a longer one is cut */
	ssize_t n = -1;
	int err = getaddrinfo(host, port, &hints, &list);

	if (err != 0) {
		fprintf(stderr, "%s: %s: %s\n", net_prog, host, gai_strerror(err));
		return -1;
	}
	for (ai = list; ai != NULL; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		/* Nothing goes on the wire: connect() only fixes the peer. */
		int reached = fd != -1 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;

		if (reached)
			n = exchange(fd, req, reply, size);
		err = errno;
		if (fd != -1)
			close(fd);
		if (reached && (n != -1 || err != ECONNREFUSED))
			break;
	}
	freeaddrinfo(list);
	snprintf(where, sizeof where, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
	if (n == -1 && err == ETIMEDOUT)
		fprintf(stderr, "%s: no reply from %s after %d %s\n", net_prog, where, req->tries,
			req->tries == 1 ? "try" : "tries");
	else if (n == -1)
		fprintf(stderr, "%s: %s: %s\n", net_prog, where, strerror(err));
	return n;
	/* END SOLUTION */
}
/* $end ask_server */

/* Parse TEXT, a number above 0 and at most MAX (with WHOLE, a whole one);
 * anything else is a usage error. */
static double parse_number(const char *text, double max, int whole)
{
	char *end;
	double value = strtod(text, &end);

	/* The comparisons are false for NaN too. */
	if (end == text || *end != '\0' || !(value > 0 && value <= max) ||
	    (whole && value != (int)value))
		net_usage(SYNOPSIS);
	return value;
}

int main(int argc, char *argv[])
{
	static char input[PAYLOAD_MAX + 1], reply[PAYLOAD_MAX + 1];
	const char *host = DEFAULT_HOST, *port = DEFAULT_PORT, *message = DEFAULT_MESSAGE;
	struct request req = { .tries = 3 };
	double seconds = 1;
	ssize_t n;
	int opt;

	net_prog = "udp_echo_client";
	while ((opt = getopt(argc, argv, "t:r:")) != -1) {
		if (opt == 't')
			seconds = parse_number(optarg, 86400, 0);
		else if (opt == 'r')
			req.tries = (int)parse_number(optarg, 1000, 1);
		else
			net_usage(SYNOPSIS);
	}
	req.timeout_ms = seconds * 1000 < 1 ? 1 : (int)(seconds * 1000 + 0.5);
	argc -= optind;
	argv += optind;
	if (argc > 3)
		net_usage(SYNOPSIS);
	if (argc > 0)
		host = argv[0];
	if (argc > 1)
		port = argv[1];
	if (argc > 2)
		message = argv[2];

	req.data = message;
	req.len = strlen(message);
	if (strcmp(message, "-") == 0) {
		/* Read one byte more than fits, to tell "too large" from "just fits". */
		req.data = input;
		req.len = fread(input, 1, sizeof input, stdin);
		if (ferror(stdin)) {
			fprintf(stderr, "%s: read standard input: %s\n", net_prog, strerror(errno));
			return 1;
		}
		if (req.len > PAYLOAD_MAX) {
			fprintf(stderr, "%s: standard input: too large for one datagram (over %d bytes)\n",
				net_prog, PAYLOAD_MAX);
			return 1;
		}
	}

	n = ask_server(host, port, &req, reply, sizeof reply);
	if (n == -1)
		return 1;
	if (req.data == input) {
		fwrite(reply, 1, (size_t)n, stdout);
	} else {
		fputs("Received '", stdout);
		net_print_escaped(reply, (size_t)n);
		puts("'");
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "%s: write standard output: %s\n", net_prog, strerror(errno));
		return 1;
	}
	return 0;
}
