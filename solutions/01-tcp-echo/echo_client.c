/*
 * echo_client: the lecture's TCP echo client, in C.
 *
 *   usage: echo_client [HOST [PORT [MESSAGE]]]
 *
 * Defaults: localhost, port 50007, the message "Hello, world".  The client
 * sends MESSAGE, half-closes the connection, reads the reply until the
 * server closes, and prints it as  Received 'Hello, world'  with
 * non-printable bytes escaped as in C ("\n", "\x00").
 *
 * MESSAGE "-" streams standard input to the server instead and copies the
 * raw reply to standard output, reading and writing at the same time, so
 * any amount of data flows through without being held in memory.
 *
 * The algorithm:
 *   1. Resolve HOST and PORT with getaddrinfo() and connect to the first
 *      address that accepts (IPv4 or IPv6).
 *   2. Send the message; shutdown(SHUT_WR) tells the server "no more data".
 *   3. recv() until it returns 0: the server has sent everything and closed.
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
#define DEFAULT_MESSAGE "Hello, world"
#define BUFFER_SIZE 4096

static const char *prog = "echo_client";

/*
 * Write all LEN bytes of BUF to FD with send() (sockets) or write() (files),
 * finishing short writes and restarting after EINTR.  Returns 0 or -1.
 */
static int write_all(int fd, const char *buf, size_t len, int is_socket)
{
	/* BEGIN SOLUTION */
	//: /* TODO: send(2) (write(2) when !is_socket) all LEN bytes: it may write
	//:  * fewer than asked, or fail with EINTR (then try again). */
	//: (void)fd;
	//: (void)buf;
	//: (void)len;
	//: (void)is_socket;
	//: errno = ENOSYS;
	//: return -1;
	while (len > 0) {
		ssize_t n = is_socket ? send(fd, buf, len, 0) : write(fd, buf, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
	/* END SOLUTION */
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
 * Resolve HOST and PORT and return a socket connected to the first address
 * that accepts, or -1 with an error already printed.
 */
static int open_connection(const char *host, const char *port)
{
	/* BEGIN SOLUTION */
	//: /* TODO: connect(2) to the first address getaddrinfo(3) gives for HOST and
	//:  * PORT; errors (gai_strerror(3), strerror(3)) as the page's table shows. */
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
	/* $begin connect_loop */
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
	/* $end connect_loop */
	freeaddrinfo(list);
	if (fd == -1)
		fprintf(stderr, "%s: connect to %s:%s: %s\n", prog, host, port, strerror(saved_errno));
	return fd;
	/* END SOLUTION */
}

/*
 * Send MESSAGE, half-close, and print the whole reply as Received '...'.
 * Returns 0, or -1 with an error already printed.
 */
static int exchange_message(int fd, const char *message)
{
	/* BEGIN SOLUTION */
	//: /* TODO: write_all() MESSAGE, shutdown(2) SHUT_WR, then print Received '...'
	//:  * with print_escaped() of each piece recv(2) returns, until it returns 0. */
	//: (void)fd;
	//: (void)message;
	//: (void)write_all;
	//: (void)print_escaped;
	//: fprintf(stderr, "%s: exchange_message: not implemented yet\n", prog);
	//: return -1;
	char buf[BUFFER_SIZE];
	ssize_t n;

	/* $begin exchange */
	if (write_all(fd, message, strlen(message), 1) == -1) {
		fprintf(stderr, "%s: send: %s\n", prog, strerror(errno));
		return -1;
	}
	/* Half-close: the server's recv() returns 0, so it knows we are done,
	 * while we can still read its reply. */
	if (shutdown(fd, SHUT_WR) == -1) {
		fprintf(stderr, "%s: shutdown: %s\n", prog, strerror(errno));
		return -1;
	}
	fputs("Received '", stdout);
	/* The reply may come in any number of pieces: read until EOF. */
	while ((n = recv(fd, buf, sizeof buf, 0)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: recv: %s\n", prog, strerror(errno));
			return -1;
		}
		print_escaped(buf, (size_t)n);
	}
	puts("'");
	/* $end exchange */
	return 0;
	/* END SOLUTION */
}

/*
 * Copy standard input to the socket and the socket to standard output at
 * the same time.  Doing one after the other would deadlock on large data:
 * the server blocks sending us a reply we do not read, so it stops reading
 * what we send.  poll() tells which side is ready; the socket is
 * non-blocking so a send never waits for room.  Returns 0 or -1.
 */
static int stream_stdin(int fd)
{
	/* BEGIN SOLUTION */
	//: /* TODO: copy standard input to the socket and the socket to standard
	//:  * output at once: poll(2), O_NONBLOCK (fcntl(2)), SHUT_WR at input's end. */
	//: (void)fd;
	//: fprintf(stderr, "%s: stream_stdin: not implemented yet\n", prog);
	//: return -1;
	char out[BUFFER_SIZE], in[BUFFER_SIZE];
	size_t out_len = 0, out_sent = 0;
	int stdin_open = 1;
	int flags = fcntl(fd, F_GETFL);

	if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
		fprintf(stderr, "%s: fcntl O_NONBLOCK: %s\n", prog, strerror(errno));
		return -1;
	}
	for (;;) {
		/* $begin poll_fds */
		int pending = out_sent < out_len;
		struct pollfd fds[2] = {
			{ .fd = fd, .events = POLLIN | (pending ? POLLOUT : 0) },
			/* A negative fd is skipped: read stdin only when the last
			 * piece is fully sent. */
			{ .fd = stdin_open && !pending ? STDIN_FILENO : -1, .events = POLLIN },
		};
		ssize_t n;

		if (poll(fds, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
			return -1;
		}
		/* $end poll_fds */
		if (fds[1].revents != 0) {
			n = read(STDIN_FILENO, out, sizeof out);
			if (n == -1 && errno != EINTR) {
				fprintf(stderr, "%s: read standard input: %s\n", prog, strerror(errno));
				return -1;
			}
			if (n == 0) {
				stdin_open = 0;
				if (shutdown(fd, SHUT_WR) == -1) {
					fprintf(stderr, "%s: shutdown: %s\n", prog, strerror(errno));
					return -1;
				}
			} else if (n > 0) {
				out_len = (size_t)n;
				out_sent = 0;
			}
		}
		if (fds[0].revents & POLLOUT) {
			n = send(fd, out + out_sent, out_len - out_sent, 0);
			if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				fprintf(stderr, "%s: send: %s\n", prog, strerror(errno));
				return -1;
			}
			if (n > 0)
				out_sent += (size_t)n;
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, in, sizeof in, 0);
			if (n == 0)
				return 0;
			if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				fprintf(stderr, "%s: recv: %s\n", prog, strerror(errno));
				return -1;
			}
			if (n > 0 && write_all(STDOUT_FILENO, in, (size_t)n, 0) == -1) {
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
	//: /* TODO: print "usage: echo_client [HOST [PORT [MESSAGE | -]]]" on stderr and exit(3)
	//:  * with status 2, the convention for a usage error. */
	//: exit(1);
	fprintf(stderr, "usage: %s [HOST [PORT [MESSAGE | -]]]\n", prog);
	exit(2);
	/* END SOLUTION */
}

int main(int argc, char *argv[])
{
	const char *host = DEFAULT_HOST, *port = DEFAULT_PORT, *message = DEFAULT_MESSAGE;
	struct sigaction sa;
	int fd, status;

	if (argc > 4 || (argc > 1 && argv[1][0] == '-') || (argc > 2 && argv[2][0] == '-'))
		usage();
	if (argc > 1)
		host = argv[1];
	if (argc > 2)
		port = argv[2];
	if (argc > 3)
		message = argv[3];

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
	if (strcmp(message, "-") == 0)
		status = stream_stdin(fd);
	else
		status = exchange_message(fd, message);
	close(fd);
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "%s: write standard output: %s\n", prog, strerror(errno));
		return 1;
	}
	return status == 0 ? 0 : 1;
}
