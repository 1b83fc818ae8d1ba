#!/usr/bin/env bats
# Lesson 01: the TCP echo server and client.  Every peer is netcat (the
# flavour in $NC, or the first one found) except where netcat cannot do
# the job reliably: tests/peers/tcp_peer echoes and resets connections.

bats_require_minimum_version 1.5.0

setup() {
	load lib/harness
	harness_setup 01-tcp-echo
}

teardown() {
	harness_teardown
}

# ------------------------------------------------------------ helpers --

# server_in_state STATE: the server's process is in STATE (S: sleeping,
# T: stopped).
server_in_state() {
	[ "$(os_proc_state "$(prog_pid "$SERVER_PID")")" = "$1" ]
}

# server_blocked_sending PORT: the server sleeps while bytes wait in its
# end of the connection on PORT: it is not in recv(), so it is blocked in
# send().
server_blocked_sending() {
	server_in_state S &&
		os_tcp_table | awk -v p="$1" '$1 == p && $3 == "ESTABLISHED" && $4 > 0 { found = 1 } END { exit !found }'
}

# start_stalled_client PORT BYTES: tcp_peer sends up to BYTES to the server
# on PORT and reads nothing until told (a byte on fd 7: read 1 MiB more;
# fd 7 closed: read it all); return once the server is blocked in send().
# Sets STALL_PID and STALL_OUT.
start_stalled_client() {
	need_peer tcp_peer
	mkfifo "$T/go"
	exec 7<> "$T/go"
	PROCESS_IN=$T/go start_process tcp_peer "$PEER" stall 127.0.0.1 "$1" "$2"
	STALL_PID=$PROCESS_PID
	STALL_OUT=$PROCESS_OUT
	wait_for_line "$STALL_OUT" '^STALLED' 5 "$STALL_PID" || {
		echo "-- tcp_peer sent to the server without reading the echo; it said:"
		print_lines "$STALL_OUT"
		fail "the server never stopped taking data: it must echo what it receives (and so block in send() when the client does not read)"
	}
	wait_until 3 server_blocked_sending "$1" ||
		fail "the client stopped reading, but the server is not blocked in send() 3 s later"
}

# ------------------------------------------------------------- server --

# bats test_tags=points:5
@test "server echoes a short message to nc" {
	start_server echo_server 127.0.0.1 @PORT
	printf 'Hello, world' > "$T/sent"
	nc_exchange 127.0.0.1 "$SERVER_PORT" < "$T/sent" > "$T/got" || true
	assert_same_bytes "$T/sent" "$T/got" "$T/sent"
}

# bats test_tags=points:5
@test "server echoes each line as it arrives, before the client is done" {
	start_server echo_server 127.0.0.1 @PORT
	mkfifo "$T/in"
	# Opened read-write, the FIFO does not block; nc sees its end when fd 7
	# is closed.
	exec 7<> "$T/in"
	PROCESS_IN=$T/in start_process nc "${NC_CMD[@]}" 127.0.0.1 "$SERVER_PORT"
	: > "$T/sent"
	for line in "first line" "second, longer line" "third"; do
		printf '%s\n' "$line" >&7
		printf '%s\n' "$line" >> "$T/sent"
		# The echo of this line must come back while nc's input is still
		# open: a server that waits for the end of the data fails here.
		wait_for_size "$PROCESS_OUT" "$(($(wc -c < "$T/sent")))" 3 || {
			cp "$PROCESS_OUT" "$T/got"
			{
				echo "-- no echo within 3 s of sending '$line', while the client's input was still open"
				describe_file sent "$T/sent"
				describe_file got "$T/got"
				echo "   send back what each recv() returns at once, not at the end of the data"
			} | fail
		}
	done
	exec 7>&-
	cp "$PROCESS_OUT" "$T/got"
	assert_same_bytes "$T/sent" "$T/got" "$T/sent"
}

# bats test_tags=points:5
@test "server echoes 1 MiB of random binary data byte for byte" {
	start_server echo_server 127.0.0.1 @PORT
	{ printf 'NUL\0CR\rLF\n\0\0'; head -c 1048576 /dev/urandom; } > "$T/sent"
	nc_exchange 127.0.0.1 "$SERVER_PORT" 10 < "$T/sent" > "$T/got" || true
	assert_same_bytes "$T/sent" "$T/got" "$T/sent"
}

# bats test_tags=points:5
@test "server finishes the echo and closes after the client half-closes" {
	start_server echo_server 127.0.0.1 @PORT
	head -c 200000 /dev/urandom > "$T/sent"
	status=0
	nc_exchange 127.0.0.1 "$SERVER_PORT" 5 < "$T/sent" > "$T/got" || status=$?
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		{
			echo "-- the connection stayed open for 5 s after the client half-closed"
			describe_file sent "$T/sent"
			describe_file got "$T/got"
			echo "   when recv() returns 0, send what is left, then close the connection"
		} | fail
	fi
	assert_same_bytes "$T/sent" "$T/got" "$T/sent"
}

# bats test_tags=points:3
@test "server finishes every send that a stop and continue signal cut short" {
	# SIGSTOP and SIGCONT (Ctrl+Z, fg) while send() is blocked make it
	# return the bytes it had copied so far: a short write.  Eight times,
	# each at another point of the stream.
	start_server echo_server 127.0.0.1 @PORT
	start_stalled_client "$SERVER_PORT" 33554432
	pid=$(prog_pid "$SERVER_PID")
	for round in 1 2 3 4 5 6 7 8; do
		wait_until 3 server_blocked_sending "$SERVER_PORT" || break
		kill -STOP "$pid"
		wait_until 3 server_in_state T || true
		kill -CONT "$pid"
		printf x >&7
		wait_for_line "$STALL_OUT" "^READ $round\$" 3 "$STALL_PID" || break
	done
	exec 7>&-
	wait_until 10 gone "$STALL_PID" || true
	program_output "$STALL_OUT" | grep -q '^ECHO OK' || {
		echo "-- tcp_peer sent 32 MiB of a known pattern, reading the echo only now and then;"
		echo "   each time the server was blocked in send(), it was stopped and continued"
		echo "   (SIGSTOP, SIGCONT), which makes send() return early: a short write. tcp_peer said:"
		print_lines "$STALL_OUT"
		fail "bytes of the echo were lost or repeated: after a short write, send the rest of the buffer"
	}
}

# bats test_tags=points:3
@test "server exits 0 on SIGTERM while blocked sending to a client that does not read" {
	start_server echo_server 127.0.0.1 @PORT
	start_stalled_client "$SERVER_PORT" 33554432
	stop_server TERM
	assert_server_exit 0 TERM
	exec 7>&-
}

# bats test_tags=points:5
@test "server serves a second client after the first leaves" {
	start_server echo_server 127.0.0.1 @PORT
	printf 'first client' > "$T/sent1"
	printf 'second client' > "$T/sent2"
	nc_exchange 127.0.0.1 "$SERVER_PORT" < "$T/sent1" > "$T/got1" || true
	nc_exchange 127.0.0.1 "$SERVER_PORT" < "$T/sent2" > "$T/got2" || true
	assert_same_bytes "$T/sent1" "$T/got1" "$T/sent1"
	assert_same_bytes "$T/sent2" "$T/got2" "$T/sent2"
}

# bats test_tags=points:3
@test "server keeps serving after a client resets the connection mid-echo" {
	start_server echo_server 127.0.0.1 @PORT
	need_peer tcp_peer
	# The peer sends until the echo starts, then resets the connection.
	run bounded 10 "$PEER" reset 127.0.0.1 "$SERVER_PORT" 4000000
	kill -0 "$SERVER_PID" 2>/dev/null ||
		fail "the server exited after a client reset its connection mid-echo: ECONNRESET or EPIPE must end that connection only (and SIGPIPE must be ignored)"
	wait_for_line "$SERVER_ERR" "^echo_server: .*($(errno_regex ECONNRESET)|$(errno_regex EPIPE))" 3 || {
		echo "-- a client reset its connection while the server was sending; the server's standard error:"
		print_lines "$SERVER_ERR"
		fail "the server must report it: 'echo_server: send to 127.0.0.1:PORT: $(errno_text ECONNRESET)' (or recv from, or $(errno_text EPIPE))"
	}
	printf 'still there?' > "$T/sent"
	nc_exchange 127.0.0.1 "$SERVER_PORT" < "$T/sent" > "$T/got" || true
	assert_same_bytes "$T/sent" "$T/got" "$T/sent"
}

# bats test_tags=points:3
@test "server keeps serving after a client leaves without reading its echo" {
	# The client's close() makes the server's next send() fail with EPIPE,
	# which also raises SIGPIPE: a server that does not ignore it dies.
	start_server echo_server 127.0.0.1 @PORT
	need_peer tcp_peer
	# First while nc holds the server: the peer's connection waits in the
	# queue with its data and its close, so the server echoes to a socket
	# already closed, and its next send() fails with EPIPE.
	mkfifo "$T/in"
	exec 7<> "$T/in"
	PROCESS_IN=$T/in start_process nc "${NC_CMD[@]}" 127.0.0.1 "$SERVER_PORT"
	nc_pid=$PROCESS_PID
	wait_for_line "$SERVER_OUT" '^Connected by ' 3 "$SERVER_PID" ||
		fail "no line 'Connected by ADDR:PORT' within 3 s of nc connecting"
	run bounded 10 "$PEER" leave 127.0.0.1 "$SERVER_PORT" 20000
	# nc leaves (its close ends the connection): the server takes the next.
	kill "$nc_pid"
	wait_until 3 gone "$nc_pid" || true
	exec 7>&-
	# Then three times as it comes: each peer sends 20000 bytes and closes
	# without reading.
	for round in 1 2 3; do
		run bounded 10 "$PEER" leave 127.0.0.1 "$SERVER_PORT" 20000
	done
	printf 'still there?' > "$T/sent"
	nc_exchange 127.0.0.1 "$SERVER_PORT" < "$T/sent" > "$T/got" || true
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		status=0
		wait "$SERVER_PID" || status=$?
		[ "$status" -ne 141 ] || fail "the server was killed by SIGPIPE: ignore it with sigaction(2) and handle EPIPE from send()"
		fail "the server exited (status $status) after a client left without reading"
	fi
	assert_same_bytes "$T/sent" "$T/got" "$T/sent"
}

# bats test_tags=points:2
@test "server prints Listening on and Connected by with real addresses" {
	start_server echo_server 127.0.0.1 @PORT
	mkfifo "$T/in"
	exec 7<> "$T/in"
	PROCESS_IN=$T/in start_process nc "${NC_CMD[@]}" 127.0.0.1 "$SERVER_PORT"
	wait_for_line "$SERVER_OUT" '^Connected by 127\.0\.0\.1:[0-9]+$' 3 || true
	check_server_line "^Listening on 127\.0\.0\.1:$SERVER_PORT\$" "'Listening on 127.0.0.1:$SERVER_PORT', the address and port it was given"
	check_server_line '^Connected by 127\.0\.0\.1:[0-9]+$' "'Connected by 127.0.0.1:PORT', the client's address and port, once nc connected"
	# nc's port: the local port of its end of the connection.
	client_port=$(os_tcp_table | awk -v p="$SERVER_PORT" '$2 == p && $3 == "ESTABLISHED" { print $1; exit }')
	[ -n "$client_port" ] || fail "grading tools: nc's end of the connection is not in the socket table"
	check_server_line "^Connected by 127\.0\.0\.1:$client_port\$" "'Connected by 127.0.0.1:$client_port': nc's own port (the server's is $SERVER_PORT), as accept(2) gives it"
	exec 7>&-
}

# bats test_tags=points:2
@test "server without a HOST listens on every IPv4 interface" {
	start_server echo_server '' @PORT
	wait_for_line "$SERVER_OUT" '^Listening on ' 3 "$SERVER_PID" || true
	check_server_line "^Listening on 0\.0\.0\.0:$SERVER_PORT\$" "'Listening on 0.0.0.0:$SERVER_PORT': an empty HOST means every IPv4 interface (AI_PASSIVE)"
	printf 'any interface' > "$T/sent"
	nc_exchange 127.0.0.1 "$SERVER_PORT" < "$T/sent" > "$T/got" || true
	assert_same_bytes "$T/sent" "$T/got" "$T/sent"
}

# bats test_tags=points:3
@test "server accepts IPv6 clients on ::1" {
	has_ipv6_loopback || skip "no IPv6 loopback here, or $NC_FLAVOUR netcat has no IPv6"
	start_server echo_server ::1 @PORT
	printf 'over IPv6' > "$T/sent"
	nc_exchange ::1 "$SERVER_PORT" < "$T/sent" > "$T/got" || true
	assert_same_bytes "$T/sent" "$T/got" "$T/sent"
	check_server_line "^Listening on \[?::1\]?:$SERVER_PORT\$" "'Listening on [::1]:$SERVER_PORT'"
	check_server_line '^Connected by \[::1\]:[0-9]+$' "'Connected by [::1]:PORT', the IPv6 client's address in brackets"
}

# bats test_tags=points:3
@test "server given port 0 listens on a free port and reports it" {
	start_server_reporting echo_server 127.0.0.1 0
	port=$SERVER_PORT
	printf 'port zero' > "$T/sent"
	nc_exchange 127.0.0.1 "$port" < "$T/sent" > "$T/got" || true
	assert_same_bytes "$T/sent" "$T/got" "$T/sent"
}

# bats test_tags=points:3
@test "server fails with a clear message and exit 1 when the port is taken" {
	start_server echo_server 127.0.0.1 @PORT
	echo "-- a first echo_server listens on 127.0.0.1:$SERVER_PORT"
	run_noted 5 echo_server 127.0.0.1 "$SERVER_PORT"
	assert_exit 1
	check_message "^echo_server: .*$(errno_regex EADDRINUSE)" "'echo_server: ' and strerror(3)'s text for EADDRINUSE, as in 'echo_server: bind 127.0.0.1:$SERVER_PORT: $(errno_text EADDRINUSE)'"
}

# bats test_tags=points:3
@test "server restarted at once binds its port while the last connection lingers" {
	start_server echo_server 127.0.0.1 @PORT
	mkfifo "$T/in"
	exec 7<> "$T/in"
	PROCESS_IN=$T/in start_process nc "${NC_CMD[@]}" 127.0.0.1 "$SERVER_PORT"
	wait_for_line "$SERVER_OUT" '^Connected by ' 3 "$SERVER_PID" ||
		fail "no line 'Connected by ADDR:PORT' within 3 s of nc connecting"
	# The server closes first: its end of the connection stays on its
	# port (FIN-WAIT-2, then TIME-WAIT) after it exits.
	stop_server TERM
	assert_server_exit 0 TERM
	need_prog echo_server
	echo "-- the first server, stopped while nc was connected, left that connection on port $SERVER_PORT"
	note_run echo_server 127.0.0.1 "$SERVER_PORT"
	start_process echo_server "$PROG" 127.0.0.1 "$SERVER_PORT"
	wait_listening tcp "$SERVER_PORT" "$PROCESS_PID" || {
		echo "-- its standard error:"
		print_lines "$PROCESS_ERR"
		fail "the restarted server did not listen on port $SERVER_PORT: set SO_REUSEADDR before bind(2)"
	}
	exec 7>&-
}

# bats test_tags=points:3
@test "server exits 0 on SIGTERM and on SIGINT" {
	start_server echo_server 127.0.0.1 @PORT
	stop_server TERM
	assert_server_exit 0 TERM
	start_server echo_server 127.0.0.1 @PORT
	stop_server INT
	assert_server_exit 0 INT
}

# bats test_tags=points:3
@test "server exits 0 on SIGTERM while a silent client is connected" {
	start_server echo_server 127.0.0.1 @PORT
	mkfifo "$T/in"
	exec 7<> "$T/in"
	PROCESS_IN=$T/in start_process nc "${NC_CMD[@]}" 127.0.0.1 "$SERVER_PORT"
	# The server is in recv() with this client once it has logged it.
	wait_for_line "$SERVER_OUT" '^Connected by ' 3 "$SERVER_PID" || {
		echo "-- no line 'Connected by ADDR:PORT' within 3 s of nc connecting; the server printed:"
		print_lines "$SERVER_OUT"
		fail "the test sends the signal once the server has logged the client: print that line and fflush(3) it"
	}
	stop_server TERM
	assert_server_exit 0 TERM
	exec 7>&-
}

# ------------------------------------------------------------- client --

# listener_connection_ended PORT: the listener's end of the connection on
# PORT is no longer ESTABLISHED.
listener_connection_ended() {
	os_tcp_table | awk -v p="$1" '$1 == p && $3 == "ESTABLISHED" { found = 1 } END { exit found }'
}

# bats test_tags=points:5
@test "client sends exactly the message, then half-closes" {
	# The listener's input stays open, so netcat itself never closes: the
	# connection can only end because the client sent its FIN.
	mkfifo "$T/reply"
	exec 7<> "$T/reply"
	start_nc_listener 127.0.0.1 "$T/reply"
	need_prog echo_client
	note_run echo_client 127.0.0.1 "$NC_PORT" 'Hi there!'
	start_process echo_client "$PROG" 127.0.0.1 "$NC_PORT" 'Hi there!'
	printf 'Hi there!' > "$T/sent"
	wait_for_size "$NC_OUT" 9 3 "$PROCESS_PID" || true
	cp "$NC_OUT" "$T/got"
	assert_same_bytes "$T/sent" "$T/got"
	wait_until 3 listener_connection_ended "$NC_PORT" ||
		fail "the message came, but no end of it within 3 s: the client must half-close, shutdown(fd, SHUT_WR), once it has sent the message"
	exec 7>&-
}

# bats test_tags=points:5
@test "client prints the reply as Received '...' with bytes escaped" {
	printf 'tab\there\nquote'"'"' back\\slash \001\377' > "$T/reply"
	start_nc_listener 127.0.0.1 "$T/reply"
	need_prog echo_client
	echo "-- the peer (nc) answers with these bytes, then closes:"
	describe_file reply "$T/reply"
	run_noted 5 echo_client 127.0.0.1 "$NC_PORT" 'ping'
	assert_exit 0
	assert_text_equal "Received 'tab\\there\\nquote\\' back\\\\slash \\x01\\xff'" "$output" "the client's output"
}

# bats test_tags=points:3
@test "client prints a long reply to its end, however recv() splits it" {
	need_peer tcp_peer
	start_process tcp_peer "$PEER" echo 127.0.0.1
	wait_for_line "$PROCESS_OUT" '^PORT [0-9]+$' 3 "$PROCESS_PID" ||
		fail "grading tools: tcp_peer did not listen"
	port=$(program_output "$PROCESS_OUT" | sed -n 's/^PORT //p')
	message=$(awk 'BEGIN { for (i = 0; i < 6000; i++) printf "%09d ", i }')
	need_prog echo_client
	echo "-- the peer echoes the 60000-byte message ('000000000 000000001 ... 000005999 ')"
	echo "   through small socket buffers: it comes back in many pieces"
	run_noted 5 echo_client 127.0.0.1 "$port" "$message"
	assert_exit 0
	assert_text_equal "Received '$message'" "$output" "the client's output"
}

# bats test_tags=points:2
@test "client connects to an IPv6 server on ::1" {
	has_ipv6_loopback || skip "no IPv6 loopback here, or $NC_FLAVOUR netcat has no IPv6"
	printf 'over IPv6' > "$T/reply"
	start_nc_listener ::1 "$T/reply"
	need_prog echo_client
	echo "-- the peer (nc) listens on ::1, answers 'over IPv6' and closes"
	run_noted 5 echo_client ::1 "$NC_PORT" 'ping'
	assert_exit 0
	assert_text_equal "Received 'over IPv6'" "$output" "the client's output"
}

# bats test_tags=points:3
@test "client reports a refused connection and exits 1" {
	port=$(free_port tcp)
	need_prog echo_client
	echo "-- nothing listens on 127.0.0.1:$port"
	run_noted 5 echo_client 127.0.0.1 "$port" 'anyone?'
	assert_exit 1
	check_message "^echo_client: .*$(errno_regex ECONNREFUSED)" "'echo_client: ' and strerror(3)'s text for ECONNREFUSED, as in 'echo_client: connect to 127.0.0.1:$port: $(errno_text ECONNREFUSED)'"
}

# bats test_tags=points:2
@test "client reports an unknown host and exits 1" {
	run_noted 10 echo_client no-such-host.invalid "$(free_port tcp)"
	assert_exit 1
	check_message '^echo_client: .*no-such-host\.invalid' "'echo_client: ' and the host's name, as in 'echo_client: no-such-host.invalid: ' followed by gai_strerror(3)'s text"
}

# bats test_tags=points:2
@test "client reports a connection reset by the server and exits 1" {
	need_peer tcp_peer
	start_process tcp_peer "$PEER" rst 127.0.0.1
	wait_for_line "$PROCESS_OUT" '^PORT [0-9]+$' 3 "$PROCESS_PID" ||
		fail "grading tools: tcp_peer did not listen"
	port=$(program_output "$PROCESS_OUT" | sed -n 's/^PORT //p')
	need_prog echo_client
	echo "-- the peer reads the message until the half-close, then resets the connection (RST)"
	run_noted 5 echo_client 127.0.0.1 "$port" 'reset me'
	assert_exit 1
	check_message "^echo_client: .*$(errno_regex ECONNRESET)" "'echo_client: ' and strerror(3)'s text for ECONNRESET, as in 'echo_client: recv: $(errno_text ECONNRESET)'"
}
