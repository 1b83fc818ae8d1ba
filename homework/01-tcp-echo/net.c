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
	/* TODO: socket(2), bind(2), and for TCP SO_REUSEADDR and listen(2), on the first
	 * address getaddrinfo(3) gives; print errors as the page's table shows. */
	(void)host;
	(void)port;
	(void)type;
	return -1;
}

int net_connect(const char *host, const char *port, int type)
{
	/* TODO: socket(2) and connect(2) to the first address getaddrinfo(3) gives
	 * that accepts; print errors as the page's table shows. */
	(void)host;
	(void)port;
	(void)type;
	return -1;
}

/* send() may send fewer bytes than asked (a short write), or be cut short
 * by a signal: loop until all is sent. */
int net_send_all(int fd, const void *buf, size_t len)
{
	/* TODO: send(2) all LEN bytes: it may send fewer than asked, or fail with
	 * EINTR (try again); once net_stop is set, return -1 with EINTR instead. */
	(void)fd;
	(void)buf;
	(void)len;
	errno = ENOSYS;
	return -1;
}

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
