/*
 * socketserver.c: the framework declared in socketserver.h.
 *
 * The parts, in order:
 *   1. the server object, requests and error reports (given); the socket
 *      comes from net_listen(), which you wrote in lesson 01;
 *   2. the wake-up pipe (yours);
 *   3. the three modes: sync, a process or a thread per request (yours);
 *   4. the serve loop: wait, accept or receive, dispatch (yours);
 *   5. shutdown (yours) and close (given: it reaps everything left);
 *   6. the request helpers: ss_recv, ss_read_line, ss_send_all (given);
 *   7. signals, mode names and accessors (given).
 *
 * How shutdown works, the self-pipe trick: ss_shutdown() sets a flag and
 * writes a byte into a pipe that only the server itself reads.  The serve
 * loop waits in poll(2) on the listening socket *and* the pipe, so the byte
 * wakes it wherever the call came from: a signal handler, another thread,
 * or a handler.  A flag alone is not enough: a signal that arrives just
 * before a blocking call would be missed and the call would wait forever.
 *
 * What it leaves out: no limit on the number of children or threads (one
 * client can open thousands of connections), no time limit on a handler,
 * and poll(2) used for two descriptors only; lesson 04 uses it for all.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net.h"
#include "socketserver.h"

/* The largest UDP payload is 65507 bytes (IPv4); this holds any. */
#define MAX_DATAGRAM 65536

struct ss_server {
	int type;                    /* SOCK_STREAM (TCP) or SOCK_DGRAM (UDP) */
	enum ss_mode mode;
	ss_handler handler;
	void *user_data;
	int fd;                      /* the listening (TCP) or bound (UDP) socket */
	char address[SS_ADDRSTRLEN]; /* the address really bound, "ADDR:PORT" */
	int wake[2];                 /* the self-pipe: ss_shutdown() writes [1], poll() watches [0] */
	/* Set by ss_shutdown(), read by every thread.  volatile sig_atomic_t
	 * is safe in a signal handler but not between threads; a lock-free
	 * atomic (as int is, on every machine we know) is safe for both. */
	atomic_int stopping;
	pid_t *children;             /* SS_FORK: children not reaped yet */
	size_t nchildren;
	pthread_mutex_t lock;        /* SS_THREAD: guards the list and each request's done */
	struct ss_request *threads;  /* SS_THREAD: requests whose thread is not joined yet */
	char packet[MAX_DATAGRAM];   /* UDP: where each datagram is received */
};

/*
 * The server that SIGINT and SIGTERM stop (ss_shutdown_on_signals()).  It
 * is set before the signal handlers are installed and cleared after they
 * are removed, so a handler never sees it change.
 */
static struct ss_server *signal_server;

/* ======================================= 1. objects, requests, reports == */

/*
 * Report an error on stderr as "socketserver: WHO: WHAT: reason", WHO left
 * out when NULL.  strerror_r() because handlers report from several
 * threads at once.
 */
static void report(const char *who, const char *what, int err)
{
	char reason[256] = "failed";

	if (err != 0 && strerror_r(err, reason, sizeof reason) != 0)
		snprintf(reason, sizeof reason, "error %d", err);
	fprintf(stderr, "socketserver: %s%s%s: %s\n", who ? who : "", who ? ": " : "", what, reason);
}

/* A new request of SERVER, with no socket yet.  NULL if out of memory. */
static struct ss_request *new_request(struct ss_server *server)
{
	struct ss_request *req = calloc(1, sizeof *req);

	if (req == NULL)
		return NULL;
	req->fd = -1;
	req->server = server;
	req->user_data = server->user_data;
	req->peer_len = sizeof req->peer;
	return req;
}

/*
 * Free a request and close its connection (never the UDP server's
 * socket).  errno stays as it was: error paths free and then return.
 */
static void free_request(struct ss_request *req)
{
	int saved_errno = errno;

	if (req->packet == NULL && req->fd != -1)
		close(req->fd);
	free((void *)req->packet);
	free(req);
	errno = saved_errno;
}

/*
 * Run the handler on REQ.  A failure is reported, unless it is only the
 * server stopping, and costs this request only.  Returns the handler's
 * result.
 */
static int run_handler(struct ss_request *req)
{
	struct ss_server *server = req->server;

	errno = 0;
	if (server->handler(req) == 0)
		return 0;
	if (!server->stopping && errno != ECANCELED)
		report(req->client_address, "request failed", errno);
	return -1;
}

/* SIGINT and SIGTERM run HANDLER, without SA_RESTART (see section 7). */
static int catch_stop_signals(void (*handler)(int))
{
	struct sigaction sa = { .sa_handler = handler };

	sigemptyset(&sa.sa_mask);
	return sigaction(SIGINT, &sa, NULL) == -1 || sigaction(SIGTERM, &sa, NULL) == -1 ? -1 : 0;
}

/* ===================================================== 2. the wake pipe == */

/*
 * Make SERVER's wake-up pipe (server->wake), its write end non-blocking:
 * ss_shutdown() must never block, and when the pipe is full a byte is
 * already there to wake the loop.  Returns 0, or -1 with errno set.
 */
static int open_wake_pipe(struct ss_server *server)
{
	/* TODO: pipe(2) into server->wake, then O_NONBLOCK on the write end
	 * server->wake[1].  See fcntl(2), F_GETFL and F_SETFL. */
	(void)server;
	errno = ENOSYS;
	return -1;
}

/*
 * Make a TCP or UDP server: net_listen() (lesson 01) binds, and listens
 * for TCP, and reports its errors.  ss_close() cleans up whatever failed
 * half-way.
 */
static struct ss_server *make_server(const char *host, const char *port, int type,
				     ss_handler handler, enum ss_mode mode, void *user_data)
{
	struct ss_server *server = calloc(1, sizeof *server);
	int saved_errno;

	if (server == NULL || (errno = pthread_mutex_init(&server->lock, NULL)) != 0) {
		report(NULL, "cannot make a server", errno);
		free(server);
		return NULL;
	}
	server->type = type;
	server->mode = mode;
	server->handler = handler;
	server->user_data = user_data;
	server->wake[0] = server->wake[1] = -1;
	atomic_init(&server->stopping, 0);
	/* "" means every interface too, as in Python.  SIGPIPE ignored: a
	 * client that has gone must give EPIPE, not kill the program. */
	server->fd = net_listen(host != NULL && host[0] != '\0' ? host : NULL, port, type);
	if (server->fd == -1 || net_ignore_sigpipe() == -1)
		goto fail;
	if (open_wake_pipe(server) == -1) {
		report(NULL, "pipe", errno);
		goto fail;
	}
	/* The address really bound: the port the kernel chose for "0". */
	if (net_local_address(server->fd, server->address) == -1) {
		report(NULL, "getsockname", errno);
		goto fail;
	}
	return server;
fail:
	saved_errno = errno;
	ss_close(server);
	errno = saved_errno;
	return NULL;
}

/* The public functions are documented in socketserver.h. */
struct ss_server *ss_tcp_server(const char *host, const char *port, ss_handler handler,
				enum ss_mode mode, void *user_data)
{
	return make_server(host, port, SOCK_STREAM, handler, mode, user_data);
}

struct ss_server *ss_udp_server(const char *host, const char *port, ss_handler handler,
				enum ss_mode mode, void *user_data)
{
	return make_server(host, port, SOCK_DGRAM, handler, mode, user_data);
}

/* ======================================================= 3. the modes == */

/*
 * SS_FORK: run REQ in a child process.  Returns 0 once the child runs (the
 * parent's copy of REQ is freed), or -1 with errno set (REQ still ours).
 */
static int start_child(struct ss_server *server, struct ss_request *req)
{
	/* TODO: fork(2) a child that runs the handler with the default SIGINT
	 * and SIGTERM, then _exit(2)s; record its pid in server->children.
	 * See fork(2), pthread_sigmask(3). */
	(void)server;
	(void)req;
	errno = ENOSYS;
	return -1;
}

/*
 * SS_FORK: reap the children that have exited, without waiting.  With
 * ALL (ss_close()), first SIGTERM the children still running, and wait
 * for every one.
 */
static void reap_children(struct ss_server *server, int all)
{
	/* TODO: reap the exited children (ALL: kill(2) them all with SIGTERM
	 * and wait for each), and forget them.  See waitpid(2), WNOHANG. */
	(void)server;
	(void)all;
}

/* SS_THREAD: what each handler thread runs. */
static void *thread_main(void *arg)
{
	/* TODO: run_handler(), then, under server->lock, close a TCP
	 * request's connection and mark it done for reap_threads().
	 * See pthread_mutex_lock(3). */
	(void)arg;
	return NULL;
}

/*
 * SS_THREAD: run REQ in a new thread.  Returns 0 once it runs (it owns
 * REQ), or -1 with errno set (REQ still ours).
 */
static int start_thread(struct ss_server *server, struct ss_request *req)
{
	/* TODO: start a thread running thread_main(REQ) and add REQ to
	 * server->threads, under the lock.  See pthread_create(3). */
	(void)thread_main;
	(void)server;
	(void)req;
	errno = ENOSYS;
	return -1;
}

/*
 * SS_THREAD: join the threads whose handler has returned, and free their
 * requests.  With ALL (ss_close()), first shut down the connections of the
 * handlers still running, so that those waiting on their client return,
 * and join every thread.
 */
static void reap_threads(struct ss_server *server, int all)
{
	/* TODO: join the threads whose request is done (ALL: every one, after
	 * shutdown(2) of each TCP connection still open) and free their
	 * requests; not while holding the lock.  See pthread_join(3). */
	(void)server;
	(void)all;
}

/*
 * Serve REQ in the server's mode.  If the mode cannot start a handler
 * (no memory, too many processes) REQ is dropped: that client only.
 */
static void dispatch(struct ss_server *server, struct ss_request *req)
{
	if (server->mode == SS_FORK && start_child(server, req) == 0)
		return; /* the child has its own copy; ours is freed */
	if (server->mode == SS_THREAD && start_thread(server, req) == 0)
		return; /* the thread owns REQ now */
	if (server->mode == SS_SYNC)
		run_handler(req);
	else
		report(req->client_address, "cannot start a handler", errno);
	free_request(req);
}

/* ================================================= 4. the serve loop == */

/*
 * Take the next request: accept a connection (TCP) or receive a datagram
 * (UDP), with the client's address.  Returns NULL with errno set.
 */
static struct ss_request *next_request(struct ss_server *server)
{
	/* TODO: the next connection (TCP) or datagram (UDP, copied into
	 * req->packet), and the client's address as text in
	 * req->client_address.  See accept(2), recvfrom(2). */
	(void)new_request;
	(void)server;
	errno = ENOSYS;
	return NULL;
}

/*
 * The errors of accept() or recvfrom() that say the socket itself is
 * broken (a bug); any other costs one request at most.
 */
static int is_fatal(int err)
{
	return err == EBADF || err == EFAULT || err == EINVAL || err == ENOTSOCK ||
	       err == EOPNOTSUPP;
}

/*
 * The loop: wait in poll() until a client comes, the wake-up pipe is
 * written, or SS_POLL_INTERVAL_MS pass; reap what has finished; serve.
 */
int ss_serve_forever(struct ss_server *server)
{
	/* TODO: the loop above until server->stopping: poll(2) the socket
	 * and the wake-up pipe, reap, dispatch() each request; a failed
	 * request costs only itself, unless is_fatal().  See poll(2). */
	(void)next_request;
	(void)dispatch;
	(void)is_fatal;
	(void)reap_children;
	(void)reap_threads;
	(void)server;
	errno = ENOSYS;
	return -1;
}

/* =========================================== 5. shutdown and close == */

/* Only a flag and a byte: both are safe in a signal handler. */
void ss_shutdown(struct ss_server *server)
{
	/* TODO: set server->stopping and write(2) a byte into the wake-up
	 * pipe.  It runs in signal handlers: keep errno as it was.
	 * See signal-safety(7). */
	(void)server;
}

/* Stop the handlers still running, then free everything. */
void ss_close(struct ss_server *server)
{
	if (server == NULL)
		return;
	reap_threads(server, 1);
	reap_children(server, 1);
	if (signal_server == server) {
		/* Back to the default first: no signal may reach a freed server. */
		(void)catch_stop_signals(SIG_DFL);
		signal_server = NULL;
	}
	if (server->fd != -1)
		close(server->fd);
	for (int i = 0; i < 2; i++)
		if (server->wake[i] != -1)
			close(server->wake[i]);
	pthread_mutex_destroy(&server->lock);
	free(server->children);
	free(server);
}

/* ============================================= 6. request helpers == */

/*
 * Wait until the client's socket is readable.  Watch the wake-up pipe too,
 * so that ss_shutdown() also ends a handler waiting for a silent client.
 * Returns 0, or -1 with errno set (ECANCELED: the server is stopping).
 */
static int wait_readable(struct ss_request *req)
{
	struct pollfd fds[2] = {
		{ .fd = req->fd, .events = POLLIN },
		{ .fd = req->server->wake[0], .events = POLLIN }, /* -1 in a child: skipped */
	};

	/* The pipe becomes readable only after stopping is set. */
	while (!req->server->stopping) {
		int ready = poll(fds, 2, -1);

		if (ready > 0 && fds[1].revents == 0)
			return 0;
		if (ready == -1 && errno != EINTR)
			return -1;
	}
	errno = ECANCELED;
	return -1;
}

/* Read from the connection or the datagram itself, without the buffer. */
static ssize_t read_raw(struct ss_request *req, void *buf, size_t size)
{
	ssize_t n;

	if (req->packet != NULL) {
		n = (ssize_t)(size < req->packet_len - req->packet_pos ? size
								 : req->packet_len - req->packet_pos);
		memcpy(buf, req->packet + req->packet_pos, (size_t)n);
		req->packet_pos += (size_t)n;
		return n;
	}
	do {
		if (wait_readable(req) == -1)
			return -1;
		n = recv(req->fd, buf, size, 0);
	} while (n == -1 && errno == EINTR);
	return n;
}

/* Bytes left in the buffer by ss_read_line() come first. */
ssize_t ss_recv(struct ss_request *req, void *buf, size_t size)
{
	if (req->buf_len > 0) {
		size_t n = req->buf_len < size ? req->buf_len : size;

		memcpy(buf, req->buf + req->buf_start, n);
		req->buf_start += n;
		req->buf_len -= n;
		return (ssize_t)n;
	}
	return read_raw(req, buf, size);
}

/* Byte by byte from the request's buffer, as CS:APP's rio_readlineb(). */
ssize_t ss_read_line(struct ss_request *req, char *line, size_t size)
{
	size_t len = 0;

	if (size < 2) { /* no room for a byte and the '\0' */
		errno = EINVAL;
		return -1;
	}
	while (len < size - 1) {
		/* One recv() may hold part of a line, or several: refill the
		 * buffer only when it is empty, and keep what is left over. */
		if (req->buf_len == 0) {
			ssize_t n = read_raw(req, req->buf, sizeof req->buf);

			if (n == -1)
				return -1;
			if (n == 0)
				break;
			req->buf_start = 0;
			req->buf_len = (size_t)n;
		}
		req->buf_len--;
		if ((line[len++] = req->buf[req->buf_start++]) == '\n')
			break;
	}
	line[len] = '\0';
	return (ssize_t)len;
}

/*
 * net_send_all() (lesson 01) finishes short writes and restarts after
 * EINTR, unless net_stop is set: on_stop_signal() sets it, so that a send
 * blocked on a client that does not read gives up, as ss_recv() does.
 */
int ss_send_all(struct ss_request *req, const void *buf, size_t len)
{
	if (req->packet != NULL) /* a datagram goes whole or not at all */
		return sendto(req->fd, buf, len, 0, (struct sockaddr *)&req->peer,
			      req->peer_len) == -1 ? -1 : 0;
	if (net_send_all(req->fd, buf, len) == 0)
		return 0;
	if (errno == EINTR)
		errno = ECANCELED;
	return -1;
}

/* ========================================= 7. signals and accessors == */

/* SIGINT and SIGTERM: ask signal_server to stop. */
static void on_stop_signal(int signo)
{
	(void)signo;
	net_stop = 1;
	if (signal_server != NULL)
		ss_shutdown(signal_server);
}

/*
 * No SA_RESTART: a handler blocked in a plain recv() gets EINTR.  SIGPIPE
 * ignored (net.c): a client that has gone gives EPIPE, not a signal that
 * kills the server.
 */
int ss_shutdown_on_signals(struct ss_server *server)
{
	signal_server = server;
	if (catch_stop_signals(on_stop_signal) == -1) {
		report(NULL, "sigaction", errno);
		return -1;
	}
	return net_ignore_sigpipe();
}

/* "sync", "fork" or "thread", as the examples' -m option takes. */
int ss_parse_mode(const char *name, enum ss_mode *mode)
{
	if (strcmp(name, "sync") == 0)
		*mode = SS_SYNC;
	else if (strcmp(name, "fork") == 0)
		*mode = SS_FORK;
	else if (strcmp(name, "thread") == 0)
		*mode = SS_THREAD;
	else
		return -1;
	return 0;
}

/* Set once by make_server(). */
const char *ss_server_address(const struct ss_server *server)
{
	return server->address;
}

/* The port is what follows the last ':' of the address. */
int ss_server_port(const struct ss_server *server)
{
	return atoi(strrchr(server->address, ':') + 1);
}
