/*
 * net: the socket helpers every program of the course needs.
 *
 * You write them in lesson 01 (net.c); from lesson 02 on the course links
 * its own copy into your programs, so that each later lesson is about its
 * own subject.  Errors are printed as "PROG: what failed: reason" on
 * standard error, PROG being net_prog, which main() sets first.
 */
#ifndef NET_H
#define NET_H

#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>

/* "[IPv6 address%scope]:port" fits, with its terminating zero. */
#define NET_ADDRSTRLEN 80

/* The program's name, for messages. */
extern const char *net_prog;

/* Set by the SIGINT/SIGTERM handler of net_catch_signals(). */
extern volatile sig_atomic_t net_stop;

/*
 * A socket of TYPE (SOCK_STREAM or SOCK_DGRAM) bound to the first address
 * getaddrinfo() gives for HOST (NULL: every IPv4 interface) and PORT;
 * a stream socket also listens.  Returns it, or -1 with an error printed.
 */
int net_listen(const char *host, const char *port, int type);

/*
 * A socket of TYPE connected to the first address of HOST and PORT that
 * accepts.  Returns it, or -1 with an error printed.
 */
int net_connect(const char *host, const char *port, int type);

/*
 * Send all LEN bytes of BUF, finishing short writes and restarting after
 * EINTR until net_stop is set (then -1 with EINTR, also after a short
 * write).  Returns 0, or -1 with errno set.
 */
int net_send_all(int fd, const void *buf, size_t len);

/* Write ADDR as "ADDR:PORT" into OUT, an IPv6 address in brackets. */
void net_format_address(const struct sockaddr *addr, socklen_t len, char out[NET_ADDRSTRLEN]);

/* Write the local address of socket FD into OUT.  Returns 0 or -1. */
int net_local_address(int fd, char out[NET_ADDRSTRLEN]);

/*
 * Servers: SIGINT and SIGTERM set net_stop and interrupt the call under
 * way (EINTR); SIGPIPE is ignored.  Returns 0, or -1 with an error printed.
 */
int net_catch_signals(void);

/* Clients: SIGPIPE is ignored.  Returns 0, or -1 with an error printed. */
int net_ignore_sigpipe(void);

/* Print LEN bytes of BUF on standard output, escaped as in C ("\n", "\x00"). */
void net_print_escaped(const char *buf, size_t len);

/* Print "usage: PROG SYNOPSIS" on standard error and exit with status 2. */
_Noreturn void net_usage(const char *synopsis);

#endif
