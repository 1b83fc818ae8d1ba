/*
 * socketserver.h: a small framework for network servers, after Python's
 * socketserver module.
 *
 * A server is made of an address, a handler and a mode.  The framework
 * does everything that every server does the same way: it resolves the
 * address, binds and listens, accepts connections (or receives datagrams),
 * runs the handler once per request, one at a time or concurrently, and
 * stops cleanly when told to.  The handler only talks to one client.
 *
 *   static int handle(struct ss_request *req)
 *   {
 *           char buf[1024];
 *           ssize_t n = ss_recv(req, buf, sizeof buf);
 *
 *           if (n == -1)
 *                   return -1;
 *           return ss_send_all(req, buf, (size_t)n);
 *   }
 *
 *   struct ss_server *server = ss_tcp_server("localhost", "9999", handle, SS_THREAD, NULL);
 *   ss_shutdown_on_signals(server);
 *   ss_serve_forever(server);
 *   ss_close(server);
 *
 * Errors: functions return -1 (or NULL) with errno set, and report what
 * failed on stderr as "socketserver: what: reason", as Python's
 * handle_error() does.  A request whose handler fails costs that request
 * only: the error is reported and the server goes on.  The socket comes
 * from lesson 01's net_listen() (net.h), whose errors name the program:
 * "PROG: bind ADDR:PORT: reason", PROG being net_prog.
 *
 * Python's name               here
 *   TCPServer / UDPServer     ss_tcp_server() / ss_udp_server()
 *   ForkingMixIn              mode SS_FORK
 *   ThreadingMixIn            mode SS_THREAD
 *   BaseRequestHandler.handle a function ss_handler
 *   self.request              req->fd (TCP), req->packet and req->fd (UDP)
 *   self.client_address       req->client_address, as text "ADDR:PORT"
 *   self.server               req->server
 *   rfile.readline()          ss_read_line()
 *   wfile.write(), sendall()  ss_send_all()
 *   serve_forever()           ss_serve_forever()
 *   shutdown()                ss_shutdown()
 *   server_close()            ss_close()
 *   server_address            ss_server_address(), ss_server_port()
 */
#ifndef SOCKETSERVER_H
#define SOCKETSERVER_H

#include <pthread.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* How the server runs its handlers. */
enum ss_mode {
	SS_SYNC,   /* one request at a time, inside ss_serve_forever() */
	SS_FORK,   /* a child process per request (Python's ForkingMixIn) */
	SS_THREAD, /* a thread per request (Python's ThreadingMixIn) */
};

/* Room for "ADDR:PORT" text, IPv6 as "[ADDR%scope]:PORT". */
#define SS_ADDRSTRLEN 128
/* The per-request read buffer of ss_read_line(). */
#define SS_BUFFER_SIZE 4096
/* How often, at least, ss_serve_forever() reaps finished handlers. */
#define SS_POLL_INTERVAL_MS 500

struct ss_server; /* opaque: use the functions below */

/*
 * One request: a TCP connection, or one UDP datagram.  The handler reads
 * the first four fields (and the two packet fields for UDP); the library
 * owns the request and frees it when the handler returns.
 */
struct ss_request {
	int fd;                             /* TCP: the connected socket; UDP: the server's socket */
	char client_address[SS_ADDRSTRLEN]; /* the client, "ADDR:PORT" */
	struct ss_server *server;           /* the server that got the request */
	void *user_data;                    /* as given when the server was made */
	const char *packet;                 /* UDP: the datagram; TCP: NULL */
	size_t packet_len;                  /* UDP: its length in bytes */

	/* The rest belongs to the library. */
	struct sockaddr_storage peer; /* the client's address, for UDP replies */
	socklen_t peer_len;
	size_t packet_pos;            /* UDP: bytes of the packet already read */
	char buf[SS_BUFFER_SIZE];     /* bytes received, not read yet */
	size_t buf_start, buf_len;
	pthread_t thread;             /* SS_THREAD: the thread running it */
	int done;                     /* SS_THREAD: the handler has returned, fd closed */
	struct ss_request *next;      /* SS_THREAD: the server's list of threads */
};

/*
 * A handler serves one request.  It returns 0, or -1 with errno set when
 * the request failed: the server then reports the error and goes on.
 * In SS_THREAD mode handlers run at the same time: shared data (user_data)
 * needs a lock.  In SS_FORK mode each runs in its own process: what it
 * changes in memory is lost when it returns.
 */
typedef int (*ss_handler)(struct ss_request *req);

/*
 * Make a TCP server listening on HOST and PORT (HOST NULL or "" means
 * every interface; PORT "0" asks the kernel for a free port), with
 * SO_REUSEADDR on.  Clients can connect as soon as it returns; they are
 * served once ss_serve_forever() runs.  Returns NULL (errno set, error
 * reported) on failure.
 */
struct ss_server *ss_tcp_server(const char *host, const char *port, ss_handler handler,
				enum ss_mode mode, void *user_data);

/* The same for UDP: each datagram is a request. */
struct ss_server *ss_udp_server(const char *host, const char *port, ss_handler handler,
				enum ss_mode mode, void *user_data);

/*
 * Serve requests until ss_shutdown() is called.  Finished child processes
 * (SS_FORK) and threads (SS_THREAD) are reaped after each request and at
 * least every SS_POLL_INTERVAL_MS milliseconds, so none piles up.
 * Returns 0 after ss_shutdown(), -1 on an error that stops the server.
 * Once shut down, a server stays stopped: the next call returns at once.
 */
int ss_serve_forever(struct ss_server *server);

/*
 * Ask ss_serve_forever() to return, and handlers waiting in ss_recv() or
 * ss_read_line() to give up (they fail with ECANCELED).  Safe to call from
 * a signal handler or from any thread, before or during
 * ss_serve_forever(): it only sets a flag and writes one byte to a pipe
 * (the self-pipe trick), and returns without waiting.  In forking mode a
 * handler runs in a child process: a call there stops only that child,
 * never the server.
 */
void ss_shutdown(struct ss_server *server);

/*
 * Close the server and release everything: handlers still running are
 * stopped first.  SS_THREAD: their connections are shut down (see
 * shutdown(2)), so that a handler blocked on its client returns, and
 * their threads are joined.  SS_FORK: the children are sent SIGTERM and
 * reaped.  Call it after ss_serve_forever() returned, not during it.
 */
void ss_close(struct ss_server *server);

/* The address really bound, as "ADDR:PORT", and its port number. */
const char *ss_server_address(const struct ss_server *server);
int ss_server_port(const struct ss_server *server);

/*
 * Make SIGINT and SIGTERM call ss_shutdown(server), and ignore SIGPIPE (a
 * client that vanishes must be an error, not a signal that kills the
 * server).  Child processes of SS_FORK get the default SIGINT and SIGTERM
 * back, so they die of them as any program does.  Returns 0 or -1.
 */
int ss_shutdown_on_signals(struct ss_server *server);

/* The mode named "sync", "fork" or "thread", in *MODE.  Returns 0 or -1. */
int ss_parse_mode(const char *name, enum ss_mode *mode);

/* ---- request helpers, in the spirit of StreamRequestHandler ---- */

/*
 * Receive up to SIZE bytes: bytes left over by ss_read_line() first, else
 * what one recv(2) returns (UDP: the rest of the datagram).  Returns the
 * number of bytes, 0 when the client has closed (or the datagram is all
 * read), or -1 with errno set (ECANCELED once the server is shut down).
 * Restarts after EINTR.
 */
ssize_t ss_recv(struct ss_request *req, void *buf, size_t size);

/*
 * Read one line, up to and including '\n', into LINE and end it with
 * '\0'.  Stops early at SIZE - 1 bytes or at the end of the data.
 * Returns the line's length (it may contain '\0' bytes), 0 at the end of
 * the data, or -1 with errno set (EINVAL if SIZE is less than 2).  Uses
 * the request's own buffer, so concurrent requests never mix their lines.
 */
ssize_t ss_read_line(struct ss_request *req, char *line, size_t size);

/*
 * Send all LEN bytes of BUF to the client (UDP: as one datagram) with
 * net_send_all(): short writes finished, restarted after EINTR, unless a
 * stop signal came (then it fails with ECANCELED).  A client that has
 * gone gives EPIPE: making a server ignores SIGPIPE.  Returns 0 or -1
 * with errno set.
 */
int ss_send_all(struct ss_request *req, const void *buf, size_t len);

#endif
