/*
 * chat_peer: chat clients for lesson 04's tests that nc cannot play.
 *
 *   chat_peer mute HOST PORT
 *       Connect with a tiny receive buffer and a small MSS, so that little
 *       data waits in the kernel's buffers for this connection; print
 *       "connected"; then read nothing until a line arrives on standard
 *       input (or it ends): a client that stops reading.  After that, copy
 *       everything received to standard output until the server closes.
 *       Gives up after 60 s.
 *   chat_peer pieces HOST PORT PIECE...
 *       Connect, wait for the first line (the welcome), then send each
 *       PIECE in a send() of its own, waiting after each until the
 *       server has read it (on Linux, until its socket's receive queue in
 *       /proc/net/tcp is empty; elsewhere 100 ms).  Then send "/who" and
 *       copy everything received, welcome included, to standard output
 *       until the "* online: " line.
 *   chat_peer storm HOST PORT SENDERS LINES LEAVERS READERS [small]
 *       Connect SENDERS, then LEAVERS, then READERS clients (with "small",
 *       the readers have mute's small buffers), reading all
 *       the while, and wait for every welcome; print "ready" and wait for a
 *       line on standard input.  Then at once each sender sends LINES
 *       one-byte lines "x" in one send() (LINES <= 1024: 2 KiB at most,
 *       one read for the server) and each leaver closes; print "sent".
 *       Every sender and reader must then stay connected and receive each
 *       sender's lines (not its own) and a "* NAME left" for each leaver,
 *       within 10 s.  On failure print how many were closed or short.
 *   chat_peer turns HOST PORT LINES
 *       Connect three clients, A, B and R, and wait for their welcomes;
 *       print "ready" and wait for a line on standard input.  Then A sends
 *       LINES numbered lines of 1000 bytes in one send() (LINES <= 60), or
 *       with LINES 0 floods: sends 1000-byte lines as long as the kernel
 *       takes them, and goes on without pause; then B sends one line.
 *       Wait until the server's kernel holds what B sent (and A's lines,
 *       but for a flood: on Linux, until /proc/net/tcp shows nothing
 *       unacknowledged; elsewhere 100 ms), and print "sent".  R then reads
 *       until B's line arrives, at most 10 s, and prints "before=N
 *       intact=K": N lines of A came before B's, K of them whole and in
 *       order.  Exit 0 if B's line came.
 *   chat_peer cycles HOST PORT N
 *       N clients join and leave, 8 at a time: each connects, sends four
 *       "/who" and the start of a line in one send() (four replies queued
 *       at once, and an unfinished line kept), waits for its welcome and
 *       the four replies, and closes with a reset (so that no TIME_WAIT
 *       holds a port).  Print "cycles=N" and exit 0 if
 *       every one was welcomed and answered.
 *   chat_peer late HOST
 *       A server that answers late: listen on HOST, any free port; print
 *       "PORT n"; copy what one client sends to standard output until it
 *       half-closes; only then send "a late reply\n", and close.
 *
 * Exit status 0 on success, 1 on errors (on stderr), 2 on usage errors.
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "chat_peer: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Connect to HOST:PORT; SMALL asks for small buffers and segments. */
static int connect_to(const char *host, const char *port, int small)
{
	int rcvbuf = 1024;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int fd, err = getaddrinfo(host, port, &hints, &ai);

	if (err != 0) {
		fprintf(stderr, "chat_peer: %s: %s\n", host, gai_strerror(err));
		exit(1);
	}
	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd == -1)
		die("socket");
	if (small && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == -1)
		die("setsockopt SO_RCVBUF");
	/* The server's kernel sizes its send buffer for us from our MSS:
	 * with loopback's 64 KiB segments it would hold megabytes.
	 * TCP_MAXSEG is not POSIX: macOS hides it from POSIX programs. */
#ifdef TCP_MAXSEG
	if (small) {
		int mss = 536;

		if (setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss) == -1)
			die("setsockopt TCP_MAXSEG");
	}
#endif
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		die("connect");
	freeaddrinfo(ai);
	return fd;
}

/* The port of a socket address, or -1. */
static int port_of(const struct sockaddr_storage *addr)
{
	if (addr->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)addr)->sin_port);
	if (addr->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
	return -1;
}

/*
 * 1 if the server's end of our connection (local port SERVER, remote port
 * OURS) has nothing unread (unless ACKED) and our end nothing
 * unacknowledged, 0 if not, -1 if /proc/net/tcp cannot tell.
 */
static int server_has_read_all(int server, int ours, int acked)
{
	static const char *tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	int found = 0, drained = 1;

	for (size_t t = 0; t < 2; t++) {
		char line[512];
		FILE *f = fopen(tables[t], "r");

		if (f == NULL)
			continue;
		while (fgets(line, sizeof line, f) != NULL) {
			char local[64], remote[64];
			unsigned state, tx, rx, lport, rport;
			const char *colon;

			if (sscanf(line, " %*u: %63s %63s %x %x:%x", local, remote, &state, &tx, &rx) != 5)
				continue;
			colon = strrchr(local, ':');
			if (colon == NULL || sscanf(colon + 1, "%x", &lport) != 1)
				continue;
			colon = strrchr(remote, ':');
			if (colon == NULL || sscanf(colon + 1, "%x", &rport) != 1)
				continue;
			if ((int)lport == server && (int)rport == ours) {
				found = 1;
				drained &= acked || rx == 0;
			} else if ((int)lport == ours && (int)rport == server) {
				drained &= tx == 0;
			}
		}
		fclose(f);
	}
	return found ? drained : -1;
}

/* Wait until the server read what we sent (ACKED: until its kernel
 * acknowledged it): /proc/net/tcp, or 100 ms. */
static void wait_until(int fd, int acked)
{
	struct sockaddr_storage mine, theirs;
	socklen_t len1 = sizeof mine, len2 = sizeof theirs;
	int ours, server;

	if (getsockname(fd, (struct sockaddr *)&mine, &len1) == -1 ||
	    getpeername(fd, (struct sockaddr *)&theirs, &len2) == -1)
		die("getsockname");
	ours = port_of(&mine);
	server = port_of(&theirs);
	for (int tries = 0; tries < 3000; tries++) {
		int r = server_has_read_all(server, ours, acked);

		if (r == 1)
			return;
		if (r == -1)
			break;
		nap_ms(1);
	}
	nap_ms(100);
}

/* Copy what arrives on FD to stdout until a line starting with MARK; 1 if seen. */
static int copy_until(int fd, const char *mark, char *seen, size_t *seen_len, size_t seen_size)
{
	for (;;) {
		char buf[4096];
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		const char *line;

		if (poll(&p, 1, 5000) <= 0)
			return 0;
		n = recv(fd, buf, sizeof buf, 0);
		if (n <= 0)
			return 0;
		fwrite(buf, 1, (size_t)n, stdout);
		if (*seen_len + (size_t)n >= seen_size)
			*seen_len = 0;
		memcpy(seen + *seen_len, buf, (size_t)n);
		*seen_len += (size_t)n;
		seen[*seen_len] = '\0';
		for (line = seen; line != NULL; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
			if (strncmp(line, mark, strlen(mark)) == 0 && strchr(line, '\n') != NULL)
				return 1;
	}
}

/* A client of storm: what it has received so far. */
struct stormer {
	int fd, role;           /* role: 'S'ender, 'L'eaver or 'R'eader */
	int welcomed, closed;
	long messages, lefts;   /* lines "<NAME> x" and "* NAME left" */
	char line[64];          /* the start of the line being received */
	size_t len;
};

/* True if the string S ends with END. */
static int ends_with(const char *s, const char *end)
{
	return strlen(s) >= strlen(end) && strcmp(s + strlen(s) - strlen(end), end) == 0;
}

/* Read what is there for each of the N clients of C, waiting at most MS
 * for the first (P: room for N entries); count their lines.  Returns how
 * many clients other than leavers are closed. */
static int storm_read(struct stormer *c, struct pollfd *p, size_t n, int ms)
{
	int closed = 0;

	for (size_t i = 0; i < n; i++) {
		/* A leaver is read until its welcome: the kernel's buffers take
		 * the join notices after it, fewer than 68 KB. */
		p[i].fd = c[i].role == 'L' && c[i].welcomed ? -1 : c[i].fd;
		p[i].events = POLLIN;
	}
	if (poll(p, (nfds_t)n, ms) == -1)
		die("poll");
	for (size_t i = 0; i < n; i++) {
		char buf[65536];
		ssize_t got = p[i].revents != 0 ? recv(c[i].fd, buf, sizeof buf, 0) : 0;

		if (p[i].revents != 0 && got <= 0)
			c[i].closed = 1;
		for (ssize_t j = 0; j < got && !(c[i].role == 'L' && c[i].welcomed); j++) {
			if (buf[j] != '\n') {
				if (c[i].len < sizeof c[i].line - 1)
					c[i].line[c[i].len++] = buf[j];
				continue;
			}
			c[i].line[c[i].len] = '\0';
			c[i].len = 0;
			if (strncmp(c[i].line, "* Welcome, ", 11) == 0)
				c[i].welcomed = 1;
			else if (c[i].line[0] == '<' && ends_with(c[i].line, "> x"))
				c[i].messages++;
			else if (c[i].line[0] == '*' && ends_with(c[i].line, " left"))
				c[i].lefts++;
		}
	}
	for (size_t i = 0; i < n; i++)
		closed += c[i].closed && c[i].role != 'L';
	return closed;
}

static int storm(const char *host, const char *port, long senders, long lines, long leavers, long readers, int small)
{
	size_t n = (size_t)(senders + leavers + readers), done = 0;
	struct stormer *c = calloc(n, sizeof *c);
	struct pollfd *p = calloc(n, sizeof *p);
	static char burst[2048];
	long short_of = 0;
	struct pollfd in = { .fd = STDIN_FILENO, .events = POLLIN };

	if (c == NULL || p == NULL || lines < 0 || lines > 1024)
		die("storm");
	for (size_t i = 0; i < n; i++) {
		c[i].role = (long)i < senders ? 'S' : (long)i < senders + leavers ? 'L' : 'R';
		c[i].fd = connect_to(host, port, small && c[i].role == 'R');
		if (i % 64 == 63)  /* the joins keep coming: read them */
			storm_read(c, p, i + 1, 0);
	}
	for (int tries = 0; done < n && tries < 1000; tries++) {
		if (storm_read(c, p, n, 10) > 0)
			break;
		done = 0;
		for (size_t i = 0; i < n; i++)
			done += c[i].welcomed;
	}
	if (done < n) {
		fprintf(stderr, "chat_peer: only %zu of %zu clients were welcomed\n", done, n);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if (poll(&in, 1, 10000) != 1)
		return 1;
	for (long i = 0; i < lines; i++)
		memcpy(burst + 2 * i, "x\n", 2);
	for (size_t i = 0; i < n; i++) {
		if (c[i].role == 'S' && send(c[i].fd, burst, 2 * (size_t)lines, 0) != 2 * lines)
			die("send");
		if (c[i].role == 'L') {
			close(c[i].fd);
			c[i].welcomed = 2;
		}
	}
	printf("sent\n");
	fflush(stdout);
	for (int tries = 0; tries < 1000; tries++) {
		int closed = storm_read(c, p, n, 10);

		short_of = 0;
		for (size_t i = 0; i < n; i++)
			if (c[i].role != 'L')
				short_of += c[i].messages < (senders - (c[i].role == 'S')) * lines || c[i].lefts < leavers;
		if (closed > 0 || short_of == 0) {
			if (closed == 0)
				return 0;
			printf("the server closed %d of the %ld clients that read\n", closed, senders + readers);
			return 1;
		}
	}
	printf("after 10 s, %ld of the %ld clients that read still miss lines\n", short_of, senders + readers);
	return 1;
}

/* One client of turns: its socket, its name, the line being received. */
struct turner {
	int fd;
	char name[32];         /* from its welcome; "" until then */
	char line[1100];       /* the start of the line being received */
	size_t len;
	long count;            /* lines counted by the caller's SEEN */
};

/* Read what is there on T (one recv()); call SEEN with each whole line,
 * cut to the size of T->line.  Returns what recv() returned. */
static ssize_t turner_read(struct turner *t, void (*seen)(struct turner *, const char *))
{
	char buf[65536];
	ssize_t got = recv(t->fd, buf, sizeof buf, 0);

	for (ssize_t j = 0; j < got; j++) {
		if (buf[j] != '\n') {
			if (t->len < sizeof t->line - 1)
				t->line[t->len++] = buf[j];
			continue;
		}
		t->line[t->len] = '\0';
		t->len = 0;
		if (t->name[0] == '\0' && sscanf(t->line, "* Welcome, %31[^!]!", t->name) == 1)
			continue;
		if (seen != NULL)
			seen(t, t->line);
	}
	return got;
}

static struct {
	char a_prefix[48], b_line[48];
	long lines, before, intact;
	int b_seen;
} turns_r;

/* What R sees: A's lines (count, and check) until B's. */
static void turns_seen(struct turner *r, const char *line)
{
	char want[1100];

	(void)r;
	if (turns_r.b_seen)
		return;
	if (strcmp(line, turns_r.b_line) == 0) {
		turns_r.b_seen = 1;
	} else if (strncmp(line, turns_r.a_prefix, strlen(turns_r.a_prefix)) == 0) {
		if (turns_r.lines > 0)
			snprintf(want, sizeof want, "%sa %03ld %0*d", turns_r.a_prefix, turns_r.before,
			         999 - 6, 0);
		else
			snprintf(want, sizeof want, "%s%0*d", turns_r.a_prefix, 999, 0);
		turns_r.intact += strcmp(line, want) == 0;
		turns_r.before++;
	}
}

static int turns(const char *host, const char *port, long lines)
{
	static char flood[64 * 1000];
	struct turner t[3] = { { .fd = -1 }, { .fd = -1 }, { .fd = -1 } };  /* A, B, R */
	struct pollfd p[3], in = { .fd = STDIN_FILENO, .events = POLLIN };
	size_t sent = 0, want;
	int sndbuf = 4 << 20;

	if (lines < 0 || lines > 60)
		die("turns: LINES");
	for (int i = 0; i < 3; i++)
		t[i].fd = connect_to(host, port, 0);
	for (int tries = 0; tries < 500 && !(t[0].name[0] && t[1].name[0] && t[2].name[0]); tries++) {
		for (int i = 0; i < 3; i++)
			p[i] = (struct pollfd){ .fd = t[i].fd, .events = POLLIN };
		if (poll(p, 3, 10) == -1)
			die("poll");
		for (int i = 0; i < 3; i++)
			if (p[i].revents != 0 && turner_read(&t[i], NULL) <= 0)
				die("turns: closed before its welcome");
	}
	if (!(t[0].name[0] && t[1].name[0] && t[2].name[0]))
		die("turns: no welcome");
	snprintf(turns_r.a_prefix, sizeof turns_r.a_prefix, "<%s> ", t[0].name);
	snprintf(turns_r.b_line, sizeof turns_r.b_line, "<%s> my turn", t[1].name);
	turns_r.lines = lines;
	printf("ready\n");
	fflush(stdout);
	if (poll(&in, 1, 10000) != 1)
		return 1;
	/* A's lines: "a NNN 000...0" (LINES), or "000...0" (a flood). */
	for (long i = 0; i < 64; i++) {
		char *line = flood + 1000 * i;

		if (lines > 0)
			snprintf(line, 1000, "a %03ld %0*d", i, 999 - 6, 0);
		else
			snprintf(line, 1000, "%0*d", 999, 0);
		line[999] = '\n';
	}
	if (lines == 0 && setsockopt(t[0].fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) == -1)
		die("setsockopt SO_SNDBUF");
	for (int i = 0; i < 3; i++)
		if (fcntl(t[i].fd, F_SETFL, fcntl(t[i].fd, F_GETFL) | O_NONBLOCK) == -1)
			die("fcntl");
	want = lines > 0 ? 1000 * (size_t)lines : SIZE_MAX;
	for (int tries = 0; sent < want && tries < 5000; tries++) {
		size_t off = sent % sizeof flood;
		size_t len = want - sent < sizeof flood - off ? want - sent : sizeof flood - off;
		ssize_t n = send(t[0].fd, flood + off, len, 0);
		struct pollfd out = { .fd = t[0].fd, .events = POLLOUT };

		if (n > 0)
			sent += (size_t)n;
		else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			die("send");
		else if (lines == 0)
			break;  /* a flood: all the kernel takes for now */
		else if (poll(&out, 1, 1) == -1)
			die("poll");
	}
	if (sent < want && lines > 0)
		die("turns: A could not send its lines");
	if (send(t[1].fd, "my turn\n", 8, 0) != 8)
		die("send");
	if (lines > 0)
		wait_until(t[0].fd, 1);
	wait_until(t[1].fd, 1);
	printf("sent\n");
	fflush(stdout);
	for (int tries = 0; tries < 10000 && !turns_r.b_seen; tries++) {
		for (int i = 0; i < 3; i++)
			p[i] = (struct pollfd){ .fd = t[i].fd, .events = POLLIN | (i == 0 && lines == 0 ? POLLOUT : 0) };
		if (poll(p, 3, 1) == -1)
			die("poll");
		if (p[0].revents & POLLOUT) {  /* the flood goes on */
			ssize_t n = send(t[0].fd, flood + sent % sizeof flood, sizeof flood - sent % sizeof flood, 0);

			sent += n > 0 ? (size_t)n : 0;
		}
		for (int i = 0; i < 3; i++)
			if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) && turner_read(&t[i], i == 2 ? turns_seen : NULL) <= 0 && i == 2)
				break;
	}
	printf("before=%ld intact=%ld\n", turns_r.before, turns_r.intact);
	if (!turns_r.b_seen)
		printf("after 10 s, B's line had not reached R\n");
	return turns_r.b_seen ? 0 : 1;
}

/* What a client of cycles sees: replies to /who. */
static void cycles_seen(struct turner *t, const char *line)
{
	t->count += strncmp(line, "* online: ", 10) == 0;
}

/* N clients join and leave, 8 at a time (see the header comment). */
static int cycles(const char *host, const char *port, long n)
{
	static const char who[] = "/who\n/who\n/who\n/who\nand a line never finis";
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	long done = 0;

	while (done < n) {
		struct turner t[8];
		int batch = n - done < 8 ? (int)(n - done) : 8;

		/* The requests go with the connection, not after the welcome:
		 * a round trip less per client. */
		for (int i = 0; i < batch; i++) {
			t[i] = (struct turner){ .fd = connect_to(host, port, 0) };
			if (setsockopt(t[i].fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset) == -1)
				die("setsockopt SO_LINGER");
			if (send(t[i].fd, who, sizeof who - 1, 0) != (ssize_t)sizeof who - 1)
				die("send");
		}
		for (int i = 0; i < batch; i++) {
			struct pollfd p = { .fd = t[i].fd, .events = POLLIN };

			while (t[i].name[0] == '\0' || t[i].count < 4)
				if (poll(&p, 1, 5000) != 1 || turner_read(&t[i], cycles_seen) <= 0) {
					if (t[i].name[0] == '\0')
						printf("cycles=%ld: client %ld got no welcome\n", done, done + i + 1);
					else
						printf("cycles=%ld: client %ld got %ld of 4 replies to /who\n", done, done + i + 1,
						       t[i].count);
					return 1;
				}
			close(t[i].fd);
		}
		done += batch;
	}
	printf("cycles=%ld\n", done);
	return 0;
}

int main(int argc, char *argv[])
{
	static char seen[1 << 16];
	size_t seen_len = 0;
	int fd, one = 1;

	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && strcmp(argv[1], "mute") == 0) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		char buf[4096];
		ssize_t n;

		fd = connect_to(argv[2], argv[3], 1);
		printf("connected\n");
		fflush(stdout);
		if (poll(&p, 1, 60000) != 1)
			return 1;
		p.fd = fd;
		while (poll(&p, 1, 60000) == 1 && (n = recv(fd, buf, sizeof buf, 0)) > 0)
			if (write(STDOUT_FILENO, buf, (size_t)n) != n)
				die("write");
		return 0;
	}
	if (argc >= 5 && strcmp(argv[1], "pieces") == 0) {
		fd = connect_to(argv[2], argv[3], 0);
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1)
			die("setsockopt TCP_NODELAY");
		if (!copy_until(fd, "", seen, &seen_len, sizeof seen - 1))
			die("no welcome line");
		seen_len = 0;
		for (int i = 4; i < argc; i++) {
			size_t len = strlen(argv[i]);

			if (send(fd, argv[i], len, 0) != (ssize_t)len)
				die("send");
			wait_until(fd, 0);
		}
		if (send(fd, "/who\n", 5, 0) != 5)
			die("send");
		if (!copy_until(fd, "* online: ", seen, &seen_len, sizeof seen - 1)) {
			fflush(stdout);
			fprintf(stderr, "chat_peer: no reply to /who\n");
			return 1;
		}
		fflush(stdout);
		return 0;
	}
	if ((argc == 8 || (argc == 9 && strcmp(argv[8], "small") == 0)) && strcmp(argv[1], "storm") == 0)
		return storm(argv[2], argv[3], atol(argv[4]), atol(argv[5]), atol(argv[6]), atol(argv[7]), argc == 9);
	if (argc == 5 && strcmp(argv[1], "turns") == 0)
		return turns(argv[2], argv[3], atol(argv[4]));
	if (argc == 5 && strcmp(argv[1], "cycles") == 0)
		return cycles(argv[2], argv[3], atol(argv[4]));
	if (argc == 3 && strcmp(argv[1], "late") == 0) {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
		struct sockaddr_storage addr;
		socklen_t len = sizeof addr;
		char buf[4096];
		ssize_t n;
		int listener;

		if (getaddrinfo(argv[2], "0", &hints, &ai) != 0)
			die("getaddrinfo");
		listener = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (listener == -1 || bind(listener, ai->ai_addr, ai->ai_addrlen) == -1 || listen(listener, 1) == -1 ||
		    getsockname(listener, (struct sockaddr *)&addr, &len) == -1)
			die("listen");
		freeaddrinfo(ai);
		printf("PORT %d\n", port_of(&addr));
		fflush(stdout);
		fd = accept(listener, NULL, NULL);
		if (fd == -1)
			die("accept");
		while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
			if (write(STDOUT_FILENO, buf, (size_t)n) != n)
				die("write");
		if (n == -1)
			die("recv");
		if (send(fd, "a late reply\n", 13, 0) != 13)
			die("send");
		return close(fd) == 0 ? 0 : 1;
	}
	fprintf(stderr, "usage: chat_peer mute HOST PORT | chat_peer pieces HOST PORT PIECE... |\n       chat_peer storm HOST PORT SENDERS LINES LEAVERS READERS [small] |\n       chat_peer turns HOST PORT LINES | chat_peer cycles HOST PORT N | chat_peer late HOST\n");
	return 2;
}
