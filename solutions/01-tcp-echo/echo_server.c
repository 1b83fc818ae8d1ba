/*
 * echo_server: the lecture's TCP echo server, in C.
 *
 *   usage: echo_server [HOST] [PORT]
 *
 * HOST defaults to every IPv4 interface, PORT to 50007 (the lecture's port);
 * PORT 0 asks the kernel for any free port, and the port it chose is
 * printed.  The server talks to the lecture's Python echo client unchanged.
 *
 * The algorithm:
 *   1. Listen on the first address of HOST and PORT that binds (net_listen).
 *   2. Accept one client at a time.
 *   3. Send back every byte it sends until it half-closes (recv() returns 0),
 *      then close that connection and go back to step 2.
 *   4. On SIGINT or SIGTERM, stop and exit 0.
 *
 * What it leaves out: clients are served one after another, so a second
 * client waits until the first one leaves (lesson 03 fixes that).  A stop
 * signal that lands just after the loop checked its flag and just before
 * accept() blocks is seen only when the next client comes: a flag alone
 * cannot close that gap (lesson 03's self-pipe does).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "net.h"

#define DEFAULT_PORT "50007"

/* $begin serve_client */
/*
 * Echo everything the client sends until it half-closes.  Errors end this
 * connection only: they are reported and the server goes on.
 */
static void serve_client(int client_fd, const char *who)
{
	/* BEGIN SOLUTION: void */
	//: /* TODO: recv(2) and net_send_all() back each piece as it comes, until recv()
	//:  * returns 0; EINTR as in net_send_all(); report other errors and return. */
	char buf[4096];

	for (;;) {
		ssize_t n = recv(client_fd, buf, sizeof buf, 0);

		if (n == 0)
			return;
		if (n == -1 && errno == EINTR && !net_stop)
			continue;
		if (n == -1) {
			if (errno != EINTR)
				fprintf(stderr, "%s: recv from %s: %s\n", net_prog, who, strerror(errno));
			return;
		}
		if (net_send_all(client_fd, buf, (size_t)n) == -1) {
			if (errno != EINTR)
				fprintf(stderr, "%s: send to %s: %s\n", net_prog, who, strerror(errno));
			return;
		}
	}
	/* END SOLUTION */
}
/* $end serve_client */

/* $begin accept_client */
/*
 * Wait for the next client.  Return its connected socket and write its
 * address into WHO, or return -1 with errno set.
 */
static int accept_client(int listen_fd, char who[NET_ADDRSTRLEN])
{
	/* BEGIN SOLUTION: return -1 ENOSYS */
	//: /* TODO: accept(2) a client; write its address into WHO with
	//:  * net_format_address(). */
	struct sockaddr_storage addr;
	socklen_t len = sizeof addr;
	int client_fd = accept(listen_fd, (struct sockaddr *)&addr, &len);

	if (client_fd != -1)
		net_format_address((struct sockaddr *)&addr, len, who);
	return client_fd;
	/* END SOLUTION */
}
/* $end accept_client */

int main(int argc, char *argv[])
{
	const char *host = NULL, *port = DEFAULT_PORT;
	char where[NET_ADDRSTRLEN];
	int listen_fd, opt;

	net_prog = "echo_server";
	while ((opt = getopt(argc, argv, "")) != -1)
		net_usage("[HOST] [PORT]");
	if (argc - optind > 2)
		net_usage("[HOST] [PORT]");
	if (argc - optind > 0 && argv[optind][0] != '\0')
		host = argv[optind];
	if (argc - optind > 1)
		port = argv[optind + 1];

	if (net_catch_signals() == -1 || (listen_fd = net_listen(host, port, SOCK_STREAM)) == -1)
		return 1;
	/* $begin getsockname */
	/* The port really bound, also when PORT was 0. */
	if (net_local_address(listen_fd, where) == -1) {
		fprintf(stderr, "%s: getsockname: %s\n", net_prog, strerror(errno));
		return 1;
	}
	printf("Listening on %s\n", where);
	fflush(stdout);
	/* $end getsockname */

	/* $begin accept_loop */
	while (!net_stop) {
		int client_fd = accept_client(listen_fd, where);

		if (client_fd == -1) {
			/* EINTR: a signal (maybe a stop request); ECONNABORTED: the
			 * client left before we accepted it.  Neither is fatal. */
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "%s: accept: %s\n", net_prog, strerror(errno));
			return 1;
		}
		printf("Connected by %s\n", where);
		fflush(stdout);
		serve_client(client_fd, where);
		close(client_fd);
	}
	/* $end accept_loop */
	close(listen_fd);
	return 0;
}
