/*
 * chat_server: the lecture's chat room, in C.  One thread serves every
 * client at once with poll().
 *
 *   usage: chat_server [HOST] [PORT]
 *
 * HOST defaults to every interface, PORT to 50007; PORT 0 asks the kernel
 * for any free port.  Clients speak lines of text, so nc is a client, and
 * so is chat_client.  This file is the transport: sockets, the loop, the
 * output queues and the log.  What the lines mean is the chat's rules, in
 * chat.c (chat.h is the seam).  The server's log (connections, nick
 * changes, departures) goes to stdout.
 *
 * The algorithm, one round of the loop in serve():
 *   1. poll() the listening socket and every client: each client for
 *      reading, and for writing too when output waits for it.
 *   2. Accept every pending connection and chat_join() it: its welcome is
 *      queued and the others told.
 *   3. chat_read() what each readable client sent:
 *      each complete line is acted on, and a message goes into the output
 *      queue of every other client (send_to()).  Nothing is sent yet.
 *   4. Send each output queue as far as its socket takes it.  The rest
 *      waits for the next round; poll() says when there is room.
 *   5. chat_drop_leaving(): close the clients that quit, hung up or
 *      failed; the others are told that they left.
 *   6. On SIGINT or SIGTERM (poll() fails with EINTR, net_stop is set), exit
 *      0; exit closes every socket.
 *
 * Every socket is non-blocking, so no call ever waits for one client: a
 * client that stops reading costs its own queue, never anyone else's time.
 * The log never waits either: lines that stdout cannot take at once are
 * dropped, and counted.
 *
 * What it leaves out, for lesson 05 (chat at scale): a bound on the output
 * queue (a client that never reads makes its queue grow for as long as the
 * others talk), and running out of file descriptors (it serves at most
 * MAX_CLIENTS, within the usual limit of 1024 open files).  Also a
 * self-pipe (lesson 03's): a stop signal that comes after the loop checks
 * net_stop and before poll() starts to wait is seen at the next event, or
 * after POLL_MS.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chat.h"
#include "net.h"

#define SYNOPSIS "[HOST] [PORT]"
#define MAX_CLIENTS 1000  /* a connection more is closed at once */
#define ACCEPT_BATCH 256  /* connections accepted per round */
/* The longest poll() waits.  A stop signal that lands after the loop checks
 * net_stop and before poll() starts to wait does not interrupt it: it is
 * seen at the next event, or after POLL_MS. */
#define POLL_MS 1000

static int listen_fd;
static struct pollfd pfds[1 + MAX_CLIENTS];   /* 0: the listener, 1...: clients */

/* =========================================================================
 * Part 1. Start-up.
 * ========================================================================= */

/* Set O_NONBLOCK on FD: calls on it then fail with EAGAIN instead of waiting. */
static int set_nonblocking(int fd)
{
	return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/*
 * A non-blocking listening socket on HOST and PORT (lesson 02's net_listen()),
 * or -1 with an error printed.
 */
static int open_listener(const char *host, const char *port)
{
	/* TODO: net_listen(), then set_nonblocking(); print what failed. */
	(void)set_nonblocking;
	(void)host;
	(void)port;
	return -1;
}

/* =========================================================================
 * Part 2. Output: a queue per client (chat_flush() sends it).
 * ========================================================================= */

/* Append LEN bytes of DATA to C's output queue.  Returns 0, or -1 with errno set. */
static int queue_append(struct client *c, const char *data, size_t len)
{
	/* TODO: make C->out LEN bytes longer (realloc(3)) and copy DATA to its end. */
	(void)c;
	(void)data;
	(void)len;
	errno = ENOSYS;
	return -1;
}

/* Queue LEN bytes of MSG for client C (chat.c calls it), unless C is leaving. */
void send_to(struct client *c, const char *msg, size_t len)
{
	if (c->leaving[0] == '\0' && queue_append(c, msg, len) == -1)
		chat_leave(c, strerror(errno));
}

/* Queue LEN bytes of MSG for every client but FROM (chat.c calls it). */
void send_to_all(struct client *from, const char *msg, size_t len)
{
	for (size_t i = 0; i < chat_count; i++)
		if (chat_clients[i] != from)
			send_to(chat_clients[i], msg, len);
}

/* Free C's output queue (chat.c calls it when C leaves). */
void queue_free(struct client *c)
{
	free(c->out);
}

/* =========================================================================
 * Part 3. Clients arriving.
 * ========================================================================= */

/*
 * Join a new connection FD from ADDR to the room, non-blocking, or return
 * -1 with errno set (the caller closes FD): EMFILE when MAX_CLIENTS are in.
 */
static int add_client(int fd, const struct sockaddr *addr, socklen_t len)
{
	char where[NET_ADDRSTRLEN];

	net_format_address(addr, len, where);
	errno = EMFILE;  /* if the room is full */
	return chat_count < MAX_CLIENTS && set_nonblocking(fd) == 0 && chat_join(fd, where) != NULL ? 0 : -1;
}

/*
 * Accept the pending connections, up to ACCEPT_BATCH a round (so that a
 * crowd arriving cannot starve the clients already here), and add each one
 * with add_client().
 */
static void accept_clients(void)
{
	/* TODO: accept(2) until it fails (EAGAIN: no more), at most
	 * ACCEPT_BATCH, and add_client() each; close those it refuses. */
	(void)add_client;
}

/* =========================================================================
 * Part 4. The loop.
 * ========================================================================= */

/*
 * Serve until SIGINT or SIGTERM, each round as the header comment says.
 * Returns 0 when asked to stop, -1 on an error that stops the server.
 */
static int serve(void)
{
	/* TODO: the round of the header comment until net_stop is set: fill
	 * pfds, poll(2), accept, read, flush, drop the leaving clients. */
	(void)accept_clients;
	(void)chat_flush;
	(void)pfds;
	errno = ENOSYS;
	return -1;
}

int main(int argc, char *argv[])
{
	const char *host, *port;
	char where[NET_ADDRSTRLEN];
	int opt;

	net_prog = "chat_server";
	while ((opt = getopt(argc, argv, "")) != -1)
		net_usage(SYNOPSIS);
	if (argc - optind > 2)
		net_usage(SYNOPSIS);
	host = optind < argc && argv[optind][0] != '\0' ? argv[optind] : NULL;
	port = optind + 1 < argc ? argv[optind + 1] : "50007";

	if (net_catch_signals() == -1 || (listen_fd = open_listener(host, port)) == -1)
		return 1;
	if (net_local_address(listen_fd, where) == 0)
		log_line("Listening on %s\n", where);
	return serve() == 0 ? 0 : 1;
}
