/*
 * chat_load: a crowd of chat clients in one process, for lesson 04's tests
 * (200 clients) and for `make bench` (chat_server against ncat --chat).
 *
 *   usage: chat_load [-c CLIENTS] [-P PACE] [-s SENDERS] [-m MESSAGES | -d SECONDS]
 *                    [-w WINDOW] [-t TIMEOUT] [-g GREET_MS] [-a] [-H HOLD_MS]
 *                    [-p PID] [-f socklab|ncat] HOST PORT
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
 *   2. The first SENDERS clients send lines "m S Q T": sender S, sequence
 *      number Q, send time T in ns.  A sender keeps at most WINDOW lines
 *      that have not yet reached every other client (a closed loop: the
 *      load never outruns the receivers, so no queue overflows).  -m: each
 *      sends MESSAGES lines; -d: they send for SECONDS.
 *   3. Every other client must receive each line exactly once, in order,
 *      and never its own.  The server's prefix ("<guest5> " or ncat's
 *      "<user5> ", which ncat puts only at the start of each chunk it
 *      reads) is skipped; other lines (notices) are ignored.
 *   4. Stop when all is delivered (or TIMEOUT seconds since the start);
 *      with -H, keep every connection open HOLD_MS more.
 *
 * Prints one line of key=value results: connect_ms (first connect to last
 * greeting), rate (deliveries per second from the first line sent to the
 * last delivered), p50_us and p99_us (send to delivery); with -p, the VmRSS
 * of process PID before connecting, once all are greeted and at the end,
 * and its CPU time during the traffic (cpu_ms).  Exit status 0 if nothing
 * was lost, duplicated, reordered, echoed or garbled and no client was
 * left out without -a; 1 otherwise; 2 on usage errors.
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

#define CARRY_SIZE 160          /* kept of a partial line: enough for ours */
#define HIST_US 1000000         /* latency histogram: 1 us buckets up to 1 s */
#define DRAIN_NS 5000000000LL   /* -d: how long to wait for the last lines */
#define LINE_ROOM 64            /* room for one line "m S Q T\n" */
#define MAX_OPEN_FILES 10240    /* macOS refuses more (its OPEN_MAX) */

enum state { CONNECTING, GREETING, READY, LEFT_OUT, CLOSED };

struct peer {
	int fd;
	enum state state;
	int sender;             /* index among the senders, or -1 */
	uint64_t *next_seq;     /* per sender: the next sequence number due */
	size_t carry_len;
	char carry[CARRY_SIZE]; /* the start of a line whose LF has not come */
};

struct sender {
	struct peer *peer;
	uint64_t sent, complete; /* lines sent; lines delivered to everyone */
	uint32_t *deliveries;    /* per sequence number: receivers reached */
	size_t cap;
	char pending[4096];      /* lines the socket has not taken yet */
	size_t pending_len, pending_off;
};

static struct {
	int clients, pace, senders, window, hold_ms, allow_refused, ncat;
	long long messages, duration_ns, timeout_ns, greet_ns;
	long pid;
} opt = { 10, 0, 1, 16, 0, 0, 0, 1, 0, 30000000000LL, -1, 0 };

static struct peer *peers;
static struct sender *senders;
static int nsenders, receivers, traffic;
static uint64_t delivered, dup_count, disorder, echoed, garbled, ignored_lines;
static uint32_t hist[HIST_US + 1];
static long long t_first_send, t_last_delivery;

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

/* One line "m S Q T" (after any "<name> " prefix) reached peer P. */
static void on_message(struct peer *p, const char *text, size_t len, long long now)
{
	const char *at = text + 1, *end = text + len;
	unsigned long long s, q, t;
	struct sender *snd;
	long long us;

	if (take_number(&at, end, &s) == -1 || take_number(&at, end, &q) == -1 ||
	    take_number(&at, end, &t) == -1 || at != end ||
	    s >= (unsigned long long)nsenders || q >= senders[s].sent) {
		garbled++;
		return;
	}
	snd = &senders[s];
	if (p->sender == (int)s) {
		echoed++;
		return;
	}
	if (q < p->next_seq[s]) {
		dup_count++;
		return;
	}
	if (q > p->next_seq[s])
		disorder++;
	p->next_seq[s] = q + 1;
	snd->deliveries[q]++;
	delivered++;
	t_last_delivery = now;
	us = (now - (long long)t) / 1000;
	hist[us < 0 ? 0 : us > HIST_US ? HIST_US : us]++;
	while (snd->complete < snd->sent && snd->deliveries[snd->complete] >= (uint32_t)receivers)
		snd->complete++;
}

/* A whole line (without its LF) arrived at peer P. */
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
	/* Skip the sender's name: "<guest5> " or ncat's "<user5> ". */
	if (len > 0 && line[0] == '<') {
		const char *gt = memchr(line, '>', len);

		if (gt == NULL || (size_t)(gt - line) + 2 > len || gt[1] != ' ') {
			ignored_lines++;
			return;
		}
		len -= (size_t)(gt + 2 - line);
		line = gt + 2;
	}
	/* A message, or one that ncat cut with a "<userN> " in its middle. */
	if (len >= 2 && line[0] == 'm' && line[1] == ' ')
		on_message(p, line, len, now);
	else
		ignored_lines++;
}

/* Cut the bytes that arrived at peer P into lines. */
static void on_bytes(struct peer *p, const char *data, size_t len, long long now)
{
	while (len > 0) {
		const char *lf = memchr(data, '\n', len);
		size_t piece = lf != NULL ? (size_t)(lf - data) : len;

		if (lf != NULL && p->carry_len == 0) {
			on_line(p, data, piece, now);
		} else {
			/* Keep the start of a long line: enough to recognise it. */
			size_t room = CARRY_SIZE - p->carry_len;
			size_t take = piece < room ? piece : room;

			memcpy(p->carry + p->carry_len, data, take);
			p->carry_len += take;
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
 * Send what sender S may: what the socket did not take last time, then
 * every new line its window allows, all in one send() (lines typed while
 * the previous ones travel leave together, as from a real client).
 */
static void feed_sender(struct sender *s, long long now, long long stop_at)
{
	ssize_t n;

	if (s->pending_off == s->pending_len) {
		long long stamp = now_ns();

		s->pending_len = s->pending_off = 0;
		while (s->sent - s->complete < (uint64_t)opt.window &&
		       (opt.messages > 0 ? s->sent < (uint64_t)opt.messages : now < stop_at) &&
		       s->pending_len + LINE_ROOM <= sizeof s->pending) {
			if (s->sent == s->cap) {
				size_t cap = s->cap ? 2 * s->cap : 1024;
				uint32_t *bigger = realloc(s->deliveries, cap * sizeof *bigger);

				if (bigger == NULL)
					die("realloc");
				memset(bigger + s->cap, 0, (cap - s->cap) * sizeof *bigger);
				s->deliveries = bigger;
				s->cap = cap;
			}
			s->pending_len += (size_t)snprintf(s->pending + s->pending_len, LINE_ROOM, "m %d %llu %lld\n",
							   (int)(s - senders), (unsigned long long)s->sent, stamp);
			s->sent++;
			if (t_first_send == 0)
				t_first_send = now;
		}
	}
	if (s->pending_off == s->pending_len)
		return;
	n = send(s->peer->fd, s->pending + s->pending_off, s->pending_len - s->pending_off, 0);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		die("send");
	}
	s->pending_off += (size_t)n;
}

static long long percentile(double fraction)
{
	uint64_t want = (uint64_t)((double)delivered * fraction), seen = 0;

	for (long long us = 0; us <= HIST_US; us++) {
		seen += hist[us];
		if (seen > want)
			return us;
	}
	return HIST_US;
}

/*
 * Raise the soft limit on open files towards the hard one, to at most
 * MAX_OPEN_FILES: never to RLIM_INFINITY, which macOS refuses.  If that
 * fails, socket() fails later, when the descriptors run out.
 */
static void raise_open_file_limit(void)
{
	struct rlimit limit;
	rlim_t want = MAX_OPEN_FILES;

	if (getrlimit(RLIMIT_NOFILE, &limit) == -1)
		return;
	if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < want)
		want = limit.rlim_max;
	if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= want)
		return;
	limit.rlim_cur = want;
	setrlimit(RLIMIT_NOFILE, &limit);
}

static void usage(void)
{
	fprintf(stderr, "usage: chat_load [-c CLIENTS] [-P PACE] [-s SENDERS] [-m MESSAGES | -d SECONDS] [-w WINDOW]\n"
			"                 [-t TIMEOUT] [-g GREET_MS] [-a] [-H HOLD_MS] [-p PID] [-f socklab|ncat] HOST PORT\n");
	exit(2);
}

int main(int argc, char *argv[])
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	struct pollfd *pfds;
	static char buf[65536];
	long long start, greeted_at = 0, stop_at = 0, done_at = 0, deadline;
	long rss_before, rss_ready = -1;
	double cpu_start = -1, cpu_end = -1;
	int c, one = 1, greeted = 0, left_out = 0, refused = 0, closed_early = 0, timed_out = 0, err;
	uint64_t expected = 0, sent = 0;

	while ((c = getopt(argc, argv, "c:P:s:m:d:w:t:g:aH:p:f:")) != -1) {
		switch (c) {
		case 'c': opt.clients = atoi(optarg); break;
		case 'P': opt.pace = atoi(optarg); break;
		case 's': opt.senders = atoi(optarg); break;
		case 'm': opt.messages = atoll(optarg); break;
		case 'd': opt.messages = 0; opt.duration_ns = (long long)(atof(optarg) * 1e9); break;
		case 'w': opt.window = atoi(optarg); break;
		case 't': opt.timeout_ns = (long long)(atof(optarg) * 1e9); break;
		case 'g': opt.greet_ns = atoll(optarg) * 1000000LL; break;
		case 'a': opt.allow_refused = 1; break;
		case 'H': opt.hold_ms = atoi(optarg); break;
		case 'p': opt.pid = atol(optarg); break;
		case 'f': opt.ncat = strcmp(optarg, "ncat") == 0; break;
		default: usage();
		}
	}
	if (argc - optind != 2 || opt.clients < 1 || opt.senders < 1 || opt.window < 1)
		usage();
	if (opt.senders > opt.clients)
		opt.senders = opt.clients;
	signal(SIGPIPE, SIG_IGN);
	raise_open_file_limit();
	err = getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai);
	if (err != 0) {
		fprintf(stderr, "chat_load: %s: %s\n", argv[optind], gai_strerror(err));
		return 1;
	}
	peers = calloc((size_t)opt.clients, sizeof *peers);
	pfds = calloc((size_t)opt.clients, sizeof *pfds);
	senders = calloc((size_t)opt.senders, sizeof *senders);
	if (peers == NULL || pfds == NULL || senders == NULL)
		die("calloc");

	/* 1. Connect everyone (PACE at a time), and wait for the greetings. */
	rss_before = rss_kb(opt.pid);
	start = now_ns();
	deadline = start + opt.timeout_ns;
	if (opt.pace <= 0 || opt.pace > opt.clients)
		opt.pace = opt.clients;
	for (int i = 0; i < opt.clients; i++) {
		peers[i].fd = -1;
		peers[i].sender = -1;
		peers[i].state = CONNECTING;
	}

	for (;;) {
		long long now = now_ns();
		int waiting = 0, busy = 0, in_flight = 0;

		/* Start connections, PACE at a time awaiting their greeting. */
		for (int i = 0; i < opt.clients && !traffic; i++) {
			struct peer *p = &peers[i];

			if (p->fd == -1 && p->state == CONNECTING && in_flight < opt.pace) {
				p->fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
				if (p->fd == -1)
					die("socket");
				/* Each line leaves at once: Nagle's algorithm would
				 * hold a line back while an earlier one is
				 * unacknowledged, and we would measure our own delay
				 * rather than the server's. */
				if (fcntl(p->fd, F_SETFL, O_NONBLOCK) == -1 ||
				    setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1)
					die("fcntl, setsockopt TCP_NODELAY");
				if (connect(p->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
					p->state = GREETING;
				} else if (errno != EINPROGRESS) {
					if (!opt.allow_refused)
						die("connect");
					close(p->fd);
					p->state = CLOSED;
					refused++;
					continue;
				}
			}
			in_flight += p->fd != -1 && (p->state == CONNECTING || p->state == GREETING);
		}

		/* Phase changes. */
		if (!traffic) {
			for (int i = 0; i < opt.clients; i++)
				waiting += peers[i].state == CONNECTING || peers[i].state == GREETING;
			if (waiting > 0 && opt.greet_ns >= 0 && now - start > opt.greet_ns && opt.allow_refused) {
				for (int i = 0; i < opt.clients; i++)
					if (peers[i].state == CONNECTING || peers[i].state == GREETING)
						peers[i].state = LEFT_OUT;
				waiting = 0;
			}
			if (waiting == 0) {
				greeted_at = now;
				rss_ready = rss_kb(opt.pid);
				for (int i = 0; i < opt.clients; i++) {
					struct peer *p = &peers[i];

					if (p->state != READY) {
						left_out++;
						continue;
					}
					greeted++;
					if (nsenders < opt.senders) {
						senders[nsenders].peer = p;
						p->sender = nsenders++;
					}
				}
				if (left_out > 0 && !opt.allow_refused)
					break;
				receivers = greeted - 1;
				for (int i = 0; i < opt.clients; i++) {
					peers[i].next_seq = calloc((size_t)opt.senders, sizeof *peers[i].next_seq);
					if (peers[i].next_seq == NULL)
						die("calloc");
				}
				traffic = 1;
				stop_at = now + opt.duration_ns;
				cpu_start = cpu_ms(opt.pid);
			}
		}
		if (traffic && done_at == 0) {
			int all_done = 1;

			for (int s = 0; s < nsenders; s++) {
				feed_sender(&senders[s], now, stop_at);
				if (senders[s].complete < senders[s].sent || senders[s].pending_off < senders[s].pending_len ||
				    (opt.messages > 0 ? senders[s].sent < (uint64_t)opt.messages : now < stop_at))
					all_done = 0;
			}
			if (all_done || receivers <= 0)
				done_at = now;
			else if (opt.messages == 0 && now > stop_at + DRAIN_NS)
				done_at = now, timed_out = 1;
			if (done_at != 0)
				cpu_end = cpu_ms(opt.pid);
		}
		if (done_at != 0 && now >= done_at + opt.hold_ms * 1000000LL)
			break;
		if (now > deadline) {
			timed_out = 1;
			break;
		}
		if (closed_early && !opt.allow_refused)
			break;

		/* 2. One poll() round over every connection. */
		for (int i = 0; i < opt.clients; i++) {
			struct peer *p = &peers[i];
			int want_out = p->state == CONNECTING ||
				       (p->sender >= 0 && senders[p->sender].pending_off < senders[p->sender].pending_len);

			pfds[i].fd = p->state == CLOSED ? -1 : p->fd;
			pfds[i].events = (short)(p->state == CONNECTING ? POLLOUT : POLLIN | (want_out ? POLLOUT : 0));
			busy |= want_out;
		}
		if (poll(pfds, (nfds_t)opt.clients, busy || done_at == 0 ? 10 : 50) == -1 && errno != EINTR)
			die("poll");
		now = now_ns();
		for (int i = 0; i < opt.clients; i++) {
			struct peer *p = &peers[i];
			ssize_t n;

			if (pfds[i].revents == 0)
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
				close(p->fd);
				p->state = CLOSED;
				refused++;
				continue;
			}
			n = recv(p->fd, buf, sizeof buf, 0);
			if (n > 0) {
#ifdef TCP_QUICKACK
				/* Acknowledge at once.  Linux delays ACKs, and a
				 * server without TCP_NODELAY (ncat) then holds its
				 * next write to us for up to 40 ms: we would measure
				 * that stall, which comes and goes, not the server.
				 * The flag wears off: set it after every recv(). */
				setsockopt(p->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#endif
				on_bytes(p, buf, (size_t)n, now);
				continue;
			}
			if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				continue;
			/* Closed, or reset. */
			if (p->state == READY && traffic)
				closed_early++;
			if (p->state == READY && !traffic && !opt.allow_refused)
				closed_early++;
			refused += p->state == GREETING;
			close(p->fd);
			p->state = CLOSED;
		}
	}

	for (int s = 0; s < nsenders; s++) {
		sent += senders[s].sent;
		expected += senders[s].sent * (uint64_t)(receivers > 0 ? receivers : 0);
	}
	{
		long long span = t_last_delivery > t_first_send ? t_last_delivery - t_first_send : 1;
		uint64_t lost = expected > delivered ? expected - delivered : 0;
		int ok = lost == 0 && dup_count == 0 && disorder == 0 && echoed == 0 && garbled == 0 &&
			 !timed_out && closed_early == 0 && (opt.allow_refused || left_out == 0);

		printf("clients=%d greeted=%d left_out=%d refused=%d connect_ms=%.1f senders=%d sent=%llu expected=%llu "
		       "delivered=%llu lost=%llu dup=%llu disorder=%llu echoed=%llu garbled=%llu closed=%d "
		       "timed_out=%d seconds=%.3f rate=%.0f p50_us=%lld p99_us=%lld "
		       "rss_before_kb=%ld rss_ready_kb=%ld rss_end_kb=%ld cpu_ms=%.0f\n",
		       opt.clients, greeted, left_out, refused, greeted_at ? (greeted_at - start) / 1e6 : -1.0, nsenders,
		       (unsigned long long)sent, (unsigned long long)expected, (unsigned long long)delivered,
		       (unsigned long long)lost, (unsigned long long)dup_count, (unsigned long long)disorder,
		       (unsigned long long)echoed, (unsigned long long)garbled, closed_early, timed_out,
		       span / 1e9, (double)delivered / (span / 1e9),
		       delivered ? percentile(0.50) : -1, delivered ? percentile(0.99) : -1,
		       rss_before, rss_ready, rss_kb(opt.pid),
		       cpu_start >= 0 && cpu_end >= 0 ? cpu_end - cpu_start : -1.0);
		fflush(stdout);
		for (int i = 0; i < opt.clients; i++)
			if (peers[i].state != CLOSED && peers[i].fd != -1)
				close(peers[i].fd);
		freeaddrinfo(ai);
		return ok ? 0 : 1;
	}
}
