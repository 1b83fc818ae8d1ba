/*
 * chat_server: the lecture's chat room, in C.  One thread serves every
 * client at once with poll().
 *
 *   usage: chat_server [HOST] [PORT]
 *
 * HOST defaults to every interface, PORT to 50007; PORT 0 asks the kernel
 * for any free port.  Clients speak lines of text, so nc is a client, and
 * so is chat_client.  The protocol in short (lessons/04-chat/README.md has
 * it in full):
 *   - a newcomer is guestN: it gets "* Welcome, guestN! Commands: ...",
 *     and everyone else gets "* guestN joined";
 *   - a line that does not start with "/" goes to everyone else as
 *     "<NAME> text";
 *   - "/nick NEW", "/who" and "/quit" are commands; errors start with "!".
 * The server's log (connections, nick changes, departures) goes to stdout.
 *
 * The algorithm, one round of the loop in serve():
 *   1. poll() the listening socket, the signal pipe and every client: each
 *      client for reading, and for writing too when output waits for it.
 *   2. Accept every pending connection, name it guestN, queue its welcome
 *      and tell the others.
 *   3. Read what each readable client sent into its input buffer and cut it
 *      into lines.  Act on each line: a message goes into the output queue
 *      of every other client.  Nothing is sent yet.
 *   4. Send each output queue as far as its socket takes it.  The rest
 *      waits for the next round; poll() says when there is room.
 *   5. Close the clients that quit, hung up, failed, or let more than 64 KiB
 *      pile up unread, and tell the others that they left.
 *   6. On SIGINT or SIGTERM, close everything and exit 0.
 *
 * Every socket is non-blocking, so no call ever waits for one client: a
 * client that stops reading costs its own queue, never anyone else's time.
 *
 * What it leaves out: passwords, private messages, rate limits (a client
 * may flood the room, within everyone's 64 KiB queue), and filtering of
 * terminal control bytes in messages.  Log lines are written with plain
 * blocking printf(): a log on a pipe that nobody reads would stall the
 * server.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PORT "50007"
#define MAX_LINE 1024                /* longest line, without its CR and LF */
#define MAX_NICK 16
#define IN_BUFFER_SIZE 2048          /* room for a whole line, CR and LF */
#define OUT_QUEUE_LIMIT (64 * 1024)  /* unsent bytes a client may have */
#define MAX_WHO 8192                 /* longest /who reply, in bytes */
#define ACCEPT_BATCH 256             /* connections accepted per round */
#define LISTEN_PAUSE_MS 1000         /* rest after running out of fds */
#define HOST_TEXT_SIZE 96            /* a numeric IPv6 address%scope fits */
#define ADDR_TEXT_SIZE (HOST_TEXT_SIZE + 24)  /* "[HOST]:PORT" fits */
#define REASON_SIZE 80
#define WELCOME_COMMANDS "Commands: /nick NAME, /who, /quit"
/* The most open files to ask for: macOS refuses a soft limit above its
 * OPEN_MAX, 10240 (a constant it hides from POSIX programs), even when the
 * hard limit is higher or RLIM_INFINITY. */
#define MAX_OPEN_FILES 10240

/* read_client() relies on this: a partial line never fills the buffer. */
_Static_assert(IN_BUFFER_SIZE > MAX_LINE + 2, "the input buffer must hold a whole line");

/* One connected client. */
struct client {
	int fd;
	char name[MAX_NICK + 1];
	char addr[ADDR_TEXT_SIZE];  /* "ADDR:PORT", for the log */
	char leaving[REASON_SIZE];  /* why it leaves this round; "" if it stays */
	/* Input: bytes received but not yet cut into lines. */
	char in[IN_BUFFER_SIZE];
	size_t in_len;
	int discarding;             /* inside a too-long line: drop up to its LF */
	/* Output queue: out[out_start .. out_start + out_len) waits to be sent.
	 * It is allocated when something is queued and freed when it empties. */
	char *out;
	size_t out_start, out_len, out_cap;
};

/* The whole server. */
struct chat {
	int listen_fd;
	int spare_fd;               /* kept free for refusing a connection */
	long long paused_until;     /* monotonic ms; listener ignored until then */
	struct client **clients;    /* in joining order */
	size_t count, cap;
	struct pollfd *pfds;        /* 0: listener, 1: signal pipe, 2...: clients */
	size_t pfds_cap;
	unsigned long guests;       /* the last guest number handed out */
};

static const char *prog = "chat_server";

/* The signal handler writes a byte here to wake up poll(); see below. */
static int signal_pipe[2] = { -1, -1 };
static volatile sig_atomic_t stop_requested;

/* =========================================================================
 * Part 1. Start-up: limits, signals, the listening socket.
 * ========================================================================= */

/*
 * Raise the soft limit on open files to the hard limit, or MAX_OPEN_FILES
 * if that is lower.  Every client is a file descriptor, and the soft limit
 * is often 1024 (256 on macOS): too few for thousands of clients.  Only
 * the hard limit needs privileges to raise.
 * Returns 0, or -1 with errno set.
 */
static int raise_open_file_limit(void)
{
	/* BEGIN SOLUTION */
	//: /* TODO: raise the soft RLIMIT_NOFILE to the hard limit, but to no
	//:  * more than MAX_OPEN_FILES (the hard one may be RLIM_INFINITY).
	//:  * See getrlimit(2) and setrlimit(2). */
	//: errno = ENOSYS;
	//: return -1;
	struct rlimit limit;
	rlim_t want = MAX_OPEN_FILES;

	if (getrlimit(RLIMIT_NOFILE, &limit) == -1)
		return -1;
	if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < want)
		want = limit.rlim_max;
	if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= want)
		return 0;
	limit.rlim_cur = want;
	return setrlimit(RLIMIT_NOFILE, &limit);
	/* END SOLUTION */
}

static void on_stop_signal(int signo)
{
	int saved_errno = errno;
	ssize_t n;

	(void)signo;
	stop_requested = 1;
	/* If the pipe is full, a wake-up is already on its way. */
	n = write(signal_pipe[1], "x", 1);
	(void)n;
	errno = saved_errno;
}

/* Milliseconds on a clock that only goes forward. */
static long long now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec * 1000LL + now.tv_nsec / 1000000;
}

/* Set O_NONBLOCK on FD: calls on it then fail with EAGAIN instead of waiting. */
static int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags == -1)
		return -1;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/*
 * Catch SIGINT and SIGTERM, and ignore SIGPIPE (writing to a client that is
 * gone must be an error we handle, not a signal that kills the server).
 *
 * The handler only sets a flag, and the loop checks it after poll()
 * returns.  But a signal that arrives after the check and before poll()
 * starts to wait would be noticed only at the next event, maybe never.  So
 * the handler also writes a byte into a pipe that poll() watches: "the
 * self-pipe trick".  Both ends are non-blocking: the handler must never
 * wait.  Returns 0, or -1 with errno set.
 */
static int install_signal_handlers(void)
{
	struct sigaction sa;

	if (pipe(signal_pipe) == -1)
		return -1;
	if (set_nonblocking(signal_pipe[0]) == -1 || set_nonblocking(signal_pipe[1]) == -1)
		return -1;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop_signal;
	if (sigaction(SIGINT, &sa, NULL) == -1 || sigaction(SIGTERM, &sa, NULL) == -1)
		return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

/* Format a socket address as "ADDR:PORT", with IPv6 addresses in brackets. */
static void format_address(const struct sockaddr *addr, socklen_t len, char *out, size_t size)
{
	char host[HOST_TEXT_SIZE], port[16];
	int err = getnameinfo(addr, len, host, sizeof host, port, sizeof port,
			      NI_NUMERICHOST | NI_NUMERICSERV);

	if (err != 0)
		snprintf(out, size, "?:?");
	else if (strchr(host, ':') != NULL)
		snprintf(out, size, "[%s]:%s", host, port);
	else
		snprintf(out, size, "%s:%s", host, port);
}

/*
 * Resolve HOST and PORT and return a non-blocking listening socket bound to
 * the first address that works, or -1 with an error already printed.
 */
static int open_listener(const char *host, const char *port)
{
	/* BEGIN SOLUTION */
	//: /* TODO: lesson 01's listener (SO_REUSEADDR, IPv4 or IPv6), made
	//:  * non-blocking with set_nonblocking(); on failure print
	//:  * "chat_server: bind ADDR: reason".  See getaddrinfo(3), bind(2). */
	//: (void)host;
	//: (void)port;
	//: (void)format_address;
	//: fprintf(stderr, "%s: open_listener: not implemented yet\n", prog);
	//: return -1;
	struct addrinfo hints, *list, *ai;
	char where[ADDR_TEXT_SIZE] = "?";
	const char *failed = "socket";
	int fd = -1, saved_errno = 0, err;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	err = getaddrinfo(host, port, &hints, &list);
	if (err != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, host ? host : "*", gai_strerror(err));
		return -1;
	}
	for (ai = list; ai != NULL; ai = ai->ai_next) {
		int on = 1;

		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd == -1) {
			failed = "socket";
			saved_errno = errno;
			continue;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1)
			failed = "setsockopt SO_REUSEADDR";
		else if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
			failed = "bind";
		else if (listen(fd, SOMAXCONN) == -1)
			failed = "listen";
		else if (set_nonblocking(fd) == -1)
			failed = "fcntl O_NONBLOCK";
		else
			break;
		saved_errno = errno;
		format_address(ai->ai_addr, ai->ai_addrlen, where, sizeof where);
		close(fd);
		fd = -1;
	}
	freeaddrinfo(list);
	if (fd == -1)
		fprintf(stderr, "%s: %s %s: %s\n", prog, failed, where, strerror(saved_errno));
	return fd;
	/* END SOLUTION */
}

/* =========================================================================
 * Part 2. Output: a bounded queue per client, sent as the socket allows.
 * ========================================================================= */

/* Print one line of the server's log on stdout, at once. */
static void log_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/*
 * Mark client C to be closed at the end of this round, for the reason
 * given (printf-style, for the log).  The first reason stays.
 */
static void client_leave(struct client *c, const char *fmt, ...)
{
	va_list ap;

	if (c->leaving[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(c->leaving, sizeof c->leaving, fmt, ap);
	va_end(ap);
	if (c->leaving[0] == '\0')
		snprintf(c->leaving, sizeof c->leaving, "?");
}

/*
 * Append LEN bytes of DATA to C's output queue, growing the buffer as
 * needed.  The queue never holds more than OUT_QUEUE_LIMIT bytes: past that
 * the client is too slow, and the call fails with ENOBUFS.  Returns 0, or
 * -1 with errno set.
 */
static int queue_append(struct client *c, const char *data, size_t len)
{
	/* BEGIN SOLUTION */
	//: /* TODO: append the LEN bytes to C's queue, growing its buffer as
	//:  * needed; ENOBUFS if more than OUT_QUEUE_LIMIT bytes would wait.
	//:  * See realloc(3) and memmove(3). */
	//: (void)c;
	//: (void)data;
	//: (void)len;
	//: errno = ENOSYS;
	//: return -1;
	if (c->out_len + len > OUT_QUEUE_LIMIT) {
		errno = ENOBUFS;
		return -1;
	}
	if (c->out_start + c->out_len + len > c->out_cap) {
		if (c->out_start > 0) {
			memmove(c->out, c->out + c->out_start, c->out_len);
			c->out_start = 0;
		}
		if (c->out_len + len > c->out_cap) {
			size_t cap = c->out_cap > 0 ? c->out_cap : 1024;
			char *bigger;

			while (cap < c->out_len + len)
				cap *= 2;
			if (cap > OUT_QUEUE_LIMIT)
				cap = OUT_QUEUE_LIMIT;
			bigger = realloc(c->out, cap);
			if (bigger == NULL)
				return -1;
			c->out = bigger;
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_start + c->out_len, data, len);
	c->out_len += len;
	return 0;
	/* END SOLUTION */
}

/*
 * Queue LEN bytes of MSG for client C, unless C is leaving.  A client whose
 * queue is full is marked to leave: it has stopped reading, and waiting for
 * it would hold up everyone.
 */
static void send_to(struct client *c, const char *msg, size_t len)
{
	if (c->leaving[0] != '\0')
		return;
	if (queue_append(c, msg, len) == -1)
		client_leave(c, "%s", errno == ENOBUFS ? "too slow: 64 KiB unread" : strerror(errno));
}

/* Queue MSG for every client except EXCEPT (which may be NULL). */
static void broadcast(struct chat *chat, const struct client *except, const char *msg, size_t len)
{
	for (size_t i = 0; i < chat->count; i++)
		if (chat->clients[i] != except)
			send_to(chat->clients[i], msg, len);
}

/* Queue a printf-style message for client C alone. */
static void reply(struct client *c, const char *fmt, ...)
{
	char msg[MAX_LINE + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n > 0)
		send_to(c, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

/* Queue a printf-style message for every client except EXCEPT (may be NULL). */
static void notify(struct chat *chat, const struct client *except, const char *fmt, ...)
{
	char msg[MAX_LINE + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n > 0)
		broadcast(chat, except, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

/*
 * Send as much of C's output queue as its socket takes now, without
 * waiting.  What is left stays queued for the next round.  An error marks
 * the client to leave.
 */
static void flush_client(struct client *c)
{
	/* BEGIN SOLUTION */
	//: /* TODO: send(2) the queue until it is empty or the socket is full
	//:  * (EAGAIN); another error makes C leave.  Free an emptied buffer. */
	//: client_leave(c, "flush_client: not implemented yet");
	while (c->out_len > 0) {
		ssize_t n = send(c->fd, c->out + c->out_start, c->out_len, 0);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				client_leave(c, "send: %s", strerror(errno));
			return;
		}
		c->out_start += (size_t)n;
		c->out_len -= (size_t)n;
	}
	/* An idle client holds no output buffer. */
	free(c->out);
	c->out = NULL;
	c->out_start = 0;
	c->out_cap = 0;
	/* END SOLUTION */
}

/* =========================================================================
 * Part 3. Clients: arriving, naming, leaving.
 * ========================================================================= */

/* True if a client other than SELF is called NAME. */
static int nick_taken(const struct chat *chat, const char *name, const struct client *self)
{
	for (size_t i = 0; i < chat->count; i++)
		if (chat->clients[i] != self && strcmp(chat->clients[i]->name, name) == 0)
			return 1;
	return 0;
}

/* True if the LEN bytes of NICK are 1 to 16 letters, digits, '_' or '-'. */
static int nick_is_valid(const char *nick, size_t len)
{
	/* BEGIN SOLUTION */
	//: /* TODO: the rule above, byte by byte, with ranges ('a' to 'z', ...):
	//:  * isalnum(3) depends on the locale. */
	//: (void)nick;
	//: (void)len;
	//: return 0;
	if (len < 1 || len > MAX_NICK)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char ch = nick[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
	/* END SOLUTION */
}

/*
 * Welcome a new connection FD from ADDR: give it the next free guestN name,
 * queue its welcome, and tell everyone else.  Returns 0, or -1 with errno
 * set (the caller closes FD).
 */
static int add_client(struct chat *chat, int fd, const struct sockaddr *addr, socklen_t len)
{
	struct client *c;
	int on = 1;

	/* Nagle's algorithm holds a small write back while an earlier one is
	 * unacknowledged, which can cost a reader that acknowledges late
	 * 40 ms a line.  We already send once per client per round, so turn
	 * it off, as interactive servers do.  Failing is harmless. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == -1)
		fprintf(stderr, "%s: setsockopt TCP_NODELAY: %s\n", prog, strerror(errno));

	if (chat->count == chat->cap) {
		size_t cap = chat->cap > 0 ? 2 * chat->cap : 64;
		struct client **bigger = realloc(chat->clients, cap * sizeof *bigger);

		if (bigger == NULL)
			return -1;
		chat->clients = bigger;
		chat->cap = cap;
	}
	/* Not calloc(): the buffers are touched only when used, so an idle
	 * client costs the memory of a few fields. */
	c = malloc(sizeof *c);
	if (c == NULL)
		return -1;
	c->fd = fd;
	c->leaving[0] = '\0';
	c->in_len = 0;
	c->discarding = 0;
	c->out = NULL;
	c->out_start = c->out_len = c->out_cap = 0;
	format_address(addr, len, c->addr, sizeof c->addr);
	/* Skip numbers whose name someone took with /nick. */
	do
		snprintf(c->name, sizeof c->name, "guest%lu", ++chat->guests);
	while (nick_taken(chat, c->name, NULL));
	chat->clients[chat->count++] = c;

	log_line("Connected by %s as %s", c->addr, c->name);
	reply(c, "* Welcome, %s! %s\n", c->name, WELCOME_COMMANDS);
	notify(chat, c, "* %s joined\n", c->name);
	return 0;
}

/*
 * Out of file descriptors: accept() failed with EMFILE (or ENFILE).  The
 * connection stays pending, so poll() would report the listener ready again
 * at once, and the loop would spin.  Instead, close the spare descriptor
 * kept for this moment, accept the connection with it, close it (the client
 * sees its connection closed), and take the spare back.  If even that fails,
 * ignore the listener for LISTEN_PAUSE_MS.
 * Returns 1 if a connection was refused, 0 if none was pending, -1 if the
 * listener is paused.
 */
static int refuse_connection(struct chat *chat)
{
	int fd = -1, accept_errno = EMFILE;

	if (chat->spare_fd != -1) {
		close(chat->spare_fd);
		fd = accept(chat->listen_fd, NULL, NULL);
		accept_errno = errno;
		if (fd != -1)
			close(fd);
		chat->spare_fd = open("/dev/null", O_RDONLY);
		if (fd != -1)
			fprintf(stderr, "%s: out of file descriptors: refused a connection\n", prog);
		if (chat->spare_fd != -1 && fd != -1)
			return 1;
		if (chat->spare_fd != -1 && (accept_errno == EAGAIN || accept_errno == EWOULDBLOCK))
			return 0;
	}
	fprintf(stderr, "%s: accept: %s: pausing for %d ms\n", prog, strerror(accept_errno), LISTEN_PAUSE_MS);
	chat->paused_until = now_ms() + LISTEN_PAUSE_MS;
	return -1;
}

/*
 * Accept the pending connections, up to ACCEPT_BATCH a round (so that a
 * crowd arriving cannot starve the clients already here), and add each one
 * with add_client().
 */
static void accept_clients(struct chat *chat)
{
	/* BEGIN SOLUTION */
	//: /* TODO: accept(2) until none is pending (EAGAIN), at most
	//:  * ACCEPT_BATCH; make each non-blocking and add_client() it.  Out of
	//:  * descriptors (EMFILE, ENFILE): refuse_connection(). */
	//: (void)chat;
	//: (void)add_client;
	//: (void)refuse_connection;
	//: fprintf(stderr, "%s: accept_clients: not implemented yet\n", prog);
	//: exit(1);
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage addr;
		socklen_t len = sizeof addr;
		int fd = accept(chat->listen_fd, (struct sockaddr *)&addr, &len);

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EMFILE || errno == ENFILE) {
				if (refuse_connection(chat) == 1)
					continue;
				return;
			}
			fprintf(stderr, "%s: accept: %s\n", prog, strerror(errno));
			return;
		}
		if (set_nonblocking(fd) == -1 || add_client(chat, fd, (struct sockaddr *)&addr, len) == -1) {
			fprintf(stderr, "%s: new client: %s\n", prog, strerror(errno));
			close(fd);
		}
	}
	/* END SOLUTION */
}

/*
 * Close and forget every client marked to leave, and tell the others.
 * Order is kept: /who lists in joining order.
 */
static void drop_leaving_clients(struct chat *chat)
{
	char name[MAX_NICK + 1];
	size_t i = 0;

	while (i < chat->count) {
		struct client *c = chat->clients[i];

		if (c->leaving[0] == '\0') {
			i++;
			continue;
		}
		/* One last try at what is queued (the reply to a /who just
		 * before /quit, say), never waiting: the client is gone or
		 * going, so the result does not matter. */
		if (c->out_len > 0) {
			ssize_t n = send(c->fd, c->out + c->out_start, c->out_len, 0);

			(void)n;
		}
		close(c->fd);
		log_line("%s left (%s)", c->name, c->leaving);
		memcpy(name, c->name, sizeof name);
		free(c->out);
		free(c);
		chat->count--;
		memmove(&chat->clients[i], &chat->clients[i + 1], (chat->count - i) * sizeof *chat->clients);
		notify(chat, NULL, "* %s left\n", name);
		/* Telling the others may have pushed a slow client, maybe one
		 * already passed, over its limit: look again from the start. */
		i = 0;
	}
}

/* =========================================================================
 * Part 4. Input: lines and commands.
 * ========================================================================= */

/* True if the LEN bytes of WORD are the string NAME. */
static int word_is(const char *word, size_t len, const char *name)
{
	return len == strlen(name) && memcmp(word, name, len) == 0;
}

/* /nick NEW: check NEW (ARG, LEN bytes) and rename client C. */
static void change_nick(struct chat *chat, struct client *c, const char *arg, size_t len)
{
	char nick[MAX_NICK + 1];

	if (!nick_is_valid(arg, len)) {
		reply(c, "! invalid nick: use 1-16 letters, digits, _ or -\n");
		return;
	}
	memcpy(nick, arg, len);
	nick[len] = '\0';
	if (nick_taken(chat, nick, c)) {
		reply(c, "! nick %s is taken\n", nick);
		return;
	}
	log_line("%s is now %s", c->name, nick);
	notify(chat, NULL, "* %s is now %s\n", c->name, nick);
	memcpy(c->name, nick, sizeof nick);
}

/*
 * /who: send C the names of everyone here in joining order.  With more
 * names than fit in MAX_WHO bytes, the list ends with "... (N more)".
 */
static void send_who(struct chat *chat, struct client *c)
{
	static const char head[] = "* online: ";
	char msg[MAX_WHO + 64];
	size_t len = sizeof head - 1, shown = 0, here = 0;

	memcpy(msg, head, len);
	for (size_t i = 0; i < chat->count; i++) {
		const struct client *other = chat->clients[i];
		size_t name_len = strlen(other->name);

		if (other->leaving[0] != '\0')
			continue;
		here++;
		if (len + 2 + name_len > MAX_WHO)
			continue;
		if (shown++ > 0) {
			memcpy(msg + len, ", ", 2);
			len += 2;
		}
		memcpy(msg + len, other->name, name_len);
		len += name_len;
	}
	if (shown < here)
		len += (size_t)snprintf(msg + len, sizeof msg - len, ", ... (%zu more)", here - shown);
	msg[len++] = '\n';
	send_to(c, msg, len);
}

/*
 * Act on one line from client C: LINE is LEN bytes, its CR and LF removed,
 * and may hold any byte (even '\0'), so it is not a C string.
 */
static void handle_line(struct chat *chat, struct client *c, const char *line, size_t len)
{
	/* BEGIN SOLUTION */
	//: /* TODO: the protocol of lessons/04-chat/README.md: text goes to the
	//:  * others as "<NAME> text"; a command is the line up to its first space.
	//:  * LINE may hold '\0': copy with memcpy(3), never use it as a format. */
	//: (void)chat;
	//: (void)line;
	//: (void)len;
	//: (void)broadcast;
	//: (void)change_nick;
	//: (void)send_who;
	//: (void)word_is;
	//: client_leave(c, "handle_line: not implemented yet");
	char msg[MAX_NICK + MAX_LINE + 8];
	size_t word_len = 0, n;

	if (len == 0)
		return;
	if (line[0] != '/') {
		n = (size_t)snprintf(msg, sizeof msg, "<%s> ", c->name);
		memcpy(msg + n, line, len);
		n += len;
		msg[n++] = '\n';
		broadcast(chat, c, msg, n);
		return;
	}
	while (word_len < len && line[word_len] != ' ')
		word_len++;
	if (word_is(line, word_len, "/nick")) {
		/* No argument at all is an invalid (empty) nick. */
		if (word_len < len)
			change_nick(chat, c, line + word_len + 1, len - word_len - 1);
		else
			change_nick(chat, c, "", 0);
	} else if (word_is(line, word_len, "/who")) {
		send_who(chat, c);
	} else if (word_is(line, word_len, "/quit")) {
		client_leave(c, "quit");
	} else {
		reply(c, "! unknown command: %.*s\n", (int)word_len, line);
	}
	/* END SOLUTION */
}

/*
 * Read what client C sent and act on each complete line.  A line may come
 * in many pieces and one recv() may hold many lines, so bytes wait in C's
 * input buffer until their LF arrives.  A line longer than MAX_LINE gets
 * "! line too long", and the rest of it, up to its LF, is dropped.
 */
static void read_client(struct chat *chat, struct client *c)
{
	/* BEGIN SOLUTION */
	//: /* TODO: recv(2) what C sent into its input buffer and handle each
	//:  * complete line (its CR dropped); a line over MAX_LINE gets one
	//:  * "! line too long" and is dropped up to its LF.  See memchr(3). */
	//: (void)chat;
	//: (void)handle_line;
	//: (void)reply;
	//: client_leave(c, "read_client: not implemented yet");
	char *start = c->in, *lf;
	size_t rest;
	ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);

	if (n == 0) {
		client_leave(c, "end of file");
		return;
	}
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			client_leave(c, "recv: %s", strerror(errno));
		return;
	}
	c->in_len += (size_t)n;

	while (c->leaving[0] == '\0' && (lf = memchr(start, '\n', c->in_len - (size_t)(start - c->in))) != NULL) {
		size_t len = (size_t)(lf - start);

		if (len > 0 && start[len - 1] == '\r')
			len--;
		if (c->discarding)
			c->discarding = 0;  /* the end of a line already refused */
		else if (len > MAX_LINE)
			reply(c, "! line too long\n");
		else
			handle_line(chat, c, start, len);
		start = lf + 1;
	}
	rest = c->in_len - (size_t)(start - c->in);
	/* No LF yet.  Past MAX_LINE + 1 bytes (the line and its CR), this line
	 * can only be too long: say so now, and drop it up to its LF. */
	if (c->discarding) {
		rest = 0;
	} else if (rest > MAX_LINE + 1) {
		reply(c, "! line too long\n");
		c->discarding = 1;
		rest = 0;
	}
	memmove(c->in, start, rest);
	c->in_len = rest;
	/* END SOLUTION */
}

/* =========================================================================
 * Part 5. The loop.
 * ========================================================================= */

/*
 * Fill chat->pfds for this round's poll(): the listener (unless paused),
 * the signal pipe, then each client.  Returns poll()'s timeout: -1 (wait
 * for an event), or the milliseconds until the listener's pause ends.
 * Returns -2 with errno set if memory ran out.
 */
static int prepare_poll(struct chat *chat)
{
	/* BEGIN SOLUTION */
	//: /* TODO: fill chat->pfds as said above; a client asks for POLLOUT
	//:  * only while its queue is not empty.  See poll(2). */
	//: (void)chat;
	//: fprintf(stderr, "%s: prepare_poll: not implemented yet\n", prog);
	//: exit(1);
	int timeout = -1;

	if (chat->pfds_cap < chat->count + 2) {
		size_t cap = chat->cap + 2;
		struct pollfd *bigger = realloc(chat->pfds, cap * sizeof *bigger);

		if (bigger == NULL)
			return -2;
		chat->pfds = bigger;
		chat->pfds_cap = cap;
	}
	chat->pfds[0].fd = chat->listen_fd;
	chat->pfds[0].events = POLLIN;
	if (chat->paused_until != 0) {
		long long left = chat->paused_until - now_ms();

		if (left > 0) {
			chat->pfds[0].fd = -1;
			timeout = (int)left;
		} else {
			chat->paused_until = 0;
		}
	}
	chat->pfds[1].fd = signal_pipe[0];
	chat->pfds[1].events = POLLIN;
	for (size_t i = 0; i < chat->count; i++) {
		chat->pfds[2 + i].fd = chat->clients[i]->fd;
		chat->pfds[2 + i].events = POLLIN | (chat->clients[i]->out_len > 0 ? POLLOUT : 0);
	}
	return timeout;
	/* END SOLUTION */
}

/*
 * Serve until SIGINT or SIGTERM, each round as the header comment says.
 * Returns 0 when asked to stop, -1 on an error that stops the server.
 */
static int serve(struct chat *chat)
{
	/* BEGIN SOLUTION */
	//: /* TODO: the round of the header comment, until stop_requested:
	//:  * prepare_poll(), poll(2), then accept, read, flush and drop. */
	//: (void)chat;
	//: (void)prepare_poll;
	//: (void)accept_clients;
	//: (void)read_client;
	//: (void)flush_client;
	//: (void)drop_leaving_clients;
	//: fprintf(stderr, "%s: serve: not implemented yet\n", prog);
	//: errno = ENOSYS;
	//: return -1;
	/* $begin serve_loop */
	while (!stop_requested) {
		int timeout = prepare_poll(chat);
		size_t polled = chat->count;

		if (timeout == -2) {
			fprintf(stderr, "%s: poll table: %s\n", prog, strerror(errno));
			return -1;
		}
		if (poll(chat->pfds, (nfds_t)(polled + 2), timeout) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
			return -1;
		}
		if (chat->pfds[1].revents & POLLIN) {
			char drain[64];

			while (read(signal_pipe[0], drain, sizeof drain) > 0)
				;
		}
		if (chat->pfds[0].revents & POLLIN)
			accept_clients(chat);
		/* Only the first POLLED clients have an entry in pfds: those
		 * accepted just now wait for the next round. */
		for (size_t i = 0; i < polled; i++)
			if (chat->pfds[2 + i].revents & (POLLIN | POLLHUP | POLLERR))
				read_client(chat, chat->clients[i]);
		for (size_t i = 0; i < chat->count; i++)
			if (chat->clients[i]->out_len > 0 && chat->clients[i]->leaving[0] == '\0')
				flush_client(chat->clients[i]);
		drop_leaving_clients(chat);
	}
	/* $end serve_loop */
	return 0;
	/* END SOLUTION */
}

/* Report a usage error the Unix way: a manual-style line, exit status 2. */
static void usage(void)
{
	/* BEGIN SOLUTION */
	//: /* TODO: print "usage: chat_server [HOST] [PORT]" on stderr and exit(3)
	//:  * with status 2, the convention for a usage error. */
	//: exit(1);
	fprintf(stderr, "usage: %s [HOST] [PORT]\n", prog);
	exit(2);
	/* END SOLUTION */
}

int main(int argc, char *argv[])
{
	const char *host = NULL, *port = DEFAULT_PORT;
	struct chat chat = { .listen_fd = -1, .spare_fd = -1 };
	struct sockaddr_storage addr;
	socklen_t len = sizeof addr;
	char where[ADDR_TEXT_SIZE];
	int status;

	if (argc > 3 || (argc > 1 && argv[1][0] == '-') || (argc > 2 && argv[2][0] == '-'))
		usage();
	if (argc > 1 && argv[1][0] != '\0')
		host = argv[1];
	if (argc > 2)
		port = argv[2];

	if (raise_open_file_limit() == -1)
		fprintf(stderr, "%s: setrlimit RLIMIT_NOFILE: %s (serving fewer clients)\n", prog, strerror(errno));
	if (install_signal_handlers() == -1) {
		fprintf(stderr, "%s: signal handlers: %s\n", prog, strerror(errno));
		return 1;
	}
	chat.listen_fd = open_listener(host, port);
	if (chat.listen_fd == -1)
		return 1;
	if (getsockname(chat.listen_fd, (struct sockaddr *)&addr, &len) == -1) {
		fprintf(stderr, "%s: getsockname: %s\n", prog, strerror(errno));
		return 1;
	}
	format_address((struct sockaddr *)&addr, len, where, sizeof where);
	log_line("Listening on %s", where);
	/* The spare descriptor for refuse_connection(). */
	chat.spare_fd = open("/dev/null", O_RDONLY);

	status = serve(&chat);

	for (size_t i = 0; i < chat.count; i++) {
		close(chat.clients[i]->fd);
		free(chat.clients[i]->out);
		free(chat.clients[i]);
	}
	free(chat.clients);
	free(chat.pfds);
	close(chat.listen_fd);
	if (chat.spare_fd != -1)
		close(chat.spare_fd);
	return status == 0 ? 0 : 1;
}
