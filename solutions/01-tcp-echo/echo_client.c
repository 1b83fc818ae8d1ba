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
 * The algorithm:
 *   1. Connect to the first address of HOST and PORT that accepts
 *      (net_connect).
 *   2. Send the message; shutdown(SHUT_WR) tells the server "no more data".
 *   3. recv() until it returns 0: the server has sent everything and closed.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "net.h"

/*
 * Send MESSAGE, half-close, and print the whole reply as Received '...'.
 * Returns 0, or -1 with an error already printed.
 */
static int exchange(int fd, const char *message)
{
	/* BEGIN SOLUTION: return -1 */
	//: /* TODO: net_send_all() MESSAGE, shutdown(2) SHUT_WR, then print Received '...'
	//:  * with net_print_escaped() of each piece recv(2) returns, until it returns 0. */
	char buf[4096];
	ssize_t n;

	/* $begin exchange */
	if (net_send_all(fd, message, strlen(message)) == -1) {
		fprintf(stderr, "%s: send: %s\n", net_prog, strerror(errno));
		return -1;
	}
	/* Half-close: the server's recv() returns 0, so it knows we are done,
	 * while we can still read its reply. */
	if (shutdown(fd, SHUT_WR) == -1) {
		fprintf(stderr, "%s: shutdown: %s\n", net_prog, strerror(errno));
		return -1;
	}
	fputs("Received '", stdout);
	/* The reply may come in any number of pieces: read until EOF. */
	while ((n = recv(fd, buf, sizeof buf, 0)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "%s: recv: %s\n", net_prog, strerror(errno));
			return -1;
		}
		net_print_escaped(buf, (size_t)n);
	}
	puts("'");
	/* $end exchange */
	return 0;
	/* END SOLUTION */
}

int main(int argc, char *argv[])
{
	const char *host = "localhost", *port = "50007", *message = "Hello, world";
	int fd, status, opt;

	net_prog = "echo_client";
	while ((opt = getopt(argc, argv, "")) != -1)
		net_usage("[HOST [PORT [MESSAGE]]]");
	if (argc - optind > 3)
		net_usage("[HOST [PORT [MESSAGE]]]");
	if (argc - optind > 0)
		host = argv[optind];
	if (argc - optind > 1)
		port = argv[optind + 1];
	if (argc - optind > 2)
		message = argv[optind + 2];

	/* A server that closes early must give us EPIPE, not kill us. */
	if (net_ignore_sigpipe() == -1 || (fd = net_connect(host, port, SOCK_STREAM)) == -1)
		return 1;
	status = exchange(fd, message);
	close(fd);
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "%s: write standard output: %s\n", net_prog, strerror(errno));
		return 1;
	}
	return status == 0 ? 0 : 1;
}
