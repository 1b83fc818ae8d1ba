/*
 * chat_client: a client for chat_server that listens to the keyboard and
 * to the server at once.
 *
 *   usage: chat_client [-n NICK] [HOST [PORT]]
 *
 * Defaults: localhost, port 50007.  Each line typed (standard input) goes
 * to the server; each line the server sends is printed on standard output.
 * With -n, the client first sends "/nick NICK".  At the end of standard
 * input (Ctrl-D) it half-closes the connection and prints what still
 * comes until the server closes; when the server closes, it says so on
 * standard error and exits 0.
 *
 * The algorithm:
 *   1. Resolve HOST and PORT with getaddrinfo() and connect to the first
 *      address that accepts (IPv4 or IPv6); make the socket non-blocking.
 *   2. With -n, put "/nick NICK\n" in the outgoing buffer.
 *   3. poll() standard input and the socket together:
 *        - standard input ready (and the outgoing buffer empty): read
 *          a piece into the outgoing buffer; at its end, half-close once
 *          everything is sent (shutdown(SHUT_WR)).  Ready is any revents:
 *          a pipe whose writer has closed reports POLLHUP, not POLLIN;
 *        - socket writable (and something to send): send what it takes;
 *        - socket readable: copy what arrives to standard output; recv()
 *          returning 0 means the server closed: stop.
 *
 * Why poll() and not a blocking read of the keyboard: while we wait for
 * the user to type, messages from the others must still appear.
 *
 * What it leaves out: incoming lines are printed as they come, even in the
 * middle of a line being typed; and they are printed raw, terminal control
 * bytes included.
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
#include <sys/types.h>
#include <unistd.h>

#define DEFAULT_HOST "localhost"
#define DEFAULT_PORT "50007"
#define BUFFER_SIZE 4096

static const char *prog = "chat_client";

/* Bytes read from standard input (or the /nick line) on their way out. */
struct outgoing {
	char buf[BUFFER_SIZE];
	size_t len, sent;
	int last_was_newline;  /* the last byte read ended a line */
};

/*
 * Write all LEN bytes of BUF to FD (standard output), finishing short
 * writes and restarting after EINTR.  Returns 0, or -1 with errno set.
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

/*
 * Resolve HOST and PORT and return a socket connected to the first address
 * that accepts, or -1 with an error already printed.
 */
static int open_connection(const char *host, const char *port)
{
	/* TODO: lesson 01's: connect to the first address of HOST and PORT
	 * that accepts; if none does, print "chat_client: connect to
	 * HOST:PORT: reason" and return -1.  See getaddrinfo(3), connect(2). */
	(void)host;
	(void)port;
	fprintf(stderr, "%s: open_connection: not implemented yet\n", prog);
	return -1;
}

/*
 * Read the next piece of standard input into OUT (which is empty).  At the
 * end of the input, make sure the last line ends with a newline, so the
 * server sees it whole.  Returns 1 if there is more to come, 0 at the end,
 * -1 on error (printed).
 */
static int read_input(struct outgoing *out)
{
	ssize_t n = read(STDIN_FILENO, out->buf, sizeof out->buf);

	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return 1;
		fprintf(stderr, "%s: read standard input: %s\n", prog, strerror(errno));
		return -1;
	}
	out->sent = 0;
	if (n == 0) {
		out->len = 0;
		if (!out->last_was_newline)
			out->buf[out->len++] = '\n';
		out->last_was_newline = 1;
		return 0;
	}
	out->len = (size_t)n;
	out->last_was_newline = out->buf[n - 1] == '\n';
	return 1;
}

/*
 * Talk to the server on FD until it closes: send standard input, print
 * what arrives.  OUT may already hold bytes to send (the /nick line).
 * Returns 0 when the server closed, -1 on error (printed).
 */
static int chat_loop(int fd, struct outgoing *out)
{
	/* TODO: step 3 of the header comment, FD non-blocking: return 0 when
	 * the server closes, saying so on stderr.  Read stdin on any revents:
	 * a pipe's end is POLLHUP, not POLLIN.  See poll(2), shutdown(2). */
	(void)fd;
	(void)out;
	(void)write_all;
	(void)read_input;
	fprintf(stderr, "%s: chat_loop: not implemented yet\n", prog);
	return -1;
}

/* Report a usage error the Unix way: a manual-style line, exit status 2. */
static void usage(void)
{
	/* TODO: print "usage: chat_client [-n NICK] [HOST [PORT]]" on stderr
	 * and exit(3) with status 2, the convention for a usage error. */
	exit(1);
}

int main(int argc, char *argv[])
{
	const char *host = DEFAULT_HOST, *port = DEFAULT_PORT, *nick = NULL;
	static struct outgoing out = { .last_was_newline = 1 };
	struct sigaction sa;
	int fd, status, opt;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt != 'n')
			usage();
		nick = optarg;
	}
	if (argc - optind > 2)
		usage();
	if (optind < argc)
		host = argv[optind];
	if (optind + 1 < argc)
		port = argv[optind + 1];
	if (nick != NULL) {
		/* A newline in NICK would smuggle in a second command. */
		int n = snprintf(out.buf, sizeof out.buf, "/nick %s\n", nick);

		if (strpbrk(nick, "\r\n") != NULL || n < 0 || (size_t)n >= sizeof out.buf)
			usage();
		out.len = (size_t)n;
	}

	/* A server that closes early must give us EPIPE, not kill us. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) == -1) {
		fprintf(stderr, "%s: sigaction: %s\n", prog, strerror(errno));
		return 1;
	}

	fd = open_connection(host, port);
	if (fd == -1)
		return 1;
	status = chat_loop(fd, &out);
	close(fd);
	return status == 0 ? 0 : 1;
}
