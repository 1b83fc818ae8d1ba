#!/usr/bin/env bats
# Lesson 02: the UDP echo server and client.  The peer is netcat in UDP
# mode (the flavour in $NC, or the first one found) wherever netcat can do
# the job; tests/peers/udp_peer does what it cannot: keep datagram
# boundaries, send empty and 65507-byte datagrams, lose a datagram, answer
# from a stranger's port, send from the server's own port on 127.0.0.2.  Tests that need netcat's UDP are skipped under
# a busybox netcat without -u.

bats_require_minimum_version 1.5.0

setup() {
	load lib/harness
	harness_setup 02-udp-echo
	load lib/udp
}

teardown() {
	harness_teardown
}

# ------------------------------------------------------------ helpers --
# print_peer_log: what tests/peers/udp_peer logged so far.
print_peer_log() {
	echo "-- the peer's log (DATAGRAM i: the i-th datagram it got, its size, the time since the one before):"
	print_lines "$PEER_OUT"
}

# ------------------------------------------------------------- server --

# bats test_tags=points:5
@test "server echoes a datagram from nc" {
	need_nc_udp
	start_server --udp udp_echo_server 127.0.0.1 @PORT
	printf 'Hello, world' > "$T/sent"
	nc_udp_exchange 127.0.0.1 "$SERVER_PORT" < "$T/sent" > "$T/got" || true
	assert_same_bytes "$T/sent" "$T/got" "$T/sent"
}

# bats test_tags=points:5
@test "server echoes each datagram on its own, never merged with the next" {
	start_server --udp udp_echo_server 127.0.0.1 @PORT
	# Sent back to back, so that they wait together in the server's queue;
	# the long one first, so that leftovers of it would show in the next.
	printf 'a longer first datagram' > "$T/d1"
	printf 'short' > "$T/d2"
	printf 'the third one' > "$T/d3"
	udp_send_datagrams 127.0.0.1 "$SERVER_PORT" "$T/d1" "$T/d2" "$T/d3"
	for i in 1 2 3; do
		[ -f "$T/d$i.reply" ] || { echo "-- udp_peer: $stderr"; fail "no reply to datagram $i ('$(cat "$T/d$i")'): the server must answer each datagram with one datagram"; }
		assert_same_bytes "$T/d$i" "$T/d$i.reply" "$T/d$i" ||
			fail "the reply to datagram $i of 3 (sent back to back) is not that datagram"
	done
	[ "$status" -eq 0 ] || fail "the test's peer udp_peer failed (status $status): $stderr"
}

# bats test_tags=points:3
@test "server echoes a 65507-byte datagram, the largest IPv4 carries" {
	start_server --udp udp_echo_server 127.0.0.1 @PORT
	{ printf 'NUL\0'; head -c 65503 /dev/urandom; } > "$T/sent"
	udp_send_datagrams 127.0.0.1 "$SERVER_PORT" "$T/sent"
	[ -f "$T/sent.reply" ] || { echo "-- udp_peer: $stderr"; fail "no reply to a 65507-byte datagram"; }
	assert_same_bytes "$T/sent" "$T/sent.reply" "$T/sent"
}

# bats test_tags=points:3
@test "server echoes binary data with NUL bytes byte for byte" {
	need_nc_udp
	start_server --udp udp_echo_server 127.0.0.1 @PORT
	{ printf 'NUL\0CR\rLF\n\0\0\377'; head -c 2000 /dev/urandom; } > "$T/sent"
	nc_udp_exchange 127.0.0.1 "$SERVER_PORT" < "$T/sent" > "$T/got" || true
	assert_same_bytes "$T/sent" "$T/got" "$T/sent"
}

# bats test_tags=points:5
@test "server serves two interleaved clients, each with only its own replies" {
	need_nc_udp
	start_server --udp udp_echo_server 127.0.0.1 @PORT
	nc_udp_start 7 127.0.0.1 "$SERVER_PORT"
	pid_a=$NC_PID out_a=$NC_OUT
	nc_udp_start 8 127.0.0.1 "$SERVER_PORT"
	pid_b=$NC_PID out_b=$NC_OUT
	: > "$T/sent_a"
	: > "$T/sent_b"
	# A, B, A, B: each datagram's echo must come back to its sender while
	# the other client is still there.
	for step in "a 7 first from A" "b 8 first from B" "a 7 second from A" "b 8 second from B"; do
		read -r who fd message <<< "$step"
		printf '%s\n' "$message" > "$T/msg"
		printf '%s\n' "$message" >> "$T/sent_$who"
		nc_udp_send "$fd" "$T/msg"
		if [ "$who" = a ]; then pid=$pid_a out=$out_a; else pid=$pid_b out=$out_b; fi
		wait_for_size "$out" "$(($(wc -c < "$T/sent_$who")))" 3 "$pid" || {
			cp "$out_a" "$T/got_a"
			cp "$out_b" "$T/got_b"
			echo "-- client A got: '$(escape_bytes < "$T/got_a")'"
			echo "-- client B got: '$(escape_bytes < "$T/got_b")'"
			fail "no echo of '$message' to client $(echo "$who" | tr ab AB) within 3 s"
		}
	done
	cp "$out_a" "$T/got_a"
	cp "$out_b" "$T/got_b"
	assert_same_bytes "$T/sent_a" "$T/got_a" || fail "client A got more or other than its own two echoes"
	assert_same_bytes "$T/sent_b" "$T/got_b" || fail "client B got more or other than its own two echoes"
}

# bats test_tags=points:3
@test "server echoes an empty datagram, and the next one" {
	start_server --udp udp_echo_server 127.0.0.1 @PORT
	: > "$T/empty"
	printf 'after the empty one' > "$T/next"
	udp_send_datagrams 127.0.0.1 "$SERVER_PORT" "$T/empty" "$T/next"
	[ -f "$T/empty.reply" ] || { echo "-- udp_peer: $stderr"; fail "no reply to the empty datagram: recvfrom() returning 0 is an empty datagram, not an end"; }
	[ ! -s "$T/empty.reply" ] ||
		fail "the first reply, to the empty datagram, is not empty: '$(escape_bytes < "$T/empty.reply")': recvfrom() returning 0 is an empty datagram, to be echoed like any other"
	[ -f "$T/next.reply" ] || { echo "-- udp_peer: $stderr"; fail "no reply to the datagram after the empty one"; }
	assert_same_bytes "$T/next" "$T/next.reply" "$T/next"
}

# bats test_tags=points:3
@test "server accepts IPv6 datagrams on ::1" {
	has_ipv6_loopback || skip "no IPv6 loopback here, or $NC_FLAVOUR netcat has no IPv6"
	need_nc_udp
	start_server --udp udp_echo_server ::1 @PORT
	printf 'over IPv6' > "$T/sent"
	nc_udp_exchange ::1 "$SERVER_PORT" < "$T/sent" > "$T/got" || true
	assert_same_bytes "$T/sent" "$T/got" "$T/sent"
	check_server_line "^Listening on \[?::1\]?:$SERVER_PORT\$" "'Listening on [::1]:$SERVER_PORT'"
}

# bats test_tags=points:2
@test "server prints Listening on and Datagram from ADDR:PORT (N bytes)" {
	start_server --udp udp_echo_server 127.0.0.1 @PORT
	printf '12345' > "$T/d1"
	udp_send_datagrams 127.0.0.1 "$SERVER_PORT" "$T/d1"
	port=$(printf '%s\n' "$output" | sed -n 's/^LOCAL PORT //p')
	[ -n "$port" ] || fail "the test's peer udp_peer failed: $stderr"
	wait_for_line "$SERVER_OUT" '^Datagram from ' 3 || true
	check_server_line "^Listening on 127\.0\.0\.1:$SERVER_PORT\$" "'Listening on 127.0.0.1:$SERVER_PORT', the address and port it was given"
	check_server_line "^Datagram from 127\.0\.0\.1:$port \(5 bytes\)\$" "'Datagram from 127.0.0.1:$port (5 bytes)', the sender's address and port, after a 5-byte datagram"
}

# bats test_tags=points:2
@test "server given port 0 binds a free port and reports it" {
	start_server_reporting --udp udp_echo_server 127.0.0.1 0
	port=$SERVER_PORT
	printf 'port zero' > "$T/d1"
	udp_send_datagrams 127.0.0.1 "$port" "$T/d1"
	[ -f "$T/d1.reply" ] || fail "no reply on the reported port $port"
	assert_same_bytes "$T/d1" "$T/d1.reply" "$T/d1"
}

# bats test_tags=points:2
@test "server fails with a clear message and exit 1 when the port is taken" {
	start_server --udp udp_echo_server 127.0.0.1 @PORT
	echo "-- a first udp_echo_server is bound to 127.0.0.1:$SERVER_PORT"
	note_run udp_echo_server 127.0.0.1 "$SERVER_PORT"
	start_process second "$PROG" 127.0.0.1 "$SERVER_PORT"
	# With SO_REUSEADDR on both, Linux lets a second UDP server bind the
	# same port: then it runs.
	wait_until 3 gone "$PROCESS_PID" ||
		fail "a second server started on the same UDP port: do not set SO_REUSEADDR on a UDP socket (on Linux it lets two servers share a port)"
	status=0
	wait "$PROCESS_PID" || status=$?
	stderr=$(program_output "$PROCESS_ERR")
	_harness_check_status udp_echo_server "$status" 3
	assert_exit 1
	check_message "^udp_echo_server: .*$(errno_regex EADDRINUSE)" "'udp_echo_server: ' and strerror(3)'s text for EADDRINUSE, as in 'udp_echo_server: bind 127.0.0.1:$SERVER_PORT: $(errno_text EADDRINUSE)'"
}

# bats test_tags=points:3
@test "server exits 0 on SIGTERM and on SIGINT" {
	start_server --udp udp_echo_server 127.0.0.1 @PORT
	stop_server TERM
	assert_server_exit 0 TERM
	start_server --udp udp_echo_server 127.0.0.1 @PORT
	stop_server INT
	assert_server_exit 0 INT
}

# bats test_tags=points:2
@test "server does not answer a datagram from its own port, and says so" {
	# A source address cannot be forged without privileges, but on Linux
	# every 127.x.y.z is loopback: a peer bound to 127.0.0.2 and the
	# server's port sends what another copy of the server would.  Where
	# 127.0.0.2 cannot be bound (macOS has only 127.0.0.1), the test is
	# skipped.  The rule for source ports below 1024 is not tested: binding
	# one takes privileges.
	start_server --udp udp_echo_server 127.0.0.1 @PORT
	# A port whose two bytes differ: compared in the wrong byte order, it
	# then cannot pass for itself.
	while [ $((SERVER_PORT / 256)) -eq $((SERVER_PORT % 256)) ]; do
		stop_server TERM
		start_server --udp udp_echo_server 127.0.0.1 @PORT
	done
	need_peer udp_peer
	printf 'forged' > "$T/forged"
	start_process forger "$PEER" forge 127.0.0.2 "$SERVER_PORT" 127.0.0.1 "$SERVER_PORT" "$T/forged" echo
	forger_pid=$PROCESS_PID forger_out=$PROCESS_OUT forger_err=$PROCESS_ERR
	if ! wait_for_line "$forger_out" '^PORT ' 5 "$forger_pid"; then
		if grep -Eq "$(errno_regex EADDRNOTAVAIL)" "$forger_err"; then
			skip "127.0.0.2 cannot be bound here (only 127.0.0.1 is loopback): the server's own-port rule is not tested"
		fi
		fail "the test's peer udp_peer did not start on 127.0.0.2:$SERVER_PORT: $(program_output "$forger_err" 500)"
	fi
	echo "-- a peer on 127.0.0.2:$SERVER_PORT, the server's port, sent 'forged' (6 bytes); it echoes what it gets, as a second echo server would"
	# The server handles datagrams in order: once this one is echoed, the
	# forged one was handled.
	printf 'an ordinary datagram' > "$T/ordinary"
	udp_send_datagrams 127.0.0.1 "$SERVER_PORT" "$T/ordinary"
	[ -f "$T/ordinary.reply" ] ||
		fail "no echo of an ordinary datagram sent after the forged one: the server must go on serving ($stderr)"
	# Anything the server sent the peer reached it before this marker.
	printf 'the marker' > "$T/marker"
	udp_send_datagrams 127.0.0.2 "$SERVER_PORT" "$T/marker"
	[ -f "$T/marker.reply" ] || fail "the test's peer on 127.0.0.2:$SERVER_PORT did not answer ($stderr)"
	if ! program_output "$forger_out" | grep -q '^DATAGRAM 1 10 bytes'; then
		echo "-- what the peer on 127.0.0.2:$SERVER_PORT got (10 bytes: the test's marker, sent last):"
		print_lines "$forger_out"
		fail "the server answered the datagram from 127.0.0.2:$SERVER_PORT, its own port: another echo server there would answer back, and the two would echo it to each other for ever"
	fi
	check_server_line "^Datagram from 127\.0\.0\.2:$SERVER_PORT \(6 bytes\) not answered: source port is ours\$" "'Datagram from 127.0.0.2:$SERVER_PORT (6 bytes) not answered: source port is ours'"
}

# ------------------------------------------------------------- client --

# bats test_tags=points:5
@test "client sends exactly the message, once, to a nc -u -l peer" {
	need_nc_udp
	printf 'ok' > "$T/reply"
	start_nc_udp_listener 127.0.0.1 "$T/reply"
	run_noted 5 udp_echo_client -t 2 -r 1 127.0.0.1 "$NC_PORT" 'Hi there!'
	printf 'Hi there!' > "$T/sent"
	# A client that got its reply has surely sent; one that failed may have
	# sent nothing at all, so do not wait long for it.
	wait_for_size "$NC_OUT" 9 "$([ "$status" -eq 0 ] && echo 3 || echo 1)" || true
	cp "$NC_OUT" "$T/got"
	echo "-- the client exited with status $status; its stderr: '$(printf '%s' "$stderr" | escape_bytes 200)'"
	assert_same_bytes "$T/sent" "$T/got" ||
		fail "the peer must receive the bytes of the message, and with -r 1 one datagram only"
}

# bats test_tags=points:5
@test "client prints the reply as Received '...' with bytes escaped" {
	need_nc_udp
	printf 'tab\there\nquote'"'"' back\\slash \001\377' > "$T/reply"
	start_nc_udp_listener 127.0.0.1 "$T/reply"
	need_prog udp_echo_client
	echo "-- the peer (nc -u -l) answers with one datagram of these bytes:"
	describe_file reply "$T/reply"
	run_noted 5 udp_echo_client -t 2 -r 1 127.0.0.1 "$NC_PORT" 'ping'
	assert_exit 0
	assert_text_equal "Received 'tab\\there\\nquote\\' back\\\\slash \\x01\\xff'" "$output" "the client's output"
}

# bats test_tags=points:5
@test "client sends again after a lost datagram, and prints the reply" {
	start_udp_peer 127.0.0.1 drop echo
	need_prog udp_echo_client
	echo "-- the peer drops the first datagram and echoes the next ones"
	run_noted 5 udp_echo_client -t 0.6 -r 3 127.0.0.1 "$PEER_PORT" 'lost once'
	print_peer_log
	assert_exit 0
	assert_text_equal "Received 'lost once'" "$output" "the client's output"
	wait_for_line "$PEER_OUT" '^DATAGRAM 2 ' 3 || true
	gap=$(sed -n 's/^DATAGRAM 2 [0-9]* bytes after \([0-9]*\) ms$/\1/p' "$PEER_OUT")
	[ -n "$gap" ] || fail "the peer got no second datagram"
	# Not less than 2/3 of -t: the peer may note the first datagram late.
	[ "$gap" -ge 400 ] ||
		fail "the client sent again ${gap} ms after the first try: it must first wait for the reply as long as -t says (0.6 s), each try the whole time"
}

# bats test_tags=points:2
@test "client prints a reply as soon as it comes, without waiting out -t" {
	start_udp_peer 127.0.0.1 echo
	need_prog udp_echo_client
	echo "-- the peer echoes at once; the client may wait up to 4 s (-t 4) for it"
	start=$(os_now_ms)
	run_noted 5 udp_echo_client -t 4 -r 1 127.0.0.1 "$PEER_PORT" 'quick'
	took=$(($(os_now_ms) - start))
	assert_exit 0
	assert_text_equal "Received 'quick'" "$output" "the client's output"
	[ "$took" -lt 2000 ] ||
		fail "the client took $took ms for a reply that came at once: wait with poll(2), which returns as soon as the reply is there, not for the whole -t"
}

# bats test_tags=points:3
@test "client gives up after its tries and exits 1" {
	# On localhost (the first address it resolves to), to see that the
	# message names HOST as given.
	start_udp_peer localhost drop
	need_prog udp_echo_client
	echo "-- the peer drops every datagram"
	run_noted 5 udp_echo_client -t 0.1 -r 3 localhost "$PEER_PORT" 'anyone?'
	assert_exit 1
	check_message "^udp_echo_client: no reply from localhost:$PEER_PORT after 3 tries" "'udp_echo_client: no reply from localhost:$PEER_PORT after 3 tries', with HOST and PORT as given"
	wait_for_line "$PEER_OUT" '^DATAGRAM 3 ' 3 || true
	print_peer_log
	count=$(udp_peer_datagrams)
	[ "$count" -eq 3 ] || fail "the peer got $count datagrams: with -r 3 the client must send exactly 3"
}

# bats test_tags=points:3
@test "client reports Connection refused at once when no one listens" {
	port=$(free_port udp)
	# An unconnected socket never hears of the ICMP port unreachable: such a
	# client waits out its tries and reports no reply instead.
	need_prog udp_echo_client
	echo "-- nothing is bound to UDP port 127.0.0.1:$port"
	run_noted 5 udp_echo_client -t 0.5 -r 2 127.0.0.1 "$port" 'anyone?'
	assert_exit 1
	check_message "^udp_echo_client: .*$(errno_regex ECONNREFUSED)" "'udp_echo_client: ' and strerror(3)'s text for ECONNREFUSED, as in 'udp_echo_client: 127.0.0.1:$port: $(errno_text ECONNREFUSED)'"
}

# bats test_tags=points:3
@test "client ignores a reply from another address" {
	start_udp_peer 127.0.0.1 decoy
	need_prog udp_echo_client
	echo "-- the peer first sends 'decoy' from another port, then the echo from its own"
	run_noted 5 udp_echo_client -t 2 -r 1 127.0.0.1 "$PEER_PORT" 'who is there?'
	assert_exit 0
	assert_text_equal "Received 'who is there?'" "$output" "the client's output"
}

# bats test_tags=points:3
@test "client with - sends 65507 bytes of standard input as one datagram, raw reply out" {
	start_udp_peer 127.0.0.1 echo
	{ printf 'NUL\0CR\rLF\n'; head -c 65497 /dev/urandom; } > "$T/sent"
	need_prog udp_echo_client
	echo "-- ran: udp_echo_client -t 2 -r 1 127.0.0.1 $PEER_PORT - < 65507 bytes of binary data"
	status=0
	bounded 5 "$PROG" -t 2 -r 1 127.0.0.1 "$PEER_PORT" - < "$T/sent" > "$T/got" 2> "$T/err" || status=$?
	stderr=$(program_output "$T/err" 2000)
	_harness_check_status udp_echo_client "$status" 5
	print_peer_log
	if [ "$status" -ne 0 ]; then
		{
			echo "-- exit status: expected 0, got $status"
			describe_file sent "$T/sent"
			describe_file got "$T/got"
			printf "   stderr: '%s'\n" "$(printf '%s' "$stderr" | escape_bytes 200)"
		} | fail
	fi
	assert_same_bytes "$T/sent" "$T/got" "$T/sent"
	program_output "$PEER_OUT" | grep -Eq '^DATAGRAM 1 65507 bytes ' ||
		fail "the peer's first datagram was not all 65507 bytes: send standard input as one datagram"
}

# bats test_tags=points:2
@test "client with - reports a message too long for one IPv4 datagram and exits 1" {
	start_udp_peer 127.0.0.1 echo
	head -c 65508 /dev/zero > "$T/sent"
	need_prog udp_echo_client
	echo "-- ran: udp_echo_client -t 1 -r 1 127.0.0.1 $PEER_PORT - < 65508 bytes"
	status=0
	bounded 5 "$PROG" -t 1 -r 1 127.0.0.1 "$PEER_PORT" - < "$T/sent" > "$T/got" 2> "$T/err" || status=$?
	stderr=$(program_output "$T/err" 2000)
	_harness_check_status udp_echo_client "$status" 5
	if [ "$status" -ne 1 ]; then
		{
			echo "-- exit status: expected 1, got $status"
			describe_file stdout "$T/got"
			printf "   stderr: '%s'\n" "$(printf '%s' "$stderr" | escape_bytes 200)"
		} | fail
	fi
	check_message '^udp_echo_client: .*[Tt]oo (long|large|big)' "'udp_echo_client: ' and a reason that says too long (large, big), as in 'udp_echo_client: send: $(errno_text EMSGSIZE)'"
	count=$(udp_peer_datagrams)
	[ "$count" -eq 0 ] || fail "the peer got $count datagram(s): a message too long for one datagram must not be sent, not even cut short"
}

# bats test_tags=points:2
@test "client reports an unknown host and exits 1" {
	run_noted 10 udp_echo_client no-such-host.invalid "$(free_port udp)"
	assert_exit 1
	check_message '^udp_echo_client: .*no-such-host\.invalid' "'udp_echo_client: ' and the host's name, as in 'udp_echo_client: no-such-host.invalid: ' followed by gai_strerror(3)'s text"
}
