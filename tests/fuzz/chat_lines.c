/*
 * chat_lines: a libFuzzer target for the chat: lesson 04's chat.c (line
 * framing, commands) in lesson 05's transport (bounded queues), under
 * whatever clients may send.
 *
 *   make fuzz SECONDS=60      (tools/fuzz builds and runs it)
 *
 * The server's own files are included, its main() renamed, and its
 * serve() loop runs unchanged: only poll() is ours.  Each time the loop
 * polls, fuzz_poll() plays the next step of the input as the clients'
 * side of AF_UNIX connections to the server's listener (connect, send
 * bytes, half-close, close, stop reading), reads what every client got,
 * and then asks the real poll() without waiting.  When the input is used
 * up, every client reads all it is owed and then closes; the loop ends
 * when the server has no client left.  So every input also checks that
 * the server frees what it allocated (LeakSanitizer) and notices every
 * departure.
 *
 * The input, one step after another (a step is one round of the loop
 * unless it says otherwise); K is a client, the step byte's low 3 bits:
 *   kind 0       a new client connects
 *   kind 1, 8-15 client K sends the next N bytes (N: the byte after the
 *                step byte, plus 1); kinds 8-15 send without ending the
 *                round, so that several clients' lines meet in one round
 *   kind 2       the same with N * 32 bytes: lines too long
 *   kind 3       client K sends its last bytes again, N times (a flood)
 *   kind 4       client K half-closes (shutdown SHUT_WR)
 *   kind 5       client K closes its socket
 *   kind 6       client K stops (or starts again) reading: a slow client
 *   kind 7       nothing: one more round
 * (kind: the step byte's bits 3 to 6.)
 *
 * What every line a client receives must look like: "* ...", "! ..." or
 * "<NICK> TEXT" with a valid NICK and 1 to 1024 bytes of TEXT, at most
 * MAX_WHO + 64 bytes in all, the first one "* Welcome, ".  A client still
 * connected at the end has received whole lines only.  A violation aborts
 * with the client's bytes shown.  CHAT_LINES_TRACE=1 in the environment
 * prints every line every client receives (to read a reproducer).
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int fuzz_poll(struct pollfd *fds, nfds_t nfds, int timeout);

/* The chat's rules as they are (their log polls stdout for real); the
 * transport with main() renamed and its poll() ours. */
#include "../../solutions/04-chat/chat.c"
#define main chat_server_main
#define poll fuzz_poll
#include "../../solutions/05-chat-scale/chat_server.c"
#undef poll
#undef main

#include <sys/un.h>

#define MAX_PEERS 8
#define MAX_BYTES_SENT (64 * 1024)
#define SERVER_SNDBUF 4096          /* the server's socket buffers (Linux doubles it) */  /* per input: keeps each run short */
#define MAX_ROUNDS_AT_END 200
#define NICK_BYTES "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"

/* The clients' side of one connection. */
struct peer {
	int fd;                 /* -1: never connected or closed */
	int reading;            /* 0: a slow client, not reading now */
	int got_eof;            /* the server closed the connection */
	int shut;               /* we half-closed it */
	unsigned long lines;    /* whole lines received */
	size_t partial_len;     /* bytes of the line being received */
	char partial[MAX_WHO + 128];
	size_t last_len;        /* the last bytes sent, for kind 3 */
	char last[256 * 32];
};

static struct {
	const uint8_t *data;
	size_t size, pos;
	struct peer peers[MAX_PEERS];
	size_t sent;            /* bytes sent by every client in all */
	int ending;             /* 1: input used up, draining; 2: closing */
	int rounds_at_end;
	int trace;              /* CHAT_LINES_TRACE=1: print every line */
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
	char dir[64];
} fz;

/* Print the line peer P is receiving, escaped. */
static void trace(const struct peer *p)
{
	fprintf(stderr, "client %d line %lu: \"", (int)(p - fz.peers), p->lines + 1);
	for (size_t i = 0; i < p->partial_len && i < 200; i++) {
		unsigned char ch = (unsigned char)p->partial[i];

		fprintf(stderr, ch >= 32 && ch < 127 && ch != '"' && ch != '\\' ? "%c" : "\\x%02x", ch);
	}
	fprintf(stderr, "\"%s\n", p->partial_len > 200 ? "..." : "");
}

/* Say what is wrong with what peer P received, and abort. */
static void fail(const struct peer *p, const char *why)
{
	fprintf(stderr, "chat_lines: %s:\n  ", why);
	trace(p);
	abort();
}

/* Check one whole line LINE (LEN bytes, no LF) peer P received. */
static void check_line(const struct peer *p, const char *line, size_t len)
{
	if (p->lines == 0 && (len < 11 || memcmp(line, "* Welcome, ", 11) != 0))
		fail(p, "the first line is not the welcome");
	if (len > MAX_WHO + 64)
		fail(p, "line too long");
	if (len >= 2 && (memcmp(line, "* ", 2) == 0 || memcmp(line, "! ", 2) == 0)) {
		if (memchr(line, '\0', len) != NULL)
			fail(p, "a server message holds a NUL");
		return;
	}
	if (len >= 1 && line[0] == '<') {
		/* "<NICK> TEXT": NICK from 2 to GT - 1, TEXT from GT + 2 */
		const char *gt = memchr(line, '>', len);
		size_t nick = gt != NULL ? (size_t)(gt - line) - 1 : 0;

		if (nick < 1 || nick > CHAT_MAX_NICK || strspn(line + 1, NICK_BYTES) < nick)
			fail(p, "a message without a valid <NICK>");
		if (nick + 3 >= len || gt[1] != ' ')
			fail(p, "\"<NICK>\" not followed by a space and text");
		if (len - nick - 3 > CHAT_MAX_LINE)
			fail(p, "a message of more than CHAT_MAX_LINE bytes");
		if (gt[2] == '/')
			fail(p, "a command (a line starting with /) passed on as a message");
		return;
	}
	fail(p, "a line that is neither \"* \", \"! \" nor \"<NICK> \"");
}

/* Take what peer P has received so far, line by line. */
static void receive(struct peer *p)
{
	char buf[8192];
	ssize_t n;

	while (p->fd != -1 && !p->got_eof && (n = recv(p->fd, buf, sizeof buf, 0)) != 0) {
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			p->got_eof = 1;  /* ECONNRESET: the server closed it */
			return;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				if (fz.trace)
					trace(p);
				check_line(p, p->partial, p->partial_len);
				p->lines++;
				p->partial_len = 0;
			} else if (p->partial_len == sizeof p->partial) {
				fail(p, "line too long");
			} else {
				p->partial[p->partial_len++] = buf[i];
			}
		}
	}
	if (p->fd != -1 && !p->got_eof) {
		p->got_eof = 1;
		if (fz.trace)
			fprintf(stderr, "client %d: end of file\n", (int)(p - fz.peers));
	}
	/* A client the server dropped (too slow, or /quit with more queued
	 * than its socket took) may lose the end of a line: not checked. */
}

static void peer_connect(void)
{
	struct sockaddr_un addr;

	for (int i = 0; i < MAX_PEERS; i++) {
		struct peer *p = &fz.peers[i];

		if (p->fd != -1)
			continue;
		memset(p, 0, sizeof *p);
		memset(&addr, 0, sizeof addr);
		addr.sun_family = AF_UNIX;
		memcpy(addr.sun_path, fz.path, sizeof addr.sun_path);
		p->fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (p->fd == -1 || connect(p->fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
			perror("chat_lines: connect");
			abort();
		}
		fcntl(p->fd, F_SETFL, O_NONBLOCK);
		p->reading = 1;
		return;
	}
}

static void peer_send(struct peer *p, const void *data, size_t len)
{
	if (p->fd == -1 || p->shut || fz.sent + len > MAX_BYTES_SENT)
		return;
	/* What the socket does not take now is lost, as if never sent. */
	(void)send(p->fd, data, len, 0);
	fz.sent += len;
}

/* The next N bytes of the input (fewer at its end). */
static const void *take(size_t *n)
{
	const void *at = fz.data + fz.pos;

	if (*n > fz.size - fz.pos)
		*n = fz.size - fz.pos;
	fz.pos += *n;
	return at;
}

/* Play input steps up to the end of one round.  Returns 0 when the input
 * is used up. */
static int play_round(void)
{
	while (fz.pos < fz.size) {
		uint8_t step = fz.data[fz.pos++];
		struct peer *p = &fz.peers[step & 7];
		int kind = (step >> 3) & 15;
		int has_length = kind == 1 || kind == 2 || kind == 3 || kind >= 8;
		size_t n = has_length && fz.pos < fz.size ? (size_t)fz.data[fz.pos++] + 1 : 1;
		const void *data;

		switch (kind) {
		case 0:
			peer_connect();
			return 1;
		case 2:
			n *= 32;
			/* fall through */
		case 1:
		default:
			data = take(&n);
			if (n <= sizeof p->last) {
				memcpy(p->last, data, n);
				p->last_len = n;
			}
			peer_send(p, data, n);
			if (kind >= 8)
				continue;
			return 1;
		case 3:
			for (size_t i = 0; i < n && p->last_len > 0; i++)
				peer_send(p, p->last, p->last_len);
			return 1;
		case 4:
			if (p->fd != -1 && !p->shut) {
				shutdown(p->fd, SHUT_WR);
				p->shut = 1;
			}
			return 1;
		case 5:
			if (p->fd != -1) {
				close(p->fd);
				p->fd = -1;
			}
			return 1;
		case 6:
			p->reading = !p->reading;
			return 1;
		case 7:
			return 1;
		}
	}
	return 0;
}

/*
 * The server's poll(): play one round of the input, read what the clients
 * got, then the real poll() without waiting.  At the end of the input,
 * every client reads until the server has no more output waiting, then
 * closes; when no client is left, stop the server.
 */
static int fuzz_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	int output_waits = 0, ready;

	(void)timeout;
	for (nfds_t i = 1; i < nfds; i++) {
		output_waits |= (fds[i].events & POLLOUT) != 0;
		/* A small socket buffer: a client that stops reading fills
		 * it, then its queue, after a few kilobytes of input. */
		(void)setsockopt(fds[i].fd, SOL_SOCKET, SO_SNDBUF, &(int){SERVER_SNDBUF}, sizeof(int));
	}
	if (fz.ending == 0 && !play_round())
		fz.ending = 1;
	if (fz.ending > 0 && ++fz.rounds_at_end > MAX_ROUNDS_AT_END) {
		fprintf(stderr, "chat_lines: %d rounds after the input and still %d client(s) and %s\n",
			MAX_ROUNDS_AT_END, (int)nfds - 1, output_waits ? "output waiting" : "no output waiting");
		abort();
	}
	for (int i = 0; i < MAX_PEERS; i++) {
		if (fz.ending > 0)
			fz.peers[i].reading = 1;
		if (fz.peers[i].reading)
			receive(&fz.peers[i]);
	}
	ready = poll(fds, nfds, 0);
	if (fz.ending == 1 && !output_waits && ready == 0) {
		/* All input read, all output sent: those still connected have
		 * received whole lines. */
		for (int i = 0; i < MAX_PEERS; i++) {
			struct peer *p = &fz.peers[i];

			receive(p);
			if (p->fd != -1 && !p->got_eof && p->partial_len > 0)
				fail(p, "the server sent part of a line");
			if (p->fd != -1) {
				close(p->fd);
				p->fd = -1;
			}
		}
		fz.ending = 2;
	}
	if (fz.ending == 2 && nfds == 1) {
		net_stop = 1;
		errno = EINTR;
		return -1;
	}
	return ready;
}

static void remove_socket(void)
{
	unlink(fz.path);
	rmdir(fz.dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	struct sockaddr_un addr;

	(void)argc;
	(void)argv;
	net_prog = "chat_server";
	fz.trace = getenv("CHAT_LINES_TRACE") != NULL;
	/* The server's log of every run would drown libFuzzer's. */
	if (freopen("/dev/null", "w", stdout) == NULL || net_ignore_sigpipe() == -1)
		abort();
	snprintf(fz.dir, sizeof fz.dir, "%s/chat_lines.XXXXXX", tmp != NULL && strlen(tmp) < 30 ? tmp : "/tmp");
	if (mkdtemp(fz.dir) == NULL) {
		perror("chat_lines: mkdtemp");
		abort();
	}
	snprintf(fz.path, sizeof fz.path, "%s/s", fz.dir);
	atexit(remove_socket);
	memset(&addr, 0, sizeof addr);
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, fz.path, sizeof addr.sun_path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (listen_fd == -1 || bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) == -1 ||
	    listen(listen_fd, 64) == -1 ||
	    fcntl(listen_fd, F_SETFL, O_NONBLOCK) == -1) {
		perror("chat_lines: listen");
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	spare_fd = open("/dev/null", O_RDONLY);
	memset(&fz.peers, 0, sizeof fz.peers);
	for (int i = 0; i < MAX_PEERS; i++)
		fz.peers[i].fd = -1;
	fz.data = data;
	fz.size = size;
	fz.pos = 0;
	fz.sent = 0;
	fz.ending = 0;
	fz.rounds_at_end = 0;
	net_stop = 0;
	if (serve() != 0)
		abort();
	close(spare_fd);
	return 0;
}
