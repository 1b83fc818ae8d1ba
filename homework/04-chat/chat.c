/*
 * chat.c: the chat room's rules, whatever carries the bytes (chat.h says
 * how the transport and the chat meet).  The protocol in short
 * (lessons/04-chat/README.md has it in full):
 *   - a newcomer is guestN: it gets "* Welcome, guestN! Commands: ...",
 *     and everyone else gets "* guestN joined";
 *   - a line that does not start with "/" goes to everyone else as
 *     "<NAME> text", its control bytes (but tab) shown as '?', so that
 *     "hi\r<admin> ..." cannot pose as another line;
 *   - "/nick NEW", "/who" and "/quit" are commands; errors start with "!";
 *   - whoever leaves, the others get "* NAME left".
 * Nothing here waits or touches a socket: messages go to send_to() or
 * send_to_all(), the transport's, which queue them.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chat.h"

#define MAX_WHO 8192  /* longest /who reply, in bytes */
#define NICK_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"

struct client **chat_clients;  /* grows as clients join */
size_t chat_count;
static unsigned long guests;  /* the last guest number handed out */

void chat_leave(struct client *c, const char *why)
{
	if (c->leaving[0] == '\0')  /* the first reason stays */
		snprintf(c->leaving, sizeof c->leaving, "%s", why);
}

/* Queue a printf-style message for client TO, or for everyone if TO is NULL. */
static void tell(struct client *to, const char *fmt, ...)
{
	char msg[CHAT_MAX_LINE + 64];  /* our messages: a nick or a line, and a few words */
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n <= 0 || n >= (int)sizeof msg)
		return;
	if (to == NULL)
		send_to_all(NULL, msg, (size_t)n);
	else
		send_to(to, msg, (size_t)n);
}

/* =========================================================================
 * Part 1. Arriving, naming, leaving.
 * ========================================================================= */

/* True if a client other than SELF is called NAME. */
static int nick_taken(const char *name, const struct client *self)
{
	for (size_t i = 0; i < chat_count; i++)
		if (chat_clients[i] != self && strcmp(chat_clients[i]->name, name) == 0)
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

struct client *chat_join(int fd, const char *where)
{
	struct client *c = calloc(1, sizeof *c);
	struct client **room = c != NULL ? realloc(chat_clients, (chat_count + 1) * sizeof *room) : NULL;

	if (room == NULL) {
		free(c);
		return NULL;
	}
	chat_clients = room;
	c->fd = fd;
	/* Skip numbers whose name someone took with /nick. */
	do
		snprintf(c->name, sizeof c->name, "guest%lu", ++guests);
	while (nick_taken(c->name, NULL));
	log_line("Connected by %s as %s\n", where, c->name);
	tell(NULL, "* %s joined\n", c->name);  /* before C is one of everyone */
	chat_clients[chat_count++] = c;
	tell(c, "* Welcome, %s! Commands: /nick NAME, /who, /quit\n", c->name);
	return c;
}

/* Take C, marked to leave and closed, out of the room, tell the others,
 * and free it, its queue and input buffer too. */
static void chat_forget(struct client *c)
{
	size_t i = 0;

	while (chat_clients[i] != c)
		i++;
	chat_count--;
	memmove(&chat_clients[i], &chat_clients[i + 1], (chat_count - i) * sizeof c);  /* order kept */
	log_line("%s left (%s)\n", c->name, c->leaving);
	tell(NULL, "* %s left\n", c->name);
	queue_free(c);
	free(c->in);
	free(c);
}

/* =========================================================================
 * Part 2. Lines and commands.
 * ========================================================================= */

/* True if the LEN bytes of WORD are the string NAME. */
static int word_is(const char *word, size_t len, const char *name)
{
	return len == strlen(name) && memcmp(word, name, len) == 0;
}

/* /nick NEW: check NEW (ARG, LEN bytes) and rename client C. */
static void change_nick(struct client *c, const char *arg, size_t len)
{
	char nick[CHAT_MAX_NICK + 1];

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

	for (size_t i = 0; i < chat_count; i++) {
		const struct client *other = chat_clients[i];

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
 * Cut the bytes waiting in C's input buffer into lines and act on each
 * complete one.  A line may come in many pieces and one read may hold many
 * lines, so bytes wait in the buffer until their LF arrives.  A line
 * longer than CHAT_MAX_LINE gets "! line too long", and the rest of it, up
 * to its LF, is dropped.
 */
static void cut_lines(struct client *c)
{
	/* TODO: handle_line() each complete line in C->in (its CR dropped);
	 * a line over CHAT_MAX_LINE gets one "! line too long" and is
	 * dropped up to its LF; keep the rest.  See memchr(3). */
	(void)handle_line;
	(void)c;
}

void chat_received(struct client *c, const char *data, size_t len)
{
	/* Only a client in the middle of a line holds an input buffer: an
	 * idle one costs its struct client and nothing more. */
	if (c->in == NULL && (c->in = malloc(CHAT_IN_SIZE)) == NULL) {
		chat_leave(c, strerror(errno));
		return;
	}
	/* After cut_lines() at most CHAT_MAX_LINE + 1 bytes wait: the buffer
	 * takes the rest a piece at a time. */
	for (size_t n; len > 0 && c->leaving[0] == '\0' && c->in_len < CHAT_IN_SIZE; data += n, len -= n) {
		n = len < CHAT_IN_SIZE - c->in_len ? len : CHAT_IN_SIZE - c->in_len;
		memcpy(c->in + c->in_len, data, n);
		c->in_len += n;
		cut_lines(c);
	}
	if (c->in_len == 0) {
		free(c->in);
		c->in = NULL;
	}
}

/* =========================================================================
 * Part 3. What every transport needs: reading, sending, closing, the log.
 * ========================================================================= */

void chat_read(struct client *c)
{
	char buf[4096];
	ssize_t n = recv(c->fd, buf, sizeof buf, 0);

	if (n > 0)
		chat_received(c, buf, (size_t)n);
	else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		chat_leave(c, n == 0 ? "end of file" : strerror(errno));
}

/*
 * Send as much of C's output queue as its socket takes now, without
 * waiting: one send(), as a non-blocking one takes all that fits.  What is
 * left stays queued for the next round.  An error marks C to leave.
 */
void chat_flush(struct client *c)
{
	/* TODO: send(2) what waits, keep what it did not take (memmove(3));
	 * an error other than EAGAIN makes C leave.  Free an emptied queue. */
	(void)c;
}

void chat_drop_leaving(void)
{
	size_t i = 0;

	while (i < chat_count) {
		struct client *c = chat_clients[i++];

		if (c->leaving[0] == '\0')
			continue;
		close(c->fd);
		chat_forget(c);
		/* Telling the others may have marked one already passed (its
		 * queue could not take the notice): look again from the start. */
		i = 0;
	}
}

/*
 * Log a printf-style line on stdout, never waiting: a log on a pipe that
 * nobody reads must not stop the server.  poll() with no timeout says
 * whether stdout takes data now; if so, one write() of less than PIPE_BUF
 * bytes (512 at least) cannot block.  Else the line is dropped, and the
 * count of dropped lines goes out before the next line that can.  (Not
 * O_NONBLOCK: stdout's open file is shared with the shell that started us.)
 */
void log_line(const char *fmt, ...)
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
