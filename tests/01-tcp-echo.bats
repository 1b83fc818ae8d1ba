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
	# Three times: each peer sends 20000 bytes and closes without reading.
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
	printf 'x' | nc_exchange 127.0.0.1 "$SERVER_PORT" > /dev/null || true
	wait_for_line "$SERVER_OUT" '^Connected by 127\.0\.0\.1:[0-9]+$' 3 || true
	check_server_line "^Listening on 127\.0\.0\.1:$SERVER_PORT\$" "'Listening on 127.0.0.1:$SERVER_PORT', the address and port it was given"
	check_server_line '^Connected by 127\.0\.0\.1:[0-9]+$' "'Connected by 127.0.0.1:PORT', the client's address and port, once nc connected"
}

# bats test_tags=points:3
@test "server accepts IPv6 clients on ::1" {
	has_ipv6_loopback || skip "no IPv6 loopback here, or $NC_FLAVOUR netcat has no IPv6"
	start_server echo_server ::1 @PORT
	printf 'over IPv6' > "$T/sent"
	nc_exchange ::1 "$SERVER_PORT" < "$T/sent" > "$T/got" || true
	assert_same_bytes "$T/sent" "$T/got" "$T/sent"
	check_server_line "^Listening on \[?::1\]?:$SERVER_PORT\$" "'Listening on [::1]:$SERVER_PORT'"
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

