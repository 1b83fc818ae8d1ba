/*
 * upper_server: the lecture's socketserver example, in C.
 *
 *   usage: upper_server [-m sync|fork|thread] [HOST] [PORT]
 *
 * HOST defaults to localhost and PORT to 9999, as in the lecture; PORT 0
 * asks for any free port, and the port chosen is printed.  For each
 * connection the server reads up to 1024 bytes, strips the whitespace
 * around them, logs "ADDR:PORT wrote:" and the data (escaped as in C, so
 * that a client cannot forge log lines), and replies with the data in
 * upper case.  Try it with:  echo hello | nc localhost 9999
 *
 * The algorithm is the framework's (socketserver.h): this file is only
 * the handler, what Python's handle() method is, and a main() that makes
 * the server.  -m chooses how requests run: one at a time (sync, the
 * default), a process each (fork) or a thread each (thread).  Ctrl+C or
 * SIGTERM stops the server, which exits 0.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <stdio.h>
#include <unistd.h>

#include "net.h"
#include "socketserver.h"

#define DEFAULT_HOST "localhost"
#define DEFAULT_PORT "9999"
#define REQUEST_SIZE 1024
#define USAGE "[-m sync|fork|thread] [HOST] [PORT]"

/*
 * Serve one connection: one recv() of up to 1024 bytes, as the lecture's
 * self.request.recv(1024).strip(); a longer request is cut there.
 */
static int handle(struct ss_request *req)
{
	char data[REQUEST_SIZE];
	ssize_t n = ss_recv(req, data, sizeof data);
	size_t start = 0, end, i;

	if (n == -1)
		return -1;
	/* Strip the whitespace around the data, as Python's bytes.strip(). */
	end = (size_t)n;
	while (start < end && isspace((unsigned char)data[start]))
		start++;
	while (end > start && isspace((unsigned char)data[end - 1]))
		end--;

	/* flockfile() keeps the two lines together when threads log at once. */
	flockfile(stdout);
	printf("%s wrote:\n", req->client_address);
	/* Escaped: raw newlines or terminal escapes from a client would
	 * forge log lines or rewrite the operator's screen. */
	net_print_escaped(data + start, end - start);
	putchar('\n');
	fflush(stdout);
	funlockfile(stdout);

	for (i = start; i < end; i++)
		data[i] = (char)toupper((unsigned char)data[i]);
	return ss_send_all(req, data + start, end - start);
}

int main(int argc, char *argv[])
{
	const char *host = DEFAULT_HOST, *port = DEFAULT_PORT;
	enum ss_mode mode = SS_SYNC;
	struct ss_server *server;
	int opt, status = 1;

	net_prog = "upper_server";
	while ((opt = getopt(argc, argv, "m:")) != -1)
		if (opt != 'm' || ss_parse_mode(optarg, &mode) == -1)
			net_usage(USAGE);
	if (argc - optind > 2)
		net_usage(USAGE);
	if (optind < argc)
		host = argv[optind++];
	if (optind < argc)
		port = argv[optind];

	/* The library reports what failed on stderr. */
	server = ss_tcp_server(host, port, handle, mode, NULL);
	if (server != NULL && ss_shutdown_on_signals(server) == 0) {
		/* Printed once signals are handled: from here, Ctrl+C exits 0. */
		printf("Listening on %s\n", ss_server_address(server));
		fflush(stdout);
		status = ss_serve_forever(server) == 0 ? 0 : 1;
	}
	ss_close(server);
	return status;
}
