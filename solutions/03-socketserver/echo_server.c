/*
 * echo_server: lesson 01's echo server, rewritten on the framework.
 *
 *   usage: echo_server [-m sync|fork|thread] [HOST] [PORT]
 *
 * HOST defaults to every interface and PORT to 50007, as in lesson 01.
 * Compare with solutions/01-tcp-echo/echo_server.c: the resolving,
 * binding, accept loop and signal handling are gone into the library;
 * what is left is the conversation with one client.  With -m fork or
 * -m thread it also serves many clients at once, which lesson 01's could
 * not.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <unistd.h>

#include "net.h"
#include "socketserver.h"

#define DEFAULT_PORT "50007"
#define BUFFER_SIZE 4096
#define USAGE "[-m sync|fork|thread] [HOST] [PORT]"

/* Send back every byte the client sends, until it half-closes. */
static int echo(struct ss_request *req)
{
	char buf[BUFFER_SIZE];
	ssize_t n;

	printf("Connected by %s\n", req->client_address);
	fflush(stdout);
	while ((n = ss_recv(req, buf, sizeof buf)) > 0)
		if (ss_send_all(req, buf, (size_t)n) == -1)
			return -1;
	return n == 0 ? 0 : -1;
}

int main(int argc, char *argv[])
{
	const char *host = NULL, *port = DEFAULT_PORT;
	enum ss_mode mode = SS_SYNC;
	struct ss_server *server;
	int opt, status = 1;

	net_prog = "echo_server";
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
	server = ss_tcp_server(host, port, echo, mode, NULL);
	if (server != NULL && ss_shutdown_on_signals(server) == 0) {
		/* Printed once signals are handled: from here, Ctrl+C exits 0. */
		printf("Listening on %s\n", ss_server_address(server));
		fflush(stdout);
		status = ss_serve_forever(server) == 0 ? 0 : 1;
	}
	ss_close(server);
	return status;
}
