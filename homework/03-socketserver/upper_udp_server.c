/*
 * upper_udp_server: the lecture's example over UDP, on the same framework.
 *
 *   usage: upper_udp_server [-m sync|fork|thread] [HOST] [PORT]
 *
 * HOST defaults to localhost and PORT to 9999.  Each datagram is one
 * request: the server strips the whitespace around it, logs
 * "ADDR:PORT wrote:" and the data (escaped as in C), and sends the data
 * back in upper case to the address it came from.  Try it with:
 *   echo hello | nc -u -W 1 localhost 9999
 *
 * Only two lines differ from upper_server.c: ss_udp_server() instead of
 * ss_tcp_server(), and the handler reads the datagram (req->packet)
 * rather than a stream.  ss_send_all() sends the reply as one datagram.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <stdio.h>
#include <unistd.h>

#include "net.h"
#include "socketserver.h"

#define DEFAULT_HOST "localhost"
#define DEFAULT_PORT "9999"
#define DATAGRAM_SIZE 8192 /* Python's UDPServer.max_packet_size */
#define USAGE "[-m sync|fork|thread] [HOST] [PORT]"

/* Serve one datagram: ss_recv() returns it whole (cut at DATAGRAM_SIZE). */
static int handle(struct ss_request *req)
{
	char data[DATAGRAM_SIZE];
	ssize_t n = ss_recv(req, data, sizeof data);
	size_t start = 0, end, i;

	if (n == -1)
		return -1;
	end = (size_t)n;
	while (start < end && isspace((unsigned char)data[start]))
		start++;
	while (end > start && isspace((unsigned char)data[end - 1]))
		end--;

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

	net_prog = "upper_udp_server";
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
	server = ss_udp_server(host, port, handle, mode, NULL);
	if (server != NULL && ss_shutdown_on_signals(server) == 0) {
		/* Printed once signals are handled: from here, Ctrl+C exits 0. */
		printf("Listening on %s\n", ss_server_address(server));
		fflush(stdout);
		status = ss_serve_forever(server) == 0 ? 0 : 1;
	}
	ss_close(server);
	return status;
}
