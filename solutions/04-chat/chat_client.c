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
	/* BEGIN SOLUTION */
	//: /* TODO: lesson 01's: connect to the first address of HOST and PORT
	//:  * that accepts; if none does, print "chat_client: connect to
	//:  * HOST:PORT: reason" and return -1.  See getaddrinfo(3), connect(2). */
	//: (void)host;
	//: (void)port;
	//: fprintf(stderr, "%s: open_connection: not implemented yet\n", prog);
	//: return -1;
	struct addrinfo hints, *list, *ai;
	int fd = -1, saved_errno = 0, err;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
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
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved_errno = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(list);
	if (fd == -1)
		fprintf(stderr, "%s: connect to %s:%s: %s\n", prog, host, port, strerror(saved_errno));
	return fd;
	/* END SOLUTION */
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
	/* BEGIN SOLUTION */
	//: /* TODO: step 3 of the header comment, FD non-blocking: return 0 when
	//:  * the server closes, saying so on stderr.  Read stdin on any revents:
	//:  * a pipe's end is POLLHUP, not POLLIN.  See poll(2), shutdown(2). */
	//: (void)fd;
	//: (void)out;
	//: (void)write_all;
	//: (void)read_input;
	//: fprintf(stderr, "%s: chat_loop: not implemented yet\n", prog);
	//: return -1;
	char in[BUFFER_SIZE];
	int stdin_open = 1, half_closed = 0;
	int flags = fcntl(fd, F_GETFL);

	if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
		fprintf(stderr, "%s: fcntl O_NONBLOCK: %s\n", prog, strerror(errno));
		return -1;
	}
	for (;;) {
		int pending = out->sent < out->len;
		struct pollfd fds[2] = {
			{ .fd = fd, .events = POLLIN | (pending ? POLLOUT : 0) },
			/* Read more input only when the last piece is all sent:
			 * the buffer is the back-pressure.  fd -1 is skipped. */
			{ .fd = stdin_open && !pending ? STDIN_FILENO : -1, .events = POLLIN },
		};
		ssize_t n;

		/* At the end of the input, once all is sent, tell the server
		 * "no more from me" but keep reading its side. */
		if (!stdin_open && !pending && !half_closed) {
			if (shutdown(fd, SHUT_WR) == -1) {
				fprintf(stderr, "%s: shutdown: %s\n", prog, strerror(errno));
				return -1;
			}
			half_closed = 1;
		}
		if (poll(fds, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
			return -1;
		}
		/* Any event, not only POLLIN: a pipe whose writer has closed
		 * reports POLLHUP alone, and read() then returns 0. */
		if (fds[1].revents != 0) {
			int more = read_input(out);

			if (more == -1)
				return -1;
			if (more == 0)
				stdin_open = 0;
		}
		if (fds[0].revents & POLLOUT) {
			n = send(fd, out->buf + out->sent, out->len - out->sent, 0);
			if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				fprintf(stderr, "%s: send: %s\n", prog, strerror(errno));
				return -1;
			}
			if (n > 0)
				out->sent += (size_t)n;
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, in, sizeof in, 0);
			if (n == 0) {
				fprintf(stderr, "%s: the server closed the connection\n", prog);
				return 0;
			}
			if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				fprintf(stderr, "%s: recv: %s\n", prog, strerror(errno));
				return -1;
			}
			if (n > 0 && write_all(STDOUT_FILENO, in, (size_t)n) == -1) {
				fprintf(stderr, "%s: write standard output: %s\n", prog, strerror(errno));
				return -1;
			}
		}
	}
	/* END SOLUTION */
}

/* Report a usage error the Unix way: a manual-style line, exit status 2. */
static void usage(void)
{
	/* BEGIN SOLUTION */
	//: /* TODO: print "usage: chat_client [-n NICK] [HOST [PORT]]" on stderr
	//:  * and exit(3) with status 2, the convention for a usage error. */
	//: exit(1);
	fprintf(stderr, "usage: %s [-n NICK] [HOST [PORT]]\n", prog);
	exit(2);
	/* END SOLUTION */
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
