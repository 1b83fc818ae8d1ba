/*
 * api_test: checks of the socketserver library through its API, run by
 * the lesson's test suite (tests/03-socketserver.bats).  Not an example
 * to copy: a test program, given, that you can run yourself.
 *
 *   usage: api_test [CHECK...]
 *
 * CHECK is one of: address shutdown close reuse errors handler selfstop
 * lines udp (all of them by default).  Each check serves from a thread of this
 * program on 127.0.0.1, talks to the server as a client, and prints
 * "ok - CHECK" or "not ok - CHECK" after a line per failed expectation.
 * Exit status 0 when every check passed.  A check that takes over 10 s
 * stops the program: a call that should have returned did not.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "socketserver.h"

#define TIMEOUT_SECS 3  /* for each client call */
#define WATCHDOG_SECS 10 /* for each check */
#define USAGE "[CHECK...]"

static const enum ss_mode modes[] = { SS_SYNC, SS_FORK, SS_THREAD };
static const char *const mode_names[] = { "sync", "fork", "thread" };
#define NMODES 3

static int check_failed;
static const char *current_check = "?";
static pid_t main_pid;               /* this program, not a child of SS_FORK */
static pthread_t serving_thread;     /* the thread in ss_serve_forever() */
static char serving_stat[64];        /* Linux: its /proc/PID/task/TID/stat, or "" */
static const char *waiting_for;      /* what a hang now means, for the watchdog */
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static int handlers_returned;        /* raw_recv_handler() calls that returned */

/* ======================================================= reporting == */

/* Record a failed expectation unless OK; MESSAGE says what was expected. */
static void expect(int ok, const char *mode, const char *message)
{
	if (ok)
		return;
	printf("   %s%s%s\n", mode ? mode : "", mode ? " mode: " : "", message);
	check_failed = 1;
}

/* A check that outlives the watchdog hangs: say which, and stop. */
static void on_alarm(int signo)
{
	static const char text[] = "   timed out: a call that should have returned did not\n";
	const char *what = waiting_for;

	(void)signo;
	if (getpid() != main_pid)
		_exit(1); /* a handler's child process: see guard_child() */
	if (write(STDOUT_FILENO, text, sizeof text - 1) == -1 ||
	    (what != NULL && (write(STDOUT_FILENO, "   ", 3) == -1 ||
			      write(STDOUT_FILENO, what, strlen(what)) == -1 ||
			      write(STDOUT_FILENO, "\n", 1) == -1)) ||
	    write(STDOUT_FILENO, "not ok - ", 9) == -1 ||
	    write(STDOUT_FILENO, current_check, strlen(current_check)) == -1 ||
	    write(STDOUT_FILENO, "\n", 1) == -1) {
		/* nothing more to do */
	}
	_exit(1);
}

/* ======================================================== clients == */

/* A socket of TYPE connected to 127.0.0.1:PORT, with time limits; or -1. */
static int connect_port(int port, int type)
{
	struct timeval limit = { .tv_sec = TIMEOUT_SECS };
	char service[16];
	int fd;

	snprintf(service, sizeof service, "%d", port);
	fd = net_connect("127.0.0.1", service, type);
	if (fd != -1 && (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) == -1 ||
			 setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) == -1)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* SIGPIPE is ignored (see main), so a server that has gone gives EPIPE. */
static int send_text(int fd, const char *text)
{
	return net_send_all(fd, text, strlen(text));
}

/*
 * Read until the server closes (or WANT bytes came, if WANT > 0) into BUF,
 * '\0'-terminated.  Returns the length, or -1 on error or timeout.
 */
static ssize_t recv_text(int fd, char *buf, size_t size, size_t want)
{
	size_t len = 0;

	while (len < size - 1 && (want == 0 || len < want)) {
		ssize_t n = recv(fd, buf + len, size - 1 - len, 0);

		if (n == 0)
			break;
		/* With SO_RCVTIMEO, any signal ends recv() with EINTR, even one
		 * that is ignored: a SIGCHLD from a handler's child, with musl. */
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Send REQUEST, half-close, and read the reply until the server closes. */
static ssize_t exchange(int port, const char *request, char *reply, size_t size)
{
	int fd = connect_port(port, SOCK_STREAM);
	ssize_t n = -1;

	if (fd == -1)
		return -1;
	if (send_text(fd, request) == 0 && shutdown(fd, SHUT_WR) == 0)
		n = recv_text(fd, reply, size, 0);
	close(fd);
	return n;
}

/* The number of open file descriptors of this process. */
static int count_fds(void)
{
	int fd, count = 0;

	for (fd = 0; fd < 1024; fd++)
		count += fcntl(fd, F_GETFD) != -1;
	return count;
}

/* ================================================ running servers == */

struct running {
	struct ss_server *server;
	pthread_t thread;
	int status;   /* what ss_serve_forever() returned */
	int returned; /* it has returned (under count_lock) */
};

static void *serve(void *arg)
{
	struct running *r = arg;
	char self[48];
	ssize_t n = readlink("/proc/thread-self", self, sizeof self - 1);

	pthread_mutex_lock(&count_lock);
	serving_thread = pthread_self();
	/* Linux names this thread "PID/task/TID" there; elsewhere nothing. */
	serving_stat[0] = '\0';
	if (n > 0) {
		self[n] = '\0';
		snprintf(serving_stat, sizeof serving_stat, "/proc/%s/stat", self);
	}
	pthread_mutex_unlock(&count_lock);
	r->status = ss_serve_forever(r->server);
	pthread_mutex_lock(&count_lock);
	r->returned = 1;
	pthread_mutex_unlock(&count_lock);
	return NULL;
}

/* Sleep MS milliseconds. */
static void pause_ms(long ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 };

	while (nanosleep(&t, &t) == -1 && errno == EINTR)
		continue;
}

/*
 * Wait until the thread in ss_serve_forever() sleeps in a call, e.g. a
 * sync handler waiting for its silent client, so that what comes next (a
 * shutdown) finds it there, never on its way.  Linux tells through /proc
 * (state S, seen 3 times in a row); elsewhere, wait 300 ms.  At most 3 s.
 */
static void wait_serving_thread_sleeps(void)
{
	char path[64], line[512], *end;
	int tries, sleeping = 0;

	pthread_mutex_lock(&count_lock);
	snprintf(path, sizeof path, "%s", serving_stat);
	pthread_mutex_unlock(&count_lock);
	for (tries = 0; tries < 3000 && sleeping < 3; tries++) {
		FILE *f = path[0] != '\0' ? fopen(path, "r") : NULL;

		if (f == NULL) {
			pause_ms(300);
			return;
		}
		/* The state follows the command name, in parentheses. */
		end = fgets(line, sizeof line, f) != NULL ? strrchr(line, ')') : NULL;
		fclose(f);
		sleeping = end != NULL && end[1] == ' ' && end[2] == 'S' ? sleeping + 1 : 0;
		pause_ms(1);
	}
}

/* Whether ss_serve_forever() has returned within MS milliseconds. */
static int returned_within(struct running *r, long ms)
{
	int done = 0;

	for (; ms >= 0 && !done; ms -= 5) {
		pthread_mutex_lock(&count_lock);
		done = r->returned;
		pthread_mutex_unlock(&count_lock);
		if (!done)
			pause_ms(5);
	}
	return done;
}

/* Make a server on 127.0.0.1:PORT and serve it from a new thread. */
static struct ss_server *start(struct running *r, int type, const char *port, ss_handler handler,
			       enum ss_mode mode, void *user_data)
{
	r->returned = 0;
	if (type == SOCK_STREAM)
		r->server = ss_tcp_server("127.0.0.1", port, handler, mode, user_data);
	else
		r->server = ss_udp_server("127.0.0.1", port, handler, mode, user_data);
	if (r->server != NULL && pthread_create(&r->thread, NULL, serve, r) != 0) {
		ss_close(r->server);
		r->server = NULL;
	}
	return r->server;
}

/* Shut the server down, wait for ss_serve_forever() to return, close. */
static int stop(struct running *r)
{
	ss_shutdown(r->server);
	pthread_join(r->thread, NULL);
	ss_close(r->server);
	return r->status;
}

/* ======================================================= handlers == */

/*
 * In SS_FORK mode a handler runs in a child of this program, which also
 * holds the client's end of the connection: if the library fails to stop
 * it, nothing else would.  Give it the watchdog too.
 */
static void guard_child(void)
{
	if (getpid() != main_pid)
		alarm(WATCHDOG_SECS);
}

/* Echo until the client half-closes. */
static int echo_handler(struct ss_request *req)
{
	char buf[256];
	ssize_t n;

	guard_child();
	while ((n = ss_recv(req, buf, sizeof buf)) > 0)
		if (ss_send_all(req, buf, (size_t)n) == -1)
			return -1;
	return n == 0 ? 0 : -1;
}

/* Say "ready", then wait in ss_recv() for a client that never speaks. */
static int silent_handler(struct ss_request *req)
{
	char buf[16];

	guard_child();
	if (ss_send_all(req, "ready", 5) == -1)
		return -1;
	return ss_recv(req, buf, sizeof buf) == -1 ? -1 : 0;
}

/* The same, but waiting in a plain recv(2) that ss_shutdown() cannot end. */
static int raw_recv_handler(struct ss_request *req)
{
	char buf[16];

	guard_child();
	if (ss_send_all(req, "ready", 5) == 0)
		while (recv(req->fd, buf, sizeof buf, 0) > 0)
			continue;
	pthread_mutex_lock(&count_lock);
	handlers_returned++;
	pthread_mutex_unlock(&count_lock);
	return 0;
}

/* Shut the server down from the handler, then say "stopping". */
static int stop_handler(struct ss_request *req)
{
	guard_child();
	ss_shutdown(req->server);
	return ss_send_all(req, "stopping", 8);
}

/* Say "bye" and close first, which leaves the server's side in TIME_WAIT. */
static int bye_handler(struct ss_request *req)
{
	return ss_send_all(req, "bye", 3);
}

/* Fail on the line "fail", answer "ok" to anything else. */
static int fail_handler(struct ss_request *req)
{
	char line[64];

	guard_child();
	if (ss_read_line(req, line, sizeof line) == -1)
		return -1;
	if (strcmp(line, "fail\n") == 0) {
		errno = EBADMSG;
		return -1;
	}
	return ss_send_all(req, "ok", 2);
}

/* Tell where the handler runs and what it was given. */
static int info_handler(struct ss_request *req)
{
	char reply[256];
	int len = snprintf(reply, sizeof reply, "pid=%ld same_thread=%d user=%s addr=%s",
			   (long)getpid(), pthread_equal(pthread_self(), serving_thread) != 0,
			   req->user_data ? (const char *)req->user_data : "(null)",
			   req->client_address);

	return ss_send_all(req, reply, (size_t)len);
}

/*
 * Reply "[LINE]" for each line (read 7 bytes at most at a time), and for
 * the line "raw\n", "{XYZ}" with the next 3 bytes from ss_recv().  At the
 * end of the data, "<eof>".
 */
static int lines_handler(struct ss_request *req)
{
	char line[8], reply[32];
	ssize_t n;

	guard_child();
	while ((n = ss_read_line(req, line, sizeof line)) > 0) {
		if (strcmp(line, "raw\n") == 0) {
			n = ss_recv(req, line, 3);
			if (n == -1)
				return -1;
			snprintf(reply, sizeof reply, "{%.*s}", (int)n, line);
		} else {
			snprintf(reply, sizeof reply, "[%s]", line);
		}
		if (ss_send_all(req, reply, strlen(reply)) == -1)
			return -1;
	}
	return n == -1 ? -1 : ss_send_all(req, "<eof>", 5);
}

/* UDP: reply "ADDR|DATAGRAM|what a second ss_recv() returns", bytes as they came. */
static int udp_handler(struct ss_request *req)
{
	char data[64], more[8], reply[256];
	ssize_t n = ss_recv(req, data, sizeof data), rest = ss_recv(req, more, sizeof more);
	int len;

	if (n == -1 || (size_t)n != req->packet_len || memcmp(data, req->packet, (size_t)n) != 0)
		return -1;
	len = snprintf(reply, sizeof reply, "%s|", req->client_address);
	memcpy(reply + len, data, (size_t)n);
	len += (int)n;
	len += snprintf(reply + len, sizeof reply - (size_t)len, "|%zd", rest);
	return ss_send_all(req, reply, (size_t)len);
}

/* ========================================================= checks == */

/* Servers on port 0 get a real port, and listen before serving. */
static void check_address(void)
{
	struct ss_server *tcp = ss_tcp_server("127.0.0.1", "0", echo_handler, SS_SYNC, NULL);
	struct ss_server *udp = ss_udp_server("127.0.0.1", "0", echo_handler, SS_SYNC, NULL);
	char want[64];
	int fd;

	expect(tcp != NULL, NULL, "ss_tcp_server(\"127.0.0.1\", \"0\", ...) returned NULL");
	expect(udp != NULL, NULL, "ss_udp_server(\"127.0.0.1\", \"0\", ...) returned NULL");
	if (tcp != NULL) {
		expect(ss_server_port(tcp) > 0, NULL, "ss_server_port() of a TCP server on port 0 is not > 0");
		snprintf(want, sizeof want, "127.0.0.1:%d", ss_server_port(tcp));
		expect(strcmp(ss_server_address(tcp), want) == 0, NULL,
		       "ss_server_address() of the TCP server is not 127.0.0.1:PORT");
		fd = connect_port(ss_server_port(tcp), SOCK_STREAM);
		expect(fd != -1, NULL, "cannot connect before ss_serve_forever(): listen() in ss_tcp_server()");
		if (fd != -1)
			close(fd);
	}
	if (udp != NULL) {
		expect(ss_server_port(udp) > 0, NULL, "ss_server_port() of a UDP server on port 0 is not > 0");
		snprintf(want, sizeof want, "127.0.0.1:%d", ss_server_port(udp));
		expect(strcmp(ss_server_address(udp), want) == 0, NULL,
		       "ss_server_address() of the UDP server is not 127.0.0.1:PORT");
	}
	ss_close(tcp);
	ss_close(udp);
}

/*
 * Sync mode: the serve loop is inside a handler that waits in ss_recv() for
 * a silent client.  ss_shutdown() from another thread, once it waits there
 * for sure, must end the handler (ECANCELED) and the loop: the flag alone
 * cannot, the byte in the wake-up pipe does.
 */
static void check_shutdown_waiting_handler(void)
{
	struct running r;
	char reply[16];
	int fd;

	if (start(&r, SOCK_STREAM, "0", silent_handler, SS_SYNC, NULL) == NULL) {
		expect(0, "sync", "cannot make a server on port 0");
		return;
	}
	fd = connect_port(ss_server_port(r.server), SOCK_STREAM);
	expect(fd != -1 && recv_text(fd, reply, sizeof reply, 5) == 5, "sync", "the handler did not start");
	wait_serving_thread_sleeps();
	waiting_for = "sync mode: ss_serve_forever() did not return after ss_shutdown() from another "
		      "thread while its handler waited in ss_recv() for a silent client: write a byte "
		      "into the wake-up pipe, ss_recv() polls it";
	expect(stop(&r) == 0, "sync",
	       "ss_serve_forever() did not return 0 after ss_shutdown() while its handler waited for a silent client");
	waiting_for = NULL;
	if (fd != -1)
		close(fd);
}

/* ss_shutdown() from another thread makes ss_serve_forever() return 0. */
static void check_shutdown(void)
{
	struct ss_server *server;
	char reply[64];
	int i;

	for (i = 0; i < NMODES; i++) {
		struct running r;

		if (start(&r, SOCK_STREAM, "0", echo_handler, modes[i], NULL) == NULL) {
			expect(0, mode_names[i], "cannot make a server on port 0");
			continue;
		}
		expect(exchange(ss_server_port(r.server), "ping", reply, sizeof reply) == 4 &&
		       strcmp(reply, "ping") == 0, mode_names[i], "no echo of \"ping\" before the shutdown");
		expect(stop(&r) == 0, mode_names[i], "ss_serve_forever() did not return 0 after ss_shutdown()");
	}
	check_shutdown_waiting_handler();
	/* A shutdown that comes first (a signal at start-up) is not lost, and
	 * however many come, none blocks: nobody reads the pipe. */
	server = ss_tcp_server("127.0.0.1", "0", echo_handler, SS_SYNC, NULL);
	if (server == NULL) {
		expect(0, NULL, "cannot make a server on port 0");
		return;
	}
	waiting_for = "ss_shutdown() blocked when called 100000 times: nobody reads the wake-up "
		      "pipe, so once it is full write(2) blocks unless its write end is O_NONBLOCK";
	for (i = 0; i < 100000; i++)
		ss_shutdown(server);
	waiting_for = "ss_serve_forever() after ss_shutdown() did not return: a shutdown that "
		      "comes first must not be lost (is server->stopping cleared?)";
	expect(ss_serve_forever(server) == 0, NULL,
	       "ss_serve_forever() after ss_shutdown() did not return 0");
	waiting_for = NULL;
	ss_close(server);
}

/*
 * ss_close() with a handler still waiting on its client: it must return,
 * end the handler (cut its connection, or kill its process), and leave no
 * descriptor, child or thread behind.
 */
static void check_close(void)
{
	int before = count_fds(), i;

	for (i = 0; i < NMODES; i++) {
		ss_handler handler = modes[i] == SS_THREAD ? raw_recv_handler : silent_handler;
		struct running r;
		struct ss_server *again;
		char reply[16], port[16];
		int fd;

		handlers_returned = 0;
		if (start(&r, SOCK_STREAM, "0", handler, modes[i], NULL) == NULL) {
			expect(0, mode_names[i], "cannot make a server on port 0");
			continue;
		}
		snprintf(port, sizeof port, "%d", ss_server_port(r.server));
		fd = connect_port(ss_server_port(r.server), SOCK_STREAM);
		expect(fd != -1 && recv_text(fd, reply, sizeof reply, 5) == 5, mode_names[i],
		       "the handler did not start");
		if (modes[i] == SS_SYNC)
			wait_serving_thread_sleeps();
		waiting_for = "ss_shutdown() and ss_close() did not end a handler waiting for a silent client";
		expect(stop(&r) == 0, mode_names[i],
		       "ss_serve_forever() did not return 0 with a handler still running");
		waiting_for = NULL;
		if (fd != -1) {
			expect(recv_text(fd, reply, sizeof reply, 0) != -1 || errno == ECONNRESET,
			       mode_names[i], "the client's connection stayed open after ss_close()");
			close(fd);
		}
		if (modes[i] == SS_THREAD)
			expect(handlers_returned == 1, mode_names[i],
			       "ss_close() returned before the handler thread did");
		if (modes[i] == SS_FORK)
			expect(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, mode_names[i],
			       "a child process is left after ss_close()");
		expect(count_fds() == before, mode_names[i], "descriptors are left open after ss_close()");
		again = ss_tcp_server("127.0.0.1", port, echo_handler, modes[i], NULL);
		expect(again != NULL, mode_names[i],
		       "the port is not free again after ss_close() (socket not closed, or no SO_REUSEADDR)");
		ss_close(again);
	}
}

/* A server restarts on its port although the last connection is in TIME_WAIT. */
static void check_reuse(void)
{
	struct running r;
	struct ss_server *again;
	char reply[16], port[16];
	int fd;

	if (start(&r, SOCK_STREAM, "0", bye_handler, SS_SYNC, NULL) == NULL) {
		expect(0, NULL, "cannot make a server on port 0");
		return;
	}
	snprintf(port, sizeof port, "%d", ss_server_port(r.server));
	/* Read to the end before closing: the server closes first. */
	fd = connect_port(ss_server_port(r.server), SOCK_STREAM);
	expect(fd != -1 && recv_text(fd, reply, sizeof reply, 0) == 3, NULL,
	       "no \"bye\" from the server");
	if (fd != -1)
		close(fd);
	stop(&r);
	again = ss_tcp_server("127.0.0.1", port, echo_handler, SS_SYNC, NULL);
	expect(again != NULL, NULL,
	       "cannot listen again on the port of a connection in TIME_WAIT: set SO_REUSEADDR before bind()");
	ss_close(again);
}

/* A handler that fails costs its own request only. */
static void check_errors(void)
{
	char reply[16];
	int i;

	for (i = 0; i < NMODES; i++) {
		struct running r;
		int port;

		if (start(&r, SOCK_STREAM, "0", fail_handler, modes[i], NULL) == NULL) {
			expect(0, mode_names[i], "cannot make a server on port 0");
			continue;
		}
		port = ss_server_port(r.server);
		expect(exchange(port, "fail\n", reply, sizeof reply) == 0, mode_names[i],
		       "the failed request did not just end its connection");
		expect(exchange(port, "hello\n", reply, sizeof reply) == 2 && strcmp(reply, "ok") == 0,
		       mode_names[i], "no answer to the request after a failed one");
		expect(stop(&r) == 0, mode_names[i], "ss_serve_forever() did not return 0");
	}
}

/* Handlers get their client and data, and run where the mode says. */
static void check_handler(void)
{
	static char token[] = "token";
	int i;

	for (i = 0; i < NMODES; i++) {
		struct running r;
		char reply[256], want[256], addr[NET_ADDRSTRLEN] = "?";
		long pid = 0;
		int same_thread = -1, fd;

		if (start(&r, SOCK_STREAM, "0", info_handler, modes[i], token) == NULL) {
			expect(0, mode_names[i], "cannot make a server on port 0");
			continue;
		}
		fd = connect_port(ss_server_port(r.server), SOCK_STREAM);
		if (fd != -1) {
			(void)net_local_address(fd, addr);
			if (recv_text(fd, reply, sizeof reply, 0) == -1)
				reply[0] = '\0';
			close(fd);
			sscanf(reply, "pid=%ld same_thread=%d", &pid, &same_thread);
			snprintf(want, sizeof want, " user=token addr=%s", addr);
			expect(strstr(reply, want) != NULL, mode_names[i],
			       "the handler did not get user_data and the client's address");
		}
		expect(fd != -1, mode_names[i], "cannot connect");
		if (modes[i] == SS_FORK)
			expect(pid != 0 && pid != (long)getpid(), mode_names[i],
			       "the handler did not run in a child process");
		else
			expect(pid == (long)getpid(), mode_names[i],
			       "the handler did not run in the server's process");
		if (modes[i] == SS_SYNC)
			expect(same_thread == 1, mode_names[i],
			       "the handler did not run inside ss_serve_forever()");
		if (modes[i] == SS_THREAD)
			expect(same_thread == 0, mode_names[i],
			       "the handler did not run in a thread of its own");
		stop(&r);
	}
}

/*
 * A handler that calls ss_shutdown(): in sync and thread modes the server
 * stops; in fork mode the handler runs in a child, and only that child
 * stops: the server answers the next client, and stops when told to.
 */
static void check_selfstop(void)
{
	int i;

	for (i = 0; i < NMODES; i++) {
		struct running r;
		char reply[16];
		int port;

		if (start(&r, SOCK_STREAM, "0", stop_handler, modes[i], NULL) == NULL) {
			expect(0, mode_names[i], "cannot make a server on port 0");
			continue;
		}
		port = ss_server_port(r.server);
		expect(exchange(port, "", reply, sizeof reply) == 8 && strcmp(reply, "stopping") == 0,
		       mode_names[i], "no \"stopping\" from the handler that called ss_shutdown()");
		if (modes[i] != SS_FORK) {
			expect(returned_within(&r, 3000), mode_names[i],
			       "ss_serve_forever() did not return within 3 s after a handler called ss_shutdown()");
			expect(stop(&r) == 0, mode_names[i], "ss_serve_forever() did not return 0");
			continue;
		}
		expect(exchange(port, "", reply, sizeof reply) == 8 && strcmp(reply, "stopping") == 0,
		       mode_names[i], "no answer to the next client after a handler (a child process) "
		       "called ss_shutdown(): it must stop that child only, never the server (close "
		       "the wake-up pipe in the child)");
		expect(!returned_within(&r, 0), mode_names[i],
		       "ss_serve_forever() returned after a handler in a child called ss_shutdown()");
		waiting_for = "fork mode: ss_serve_forever() did not return after ss_shutdown()";
		expect(stop(&r) == 0, mode_names[i], "ss_serve_forever() did not return 0 after ss_shutdown()");
		waiting_for = NULL;
	}
}

/* ss_read_line() and ss_recv() share the request's buffer. */
static void check_lines(void)
{
	static const char want[] = "[one\n][two\n][three\n]{XYZ}[abcdefg][hijkl\n][last]<eof>";
	int i;

	for (i = 0; i < NMODES; i++) {
		struct running r;
		char reply[128];
		int fd;

		if (start(&r, SOCK_STREAM, "0", lines_handler, modes[i], NULL) == NULL) {
			expect(0, mode_names[i], "cannot make a server on port 0");
			continue;
		}
		fd = connect_port(ss_server_port(r.server), SOCK_STREAM);
		/* The third line comes in two pieces, the second after the
		 * server has answered the first two lines. */
		if (fd != -1 && send_text(fd, "one\ntwo\nthr") == 0 &&
		    recv_text(fd, reply, sizeof reply, 12) == 12 &&
		    send_text(fd, "ee\nraw\nXYZabcdefghijkl\nlast") == 0 && shutdown(fd, SHUT_WR) == 0 &&
		    recv_text(fd, reply + 12, sizeof reply - 12, 0) != -1)
			expect(strcmp(reply, want) == 0, mode_names[i],
			       "the lines read are not [one\\n][two\\n][three\\n]{XYZ}[abcdefg][hijkl\\n][last]<eof>");
		else
			expect(0, mode_names[i], "the exchange of lines failed");
		if (fd != -1)
			close(fd);
		stop(&r);
	}
}

/* UDP: a request per datagram, and the reply goes back to its sender. */
static void check_udp(void)
{
	int i;

	for (i = 0; i < NMODES; i++) {
		struct running r;
		char reply[256], want[256], addr[NET_ADDRSTRLEN] = "?";
		ssize_t n = -1;
		int fd;

		if (start(&r, SOCK_DGRAM, "0", udp_handler, modes[i], NULL) == NULL) {
			expect(0, mode_names[i], "cannot make a UDP server on port 0");
			continue;
		}
		fd = connect_port(ss_server_port(r.server), SOCK_DGRAM);
		if (fd != -1) {
			/* Bytes, not a string: a NUL byte in the middle. */
			static const char datagram[] = "a datagram\0with a NUL";
			size_t want_len;

			(void)net_local_address(fd, addr);
			want_len = (size_t)snprintf(want, sizeof want, "%s|", addr);
			memcpy(want + want_len, datagram, sizeof datagram - 1);
			want_len += sizeof datagram - 1;
			want_len += (size_t)snprintf(want + want_len, sizeof want - want_len, "|0");
			if (net_send_all(fd, datagram, sizeof datagram - 1) == 0)
				n = recv(fd, reply, sizeof reply - 1, 0);
			close(fd);
			expect(n > 0, mode_names[i], "no reply datagram");
			expect(n <= 0 || ((size_t)n == want_len && memcmp(reply, want, want_len) == 0),
			       mode_names[i],
			       "the reply is not \"CLIENT_ADDR|a datagram\\0with a NUL|0\" (ss_recv() must "
			       "return the datagram, all its bytes, then 0)");
		}
		expect(stop(&r) == 0, mode_names[i], "ss_serve_forever() did not return 0");
	}
}

/* ========================================================== main == */

static const struct {
	const char *name;
	void (*run)(void);
} checks[] = {
	{ "address", check_address }, { "shutdown", check_shutdown }, { "close", check_close },
	{ "reuse", check_reuse },     { "errors", check_errors },     { "handler", check_handler },
	{ "selfstop", check_selfstop }, { "lines", check_lines },     { "udp", check_udp },
};
#define NCHECKS (sizeof checks / sizeof checks[0])

/* Run the check NAME; return 0 if it passed, 1 if not. */
static int run_check(const char *name)
{
	size_t i;

	for (i = 0; i < NCHECKS; i++) {
		if (strcmp(checks[i].name, name) != 0)
			continue;
		current_check = name;
		check_failed = 0;
		alarm(WATCHDOG_SECS);
		checks[i].run();
		alarm(0);
		printf("%s - %s\n", check_failed ? "not ok" : "ok", name);
		fflush(stdout);
		return check_failed;
	}
	fprintf(stderr, "api_test: unknown check %s\n", name);
	net_usage(USAGE);
}

int main(int argc, char *argv[])
{
	struct sigaction sa = { .sa_handler = on_alarm };
	int opt, status = 0;

	net_prog = "api_test";
	while ((opt = getopt(argc, argv, "")) != -1)
		net_usage(USAGE);
	main_pid = getpid();
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) == -1 || net_ignore_sigpipe() == -1)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (optind == argc)
		for (size_t i = 0; i < NCHECKS; i++)
			status |= run_check(checks[i].name);
	for (int i = optind; i < argc; i++)
		status |= run_check(argv[i]);
	return status == 0 ? 0 : 1;
}
