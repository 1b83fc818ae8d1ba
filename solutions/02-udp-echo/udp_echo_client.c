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

#define DEFAULT_HOST "localhost"
#define DEFAULT_PORT "50007"
#define DEFAULT_MESSAGE "Hello, world"
#define DEFAULT_TIMEOUT_MS 1000
#define DEFAULT_TRIES 3
/* The largest UDP payload: 65535 bytes minus the 8-byte UDP header.  Over
 * IPv4 the 20-byte IP header counts too, which leaves 65507. */
#define PAYLOAD_MAX 65527
#define TARGET_TEXT_SIZE 300 /* "HOST:PORT" for messages; longer is cut */

static const char *prog = "udp_echo_client";

/* What to send, and how hard to try. */
struct request {
	const char *data;
	size_t len;
	int timeout_ms;
	int tries;
};

/* What one exchange() with one address gave. */
enum outcome { GOT_REPLY, NO_REPLY, REFUSED, FAILED };

/*
 * Write all LEN bytes of BUF to FD, finishing short writes and restarting
 * after EINTR (as in lesson 01).  Returns 0 or -1.
 */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Print LEN bytes of BUF with backslash, quote and non-printable bytes escaped. */
static void print_escaped(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		switch (c) {
		case '\n': fputs("\\n", stdout); break;
		case '\r': fputs("\\r", stdout); break;
		case '\t': fputs("\\t", stdout); break;
		case '\\': fputs("\\\\", stdout); break;
		case '\'': fputs("\\'", stdout); break;
		default:
			if (c < 0x20 || c >= 0x7f)
				printf("\\x%02x", c);
			else
				putchar(c);
		}
	}
}

/*
 * Read standard input into BUF until its end or until SIZE bytes are in.
 * Returns the number of bytes read, or -1 with errno set.
 */
static ssize_t read_input(char *buf, size_t size)
{
	size_t len = 0;

	while (len < size) {
		ssize_t n = read(STDIN_FILENO, buf + len, size - len);

		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		len += (size_t)n;
	}
	return (ssize_t)len;
}

/* $begin wait_readable */
/*
 * Wait up to MS milliseconds until FD has something to read: a datagram,
 * or an error such as ECONNREFUSED.  Returns 1 if it has, 0 when the time
 * ran out, -1 on error.
 */
static int wait_readable(int fd, int ms)
{
	/* BEGIN SOLUTION */
	//: /* TODO: poll(2) FD for POLLIN, MS milliseconds at most, and return what
	//:  * it returns; call it again when it fails with EINTR. */
	//: (void)fd;
	//: (void)ms;
	//: errno = ENOSYS;
	//: return -1;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int n;

	/* A signal only makes this try a little longer. */
	do
		n = poll(&pfd, 1, ms);
	while (n == -1 && errno == EINTR);
	return n;
	/* END SOLUTION */
}
/* $end wait_readable */

/* $begin exchange */
/*
 * Send the request as one datagram on the connected socket FD and wait for
 * the reply; when none comes in time, send again, REQ->tries times in all.
 * The reply goes into REPLY (SIZE bytes), its length into *REPLY_LEN.
 * Returns GOT_REPLY, NO_REPLY, REFUSED (nobody listens at that address), or
 * FAILED with an error already printed.
 */
static enum outcome exchange(int fd, const struct request *req, char *reply, size_t size,
			     size_t *reply_len)
{
	/* BEGIN SOLUTION */
	//: /* TODO: REQ->tries times: send(2) the datagram, wait_readable() the whole
	//:  * timeout, recv(2) the reply once one is there; ECONNREFUSED is REFUSED. */
	//: (void)fd;
	//: (void)req;
	//: (void)reply;
	//: (void)size;
	//: (void)reply_len;
	//: (void)wait_readable; /* you will call it from here */
	//: return FAILED;
	for (int attempt = 1; attempt <= req->tries; attempt++) {
		ssize_t n;
		int ready;

		/* One send() is one datagram, sent whole or not at all. */
		do
			n = send(fd, req->data, req->len, 0);
		while (n == -1 && errno == EINTR);
		if (n == -1) {
			if (errno == ECONNREFUSED)
				return REFUSED;
			fprintf(stderr, "%s: send: %s\n", prog, strerror(errno));
			return FAILED;
		}
		ready = wait_readable(fd, req->timeout_ms);
		if (ready == -1) {
			fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
			return FAILED;
		}
		if (ready == 0)
			continue; /* Lost on the way there or back: send again. */
		do
			n = recv(fd, reply, size, 0);
		while (n == -1 && errno == EINTR);
		if (n >= 0) {
			*reply_len = (size_t)n;
			return GOT_REPLY;
		}
		if (errno == ECONNREFUSED)
			return REFUSED;
		fprintf(stderr, "%s: recv: %s\n", prog, strerror(errno));
		return FAILED;
	}
	return NO_REPLY;
	/* END SOLUTION */
}
/* $end exchange */

/* $begin ask_server */
/*
 * Resolve HOST and PORT and run exchange() with each address in turn,
 * through a UDP socket connected to it.  Move on to the next address only
 * when this one refused: with UDP, that is the only sign that nobody is
 * there.  Returns 0 with the reply in REPLY, or -1 with an error printed.
 */
static int ask_server(const char *host, const char *port, const struct request *req,
		      char *reply, size_t size, size_t *reply_len)
{
	/* BEGIN SOLUTION */
	//: /* TODO: socket(2), connect(2) and exchange() with each address getaddrinfo(3)
	//:  * gives, moving on only after REFUSED; errors as the page's table shows. */
	//: (void)host;
	//: (void)port;
	//: (void)req;
	//: (void)reply;
	//: (void)size;
	//: (void)reply_len;
	//: (void)exchange; /* you will call it from here */
	//: fprintf(stderr, "%s: ask_server: not implemented yet\n", prog);
	//: return -1;
	struct addrinfo hints, *list, *ai;
	enum outcome outcome = REFUSED;
	char where[TARGET_TEXT_SIZE];
	int fd, err, saved_errno = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	err = getaddrinfo(host, port, &hints, &list);
	if (err != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, host, gai_strerror(err));
		return -1;
	}
	for (ai = list; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd == -1) {
			saved_errno = errno;
			continue;
		}
		/* Nothing goes on the wire: connect() only fixes the peer. */
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
			saved_errno = errno;
			close(fd);
			continue;
		}
		outcome = exchange(fd, req, reply, size, reply_len);
		close(fd);
		if (outcome != REFUSED)
			break;
		saved_errno = ECONNREFUSED;
	}
	freeaddrinfo(list);
	snprintf(where, sizeof where, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
	switch (outcome) {
	case GOT_REPLY:
		return 0;
	case NO_REPLY:
		fprintf(stderr, "%s: no reply from %s after %d %s\n", prog, where, req->tries,
			req->tries == 1 ? "try" : "tries");
		return -1;
	case REFUSED:
		fprintf(stderr, "%s: %s: %s\n", prog, where, strerror(saved_errno));
		return -1;
	default:
		return -1;
	}
	/* END SOLUTION */
}
/* $end ask_server */

/* Report a usage error the Unix way: a manual-style line, exit status 2. */
static void usage(void)
{
	/* BEGIN SOLUTION */
	//: /* TODO: print "usage: udp_echo_client [-t SECONDS] [-r TRIES] [HOST [PORT [MESSAGE | -]]]"
	//:  * on stderr and exit(3) with status 2, the convention for a usage error. */
	//: exit(1);
	fprintf(stderr, "usage: %s [-t SECONDS] [-r TRIES] [HOST [PORT [MESSAGE | -]]]\n", prog);
	exit(2);
	/* END SOLUTION */
}

/* Parse -t SECONDS (fractions allowed) into milliseconds; bad values are usage errors. */
static int parse_timeout(const char *text)
{
	char *end;
	double seconds = strtod(text, &end);

	/* The comparisons are false for NaN too. */
	if (end == text || *end != '\0' || !(seconds > 0 && seconds <= 86400))
		usage();
	return seconds * 1000 < 1 ? 1 : (int)(seconds * 1000 + 0.5);
}

/* Parse -r TRIES, a whole number from 1 to 1000; bad values are usage errors. */
static int parse_tries(const char *text)
{
	char *end;
	long tries = strtol(text, &end, 10);

	if (end == text || *end != '\0' || tries < 1 || tries > 1000)
		usage();
	return (int)tries;
}

int main(int argc, char *argv[])
{
	static char input[PAYLOAD_MAX + 1], reply[PAYLOAD_MAX + 1];
	const char *host = DEFAULT_HOST, *port = DEFAULT_PORT, *message = DEFAULT_MESSAGE;
	struct request req = { .timeout_ms = DEFAULT_TIMEOUT_MS, .tries = DEFAULT_TRIES };
	size_t reply_len = 0;
	int opt, raw = 0;

	while ((opt = getopt(argc, argv, "t:r:")) != -1) {
		if (opt == 't')
			req.timeout_ms = parse_timeout(optarg);
		else if (opt == 'r')
			req.tries = parse_tries(optarg);
		else
			usage();
	}
	argc -= optind;
	argv += optind;
	if (argc > 3)
		usage();
	if (argc > 0)
		host = argv[0];
	if (argc > 1)
		port = argv[1];
	if (argc > 2)
		message = argv[2];

	if (strcmp(message, "-") == 0) {
		/* Read one byte more than fits, to tell "too large" from "just fits". */
		ssize_t n = read_input(input, sizeof input);

		if (n == -1) {
			fprintf(stderr, "%s: read standard input: %s\n", prog, strerror(errno));
			return 1;
		}
		if ((size_t)n > PAYLOAD_MAX) {
			fprintf(stderr, "%s: standard input: too large for one datagram (over %d bytes)\n",
				prog, PAYLOAD_MAX);
			return 1;
		}
		req.data = input;
		req.len = (size_t)n;
		raw = 1;
	} else {
		req.data = message;
		req.len = strlen(message);
	}

	if (ask_server(host, port, &req, reply, sizeof reply, &reply_len) == -1)
		return 1;
	if (raw) {
		if (write_all(STDOUT_FILENO, reply, reply_len) == -1) {
			fprintf(stderr, "%s: write standard output: %s\n", prog, strerror(errno));
			return 1;
		}
		return 0;
	}
	fputs("Received '", stdout);
	print_escaped(reply, reply_len);
	puts("'");
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "%s: write standard output: %s\n", prog, strerror(errno));
		return 1;
	}
	return 0;
}
