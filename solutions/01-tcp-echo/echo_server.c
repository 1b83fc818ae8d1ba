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
 *   1. Resolve HOST and PORT with getaddrinfo() and listen on the first
 *      address that binds (IPv4 or IPv6).
 *   2. Accept one client at a time.
 *   3. Send back every byte it sends until it half-closes (recv() returns 0),
 *      then close that connection and go back to step 2.
 *   4. On SIGINT or SIGTERM, stop and exit 0.
 *
 * What it leaves out: clients are served one after another, so a second
 * client waits until the first one leaves (lesson 03 fixes that).  A stop
 * signal that lands just after the loop checked its flag and just before
 * accept() blocks is seen only when the next client comes: a flag alone
 * cannot close that gap (lesson 03's self-pipe does).  And HOST left out
 * means every IPv4 interface, as in the lecture's Python server: give "::"
 * to take IPv6 clients too.
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

#define DEFAULT_PORT "50007"
#define BUFFER_SIZE 4096
#define ADDR_TEXT_SIZE 96 /* "[IPv6 address%scope]:port" fits */

static const char *prog = "echo_server";

/* Set by the signal handler; the loops check it when a call returns EINTR. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int signo)
{
	(void)signo;
	stop_requested = 1;
}

/* $begin signals */
/*
 * Install the SIGINT/SIGTERM handler without SA_RESTART, so that a blocked
 * accept() or recv() returns EINTR and the loops can notice the request.
 * Ignore SIGPIPE: sending to a client that has gone must be an error we
 * handle (EPIPE), not a signal that kills the whole server.
 */
static int install_signal_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop_signal;
	if (sigaction(SIGINT, &sa, NULL) == -1 || sigaction(SIGTERM, &sa, NULL) == -1)
		return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}
/* $end signals */

/* Format a socket address as "ADDR:PORT", with IPv6 addresses in brackets. */
static void format_address(const struct sockaddr *addr, socklen_t len, char *out, size_t size)
{
	char host[64], port[8];
	int err = getnameinfo(addr, len, host, sizeof host, port, sizeof port,
			      NI_NUMERICHOST | NI_NUMERICSERV);

	if (err != 0)
		snprintf(out, size, "?:?");
	else if (strchr(host, ':') != NULL)
		snprintf(out, size, "[%s]:%s", host, port);
	else
		snprintf(out, size, "%s:%s", host, port);
}

/* $begin send_all */
/*
 * Send all LEN bytes of BUF.  send() may write fewer bytes than asked (a
 * short write) or be interrupted by a signal, so loop until all is sent.
 * Returns 0, or -1 with errno set (EINTR when a stop was requested).
 */
static int send_all(int fd, const char *buf, size_t len)
{
	/* BEGIN SOLUTION */
	//: /* TODO: send(2) all LEN bytes: it may send fewer than asked, or fail
	//:  * with EINTR (then try again, unless stop_requested is set). */
	//: (void)fd;
	//: (void)buf;
	//: (void)len;
	//: errno = ENOSYS;
	//: return -1;
	while (len > 0) {
		ssize_t n = send(fd, buf, len, 0);

		if (n == -1) {
			/* A client that does not read can keep us blocked here:
			 * a stop request must still get through. */
			if (errno == EINTR && !stop_requested)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
	/* END SOLUTION */
}
/* $end send_all */

/*
 * Resolve HOST and PORT and return a listening socket bound to the first
 * address that works, or -1 with an error already printed.
 */
static int open_listener(const char *host, const char *port)
{
	/* BEGIN SOLUTION */
	//: /* TODO: listen on the first address getaddrinfo(3) gives for HOST and
	//:  * PORT (SO_REUSEADDR, bind(2), listen(2)); errors as the page's table shows. */
	//: (void)host;
	//: (void)port;
	//: fprintf(stderr, "%s: open_listener: not implemented yet\n", prog);
	//: return -1;
	struct addrinfo hints, *list, *ai;
	char where[ADDR_TEXT_SIZE] = "?";
	const char *failed = "socket";
	int fd = -1, saved_errno = 0, err;

	/* $begin listen_resolve */
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	err = getaddrinfo(host, port, &hints, &list);
	if (err != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, host ? host : "*", gai_strerror(err));
		return -1;
	}
	/* $end listen_resolve */
	/* $begin listen_loop */
	for (ai = list; ai != NULL; ai = ai->ai_next) {
		int on = 1;

		format_address(ai->ai_addr, ai->ai_addrlen, where, sizeof where);
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd == -1) {
			failed = "socket";
			saved_errno = errno;
			continue;
		}
		/* Without SO_REUSEADDR a restarted server cannot bind its port
		 * while old connections linger in TIME_WAIT. */
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1)
			failed = "setsockopt SO_REUSEADDR";
		else if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
			failed = "bind";
		else if (listen(fd, SOMAXCONN) == -1)
			failed = "listen";
		else
			break;
		saved_errno = errno;
		close(fd);
		fd = -1;
	}
	/* $end listen_loop */
	freeaddrinfo(list);
	if (fd == -1)
		fprintf(stderr, "%s: %s %s: %s\n", prog, failed, where, strerror(saved_errno));
	return fd;
	/* END SOLUTION */
}

/* $begin serve_client */
/*
 * Echo everything the client sends until it half-closes.  Errors end this
 * connection only: they are reported and the server goes on.
 */
static void serve_client(int client_fd, const char *who)
{
	/* BEGIN SOLUTION */
	//: /* TODO: recv(2) and send_all() back each piece as it comes, until recv()
	//:  * returns 0; EINTR as in send_all(); report other errors and return. */
	//: (void)client_fd;
	//: (void)who;
	//: (void)send_all; /* you will call it from here */
	char buf[BUFFER_SIZE];

	for (;;) {
		ssize_t n = recv(client_fd, buf, sizeof buf, 0);

		if (n == 0)
			return;
		if (n == -1) {
			if (errno == EINTR && !stop_requested)
				continue;
			if (errno != EINTR)
				fprintf(stderr, "%s: recv from %s: %s\n", prog, who, strerror(errno));
			return;
		}
		if (send_all(client_fd, buf, (size_t)n) == -1) {
			fprintf(stderr, "%s: send to %s: %s\n", prog, who, strerror(errno));
			return;
		}
	}
	/* END SOLUTION */
}
/* $end serve_client */

/* $begin accept_client */
/*
 * Wait for the next client.  Return its connected socket and write its
 * address as "ADDR:PORT" into WHO, or return -1 with errno set.
 */
static int accept_client(int listen_fd, char *who, size_t size)
{
	/* BEGIN SOLUTION */
	//: /* TODO: accept(2) a client; write its address into WHO with
	//:  * format_address(). */
	//: (void)listen_fd;
	//: (void)who;
	//: (void)size;
	//: errno = ENOSYS;
	//: return -1;
	struct sockaddr_storage addr;
	socklen_t len = sizeof addr;
	int client_fd = accept(listen_fd, (struct sockaddr *)&addr, &len);

	if (client_fd != -1)
		format_address((struct sockaddr *)&addr, len, who, size);
	return client_fd;
	/* END SOLUTION */
}
/* $end accept_client */

/* Report a usage error the Unix way: a manual-style line, exit status 2. */
static void usage(void)
{
	/* BEGIN SOLUTION */
	//: /* TODO: print "usage: echo_server [HOST] [PORT]" on stderr and exit(3)
	//:  * with status 2, the convention for a usage error. */
	//: exit(1);
	fprintf(stderr, "usage: %s [HOST] [PORT]\n", prog);
	exit(2);
	/* END SOLUTION */
}

int main(int argc, char *argv[])
{
	const char *host = NULL, *port = DEFAULT_PORT;
	struct sockaddr_storage addr;
	socklen_t len = sizeof addr;
	char where[ADDR_TEXT_SIZE];
	int listen_fd;

	if (argc > 3 || (argc > 1 && argv[1][0] == '-') || (argc > 2 && argv[2][0] == '-'))
		usage();
	if (argc > 1 && argv[1][0] != '\0')
		host = argv[1];
	if (argc > 2)
		port = argv[2];

	if (install_signal_handlers() == -1) {
		fprintf(stderr, "%s: sigaction: %s\n", prog, strerror(errno));
		return 1;
	}
	listen_fd = open_listener(host, port);
	if (listen_fd == -1)
		return 1;

	/* $begin getsockname */
	/* getsockname() tells the port really bound, also when PORT was 0. */
	if (getsockname(listen_fd, (struct sockaddr *)&addr, &len) == -1) {
		fprintf(stderr, "%s: getsockname: %s\n", prog, strerror(errno));
		close(listen_fd);
		return 1;
	}
	format_address((struct sockaddr *)&addr, len, where, sizeof where);
	printf("Listening on %s\n", where);
	fflush(stdout);
	/* $end getsockname */

	/* $begin accept_loop */
	while (!stop_requested) {
		int client_fd = accept_client(listen_fd, where, sizeof where);

		if (client_fd == -1) {
			/* EINTR: a signal (maybe a stop request); ECONNABORTED: the
			 * client left before we accepted it.  Neither is fatal. */
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "%s: accept: %s\n", prog, strerror(errno));
			close(listen_fd);
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
