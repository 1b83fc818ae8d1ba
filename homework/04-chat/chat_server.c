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
 *   1. poll() the listening socket and every client: each client for
 *      reading, and for writing too when output waits for it.
 *   2. Accept every pending connection, name it guestN, queue its welcome
 *      and tell the others.
 *   3. Read what each readable client sent into its input buffer and cut it
 *      into lines.  Act on each line: a message goes into the output queue
 *      of every other client.  Nothing is sent yet, unless a queue fills.
 *   4. Send each output queue as far as its socket takes it.  The rest
 *      waits for the next round; poll() says when there is room.
 *   5. Close the clients that quit, hung up, failed, or let more than 64 KiB
 *      pile up unread (on top of what their kernel buffers hold), and tell
 *      the others that they left.
 *   6. On SIGINT or SIGTERM (poll() fails with EINTR, net_stop is set), exit
 *      0; exit closes every socket.
 *
 * Every socket is non-blocking, so no call ever waits for one client: a
 * client that stops reading costs its own queue, never anyone else's time.
 *
 * Messages reach the others with their control bytes (but tab) shown as
 * '?', so that "hi\r<admin> ..." cannot pose as another line.  The log
 * never waits: lines that stdout cannot take at once are dropped, and
 * counted.
 *
 * What it leaves out: passwords, private messages, rate limits (a client
 * may flood the room, within everyone's 64 KiB queue), and a self-pipe
 * (lesson 03's): a stop signal that comes after the loop checks net_stop
 * and before poll() starts to wait is seen at the next event, or after
 * POLL_MS.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

#define SYNOPSIS "[HOST] [PORT]"
#define MAX_LINE 1024                /* longest line, without its CR and LF */
#define MAX_NICK 16
#define OUT_QUEUE_LIMIT (64 * 1024)  /* unsent bytes a client may have */
#define MAX_WHO 8192                 /* longest /who reply, in bytes */
#define ACCEPT_BATCH 256             /* connections accepted per round */
/* The longest poll() waits.  A stop signal that lands after the loop checks
 * net_stop and before poll() starts to wait does not interrupt it: it is
 * seen at the next event, or after POLL_MS.  Also how long the listener
 * rests while the spare is gone. */
#define POLL_MS 1000
/* The most open files to ask for, so the most clients: macOS refuses a
 * soft limit above its OPEN_MAX, 10240 (a constant it hides from POSIX
 * programs), even when the hard limit is higher or RLIM_INFINITY. */
#define MAX_OPEN_FILES 10240

#define NICK_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"

/* One connected client. */
struct client {
	int fd;
	char name[MAX_NICK + 1];
	char leaving[80];           /* why it leaves this round; "" if it stays */
	int discarding;             /* inside a too-long line: drop up to its LF */
	/* Input: in_len bytes received, not yet cut into lines.  Output queue:
	 * out_len bytes waiting to be sent; out, of OUT_QUEUE_LIMIT bytes, is
	 * allocated only while something waits. */
	char in[2 * MAX_LINE];
	char *out;
	size_t in_len, out_len;
};

/* The whole server: one room, so one variable.  Descriptors stay below
 * MAX_OPEN_FILES (see raise_open_file_limit()), so clients are fewer. */
static struct {
	int listen_fd, spare_fd;    /* spare: kept free for refusing a connection */
	struct client *clients[MAX_OPEN_FILES];  /* in joining order */
	size_t count;
	struct pollfd pfds[MAX_OPEN_FILES + 1];  /* 0: the listener, 1...: clients */
	unsigned long guests;       /* the last guest number handed out */
} chat;

/* =========================================================================
 * Part 1. Start-up and small tools.
 * ========================================================================= */

/*
 * Set the soft limit on open files to the hard limit, or MAX_OPEN_FILES if
 * that is lower.  Every client is a file descriptor, and the soft limit is
 * often 1024 (256 on macOS): too few for thousands of clients.  Only the
 * hard limit needs privileges to raise.  Returns 0, or -1 with errno set.
 */
static int raise_open_file_limit(void)
{
	/* TODO: the soft RLIMIT_NOFILE as said above (the hard one may be
	 * RLIM_INFINITY).  See getrlimit(2). */
	errno = ENOSYS;
	return -1;
}

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

/*
 * Log a printf-style line on stdout, never waiting: a log on a pipe that
 * nobody reads must not stop the server.  poll() with no timeout says
 * whether stdout takes data now; if so, one write() of less than PIPE_BUF
 * bytes (512 at least) cannot block.  Else the line is dropped, and the
 * count of dropped lines goes out before the next line that can.  (Not
 * O_NONBLOCK: stdout's open file is shared with the shell that started us.)
 */
static void log_line(const char *fmt, ...)
{
	static unsigned long dropped;
	struct pollfd out = { .fd = STDOUT_FILENO, .events = POLLOUT };
	char line[256];  /* our lines are shorter */
	int n = dropped > 0 ? snprintf(line, sizeof line, "(%lu log lines dropped)\n", dropped) : 0;
	va_list ap;

	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < (int)sizeof line && poll(&out, 1, 0) == 1 && out.revents == POLLOUT
	    && write(STDOUT_FILENO, line, (size_t)n) == n)
		dropped = 0;
	else
		dropped++;
}

/* =========================================================================
 * Part 2. Output: a bounded queue per client, sent as the socket allows.
 * ========================================================================= */

/*
 * Mark client C to be closed at the end of this round, saying WHY in the
 * log.  The first reason stays.
 */
static void client_leave(struct client *c, const char *why)
{
	if (c->leaving[0] == '\0')
		snprintf(c->leaving, sizeof c->leaving, "%s", why);
}

/*
 * Append LEN bytes of DATA to C's output queue.  The queue never holds
 * more than OUT_QUEUE_LIMIT bytes: past that the client is too slow, and
 * the call fails with ENOBUFS.  Returns 0, or -1 with errno set.
 */
static int queue_append(struct client *c, const char *data, size_t len)
{
	/* TODO: copy the LEN bytes after what waits in C->out (malloc(3) it
	 * first), or fail with ENOBUFS as said above. */
	(void)c;
	(void)data;
	(void)len;
	errno = ENOSYS;
	return -1;
}

/*
 * Send as much of C's output queue as its socket takes now, without
 * waiting: one send(), as a non-blocking one takes all that fits.  What is
 * left stays queued for the next round.  An error marks C to leave.
 */
static void flush_client(struct client *c)
{
	/* TODO: send(2) what waits, keep what it did not take (memmove(3));
	 * an error other than EAGAIN makes C leave.  Free an emptied queue. */
	(void)c;
}

/*
 * Queue LEN bytes of MSG for client C, unless C is leaving.  One round can
 * queue far more than its input (a read of 2 KiB of one-byte lines is a
 * thousand messages), so a queue that fills is first sent as far as the
 * socket takes it.  A client whose queue is still full is marked to leave:
 * 64 KiB wait, and its kernel buffers too; waiting for it would hold up
 * everyone.
 */
static void send_to(struct client *c, const char *msg, size_t len)
{
	if (c->out_len + len > OUT_QUEUE_LIMIT)
		flush_client(c);
	if (c->leaving[0] == '\0' && queue_append(c, msg, len) == -1)
		client_leave(c, errno == ENOBUFS ? "too slow: 64 KiB unread" : strerror(errno));
}

/* Queue a printf-style message for client TO, or for everyone if TO is NULL. */
static void tell(struct client *to, const char *fmt, ...)
{
	char msg[MAX_LINE + 64];  /* our messages: a nick or a line, and a few words */
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	for (size_t i = 0; n > 0 && n < (int)sizeof msg && i < chat.count; i++)
		if (to == NULL || chat.clients[i] == to)
			send_to(chat.clients[i], msg, (size_t)n);
}

/* =========================================================================
 * Part 3. Clients: arriving, naming, leaving.
 * ========================================================================= */

/* True if a client other than SELF is called NAME. */
static int nick_taken(const char *name, const struct client *self)
{
	for (size_t i = 0; i < chat.count; i++)
		if (chat.clients[i] != self && strcmp(chat.clients[i]->name, name) == 0)
			return 1;
	return 0;
}

/* True if the LEN bytes of NICK are 1 to 16 letters, digits, '_' or '-'. */
static int nick_is_valid(const char *nick, size_t len)
{
	/* TODO: the rule above, byte by byte, each one of NICK_CHARS
	 * (isalnum(3) depends on the locale).  See strchr(3). */
	(void)nick;
	(void)len;
	return 0;
}

/*
 * Welcome a new connection FD from ADDR: make it non-blocking, give it the
 * next free guestN name, tell everyone else, and queue its welcome.
 * Returns 0, or -1 with errno set (the caller closes FD).
 */
static int add_client(int fd, const struct sockaddr *addr, socklen_t len)
{
	char where[NET_ADDRSTRLEN];
	struct client *c;
	int on = 1;

	/* Nagle's algorithm holds a small write back while an earlier one is
	 * unacknowledged, which can cost a reader that acknowledges late
	 * 40 ms a line.  We already send once per client per round, so turn
	 * it off, as interactive servers do.  Failing is harmless. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	if (set_nonblocking(fd) == -1 || (c = calloc(1, sizeof *c)) == NULL)
		return -1;
	c->fd = fd;
	/* Skip numbers whose name someone took with /nick. */
	do
		snprintf(c->name, sizeof c->name, "guest%lu", ++chat.guests);
	while (nick_taken(c->name, NULL));
	net_format_address(addr, len, where);
	log_line("Connected by %s as %s\n", where, c->name);
	tell(NULL, "* %s joined\n", c->name);  /* before C is one of everyone */
	chat.clients[chat.count++] = c;
	tell(c, "* Welcome, %s! Commands: /nick NAME, /who, /quit\n", c->name);
	return 0;
}

/*
 * Out of file descriptors: accept() failed with EMFILE (or ENFILE).  The
 * connection stays pending, so poll() would report the listener ready again
 * at once, and the loop would spin.  Instead, close the spare descriptor
 * kept for this moment, accept the connection with it, close it (the client
 * sees its connection closed), and take the spare back.  While the spare
 * is gone, serve() leaves the listener out.
 * Returns 1 if a connection was refused, 0 if not.
 */
static int refuse_connection(void)
{
	int fd;

	if (chat.spare_fd == -1)
		return 0;
	close(chat.spare_fd);
	fd = accept(chat.listen_fd, NULL, NULL);
	if (fd != -1) {
		close(fd);
		fprintf(stderr, "%s: out of file descriptors: refused a connection\n", net_prog);
	}
	chat.spare_fd = open("/dev/null", O_RDONLY);
	return fd != -1;
}

/*
 * Accept the pending connections, up to ACCEPT_BATCH a round (so that a
 * crowd arriving cannot starve the clients already here), and add each one
 * with add_client().
 */
static void accept_clients(void)
{
	/* TODO: accept(2) until EAGAIN, at most ACCEPT_BATCH, and add_client()
	 * each.  Out of descriptors (EMFILE, ENFILE): refuse_connection(). */
	(void)add_client;
	(void)refuse_connection;
}

/*
 * Close and forget every client marked to leave, and tell the others.
 * Order is kept: /who lists in joining order.
 */
static void drop_leaving_clients(void)
{
	size_t i = 0;

	while (i < chat.count) {
		struct client *c = chat.clients[i++];

		if (c->leaving[0] == '\0')
			continue;
		close(c->fd);
		log_line("%s left (%s)\n", c->name, c->leaving);
		chat.count--;
		memmove(&chat.clients[i - 1], &chat.clients[i], (chat.count - i + 1) * sizeof c);
		tell(NULL, "* %s left\n", c->name);
		free(c->out);
		free(c);
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
static void change_nick(struct client *c, const char *arg, size_t len)
{
	char nick[MAX_NICK + 1];

	snprintf(nick, sizeof nick, "%.*s", (int)len, arg);  /* if valid, all of it */
	if (!nick_is_valid(arg, len)) {
		tell(c, "! invalid nick: use 1-16 letters, digits, _ or -\n");
	} else if (nick_taken(nick, c)) {
		tell(c, "! nick %s is taken\n", nick);
	} else {
		log_line("%s is now %s\n", c->name, nick);
		tell(NULL, "* %s is now %s\n", c->name, nick);
		memcpy(c->name, nick, sizeof nick);
	}
}

/*
 * /who: send C the names of everyone here in joining order.  With more
 * names than fit in MAX_WHO bytes, the list ends with "... (N more)".
 */
static void send_who(struct client *c)
{
	char msg[MAX_WHO + 64] = "* online: ";
	size_t len = strlen(msg), shown = 0, left_out = 0;

	for (size_t i = 0; i < chat.count; i++) {
		const struct client *other = chat.clients[i];

		if (other->leaving[0] != '\0')
			continue;
		if (len + 2 + strlen(other->name) > MAX_WHO)
			left_out++;
		else
			len += (size_t)sprintf(msg + len, "%s%s", shown++ > 0 ? ", " : "", other->name);
	}
	if (left_out > 0)
		len += (size_t)sprintf(msg + len, ", ... (%zu more)", left_out);
	msg[len++] = '\n';
	send_to(c, msg, len);
}

/*
 * Act on one line from client C: LINE is LEN bytes (at least one), its CR
 * and LF removed, and may hold any byte (even '\0'): not a C string.
 */
static void handle_line(struct client *c, const char *line, size_t len)
{
	/* TODO: the protocol of the lesson page: text goes to the others as
	 * "<NAME> text", its control bytes but tab as '?'; a command is the
	 * line up to its first space.  LINE may hold '\0': copy it byte by
	 * byte or with memcpy(3), never use it as a format. */
	(void)change_nick;
	(void)send_who;
	(void)word_is;
	(void)c;
	(void)line;
	(void)len;
}

/*
 * Read what client C sent and act on each complete line.  A line may come
 * in many pieces and one recv() may hold many lines, so bytes wait in C's
 * input buffer until their LF arrives.  A line longer than MAX_LINE gets
 * "! line too long", and the rest of it, up to its LF, is dropped.
 */
static void read_client(struct client *c)
{
	/* TODO: recv(2) into C's input buffer and handle_line() each complete
	 * line (its CR dropped); a line over MAX_LINE gets one "! line too
	 * long" and is dropped up to its LF.  See memchr(3). */
	(void)handle_line;
	(void)c;
}

/* =========================================================================
 * Part 5. The loop.
 * ========================================================================= */

/*
 * Serve until SIGINT or SIGTERM, each round as the header comment says.
 * Returns 0 when asked to stop, -1 on an error that stops the server.
 */
static int serve(void)
{
	/* TODO: the round of the header comment until net_stop is set: fill
	 * chat.pfds, poll(2), accept, read, flush, drop the leaving clients. */
	(void)accept_clients;
	(void)read_client;
	(void)flush_client;
	(void)drop_leaving_clients;
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

	if (raise_open_file_limit() == -1) {
		fprintf(stderr, "%s: setrlimit RLIMIT_NOFILE: %s\n", net_prog, strerror(errno));
		return 1;
	}
	if (net_catch_signals() == -1 || (chat.listen_fd = open_listener(host, port)) == -1)
		return 1;
	if (net_local_address(chat.listen_fd, where) == 0)
		log_line("Listening on %s\n", where);
	chat.spare_fd = open("/dev/null", O_RDONLY);  /* for refuse_connection() */
	return serve() == 0 ? 0 : 1;
}
