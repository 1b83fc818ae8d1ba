#!/usr/bin/env bats
# Lesson 03: socketserver, a framework for servers in C.  The examples
# (upper_server, echo_server, upper_udp_server) are given: what these tests
# grade is the library under them, through the examples and through
# api_test, a program that calls the library directly.  Clients are netcat
# (the flavour in $NC, or the first one found), and the test peers
# tests/peers/ss_peer (many clients at once, UDP) and tcp_peer (resets).

bats_require_minimum_version 1.5.0

setup() {
	load lib/harness
	load lib/socketserver
	harness_setup 03-socketserver
}

teardown() {
	harness_teardown
}

# upper_exchange SENT EXPECTED: send SENT to the server with nc and check
# that the reply is EXPECTED, byte for byte.
upper_exchange() {
	printf '%s' "$1" > "$T/sent"
	printf '%s' "$2" > "$T/expected"
	nc_exchange 127.0.0.1 "$SERVER_PORT" < "$T/sent" > "$T/got" || true
	assert_same_bytes "$T/expected" "$T/got" "$T/sent"
}

# ------------------------------------------------- the lecture's example --

# bats test_tags=points:4
@test "upper_server replies with the message in upper case" {
	ss_start upper_server 127.0.0.1 @PORT
	upper_exchange 'Hello, socketserver 42!' 'HELLO, SOCKETSERVER 42!'
}

# bats test_tags=points:3
@test "upper_server strips the whitespace around the message" {
	ss_start upper_server 127.0.0.1 @PORT
	upper_exchange $' \t  two  words\t \r\n\n' 'TWO  WORDS'
}

# bats test_tags=points:2
@test "upper_server logs ADDR:PORT wrote: and then the data" {
	ss_start upper_server 127.0.0.1 @PORT
	upper_exchange $'  logged line \n' 'LOGGED LINE'
	wait_for_line "$SERVER_OUT" '^logged line$' 3 || true
	ss_assert_logged '127\.0\.0\.1' 'logged line' $'  logged line \n'
}

# bats test_tags=points:2
@test "upper_server and upper_udp_server log a client's text escaped, never a line it forged" {
	# A CR, a line that looks like the log's own, and an ANSI escape that
	# clears the screen: raw in the log, they would forge a line.
	local sent=$'hi\r\n127.0.0.1:1 wrote:\nforged line\033[2J\rend'
	local logged='hi\r\n127.0.0.1:1 wrote:\nforged line\x1b[2J\rend'
	local reply=$'HI\r\n127.0.0.1:1 WROTE:\nFORGED LINE\033[2J\rEND' name
	for name in upper_server upper_udp_server; do
		if [ "$name" = upper_server ]; then
			ss_start upper_server 127.0.0.1 @PORT
			upper_exchange "$sent" "$reply"
		else
			ss_start --udp upper_udp_server 127.0.0.1 @PORT
			udp_exchange "$sent" "$reply"
		fi
		echo "-- $name:"
		# The log is flushed before the reply is sent.
		ss_assert_logged '127\.0\.0\.1' "$logged" "$sent"
		if program_output "$SERVER_OUT" | LC_ALL=C grep -Eaq $'^127\\.0\\.0\\.1:1 wrote:|^forged line|[\r\033]'; then
			{
				echo "-- $name's stdout holds the client's raw bytes: a line the client forged, a CR or an escape sequence"
				print_lines "$SERVER_OUT"
			} | fail
		fi
		stop_server TERM
	done
}

# bats test_tags=points:2
@test "upper_server given port 0 listens on a free port and reports it" {
	start_server_reporting upper_server 127.0.0.1 0
	port=$SERVER_PORT
	printf 'port zero' > "$T/sent"
	printf 'PORT ZERO' > "$T/expected"
	nc_exchange 127.0.0.1 "$port" < "$T/sent" > "$T/got" || true
	assert_same_bytes "$T/expected" "$T/got" "$T/sent"
}

# bats test_tags=points:2
@test "upper_server fails with exit 1 and a clear message when the port is taken" {
	ss_start upper_server 127.0.0.1 @PORT
	run_prog 5 upper_server 127.0.0.1 "$SERVER_PORT"
	expect_exit 1 "$(errno_regex EADDRINUSE)" "upper_server 127.0.0.1 $SERVER_PORT (a port in use)"
}

# bats test_tags=points:2
@test "upper_server accepts IPv6 clients on ::1" {
	has_ipv6_loopback || skip "no IPv6 loopback here, or $NC_FLAVOUR netcat has no IPv6"
	ss_start upper_server -m thread ::1 @PORT
	printf 'over IPv6' > "$T/sent"
	nc_exchange ::1 "$SERVER_PORT" < "$T/sent" > "$T/got" || true
	printf 'OVER IPV6' > "$T/expected"
	assert_same_bytes "$T/expected" "$T/got" "$T/sent"
	program_output "$SERVER_OUT" | LC_ALL=C grep -Faxq "Listening on [::1]:$SERVER_PORT" ||
		fail "started on ::1, the server must print 'Listening on [::1]:$SERVER_PORT' (IPv6 addresses in brackets); its stdout: '$(program_output "$SERVER_OUT" | escape_bytes 200)'"
	wait_for_line "$SERVER_OUT" '^over IPv6$' 3 || true
	ss_assert_logged '\[::1\]' 'over IPv6' 'over IPv6'
}

# bats test_tags=points:2
@test "upper_server given :: accepts IPv6 clients" {
	has_ipv6_loopback || skip "no IPv6 loopback here, or $NC_FLAVOUR netcat has no IPv6"
	ss_start upper_server -m thread :: @PORT
	printf 'to every interface' > "$T/sent"
	nc_exchange ::1 "$SERVER_PORT" < "$T/sent" > "$T/got" || true
	printf 'TO EVERY INTERFACE' > "$T/expected"
	cmp -s "$T/expected" "$T/got" ||
		echo "-- the server was started on ::, every IPv6 interface, and the client connected to ::1; its stdout: '$(program_output "$SERVER_OUT" | escape_bytes 200)'"
	assert_same_bytes "$T/expected" "$T/got" "$T/sent"
	program_output "$SERVER_OUT" | LC_ALL=C grep -Faxq "Listening on [::]:$SERVER_PORT" ||
		fail "started on ::, the server must print 'Listening on [::]:$SERVER_PORT'; its stdout: '$(program_output "$SERVER_OUT" | escape_bytes 200)'"
}

# ------------------------------------------------------------ the modes --

# second_client_served MODE: while a first client is connected and silent,
# a second one gets its reply.
second_client_served() {
	ss_start upper_server -m "$1" 127.0.0.1 @PORT
	start_silent_client 127.0.0.1 "$SERVER_PORT"
	printf 'second client\n' > "$T/sent"
	printf 'SECOND CLIENT' > "$T/expected"
	nc_exchange 127.0.0.1 "$SERVER_PORT" 5 < "$T/sent" > "$T/got" || true
	cmp -s "$T/expected" "$T/got" ||
		echo "-- the second client got no reply while the first one was connected and silent: in $1 mode each connection must get a handler of its own at once"
	assert_same_bytes "$T/expected" "$T/got" "$T/sent"
	kill -0 "$SILENT_PID" 2>/dev/null || fail "the first client was gone before the second was served: this proves nothing"
}

# bats test_tags=points:5
@test "in fork mode a silent client does not delay a second one" {
	second_client_served fork
	has_children "$SERVER_PID" || fail "the server has no child process while a client is connected: fork mode runs each handler in a child"
}

# bats test_tags=points:5
@test "in thread mode a silent client does not delay a second one" {
	second_client_served thread
	threads_at_least "$SERVER_PID" 2 || fail "the server has one thread while a client is connected: thread mode runs each handler in a thread"
	has_no_children "$SERVER_PID" || fail "the server has child processes in thread mode"
}

# bats test_tags=points:4
@test "in sync mode a second client is served only after the first leaves" {
	ss_start upper_server -m sync 127.0.0.1 @PORT
	start_silent_client 127.0.0.1 "$SERVER_PORT"
	nc_client_cmd
	printf 'second client\n' > "$T/sent"
	PROCESS_IN=$T/sent start_process second-client "${NC_CMD_SEND[@]}" 127.0.0.1 "$SERVER_PORT"
	second_out=$PROCESS_OUT
	wait_until 5 clients_connected "$SERVER_PORT" 2 || fail "the second client could not connect"
	# What must not happen: a reply, or the server taking the second
	# client, while the first one is still being served.
	holds_for_ms 600 file_empty "$second_out" ||
		fail "the second client got a reply while the first was connected: sync mode serves one client at a time"
	accept_queue_is "$SERVER_PORT" 1 ||
		fail "the server accepted the second client while serving the first: sync mode serves one client at a time"
	stop_silent_client
	wait_for_size "$second_out" 13 5 || true
	cp "$second_out" "$T/got"
	printf 'SECOND CLIENT' > "$T/expected"
	assert_same_bytes "$T/expected" "$T/got" "$T/sent"
}

# many_clients MODE N: N clients connected at once are all served (the last
# one first).
many_clients() {
	ss_start upper_server -m "$1" 127.0.0.1 @PORT
	serve_clients "$@"
}

# serve_clients MODE N: the same, with the server already started.
serve_clients() {
	need_peer ss_peer
	run bounded 15 "$PEER" many 127.0.0.1 "$SERVER_PORT" "$2" 10
	[ "$status" -eq 0 ] && [ "$output" = "served $2 clients" ] && return 0
	{
		echo "-- in $1 mode: ss_peer opened $2 connections at once, then, from the last to the first,"
		printf '%s\n' "   sent 'client I\\n' on each and read until the server closed: each reply must be 'CLIENT I'"
		echo "   exit status $status; it printed: '$(printf '%s' "$output" | escape_bytes 300)'"
	} | fail
}

# bats test_tags=points:4
@test "in fork mode 50 clients connected at once are all served" {
	many_clients fork 50
}

# bats test_tags=points:4
@test "in thread mode 50 clients connected at once are all served" {
	many_clients thread 50
}

# bats test_tags=points:4
@test "in fork mode no zombie is left after 100 connections" {
	many_clients fork 100
	wait_until 3 has_no_children "$SERVER_PID" || {
		echo "-- children of the server 3 s after the last client left (PID STATE, Z = zombie):"
		children_of "$SERVER_PID" | head -n 5 | sed 's/^/   | /'
		fail "the server does not reap its children: call waitpid(2) with WNOHANG in the serve loop"
	}
}

# bats test_tags=points:2
@test "in thread mode the handler threads end after their clients leave" {
	many_clients thread 20
	wait_until 3 threads_exactly "$SERVER_PID" 1 ||
		fail "the server still has $(thread_count "$SERVER_PID") threads 3 s after its clients left: join the finished threads"
}

# bats test_tags=points:3
@test "in thread mode the server's memory does not grow with each client" {
	local before round
	many_clients thread 20
	wait_until 3 threads_exactly "$SERVER_PID" 1 || fail "the handler threads did not end after their clients left"
	before=$(memory_kb "$SERVER_PID")
	for round in 1 2 3 4 5; do
		serve_clients thread 20
	done
	# The loop joins finished threads at least every 500 ms.
	wait_until 3 memory_grew_less "$SERVER_PID" "$before" 4096 || {
		echo "-- after 20 clients the server's memory (virtual size) was $before KiB; after 100 more (all gone, their threads ended) it is $(memory_kb "$SERVER_PID") KiB"
		fail "the memory grows with every client: a thread that has ended keeps its stack until it is joined (pthread_join(3)) in the serve loop"
	}
}

# bats test_tags=points:3
@test "in fork mode a killed server's port refuses new clients while a child still serves" {
	local pid
	ss_start upper_server -m fork 127.0.0.1 @PORT
	start_silent_client 127.0.0.1 "$SERVER_PORT"
	wait_until 3 has_children "$SERVER_PID" || fail "fork mode: no child process for the connected client"
	pid=$(prog_pid "$SERVER_PID")
	kill -KILL "$pid"
	# Our own child (no bwrap monitor between): reap it quietly, or bash
	# reports "Killed" in the test's output.
	[ "$pid" != "$SERVER_PID" ] || wait "$SERVER_PID" 2>/dev/null || true
	wait_until 3 gone_or_zombie "$pid" || fail "the server did not die of SIGKILL"
	# Its child still serves the silent client; nothing accepts any more.
	wait_until 3 not_listening "$SERVER_PORT" || {
		echo "-- the server was killed (SIGKILL) while its child served a silent client"
		fail "port $SERVER_PORT still listens, so new clients connect and wait for ever instead of being refused: the child kept the listening socket (close it in the child after fork())"
	}
	stop_silent_client
}

# ------------------------------------------------- resets and signals --

# bats test_tags=points:2
@test "a server whose log pipe has closed goes on answering, in every mode" {
	local mode reader reader_out
	for mode in sync fork thread; do
		# Its stdout is a pipe whose reader takes the first line and
		# exits, as in upper_server | head -n 1.
		mkfifo "$T/log-$mode"
		PROCESS_IN=$T/log-$mode start_process log-reader head -n 1
		reader=$PROCESS_PID
		reader_out=$PROCESS_OUT
		PROCESS_OUT_TO=$T/log-$mode start_server upper_server -m "$mode" 127.0.0.1 @PORT
		wait_until 5 gone "$reader" && LC_ALL=C grep -q '^Listening on ' "$reader_out" ||
			fail "$mode mode: the reader of the server's stdout got no line 'Listening on ADDR:PORT' within 5 s"
		printf '%s' "log lost in $mode mode" > "$T/sent"
		printf '%s' "LOG LOST IN $(printf '%s' "$mode" | tr '[:lower:]' '[:upper:]') MODE" > "$T/expected"
		nc_exchange 127.0.0.1 "$SERVER_PORT" < "$T/sent" > "$T/got" || true
		cmp -s "$T/expected" "$T/got" ||
			echo "-- $mode mode: the server's stdout is a pipe that nobody reads any more (upper_server | head -n 1): writing the log fails with EPIPE, and SIGPIPE must not kill the handler (nor a child of fork mode)"
		assert_same_bytes "$T/expected" "$T/got" "$T/sent"
		stop_server TERM
	done
}

# survives_reset MODE: echo_server in MODE keeps serving after a client
# resets its connection in the middle of an echo, and reports that error.
survives_reset() {
	ss_start echo_server -m "$1" 127.0.0.1 @PORT
	need_peer tcp_peer
	run bounded 10 "$PEER" reset 127.0.0.1 "$SERVER_PORT" 4000000
	kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died when a client reset its connection (SIGPIPE?)"
	printf 'still there?' > "$T/sent"
	nc_exchange 127.0.0.1 "$SERVER_PORT" < "$T/sent" > "$T/got" || true
	assert_same_bytes "$T/sent" "$T/got" "$T/sent"
	wait_for_line "$SERVER_ERR" "$(errno_regex ECONNRESET)|$(errno_regex EPIPE)" 3 ||
		fail "the failed request was not reported on stderr (expected '$(errno_text ECONNRESET)' or '$(errno_text EPIPE)')"
}

# bats test_tags=points:2
@test "in sync mode a client that resets its connection costs only its request" {
	survives_reset sync
}

# bats test_tags=points:2
@test "in fork mode a client that resets its connection costs only its request" {
	survives_reset fork
}

# bats test_tags=points:2
@test "in thread mode a client that resets its connection costs only its request" {
	survives_reset thread
}

# stops_cleanly MODE: on SIGTERM, then (a new server) on SIGINT, with a
# client connected and silent, the server exits 0 and leaves no process.
stops_cleanly() {
	local sig left
	for sig in TERM INT; do
		ss_start upper_server -m "$1" 127.0.0.1 @PORT
		start_silent_client 127.0.0.1 "$SERVER_PORT"
		if [ "$1" = fork ]; then
			wait_until 3 has_children "$SERVER_PID" || fail "fork mode: no child process for the connected client"
		fi
		stop_server "$sig"
		[ "$SERVER_STATUS" -ne 124 ] ||
			fail "still running 3 s after SIG$sig, with a client connected: ss_shutdown() must wake the serve loop, and ss_close() end the handlers"
		[ "$SERVER_STATUS" -eq 0 ] || fail "exit status $SERVER_STATUS after SIG$sig, not 0"
		left=$(group_processes "$SERVER_PID")
		[ -z "$left" ] || fail "processes of the server are left after it exited on SIG$sig (PID STATE): $left"
		stop_silent_client
	done
}

# bats test_tags=points:3
@test "in sync mode the server exits 0 on SIGTERM and SIGINT while serving a client" {
	stops_cleanly sync
}

# bats test_tags=points:3
@test "in fork mode the server exits 0 on SIGTERM and SIGINT and leaves no child" {
	stops_cleanly fork
}

# bats test_tags=points:3
@test "in thread mode the server exits 0 on SIGTERM and SIGINT while serving a client" {
	stops_cleanly thread
}

# ------------------------------------------------------------------ UDP --

# udp_exchange MESSAGE EXPECTED: one datagram to the server, one back.
udp_exchange() {
	need_peer ss_peer
	run --separate-stderr bounded 10 "$PEER" udp 127.0.0.1 "$SERVER_PORT" "$1" 3
	[ "$status" -eq 0 ] ||
		fail "sent the datagram '$(printf '%s' "$1" | escape_bytes 100)': no reply came within 3 s ($stderr)"
	assert_text_equal "$2" "$output" "the reply to the datagram '$(printf '%s' "$1" | escape_bytes 100)'"
}

# bats test_tags=points:4
@test "upper_udp_server replies to a datagram in upper case and logs it" {
	ss_start --udp upper_udp_server 127.0.0.1 @PORT
	udp_exchange $'  hello over udp \n' 'HELLO OVER UDP'
	udp_exchange 'second datagram' 'SECOND DATAGRAM'
	wait_for_line "$SERVER_OUT" '^second datagram$' 3 || true
	ss_assert_logged '127\.0\.0\.1' 'hello over udp' $'  hello over udp \n'
}

# bats test_tags=points:3
@test "upper_udp_server answers in fork and thread modes and exits 0 on SIGTERM" {
	local mode
	for mode in fork thread; do
		ss_start --udp upper_udp_server -m "$mode" 127.0.0.1 @PORT
		udp_exchange "in $mode mode" "IN $(printf '%s' "$mode" | tr '[:lower:]' '[:upper:]') MODE"
		udp_exchange "again in $mode mode" "AGAIN IN $(printf '%s' "$mode" | tr '[:lower:]' '[:upper:]') MODE"
		stop_server TERM
		[ "$SERVER_STATUS" -eq 0 ] || fail "$mode mode: exit status $SERVER_STATUS after SIGTERM, not 0"
		[ -z "$(group_processes "$SERVER_PID")" ] || fail "$mode mode: processes are left after the server exited"
	done
}

# bats test_tags=points:2
@test "upper_udp_server answers a datagram of 6000 bytes whole" {
	local sent expected
	sent=$(awk 'BEGIN { for (i = 1; i <= 600; i++) printf "part %04d;", i }')
	expected=$(printf '%s' "$sent" | tr '[:lower:]' '[:upper:]')
	ss_start --udp upper_udp_server 127.0.0.1 @PORT
	udp_exchange "$sent" "$expected"
}

# ------------------------------------------------------ the library API --

# api_check CHECK: run api_test's CHECK, which must print "ok - CHECK".
api_check() {
	run_prog 15 api_test "$1"
	if [ "$status" -ne 0 ]; then
		printf '%s\n' "$output" | sed 's/^/   | /'
		[ -z "$stderr" ] || printf '%s\n' "$stderr" | tail -n 5 | sed 's/^/   ! /'
		fail "api_test $1 failed (run build/.../03-socketserver/api_test $1 yourself)"
	fi
	assert_line "ok - $1"
}

# bats test_tags=points:2
@test "library: a server on port 0 knows its real address and listens at once" {
	api_check address
}

# bats test_tags=points:3
@test "library: ss_shutdown from another thread stops ss_serve_forever in every mode" {
	api_check shutdown
}

# bats test_tags=points:3
@test "library: ss_close ends running handlers and releases descriptors, children and port" {
	api_check close
}

# bats test_tags=points:2
@test "library: a server listens again at once on the port it just used" {
	api_check reuse
}

# bats test_tags=points:2
@test "library: a failing handler is reported and costs only its request" {
	api_check errors
	regex=$(errno_regex EBADMSG)
	[[ $stderr =~ $regex ]] ||
		fail "a handler failed with errno EBADMSG, and stderr has no report of it (expected a line such as 'socketserver: 127.0.0.1:PORT: request failed: $(errno_text EBADMSG)'); stderr: '$(printf '%s' "$stderr" | escape_bytes 300)'"
}

# bats test_tags=points:3
@test "library: handlers get their client and user data and run where the mode says" {
	api_check handler
}

# bats test_tags=points:2
@test "library: ss_shutdown in a handler stops the server, in fork mode only the child" {
	api_check selfstop
}

# bats test_tags=points:2
@test "library: ss_read_line and ss_recv share each request's buffer" {
	api_check lines
}

# bats test_tags=points:2
@test "library: UDP servers answer each datagram to its sender in every mode" {
	api_check udp
}
