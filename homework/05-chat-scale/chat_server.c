/*
 * chat_server: lesson 04's chat room, at scale.  The chat's rules are
 * lesson 04's chat.c, linked as it is; this transport is lesson 04's with
 * what it takes to hold against slow clients and thousands of them.
 *
 *   usage: chat_server [HOST] [PORT]
 *
 * HOST defaults to every interface, PORT to 50007; PORT 0 asks the kernel
 * for any free port.  The log (connections, nick changes, departures) goes
 * to stdout, never waiting.
 *
 * The round of the loop in serve() is lesson 04's: poll(), accept and
 * chat_join(), read, send each output queue as far as its socket takes it
 * (one writev() a client a round), close the clients that leave.  What
 * changes:
 *   - fairness and large reads: one recv() a client a round, of at most
 *     64 KiB (READ_BUDGET), into one buffer all clients share; chat.c acts
 *     on every complete line in it.  A client that floods gets its 64 KiB
 *     a round like everyone else, and the rest of its flood waits;
 *   - one copy per read: the lines a read brought for everyone are copied
 *     once, into messages of BATCH_ROOM bytes at most (batches), counted
 *     and queued by pointer in every receiver's queue (send_to_all(),
 *     batch_push()), as ncat sends its one buffer to all; writev() sends
 *     a queue;
 *   - memory as needed: a queue exists while something waits in it, and
 *     an idle client holds neither a queue nor an input buffer (chat.c's),
 *     only its struct client;
 *   - each output queue holds at most 64 KiB (OUT_QUEUE_LIMIT): a client
 *     that stops reading is dropped, rather than growing its queue for as
 *     long as the others talk.  The queue is judged only after trying to
 *     send it (queue_push()): a burst can queue more than 64 KiB in one
 *     round for a client that reads, and that client must stay;
 *   - the soft limit on open files is raised, so that thousands can come;
 *   - out of file descriptors, a spare one lets the server refuse a
 *     connection instead of spinning on accept() failing with EMFILE.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "chat.h"
#include "net.h"

#define SYNOPSIS "[HOST] [PORT]"
#define READ_BUDGET (64 * 1024)      /* bytes read from a client a round */
#define OUT_QUEUE_LIMIT (64 * 1024)  /* unsent bytes a client may have */
#define QUEUE_FIRST_ROOM 16          /* messages a queue has room for at first */
#define BATCH_ROOM 1024              /* bytes of lines for everyone in one message */
/* Messages handed to one writev(): IOV_MAX where <limits.h> says it, else
 * 1024 (Linux and macOS; POSIX promises only 16, _XOPEN_IOV_MAX). */
#if defined(IOV_MAX) && IOV_MAX < 1024
#define IOV_BATCH IOV_MAX
#else
#define IOV_BATCH 1024
#endif
#define ACCEPT_BATCH 256             /* connections accepted per round */
#define LISTEN_BACKLOG 4096          /* connections waiting to be accepted */
/* The longest poll() waits: a stop signal that lands just before it is
 * seen after POLL_MS at most.  Also how long the listener rests while the
 * spare descriptor is gone. */
#define POLL_MS 1000
/* The most open files to ask for, so the most clients: macOS refuses a
 * soft limit above its OPEN_MAX, 10240 (a constant it hides from POSIX
 * programs), even when the hard limit is higher or RLIM_INFINITY. */
#define MAX_OPEN_FILES 10240

static int listen_fd;
static int spare_fd;  /* kept free for refusing a connection */
static char in_buf[READ_BUDGET];  /* what one recv() brought, any client's */
/* 0: the listener, 1...: clients.  Descriptors stay below MAX_OPEN_FILES
 * (raise_open_file_limit()), so clients are fewer. */
static struct pollfd pfds[1 + MAX_OPEN_FILES];

/* =========================================================================
 * Part 1. Start-up.
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

/* A non-blocking listening socket on HOST and PORT, or -1 with an error printed. */
static int open_listener(const char *host, const char *port)
{
	int fd = net_listen(host, port, SOCK_STREAM);

	/* net_listen() lets SOMAXCONN connections wait to be accepted: 4096
	 * with glibc, but 128 with musl and on macOS, and a crowd arriving at
	 * once overflows that (the SYNs over it are dropped, and sent again a
	 * second later).  Listening again only sets a deeper backlog, which
	 * the kernel caps at its own maximum (net.core.somaxconn). */
	if (fd == -1 || (listen(fd, LISTEN_BACKLOG) == 0 && set_nonblocking(fd) == 0))
		return fd;
	fprintf(stderr, "%s: listen or fcntl: %s\n", net_prog, strerror(errno));
	return -1;
}

/* =========================================================================
 * Part 2. Input: a read budget per client per round.
 * ========================================================================= */

/*
 * Read what client C sent: one recv() a round, of at most READ_BUDGET
 * bytes, into the buffer all clients share, and hand it to chat.c, which
 * acts on every complete line in it and keeps only an unfinished one.
 * Reading until EAGAIN instead would let a client that sends without pause
 * keep the server to itself: the others wait until it stops.  The end of
 * file or an error marks C to leave.
 */
static void read_client(struct client *c)
{
	/* TODO: as said above: recv(2) into in_buf, then chat_received();
	 * 0 (end of file) or an error other than EAGAIN: chat_leave(). */
	(void)in_buf;
	(void)c;
}

/* =========================================================================
 * Part 3. Output: messages shared by reference, a bounded queue per client.
 * ========================================================================= */

/*
 * A message, queued for one client or for many.  Lines for everyone are
 * copied once, into a message, and each queue holds a pointer to it: the
 * kernel copies it from here into every socket, as ncat does from its one
 * buffer.  REFS counts who holds it (queues, and whoever is queueing it);
 * the last to let go frees it.  ROOM is for the batch, which has room for
 * more lines while it is gathered (send_to_all()).
 */
struct message {
	size_t refs;
	size_t len, room;
	char data[];  /* ROOM bytes, LEN of them used, allocated with the struct */
};

/*
 * A client's output queue: COUNT messages in order (MSGS has room for
 * ROOM), the first sent up to SENT bytes.  The client's out_len (chat.h)
 * counts the bytes still to send.  Lesson 04's struct client has no room
 * for it, so the queues are here, one per descriptor, as in the poll table.
 */
struct queue {
	struct message **msgs;
	size_t count, room, sent;
};

static struct queue queues[MAX_OPEN_FILES];  /* descriptors stay below */

/* A new message holding a copy of LEN bytes of DATA, with ROOM bytes in
 * all, held once (by the caller), or NULL with errno set. */
static struct message *message_new(const char *data, size_t len, size_t room)
{
	struct message *m = malloc(sizeof *m + room);

	if (m != NULL) {
		m->refs = 1;
		m->len = len;
		m->room = room;
		memcpy(m->data, data, len);
	}
	return m;
}

/* Let go of M: one holder less, and the last frees it. */
static void message_release(struct message *m)
{
	/* TODO: as said above: count one holder less, and free(3) M when
	 * none is left.  Every message must be freed once, and only once. */
	(void)m;
}

/*
 * Send as much of C's queue as its socket takes now, without waiting: one
 * writev() hands the kernel up to IOV_BATCH messages at once, wherever
 * they are, and it takes what fits.  The messages sent whole are let go;
 * the first one left keeps how much of it went.  Again while the kernel
 * took all it was given; an error marks C to leave.  An emptied queue is
 * freed: an idle client holds none.
 */
static void queue_flush(struct client *c)
{
	struct queue *q = &queues[c->fd];

	while (q->count > 0) {
		struct iovec iov[IOV_BATCH];
		size_t n, given = 0, done = 0;
		ssize_t sent;

		for (n = 0; n < q->count && n < IOV_BATCH; n++) {
			iov[n].iov_base = q->msgs[n]->data + (n == 0 ? q->sent : 0);
			iov[n].iov_len = q->msgs[n]->len - (n == 0 ? q->sent : 0);
			given += iov[n].iov_len;
		}
		sent = writev(c->fd, iov, (int)n);
		if (sent == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				chat_leave(c, strerror(errno));
			break;
		}
		c->out_len -= (size_t)sent;
		q->sent += (size_t)sent;
		while (done < q->count && q->sent >= q->msgs[done]->len) {
			q->sent -= q->msgs[done]->len;
			message_release(q->msgs[done++]);
		}
		q->count -= done;
		memmove(q->msgs, q->msgs + done, q->count * sizeof *q->msgs);
		if ((size_t)sent < given)
			break;  /* the socket is full */
	}
	if (q->count == 0) {
		free(q->msgs);
		*q = (struct queue){ 0 };
	}
}

/* Add M to the end of C's queue, held once more; the queue's array doubles
 * when full.  Returns 0, or -1 with errno set. */
static int queue_add(struct client *c, struct message *m)
{
	struct queue *q = &queues[c->fd];

	if (q->count == q->room) {
		size_t room = q->room > 0 ? 2 * q->room : QUEUE_FIRST_ROOM;
		struct message **msgs = realloc(q->msgs, room * sizeof *msgs);

		if (msgs == NULL)
			return -1;
		q->msgs = msgs;
		q->room = room;
	}
	m->refs++;
	q->msgs[q->count++] = m;
	c->out_len += m->len;
	return 0;
}

/*
 * Queue message M for client C, unless C is leaving.  A queue never holds
 * more than OUT_QUEUE_LIMIT bytes.  But one round can queue far more than
 * its input (a read of 2 KiB of one-byte lines is 11 KB for everyone), so
 * a queue that M would overfill is first sent as far as the socket takes
 * it, and only then judged: a client whose queue is still too full for M
 * is marked to leave (64 KiB wait, and its kernel buffers too: waiting for
 * it would hold up everyone).
 */
static void queue_push(struct client *c, struct message *m)
{
	/* TODO: as said above: queue_flush() a queue that M would overfill,
	 * then queue_add() M if it fits; chat_leave(C, "too slow: 64 KiB
	 * unread") if it does not (strerror(errno) if queue_add() fails). */
	(void)queue_add;
	(void)queue_flush;
	(void)c;
	(void)m;
}

/*
 * The lines one read brought for everyone, gathered into one message of
 * up to BATCH_ROOM bytes: chat.c calls send_to_all() once a line, and a
 * read can hold hundreds of lines, but each queue takes a batch once, by
 * pointer.  Not larger: queue_push() judges a batch whole, so a larger
 * one would drop a client that reads, but lags, sooner.  batch_push()
 * queues it for everyone but BATCH_FROM, its sender: before anything else
 * is queued (so order is kept), and once the round's reads are done.  No
 * one joins or is dropped during the reads, so everyone is still the same.
 */
static struct message *batch;
static struct client *batch_from;

/* Queue the batch, if any, for everyone but its sender. */
static void batch_push(void)
{
	struct message *m = batch, *fit;

	if (m == NULL)
		return;
	batch = NULL;
	if (m->len < m->room && (fit = realloc(m, sizeof *m + m->len)) != NULL) {
		m = fit;  /* the room it did not use, given back */
		m->room = m->len;
	}
	for (size_t i = 0; i < chat_count; i++)
		if (chat_clients[i] != batch_from)
			queue_push(chat_clients[i], m);
	message_release(m);
	batch_from = NULL;
}

/* Queue LEN bytes of MSG for client C (chat.c calls it), after the batch:
 * what was said before it comes first. */
void send_to(struct client *c, const char *msg, size_t len)
{
	struct message *m;

	batch_push();
	if ((m = message_new(msg, len, len)) == NULL) {
		chat_leave(c, strerror(errno));
		return;
	}
	queue_push(c, m);
	message_release(m);
}

/* Queue LEN bytes of MSG for everyone but FROM (chat.c calls it): a line
 * from a client joins its read's batch, with room for more lines; the
 * server's own notices (FROM is NULL) are queued at once. */
void send_to_all(struct client *from, const char *msg, size_t len)
{
	if (batch != NULL && (from != batch_from || batch->room - batch->len < len))
		batch_push();
	if (batch == NULL) {
		batch = message_new(msg, 0, from != NULL && len < BATCH_ROOM ? BATCH_ROOM : len);
		if (batch == NULL) {
			for (size_t i = 0; i < chat_count; i++)
				if (chat_clients[i] != from)
					chat_leave(chat_clients[i], strerror(errno));
			return;
		}
		batch_from = from;
	}
	memcpy(batch->data + batch->len, msg, len);
	batch->len += len;
	if (from == NULL)
		batch_push();
}

/* Let go of what C's queue holds (chat.c calls it when C leaves). */
void queue_free(struct client *c)
{
	struct queue *q = &queues[c->fd];

	for (size_t i = 0; i < q->count; i++)
		message_release(q->msgs[i]);
	free(q->msgs);
	*q = (struct queue){ 0 };
	c->out_len = 0;
}

/* =========================================================================
 * Part 4. Clients arriving.
 * ========================================================================= */

/*
 * Join a new connection FD from ADDR to the room, non-blocking, or return
 * -1 with errno set (the caller closes FD).
 */
static int add_client(int fd, const struct sockaddr *addr, socklen_t len)
{
	char where[NET_ADDRSTRLEN];
	int on = 1;

	/* Nagle's algorithm holds a small write back while an earlier one is
	 * unacknowledged, which can cost a reader that acknowledges late
	 * 40 ms a line.  We already send once per client per round, so turn
	 * it off, as interactive servers do.  Failing is harmless. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	net_format_address(addr, len, where);
	if (set_nonblocking(fd) == -1 || chat_join(fd, where) == NULL)
		return -1;
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
	/* TODO: as said above, with close(2), accept(2) and open(2) of
	 * /dev/null; say on stderr that a connection was refused. */
	return 0;
}

/*
 * Accept the pending connections, up to ACCEPT_BATCH a round, and add each
 * one with add_client().  Out of descriptors, refuse_connection().
 */
static void accept_clients(void)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage addr;
		socklen_t len = sizeof addr;
		int fd = accept(listen_fd, (struct sockaddr *)&addr, &len);

		if (fd == -1) {
			if ((errno == EMFILE || errno == ENFILE) && refuse_connection())
				continue;
			return;  /* EAGAIN (no more for now), or one that went away */
		}
		if (add_client(fd, (struct sockaddr *)&addr, len) == -1) {
			fprintf(stderr, "%s: new client: %s\n", net_prog, strerror(errno));
			close(fd);
		}
	}
}

/* =========================================================================
 * Part 5. The loop.
 * ========================================================================= */

/*
 * Serve until SIGINT or SIGTERM: lesson 04's round, with the listener left
 * out while there is no spare descriptor, and the last read's batch queued
 * before the sends.  Returns 0 when asked to stop, -1 on an error that
 * stops the server.
 */
static int serve(void)
{
	while (!net_stop) {
		size_t polled = chat_count;

		/* Without a spare descriptor, accept() would fail at once and
		 * the loop spin: leave the listener out until one opens. */
		if (spare_fd == -1)
			spare_fd = open("/dev/null", O_RDONLY);
		pfds[0].fd = spare_fd == -1 ? -1 : listen_fd;
		pfds[0].events = POLLIN;
		for (size_t i = 0; i < polled; i++) {
			pfds[1 + i].fd = chat_clients[i]->fd;
			pfds[1 + i].events = POLLIN | (chat_clients[i]->out_len > 0 ? POLLOUT : 0);
		}
		if (poll(pfds, (nfds_t)polled + 1, POLL_MS) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: poll: %s\n", net_prog, strerror(errno));
			return -1;
		}
		if (pfds[0].revents & POLLIN)
			accept_clients();
		for (size_t i = 0; i < polled; i++)
			if (pfds[1 + i].revents & (POLLIN | POLLHUP | POLLERR))
				read_client(chat_clients[i]);
		batch_push();
		for (size_t i = 0; i < chat_count; i++)
			queue_flush(chat_clients[i]);
		chat_drop_leaving();
	}
	return 0;
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
	if (net_catch_signals() == -1 || (listen_fd = open_listener(host, port)) == -1)
		return 1;
	if (net_local_address(listen_fd, where) == 0)
		log_line("Listening on %s\n", where);
	spare_fd = open("/dev/null", O_RDONLY);  /* for refuse_connection() */
	return serve() == 0 ? 0 : 1;
}
