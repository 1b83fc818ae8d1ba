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
 *   1. Connect to HOST and PORT with net_connect(); make the socket
 *      non-blocking.
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
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

#define SYNOPSIS "[-n NICK] [HOST [PORT]]"
#define BUFFER_SIZE 4096

/* Print "chat_client: WHAT: reason" for errno, and return -1. */
static int fail(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", net_prog, what, strerror(errno));
	return -1;
}

/*
 * Talk to the server at HOST and PORT until it closes: send standard input,
 * print what arrives.  OUT (room for BUFFER_SIZE bytes) holds LEN bytes to
 * send first: the /nick line, or nothing.  Returns 0 when the server
 * closed, -1 on error (printed).
 */
static int chat(const char *host, const char *port, char *out, size_t len)
{
	/* TODO: steps 1 and 3 of the header comment; when the server closes,
	 * say so on stderr and return 0.  See poll(2), shutdown(2). */
	(void)fail;
	(void)host;
	(void)port;
	(void)out;
	(void)len;
	return -1;
}

int main(int argc, char *argv[])
{
	const char *host = "localhost", *port = "50007";
	static char out[BUFFER_SIZE];
	size_t len = 0;
	int opt;

	net_prog = "chat_client";
	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt != 'n')
			net_usage(SYNOPSIS);
		len = (size_t)snprintf(out, sizeof out, "/nick %s\n", optarg);
		/* A newline in NICK would smuggle in a second command. */
		if (len >= sizeof out || strpbrk(optarg, "\r\n") != NULL)
			net_usage(SYNOPSIS);
	}
	if (argc - optind > 2)
		net_usage(SYNOPSIS);
	if (optind < argc)
		host = argv[optind];
	if (optind + 1 < argc)
		port = argv[optind + 1];
	if (net_ignore_sigpipe() == -1)
		return 1;
	return chat(host, port, out, len) == 0 ? 0 : 1;
}
