/*
 * chat.h: the chat room's rules (chat.c), apart from how bytes travel (the
 * transport: chat_server.c).  The transport accepts connections, reads
 * bytes and sends queued ones; chat.c decides what they mean and what
 * everyone is told.  Lesson 04's server and lesson 05's server at scale
 * are two transports around this same chat.c.
 *
 * The seam, both ways:
 *   transport -> chat: chat_join() a new connection, chat_read() what a
 *                      readable one sent, chat_flush() its output queue,
 *                      chat_leave() one that failed, chat_drop_leaving()
 *                      at the end of each round;
 *   chat -> transport: send_to() queues a message for one client,
 *                      send_to_all() one for everyone (but one), and
 *                      queue_free() lets go of a leaving client's queue.
 * The log, log_line(), is here too: both transports write it.
 */
#ifndef CHAT_H
#define CHAT_H

#include <stddef.h>

#define CHAT_MAX_LINE 1024  /* longest line, without its CR and LF */
#define CHAT_MAX_NICK 16
#define CHAT_IN_SIZE (2 * CHAT_MAX_LINE)  /* a client's input buffer */

/* One connected client. */
struct client {
	int fd;                     /* the transport's: its socket */
	char *out;                  /* the transport's: OUT_LEN bytes queued */
	size_t out_len;
	char leaving[80];           /* why it leaves this round; "" if it stays */
	char name[CHAT_MAX_NICK + 1];
	int discarding;             /* inside a too-long line: drop up to its LF */
	size_t in_len;              /* bytes received, not yet cut into lines */
	char *in;                   /* CHAT_IN_SIZE bytes, only while IN_LEN > 0 */
};

/* Everyone in the room, in joining order: chat_clients[0] to
 * chat_clients[chat_count - 1]. */
extern struct client **chat_clients;
extern size_t chat_count;

/* A new client on socket FD, connected from WHERE: its guestN name, its
 * welcome, the others told.  NULL with errno set if out of memory. */
struct client *chat_join(int fd, const char *where);
/* Read what C sent (one recv()), and act on every complete line: the end
 * of file or an error marks C to leave. */
void chat_read(struct client *c);
/* LEN bytes C sent: every complete line is acted on (chat_read() calls it). */
void chat_received(struct client *c, const char *data, size_t len);
/* Send as much of C's output queue as its socket takes now, without
 * waiting; an error marks C to leave. */
void chat_flush(struct client *c);
/* Mark C to leave at the end of this round, saying WHY in the log. */
void chat_leave(struct client *c, const char *why);
/* Close every client marked to leave, take it out of the room, tell the
 * others, and free it, its queue and input buffer too. */
void chat_drop_leaving(void);
/* Log a printf-style line on stdout, never waiting (see chat.c). */
void log_line(const char *fmt, ...);

/* Given by the transport: queue LEN bytes of MSG for C (or mark C to
 * leave when it cannot). */
void send_to(struct client *c, const char *msg, size_t len);
/* Given by the transport: queue LEN bytes of MSG for every client but
 * FROM (NULL: every client), as send_to() for each.  (Lesson 05's copies
 * the message once for all of them.) */
void send_to_all(struct client *from, const char *msg, size_t len);
/* Given by the transport: free what C's output queue holds (C leaves). */
void queue_free(struct client *c);

#endif
