/*
 * chat_load: a crowd of chat clients in one process, for lesson 04's tests
 * (200 clients) and for `make bench` (chat_server against ncat --chat).
 *
 *   usage: chat_load [-c CLIENTS] [-P PACE] [-s SENDERS] [-m MESSAGES | -d SECONDS]
 *                    [-w WINDOW] [-l BYTES] [-D DRAIN] [-t TIMEOUT] [-g GREET_MS] [-a]
 *                    [-H HOLD_MS] [-p PID] [-f socklab|ncat] [-i] HOST PORT
 *
 *   1. Open CLIENTS connections, at most PACE at a time waiting for their
 *      greeting (default: all at once; ncat --chat listens with a backlog
 *      of 10 and quits when a burst overflows it), and wait until each has
 *      its greeting: "* Welcome, ..." (socklab) or "<announce> already
 *      connected: ..." (ncat --chat).  With -a, a client that is closed or
 *      refused before its greeting, or still has none after GREET_MS, is
 *      left out; without -a, that is an error.  Of those left out,
 *      "refused" counts the ones the server closed or refused: the others
 *      still waited, connected, after GREET_MS.
 *   2. The first SENDERS clients send lines "m S Q", sender S and sequence
 *      number Q, padded with " xx..." to BYTES bytes with the LF (-l; the
 *      send times stay here, so that a line can be as short as 20 bytes).
 *      A sender keeps at most WINDOW lines that have not yet reached every
 *      other client (a closed loop: the load follows what the server
 *      delivers).  -m: each sends MESSAGES lines; -d: they send for
 *      SECONDS, then wait at most DRAIN seconds (default 5) for the last.
 *   3. Every other client must receive each line exactly once, in order,
 *      and never its own.  Our server's prefix ("<guest5> ") is skipped.
 *      ncat is not line-oriented: it prefixes "<user5> " to each chunk it
 *      reads, so a line it read in two pieces arrives cut in two, perhaps
 *      with other chunks between: its stream is taken apart chunk by chunk
 *      (our lines hold no '<') and each sender's pieces joined again.
 *      Other lines (notices) are ignored.
 *   4. Stop when all is delivered (or TIMEOUT seconds since the start);
 *      with -H, keep every connection open HOLD_MS more.
 *
 * Prints one line of key=value results: connect_ms (first connect to last
 * greeting), rate (deliveries per second from the first line sent to the
 * last delivered), p50_us and p99_us (send to delivery, counting every
 * delivery that never came as later than all: -1 when more than half, or
 * 1%, never came), lost (deliveries due to clients that were closed: they
 * never come) and late (due to clients still connected when time ran
 * out); with -p, the VmRSS of process PID before connecting, once all are
 * greeted and at the end, and its CPU time during the traffic (cpu_ms);
 * load_cpu_ms is this program's own.  Exit status 0 if nothing was lost,
 * late, duplicated, reordered, echoed or garbled and no client was left
 * out without -a; 1 otherwise; 2 on usage errors.
 *
 * With -i, the crowd stays for several rounds of traffic: after step 1 it
 * prints "joined" and the connection figures, then reads commands on
 * standard input, "run SENDERS WINDOW BYTES SECONDS", and answers each with
 * "round" and the figures of steps 2 to 4.  It stops at end of input, or
 * after a round that left something undelivered or a client closed (what
 * is still on its way would spoil the next round).
 *
 * CLIENTS connections need as many descriptors: the soft limit is raised
 * to the hard one, and if even that is too low, chat_load says so.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define CARRY_SIZE 64           /* kept of a line: enough to recognise it */
#define LINE_ROOM 48            /* room for "m S Q" and its LF */
#define PENDING_MAX 16384       /* most bytes a sender prepares at once */
#define DRAIN_NS 5000000000LL   /* -d: how long to wait for the last lines */
#define FD_MARGIN 16            /* descriptors besides the clients' */
#define MAX_OPEN_FILES 10240    /* macOS refuses more (its OPEN_MAX) */
/* Latency histogram in microseconds: exact below HIST_EXACT, then each
 * power of two cut into HIST_SUB buckets (0.1 %), up to 2^40 us. */
#define HIST_EXACT 2048
#define HIST_SUB 1024
#define HIST_BUCKETS (HIST_EXACT + 30 * HIST_SUB)

enum state { CONNECTING, GREETING, READY, LEFT_OUT, CLOSED };

/* Where the bytes from ncat belong: a chunk's prefix, a line of its own
 * (an announcement), or else the number N of "<userN> ". */
enum { CHUNK_START = -2, CHUNK_LINE = -1 };

struct partial {        /* ncat: the start of a line whose rest has not come */
	int user;
	size_t len;
	char head[CARRY_SIZE];
};

struct peer {
	int fd;
	enum state state;
	int sender;             /* index among the senders, or -1 */
	int in_round;           /* a receiver in this round of traffic */
	uint64_t received;      /* lines received in this round */
	size_t carry_len;
	char carry[CARRY_SIZE]; /* the start of a line whose LF has not come */
	int chunk;              /* ncat: CHUNK_START, CHUNK_LINE or N */
	struct partial *partials;
	size_t npartials, partials_cap;
};

struct sender {
	struct peer *peer;
	uint64_t sent, complete; /* lines sent; lines delivered to everyone */
	uint32_t *deliveries;    /* per sequence number: receivers reached */
	long long *sent_at;      /* per sequence number: when it was sent */
	size_t cap;
	char *pending;           /* lines the socket has not taken yet */
	size_t pending_cap, pending_len, pending_off;
};

/* One round of traffic, as asked. */
struct round {
	int senders, window, line_bytes;
	long long messages, duration_ns, drain_ns;
};

static struct {
	int clients, pace, senders, window, line_bytes, hold_ms, allow_refused, ncat, interactive;
	long long messages, duration_ns, drain_ns, timeout_ns, greet_ns;
	long pid;
} opt = { 10, 0, 1, 16, 0, 0, 0, 0, 0, 1, 0, DRAIN_NS, 30000000000LL, -1, 0 };

static struct peer *peers;
static struct pollfd *pfds;
static struct sender *senders;
static uint16_t *next_seq;      /* per receiver and sender: the next due */
static int nsenders, receivers, traffic, greeted, left_out, refused;
static int closed_early;        /* clients closed while they should not be */
static uint64_t delivered, dup_count, disorder, echoed, garbled, ignored_lines;
static uint32_t hist[HIST_BUCKETS];
static long long t_first_send, t_last_delivery;
static const struct addrinfo *server;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "chat_load: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *allocate(size_t count, size_t size)
{
	void *p = calloc(count > 0 ? count : 1, size);

	if (p == NULL)
		die("calloc");
	return p;
}

/* =========================================================================
 * Part 1. What the server costs: /proc (Linux; -1 elsewhere).
 * ========================================================================= */

/* VmRSS of process PID in kB, from /proc/PID/status; -1 if unknown. */
static long rss_kb(long pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

/* CPU time (user + system) of process PID in ms, from /proc/PID/stat; -1 if unknown. */
static double cpu_ms(long pid)
{
	char path[64], line[1024], *after;
	unsigned long utime, stime;
	FILE *f;
	int ok;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	ok = fgets(line, sizeof line, f) != NULL;
	fclose(f);
	/* The command name, in parentheses, may hold spaces: skip past it. */
	after = ok ? strrchr(line, ')') : NULL;
	if (after == NULL || sscanf(after + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				   &utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* Our own CPU time (user + system) in ms. */
static double own_cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return -1;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

/* =========================================================================
 * Part 2. Latency: a histogram, and percentiles of what was due.
 * ========================================================================= */

static size_t bucket_of(long long us)
{
	int k = 0;

	if (us < HIST_EXACT)
		return us < 0 ? 0 : (size_t)us;
	while ((us >> k) >= 2 * HIST_SUB)
		k++;
	if (k >= 30)
		return HIST_BUCKETS - 1;
	/* us is in [2^(k+10), 2^(k+11)): bucket by its top 11 bits. */
	return HIST_EXACT + (size_t)k * HIST_SUB + (size_t)((us >> k) - HIST_SUB);
}

static long long value_of(size_t bucket)
{
	size_t k;

	if (bucket < HIST_EXACT)
		return (long long)bucket;
	k = (bucket - HIST_EXACT) / HIST_SUB;
	return (long long)(HIST_SUB + (bucket - HIST_EXACT) % HIST_SUB) << k;
}

/*
 * The latency below which FRACTION of the EXPECTED deliveries came, in us;
 * those that never came count as later than any.  -1 if that many never
 * came: the percentile is beyond what was measured.
 */
static long long percentile(double fraction, uint64_t expected)
{
	uint64_t want = (uint64_t)((double)expected * fraction), seen = 0;

	for (size_t b = 0; b < HIST_BUCKETS; b++) {
		seen += hist[b];
		if (seen > want)
			return value_of(b);
	}
	return -1;
}

/* =========================================================================
 * Part 3. Reading: lines, messages, and ncat's chunks.
 * ========================================================================= */

/*
 * Read " DIGITS" at *AT (before END) into *OUT and move *AT past it.
 * Returns 0, or -1 if there is no number there.  (strtoull() would need a
 * C string, and costs more than the rest of a delivery.)
 */
static int take_number(const char **at, const char *end, unsigned long long *out)
{
	const char *c = *at;
	unsigned long long n = 0;

	if (c == end || *c++ != ' ' || c == end || *c < '0' || *c > '9')
		return -1;
	while (c < end && *c >= '0' && *c <= '9')
		n = n * 10 + (unsigned long long)(*c++ - '0');
	*at = c;
	*out = n;
	return 0;
}

/* One line "m S Q[ padding]" (after any prefix) reached peer P. */
static void on_message(struct peer *p, const char *text, size_t len, long long now)
{
	const char *at = text + 1, *end = text + len;
	unsigned long long s, q;
	struct sender *snd;
	uint16_t *due;
	long long us;

	if (take_number(&at, end, &s) == -1 || take_number(&at, end, &q) == -1 ||
	    (at != end && *at != ' ') || s >= (unsigned long long)nsenders || q >= senders[s].sent) {
		garbled++;
		return;
	}
	snd = &senders[s];
	if (p->sender == (int)s) {
		echoed++;
		return;
	}
	/* Sequence numbers modulo 2^16, per receiver and sender: behind is a
	 * duplicate, ahead means lines were skipped. */
	due = &next_seq[(size_t)(p - peers) * (size_t)nsenders + s];
	if ((uint16_t)(q - *due) >= 0x8000) {
		dup_count++;
		return;
	}
	if ((uint16_t)q != *due)
		disorder++;
	*due = (uint16_t)(q + 1);
	snd->deliveries[q]++;
	delivered++;
	p->received++;
	t_last_delivery = now;
	us = (now - snd->sent_at[q]) / 1000;
	hist[bucket_of(us)]++;
	while (snd->complete < snd->sent && snd->deliveries[snd->complete] >= (uint32_t)receivers)
		snd->complete++;
}

/* A whole line (without its LF, and without ncat's prefix) arrived at peer P. */
static void on_line(struct peer *p, const char *line, size_t len, long long now)
{
	static const char welcome[] = "* Welcome, ";
	static const char announce[] = "<announce> already connected: ";
	const char *greeting = opt.ncat ? announce : welcome;
	size_t greeting_len = opt.ncat ? sizeof announce - 1 : sizeof welcome - 1;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (p->state == GREETING) {
		if (len >= greeting_len && memcmp(line, greeting, greeting_len) == 0)
			p->state = READY;
		return;
	}
	if (p->state != READY || !traffic)
		return;
	/* Skip the sender's name: "<guest5> ". */
	if (!opt.ncat && len > 0 && line[0] == '<') {
		const char *gt = memchr(line, '>', len);

		if (gt == NULL || (size_t)(gt - line) + 2 > len || gt[1] != ' ') {
			ignored_lines++;
			return;
		}
		len -= (size_t)(gt + 2 - line);
		line = gt + 2;
	}
	if (len >= 2 && line[0] == 'm' && line[1] == ' ')
		on_message(p, line, len, now);
	else
		ignored_lines++;
}

/*
 * Add LEN bytes of DATA to a line kept in HEAD (*HEAD_LEN bytes so far):
 * only its first CARRY_SIZE bytes are kept, enough to recognise it.
 */
static void keep_start(char *head, size_t *head_len, const char *data, size_t len)
{
	size_t room = CARRY_SIZE - *head_len;
	size_t take = len < room ? len : room;

	memcpy(head + *head_len, data, take);
	*head_len += take;
}

/* Cut the bytes that arrived at peer P into lines (our server's stream). */
static void on_bytes(struct peer *p, const char *data, size_t len, long long now)
{
	while (len > 0) {
		const char *lf = memchr(data, '\n', len);
		size_t piece = lf != NULL ? (size_t)(lf - data) : len;

		if (lf != NULL && p->carry_len == 0) {
			on_line(p, data, piece, now);
		} else {
			keep_start(p->carry, &p->carry_len, data, piece);
			if (lf != NULL) {
				on_line(p, p->carry, p->carry_len, now);
				p->carry_len = 0;
			}
		}
		if (lf == NULL)
			break;
		data = lf + 1;
		len -= piece + 1;
	}
}

/*
 * LEN bytes of DATA that ncat's user USER sent reached peer P (the chunk's
 * prefix gone): lines, or pieces of lines to join with the next of USER's.
 */
static void on_user_bytes(struct peer *p, int user, const char *data, size_t len, long long now)
{
	struct partial *part = NULL;

	for (size_t i = 0; i < p->npartials; i++)
		if (p->partials[i].user == user)
			part = &p->partials[i];
	while (len > 0) {
		const char *lf = memchr(data, '\n', len);
		size_t piece = lf != NULL ? (size_t)(lf - data) : len;

		if (lf != NULL && part == NULL) {
			on_line(p, data, piece, now);
		} else {
			if (part == NULL) {
				if (p->npartials == p->partials_cap) {
					size_t cap = p->partials_cap ? 2 * p->partials_cap : 4;
					struct partial *bigger = realloc(p->partials, cap * sizeof *bigger);

					if (bigger == NULL)
						die("realloc");
					p->partials = bigger;
					p->partials_cap = cap;
				}
				part = &p->partials[p->npartials++];
				part->user = user;
				part->len = 0;
			}
			keep_start(part->head, &part->len, data, piece);
			if (lf != NULL) {
				on_line(p, part->head, part->len, now);
				*part = p->partials[--p->npartials];
				part = NULL;
			}
		}
		if (lf == NULL)
			break;
		data = lf + 1;
		len -= piece + 1;
	}
}

/*
 * Take apart what ncat --chat sent peer P.  Each chunk it read from a
 * client comes whole, as "<userN> " and the bytes; its announcements are
 * whole lines "<announce> ...".  Our lines hold no '<', so a '<' in a
 * user's chunk starts the next chunk.
 */
static void on_ncat_bytes(struct peer *p, const char *data, size_t len, long long now)
{
	while (len > 0) {
		if (p->chunk == CHUNK_START) {
			char c = *data++;

			len--;
			keep_start(p->carry, &p->carry_len, &c, 1);
			if (c == '\n') {
				on_line(p, p->carry, p->carry_len - 1, now);
				p->carry_len = 0;
			} else if (p->carry_len >= 2 && memcmp(p->carry + p->carry_len - 2, "> ", 2) == 0) {
				const char *at = p->carry + 5, *end = p->carry + p->carry_len - 2;
				int user = 0;

				if (p->carry_len >= 8 && memcmp(p->carry, "<user", 5) == 0)
					while (at < end && *at >= '0' && *at <= '9' && user < 1000000)
						user = user * 10 + (*at++ - '0');
				if (p->carry_len >= 8 && at == end) {
					p->chunk = user;
					p->carry_len = 0;
				} else {
					p->chunk = CHUNK_LINE;
				}
			} else if (p->carry_len == CARRY_SIZE) {
				p->chunk = CHUNK_LINE;
			}
		} else if (p->chunk == CHUNK_LINE) {
			const char *lf = memchr(data, '\n', len);
			size_t piece = lf != NULL ? (size_t)(lf - data) : len;

			keep_start(p->carry, &p->carry_len, data, piece);
			if (lf == NULL)
				break;
			on_line(p, p->carry, p->carry_len, now);
			p->carry_len = 0;
			p->chunk = CHUNK_START;
			data = lf + 1;
			len -= piece + 1;
		} else {
			const char *lt = memchr(data, '<', len);
			size_t piece = lt != NULL ? (size_t)(lt - data) : len;

			on_user_bytes(p, p->chunk, data, piece, now);
			if (lt != NULL)
				p->chunk = CHUNK_START;
			data += piece;
			len -= piece;
		}
	}
}

/* =========================================================================
 * Part 4. Sending, and the connections.
 * ========================================================================= */

/* Peer P is gone: closed by the server, or reset. */
static void close_peer(struct peer *p)
{
	if (p->state == READY && (traffic || !opt.allow_refused))
		closed_early++;
	close(p->fd);
	p->fd = -1;
	p->state = CLOSED;
}

/*
 * Send what sender S may: what the socket did not take last time, then
 * every new line its window allows, each batch in one send() (lines typed
 * while the previous ones travel leave together, as from a real client),
 * until the socket is full or the window closes.
 */
static void feed_sender(struct sender *s, const struct round *r, long long stop_at)
{
	for (;;) {
		long long stamp = now_ns();
		ssize_t n;

		if (s->pending_off == s->pending_len) {
			s->pending_len = s->pending_off = 0;
			while (s->sent - s->complete < (uint64_t)r->window &&
			       (r->messages > 0 ? s->sent < (uint64_t)r->messages : stamp < stop_at) &&
			       s->pending_len + LINE_ROOM + (size_t)r->line_bytes <= s->pending_cap) {
				size_t len;

				if (s->sent == s->cap) {
					size_t cap = s->cap ? 2 * s->cap : 1024;
					uint32_t *deliveries = realloc(s->deliveries, cap * sizeof *deliveries);
					long long *sent_at = deliveries ? realloc(s->sent_at, cap * sizeof *sent_at) : NULL;

					if (deliveries == NULL || sent_at == NULL)
						die("realloc");
					memset(deliveries + s->cap, 0, (cap - s->cap) * sizeof *deliveries);
					s->deliveries = deliveries;
					s->sent_at = sent_at;
					s->cap = cap;
				}
				len = (size_t)snprintf(s->pending + s->pending_len, LINE_ROOM, "m %d %llu",
						       (int)(s - senders), (unsigned long long)s->sent);
				/* Padding to the size asked: " xxx...", then the LF. */
				if (len + 1 < (size_t)r->line_bytes) {
					memset(s->pending + s->pending_len + len, 'x', (size_t)r->line_bytes - 1 - len);
					s->pending[s->pending_len + len] = ' ';
					len = (size_t)r->line_bytes - 1;
				}
				s->pending[s->pending_len + len] = '\n';
				s->pending_len += len + 1;
				s->sent_at[s->sent++] = stamp;
				if (t_first_send == 0)
					t_first_send = stamp;
			}
		}
		if (s->pending_off == s->pending_len)
			return;
		n = send(s->peer->fd, s->pending + s->pending_off, s->pending_len - s->pending_off, 0);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			/* The server closed it (a reset, or EPIPE): it sends no more. */
			close_peer(s->peer);
			s->pending_off = s->pending_len;
			return;
		}
		s->pending_off += (size_t)n;
		if (s->pending_off < s->pending_len)
			return;
	}
}

/* Open peer P's connection, without waiting for it. */
static void start_connection(struct peer *p)
{
	int one = 1;

	p->fd = socket(server->ai_family, server->ai_socktype, server->ai_protocol);
	if (p->fd == -1)
		die("socket");
	/* Each line leaves at once: Nagle's algorithm would hold a line back
	 * while an earlier one is unacknowledged, and we would measure our
	 * own delay rather than the server's. */
	if (fcntl(p->fd, F_SETFL, O_NONBLOCK) == -1 ||
	    setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1)
		die("fcntl, setsockopt TCP_NODELAY");
	if (connect(p->fd, server->ai_addr, server->ai_addrlen) == 0) {
		p->state = GREETING;
	} else if (errno != EINPROGRESS) {
		if (!opt.allow_refused)
			die("connect");
		close(p->fd);
		p->fd = -1;
		p->state = CLOSED;
	}
}

/*
 * One poll() round over every connection, for at most TIMEOUT_MS: finish
 * connections, read what came, and send where the socket has room.
 */
static void poll_round(const struct round *r, long long stop_at, int timeout_ms)
{
	static char buf[65536];
	long long now;

	for (int i = 0; i < opt.clients; i++) {
		struct peer *p = &peers[i];
		int want_out = p->state == CONNECTING ||
			       (p->sender >= 0 && senders[p->sender].pending_off < senders[p->sender].pending_len);

		pfds[i].fd = p->state == CLOSED ? -1 : p->fd;
		pfds[i].events = (short)(p->state == CONNECTING ? POLLOUT : POLLIN | (want_out ? POLLOUT : 0));
	}
	if (poll(pfds, (nfds_t)opt.clients, timeout_ms) == -1 && errno != EINTR)
		die("poll");
	now = now_ns();
	for (int i = 0; i < opt.clients; i++) {
		struct peer *p = &peers[i];
		ssize_t n;

		if (pfds[i].revents == 0 || p->fd == -1)
			continue;
		if (p->state == CONNECTING) {
			int so_error = 0;
			socklen_t len = sizeof so_error;

			getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
			if (so_error == 0) {
				p->state = GREETING;
				continue;
			}
			if (!opt.allow_refused) {
				errno = so_error;
				die("connect");
			}
			close_peer(p);
			continue;
		}
		if ((pfds[i].revents & POLLOUT) && p->sender >= 0 && r != NULL)
			feed_sender(&senders[p->sender], r, stop_at);
		if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) || p->fd == -1)
			continue;
		n = recv(p->fd, buf, sizeof buf, 0);
		if (n > 0) {
#ifdef TCP_QUICKACK
			int one = 1;

			/* Acknowledge at once.  Linux delays ACKs, and a server
			 * without TCP_NODELAY (ncat) then holds its next write
			 * to us for up to 40 ms: we would measure that stall,
			 * which comes and goes, not the server.  The flag wears
			 * off: set it after every recv(). */
			setsockopt(p->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#endif
			if (opt.ncat)
				on_ncat_bytes(p, buf, (size_t)n, now);
			else
				on_bytes(p, buf, (size_t)n, now);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			continue;
		close_peer(p);  /* closed, or reset */
	}
}

/*
 * Raise the soft limit on open files to the hard one (on macOS, which
 * refuses more than OPEN_MAX, to MAX_OPEN_FILES).  Returns 0 if NEED
 * descriptors fit, or -1 after saying why not.
 */
static int raise_open_file_limit(rlim_t need)
{
	struct rlimit limit;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &limit) == -1)
		return 0;  /* cannot tell: socket() will say */
	was = limit.rlim_cur;
	if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur != limit.rlim_max) {
		limit.rlim_cur = limit.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &limit) == -1) {
			limit.rlim_cur = limit.rlim_max != RLIM_INFINITY && limit.rlim_max < MAX_OPEN_FILES
				? limit.rlim_max : MAX_OPEN_FILES;
			if (limit.rlim_cur < was || setrlimit(RLIMIT_NOFILE, &limit) == -1)
				limit.rlim_cur = was;
		}
	}
	if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < need) {
		fprintf(stderr, "chat_load: %d clients need %llu open files, but this process may open only %llu "
				"(hard limit %llu: `ulimit -Hn`; only root can raise it)\n",
			opt.clients, (unsigned long long)need, (unsigned long long)limit.rlim_cur,
			(unsigned long long)limit.rlim_max);
		return -1;
	}
	return 0;
}

/* =========================================================================
 * Part 5. The crowd, and rounds of traffic.
 * ========================================================================= */

/*
 * Step 1: connect every client, PACE at a time, and wait for the
 * greetings until DEADLINE.  Returns the time the last came, or 0 if the
 * crowd is not whole (and -a does not allow that), or time ran out.
 */
static long long join_crowd(long long start, long long deadline)
{
	if (opt.pace <= 0 || opt.pace > opt.clients)
		opt.pace = opt.clients;
	for (int i = 0; i < opt.clients; i++) {
		peers[i].fd = -1;
		peers[i].sender = -1;
		peers[i].state = CONNECTING;
		peers[i].chunk = CHUNK_START;
	}
	for (;;) {
		long long now = now_ns();
		int waiting = 0, in_flight = 0;

		/* Start connections, PACE at a time awaiting their greeting. */
		for (int i = 0; i < opt.clients; i++) {
			struct peer *p = &peers[i];

			if (p->fd == -1 && p->state == CONNECTING && in_flight < opt.pace)
				start_connection(p);
			in_flight += p->fd != -1 && (p->state == CONNECTING || p->state == GREETING);
		}
		waiting = in_flight;
		for (int i = 0; i < opt.clients; i++)
			waiting += peers[i].fd == -1 && peers[i].state == CONNECTING;
		if (waiting > 0 && opt.greet_ns >= 0 && now - start > opt.greet_ns && opt.allow_refused) {
			for (int i = 0; i < opt.clients; i++)
				if (peers[i].state == CONNECTING || peers[i].state == GREETING)
					peers[i].state = LEFT_OUT;
			waiting = 0;
		}
		if (waiting == 0) {
			for (int i = 0; i < opt.clients; i++) {
				if (peers[i].state == READY) {
					greeted++;
				} else {
					left_out++;
					refused += peers[i].state == CLOSED;
				}
			}
			return left_out > 0 && !opt.allow_refused ? 0 : now;
		}
		if (now > deadline || (closed_early && !opt.allow_refused))
			return 0;
		poll_round(NULL, 0, 10);
	}
}

/* The deliveries still due to clients that are connected. */
static uint64_t due_to_connected(void)
{
	uint64_t sent = 0, due = 0;

	for (int s = 0; s < nsenders; s++)
		sent += senders[s].sent;

	for (int i = 0; i < opt.clients; i++) {
		struct peer *p = &peers[i];

		if (p->in_round && p->state == READY)
			due += sent - (p->sender >= 0 ? senders[p->sender].sent : 0) - p->received;
	}
	return due;
}

/*
 * Steps 2 to 4: a round of traffic R among the greeted clients, until all
 * is delivered or DEADLINE; then print its figures (after PREFIX, which
 * ends in a space or is empty).  Returns 1 if all went well.
 */
static int run_round(const struct round *r, long long deadline, const char *prefix)
{
	long long start = now_ns(), stop_at = start + r->duration_ns, done_at = 0, span;
	double cpu_start = cpu_ms(opt.pid), own_start = own_cpu_ms(), cpu_end, own_end;
	uint64_t sent = 0, expected = 0, lost = 0, late = 0;
	int closed_before = closed_early, timed_out = 0, sending = 1, ok;

	if (r->messages == 0 && stop_at + r->drain_ns < deadline)
		deadline = stop_at + r->drain_ns;
	/* The senders: the first greeted clients. */
	delivered = dup_count = disorder = echoed = garbled = 0;
	memset(hist, 0, sizeof hist);
	t_first_send = t_last_delivery = 0;
	nsenders = 0;
	senders = allocate((size_t)r->senders, sizeof *senders);
	for (int i = 0; i < opt.clients; i++) {
		struct peer *p = &peers[i];

		p->sender = -1;
		p->received = 0;
		p->in_round = p->state == READY;
		if (p->state == READY && nsenders < r->senders) {
			struct sender *s = &senders[nsenders];

			s->peer = p;
			s->pending_cap = (size_t)r->window * (LINE_ROOM + (size_t)r->line_bytes);
			if (s->pending_cap > PENDING_MAX)
				s->pending_cap = PENDING_MAX;
			if (s->pending_cap < LINE_ROOM + (size_t)r->line_bytes)
				s->pending_cap = LINE_ROOM + (size_t)r->line_bytes;
			s->pending = allocate(s->pending_cap, 1);
			p->sender = nsenders++;
		}
	}
	receivers = greeted - 1;
	next_seq = allocate((size_t)opt.clients * (size_t)(nsenders > 0 ? nsenders : 1), sizeof *next_seq);
	traffic = 1;

	while (receivers > 0) {
		long long now = now_ns();

		if (sending) {
			sending = 0;
			for (int s = 0; s < nsenders; s++) {
				struct sender *snd = &senders[s];

				if (snd->peer->state != READY)
					continue;
				feed_sender(snd, r, stop_at);
				if (snd->pending_off < snd->pending_len ||
				    (r->messages > 0 ? snd->sent < (uint64_t)r->messages : now < stop_at))
					sending = 1;
			}
			/* A client closed: this round is spoiled; send no more,
			 * and wait only for what is on its way. */
			if (closed_early > closed_before && (opt.interactive || opt.allow_refused))
				stop_at = now;
		}
		if (!sending && due_to_connected() == 0) {
			done_at = now;
			break;
		}
		if (now > deadline) {
			timed_out = 1;
			break;
		}
		if (closed_early > closed_before && !opt.allow_refused && !opt.interactive)
			break;
		poll_round(r, stop_at, 10);
	}
	cpu_end = cpu_ms(opt.pid);
	own_end = own_cpu_ms();
	if (done_at == 0)
		done_at = now_ns();

	/* What never came: lost with the clients closed, late for the others. */
	sent = 0;
	for (int s = 0; s < nsenders; s++) {
		sent += senders[s].sent;
		expected += senders[s].sent * (uint64_t)(receivers > 0 ? receivers : 0);
	}
	for (int i = 0; i < opt.clients; i++) {
		struct peer *p = &peers[i];
		uint64_t due;

		if (!p->in_round)
			continue;
		due = sent - (p->sender >= 0 ? senders[p->sender].sent : 0);
		due = due > p->received ? due - p->received : 0;
		if (p->state == READY)
			late += due;
		else
			lost += due;
	}
	span = t_last_delivery > t_first_send ? t_last_delivery - t_first_send : 1;
	ok = lost == 0 && late == 0 && dup_count == 0 && disorder == 0 && echoed == 0 && garbled == 0 &&
	     !timed_out && closed_early == closed_before;
	printf("%ssenders=%d window=%d line_bytes=%d sent=%llu expected=%llu delivered=%llu lost=%llu late=%llu "
	       "dup=%llu disorder=%llu echoed=%llu garbled=%llu closed=%d timed_out=%d seconds=%.3f rate=%.0f "
	       "p50_us=%lld p99_us=%lld rss_end_kb=%ld cpu_ms=%.0f load_cpu_ms=%.0f clean=%d\n",
	       prefix, nsenders, r->window, r->line_bytes, (unsigned long long)sent,
	       (unsigned long long)expected, (unsigned long long)delivered, (unsigned long long)lost,
	       (unsigned long long)late, (unsigned long long)dup_count, (unsigned long long)disorder,
	       (unsigned long long)echoed, (unsigned long long)garbled, closed_early - closed_before, timed_out,
	       span / 1e9, (double)delivered / (span / 1e9),
	       delivered ? percentile(0.50, expected) : -1, delivered ? percentile(0.99, expected) : -1,
	       rss_kb(opt.pid), cpu_start >= 0 && cpu_end >= 0 ? cpu_end - cpu_start : -1.0,
	       own_end - own_start, ok);
	fflush(stdout);

	/* -H: hold every connection open a while more. */
	while (now_ns() < done_at + opt.hold_ms * 1000000LL)
		poll_round(r, stop_at, 50);
	traffic = 0;
	for (int s = 0; s < nsenders; s++) {
		free(senders[s].deliveries);
		free(senders[s].sent_at);
		free(senders[s].pending);
		senders[s].peer->sender = -1;
	}
	free(senders);
	free(next_seq);
	senders = NULL;
	next_seq = NULL;
	nsenders = 0;
	return ok;
}

/* -i: rounds of traffic as standard input asks, until it ends or one fails. */
static int run_rounds(void)
{
	char command[256];

	while (fgets(command, sizeof command, stdin) != NULL) {
		struct round r = { 0, 0, 0, 0, 0, opt.drain_ns };
		double seconds;

		if (sscanf(command, "run %d %d %d %lf", &r.senders, &r.window, &r.line_bytes, &seconds) != 4 ||
		    r.senders < 1 || r.window < 1 || r.line_bytes < 0 || seconds <= 0) {
			fprintf(stderr, "chat_load: not a command: %s", command);
			return 2;
		}
		r.duration_ns = (long long)(seconds * 1e9);
		if (!run_round(&r, now_ns() + r.duration_ns + r.drain_ns, "round "))
			return 1;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: chat_load [-c CLIENTS] [-P PACE] [-s SENDERS] [-m MESSAGES | -d SECONDS]\n"
			"                 [-w WINDOW] [-l BYTES] [-D DRAIN] [-t TIMEOUT] [-g GREET_MS] [-a]\n"
			"                 [-H HOLD_MS] [-p PID] [-f socklab|ncat] [-i] HOST PORT\n");
	exit(2);
}

int main(int argc, char *argv[])
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	long long start, greeted_at;
	long rss_before, rss_ready;
	int c, err, status;

	while ((c = getopt(argc, argv, "c:P:s:m:d:w:l:D:t:g:aH:p:f:i")) != -1) {
		switch (c) {
		case 'c': opt.clients = atoi(optarg); break;
		case 'P': opt.pace = atoi(optarg); break;
		case 's': opt.senders = atoi(optarg); break;
		case 'm': opt.messages = atoll(optarg); break;
		case 'd': opt.messages = 0; opt.duration_ns = (long long)(atof(optarg) * 1e9); break;
		case 'w': opt.window = atoi(optarg); break;
		case 'l': opt.line_bytes = atoi(optarg); break;
		case 'D': opt.drain_ns = (long long)(atof(optarg) * 1e9); break;
		case 't': opt.timeout_ns = (long long)(atof(optarg) * 1e9); break;
		case 'g': opt.greet_ns = atoll(optarg) * 1000000LL; break;
		case 'a': opt.allow_refused = 1; break;
		case 'H': opt.hold_ms = atoi(optarg); break;
		case 'p': opt.pid = atol(optarg); break;
		case 'f': opt.ncat = strcmp(optarg, "ncat") == 0; break;
		case 'i': opt.interactive = 1; break;
		default: usage();
		}
	}
	if (argc - optind != 2 || opt.clients < 1 || opt.senders < 1 || opt.window < 1 || opt.line_bytes < 0 ||
	    opt.line_bytes > 65536)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (raise_open_file_limit((rlim_t)opt.clients + FD_MARGIN) == -1)
		return 1;
	err = getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai);
	if (err != 0) {
		fprintf(stderr, "chat_load: %s: %s\n", argv[optind], gai_strerror(err));
		return 1;
	}
	server = ai;
	peers = allocate((size_t)opt.clients, sizeof *peers);
	pfds = allocate((size_t)opt.clients, sizeof *pfds);

	/* 1. Connect everyone (PACE at a time), and wait for the greetings. */
	rss_before = rss_kb(opt.pid);
	start = now_ns();
	greeted_at = join_crowd(start, start + opt.timeout_ns);
	rss_ready = rss_kb(opt.pid);
	printf("%sclients=%d greeted=%d left_out=%d refused=%d connect_ms=%.1f rss_before_kb=%ld rss_ready_kb=%ld ",
	       opt.interactive ? "joined " : "", opt.clients, greeted, left_out, refused,
	       greeted_at ? (greeted_at - start) / 1e6 : -1.0, rss_before, rss_ready);
	if (greeted_at == 0) {
		printf("timed_out=%d\n", now_ns() > start + opt.timeout_ns);
		status = 1;
	} else if (opt.interactive) {
		printf("timed_out=0\n");
		fflush(stdout);
		status = run_rounds();
	} else {
		struct round r = { opt.senders < opt.clients ? opt.senders : opt.clients, opt.window,
				   opt.line_bytes, opt.messages, opt.duration_ns, opt.drain_ns };

		status = run_round(&r, start + opt.timeout_ns, "") ? 0 : 1;
	}
	fflush(stdout);
	for (int i = 0; i < opt.clients; i++) {
		if (peers[i].fd != -1)
			close(peers[i].fd);
		free(peers[i].partials);
	}
	freeaddrinfo(ai);
	return status;
}
