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
	/* TODO: send(2) (write(2) when !is_socket) all LEN bytes: it may write
	 * fewer than asked, or fail with EINTR (then try again). */
	(void)fd;
	(void)buf;
	(void)len;
	(void)is_socket;
	errno = ENOSYS;
	return -1;
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
	/* TODO: connect(2) to the first address getaddrinfo(3) gives for HOST and
	 * PORT; errors (gai_strerror(3), strerror(3)) as the page's table shows. */
	(void)host;
	(void)port;
	fprintf(stderr, "%s: open_connection: not implemented yet\n", prog);
	return -1;
}

/*
 * Send MESSAGE, half-close, and print the whole reply as Received '...'.
 * Returns 0, or -1 with an error already printed.
 */
static int exchange_message(int fd, const char *message)
{
	/* TODO: write_all() MESSAGE, shutdown(2) SHUT_WR, then print Received '...'
	 * with print_escaped() of each piece recv(2) returns, until it returns 0. */
	(void)fd;
	(void)message;
	(void)write_all;
	(void)print_escaped;
	fprintf(stderr, "%s: exchange_message: not implemented yet\n", prog);
	return -1;
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
	/* TODO: copy standard input to the socket and the socket to standard
	 * output at once: poll(2), O_NONBLOCK (fcntl(2)), SHUT_WR at input's end. */
	(void)fd;
	fprintf(stderr, "%s: stream_stdin: not implemented yet\n", prog);
	return -1;
}

/* Report a usage error the Unix way: a manual-style line, exit status 2. */
static void usage(void)
{
	/* TODO: print "usage: echo_client [HOST [PORT [MESSAGE | -]]]" on stderr and exit(3)
	 * with status 2, the convention for a usage error. */
	exit(1);
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
