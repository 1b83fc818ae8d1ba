/*
 * net: the socket helpers of the course (see net.h).  Lesson 01 asks you
 * to write net_listen(), net_connect() and net_send_all(); the rest is
 * given.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "net.h"

const char *net_prog = "net";
volatile sig_atomic_t net_stop;

int net_listen(const char *host, const char *port, int type)
{
	/* BEGIN SOLUTION: return -1 */
	//: /* TODO: socket(2), bind(2), and for TCP SO_REUSEADDR and listen(2), on the first
	//:  * address getaddrinfo(3) gives; print errors as the page's table shows. */
	struct addrinfo *list, *ai;
	char where[NET_ADDRSTRLEN] = "?";
	const char *failed = "socket";
	int fd = -1, on = 1;

	/* $begin listen_resolve */
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = type, .ai_flags = AI_PASSIVE };
	int err = getaddrinfo(host, port, &hints, &list);

	if (err != 0) {
		fprintf(stderr, "%s: %s: %s\n", net_prog, host ? host : "*", gai_strerror(err));
		return -1;
	}
	/* $end listen_resolve */
	/* $begin listen_loop */
	for (ai = list; ai != NULL; ai = ai->ai_next) {
		net_format_address(ai->ai_addr, ai->ai_addrlen, where);
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd == -1)
			continue;
		/* Without SO_REUSEADDR a restarted server cannot bind its port
		 * while old connections linger in TIME_WAIT.  UDP has no
		 * TIME_WAIT, and on Linux the option would let two servers
		 * bind one UDP port. */
		if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1)
			failed = "setsockopt SO_REUSEADDR";
		else if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
			failed = "bind";
		else if (type == SOCK_STREAM && listen(fd, SOMAXCONN) == -1)
			failed = "listen";
		else
			break;
		err = errno;
		close(fd);
		errno = err;
		fd = -1;
	}
	/* $end listen_loop */
	if (fd == -1)
		fprintf(stderr, "%s: %s %s: %s\n", net_prog, failed, where, strerror(errno));
	freeaddrinfo(list);
	return fd;
	/* END SOLUTION */
}

int net_connect(const char *host, const char *port, int type)
{
	/* BEGIN SOLUTION: return -1 */
	//: /* TODO: socket(2) and connect(2) to the first address getaddrinfo(3) gives
	//:  * that accepts; print errors as the page's table shows. */
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = type };
	struct addrinfo *list, *ai;
	int fd = -1, err = getaddrinfo(host, port, &hints, &list);

	if (err != 0) {
		fprintf(stderr, "%s: %s: %s\n", net_prog, host, gai_strerror(err));
		return -1;
	}
	/* $begin connect_loop */
	for (ai = list; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		close(fd);
		errno = err;
		fd = -1;
	}
	/* $end connect_loop */
	if (fd == -1)
		fprintf(stderr, "%s: connect to %s:%s: %s\n", net_prog, host, port, strerror(errno));
	freeaddrinfo(list);
	return fd;
	/* END SOLUTION */
}

/* $begin send_all */
/* send() may send fewer bytes than asked (a short write), or be cut short
 * by a signal: loop until all is sent. */
int net_send_all(int fd, const void *buf, size_t len)
{
	/* BEGIN SOLUTION: return -1 ENOSYS */
	//: /* TODO: send(2) all LEN bytes: it may send fewer than asked, or fail with
	//:  * EINTR (try again); once net_stop is set, return -1 with EINTR instead. */
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, 0);

		if (n == -1) {
			/* A peer that does not read can keep us blocked here: a
			 * stop request must still get through. */
			if (errno == EINTR && !net_stop)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		/* A stop request may also cut a send short instead. */
		if (len > 0 && net_stop) {
			errno = EINTR;
			return -1;
		}
	}
	return 0;
	/* END SOLUTION */
}
/* $end send_all */

void net_format_address(const struct sockaddr *addr, socklen_t len, char out[NET_ADDRSTRLEN])
{
	char host[64], port[8]; /* an IPv6 address with its scope fits */

	if (getnameinfo(addr, len, host, sizeof host, port, sizeof port,
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(out, NET_ADDRSTRLEN, "?:?");
	else
		snprintf(out, NET_ADDRSTRLEN, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
}

int net_local_address(int fd, char out[NET_ADDRSTRLEN])
{
	struct sockaddr_storage addr;
	socklen_t len = sizeof addr;

	if (getsockname(fd, (struct sockaddr *)&addr, &len) == -1)
		return -1;
	net_format_address((struct sockaddr *)&addr, len, out);
	return 0;
}

static void on_stop_signal(int signo)
{
	(void)signo;
	net_stop = 1;
}

/* $begin signals */
/* No SA_RESTART: a blocked accept() or recv() returns EINTR, so the loops
 * see the stop request.  SIGPIPE ignored: a client that has gone gives
 * EPIPE, an error to handle, not a signal that kills the server. */
static int set_handler(int signo, void (*handler)(int))
{
	struct sigaction sa = { .sa_handler = handler };

	sigemptyset(&sa.sa_mask);
	if (sigaction(signo, &sa, NULL) == 0)
		return 0;
	fprintf(stderr, "%s: sigaction: %s\n", net_prog, strerror(errno));
	return -1;
}

int net_catch_signals(void)
{
	if (set_handler(SIGINT, on_stop_signal) == -1 || set_handler(SIGTERM, on_stop_signal) == -1)
		return -1;
	return net_ignore_sigpipe();
}
/* $end signals */

int net_ignore_sigpipe(void)
{
	return set_handler(SIGPIPE, SIG_IGN);
}

void net_print_escaped(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		const char *name = strchr("\n\r\t\\'", c);

		if (c != '\0' && name != NULL)
			printf("\\%c", "nrt\\'"[name - "\n\r\t\\'"]);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

_Noreturn void net_usage(const char *synopsis)
{
	fprintf(stderr, "usage: %s %s\n", net_prog, synopsis);
	exit(2);
}
