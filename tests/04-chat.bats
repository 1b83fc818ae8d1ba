#!/usr/bin/env bats
# Lesson 04: the chat server on poll(), and its client.  Chat clients are
# netcat (the flavour in $NC, or the first one found), each fed from a FIFO
# so that several talk at once (see tests/lib/chat.bash).  Our own peers
# stand in where netcat cannot: tests/peers/chat_load (hundreds of clients),
# tests/peers/chat_peer (a client that stops reading; a line sent in
# pieces) and tests/peers/tcp_peer (a connection reset).

bats_require_minimum_version 1.5.0

setup() {
	load lib/harness
	load lib/chat
	harness_setup 04-chat
}

teardown() {
	chat_stop
	harness_teardown
}

WELCOME_TAIL='! Commands: /nick NAME, /who, /quit'
INVALID_NICK='! invalid nick: use 1-16 letters, digits, _ or -'

# ------------------------------------------------------------ joining --

# bats test_tags=points:5
@test "server welcomes newcomers as guest1, guest2, ... and tells the others who joined" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_assert_first a "* Welcome, guest1$WELCOME_TAIL"
	chat_join b
	chat_assert_first b "* Welcome, guest2$WELCOME_TAIL"
	chat_wait a '^\* guest2 joined$' || fail "guest1 was not told '* guest2 joined'"
	chat_join c
	chat_wait a '^\* guest3 joined$' || fail "guest1 was not told '* guest3 joined'"
	chat_wait b '^\* guest3 joined$' || fail "guest2 was not told '* guest3 joined'"
	chat_sync b
	chat_refute_line b '^\* guest2 joined' "a newcomer gets the welcome, not its own join notice"
}

# ---------------------------------------------------------- messages --

# bats test_tags=points:5
@test "server sends each line to every other client after the sender's name, and not back to the sender" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_join b
	chat_join c
	chat_say a 'Hello, everyone!'
	chat_wait b '^<guest1> ' || fail "guest2 did not get guest1's message"
	chat_wait c '^<guest1> ' || fail "guest3 did not get guest1's message"
	chat_assert_line b '<guest1> Hello, everyone!' "guest1 sent 'Hello, everyone!\\n'"
	chat_assert_line c '<guest1> Hello, everyone!' "guest1 sent 'Hello, everyone!\\n'"
	chat_say c 'and hello back'
	chat_wait a '^<guest3> and hello back$' || fail "guest1 did not get guest3's message"
	chat_wait b '^<guest3> and hello back$' || fail "guest2 did not get guest3's message"
	chat_sync a
	chat_refute_line a 'Hello, everyone' "the sender must not get its own message back"
}

# bats test_tags=points:2
@test "server drops the CR of a line ending in CRLF" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_join b
	printf 'telnet says hi\r\n/nick telnet\r\n' > "$T/sent"
	chat_send_file a "$T/sent"
	chat_wait b '^\* guest1 is now ' || fail "guest1's '/nick telnet' followed by CRLF did not work"
	chat_sync b
	printf '* Welcome, guest2%s\n<guest1> telnet says hi\n* guest1 is now telnet\n' "$WELCOME_TAIL" > "$T/expected"
	chat_assert_received b "$T/expected" "$T/sent"
}

# bats test_tags=points:2
@test "control bytes in a line reach the others as ?, tabs and UTF-8 as they are" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_join b
	# The last line is UTF-8 (cafe with an acute e, a euro sign): bytes
	# from 0x80 up are text, not control bytes (compare unsigned char).
	printf 'hello\r<admin> I am the admin\nbell\a esc\033[2J del\177 nul\000 bs\b\n\ttab\tin\r\ncaf\303\251 \342\202\254\n' > "$T/sent"
	chat_send_file a "$T/sent"
	chat_sync b
	printf '* Welcome, guest2%s\n<guest1> hello?<admin> I am the admin\n<guest1> bell? esc?[2J del? nul? bs?\n<guest1> \ttab\tin\n<guest1> caf\303\251 \342\202\254\n' \
		"$WELCOME_TAIL" > "$T/expected"
	chat_assert_received b "$T/expected" "$T/sent"
}

# bats test_tags=points:3
@test "a line written in several pieces arrives once and whole" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	need_peer chat_peer
	# Each piece waits until the server has read the one before.
	run bounded 10 "$PEER" pieces 127.0.0.1 "$SERVER_PORT" 'Hel' 'lo, wor' $'ld!\n'
	chat_expect_run \
		"chat_peer (guest2) sent 'Hel', 'lo, wor', 'ld!\\n', each once the server had read the one before, then /who, whose reply it must get"
	chat_sync a
	chat_assert_count a '^<guest2> ' 1 "guest2 sent one line, 'Hello, world!\\n', in 3 pieces: it must arrive once, whole"
	chat_assert_line a '<guest2> Hello, world!' "guest2 sent 'Hel', 'lo, wor', 'ld!\\n'"
}

# bats test_tags=points:3
@test "several lines in one write arrive as several messages, empty lines ignored" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	need_peer chat_peer
	printf 'one\ntwo\n\nthree\n' > "$T/sent"
	run bounded 10 "$PEER" pieces 127.0.0.1 "$SERVER_PORT" $'one\ntwo\n\nthree\n'
	chat_expect_run \
		"chat_peer (guest2) sent 'one\\ntwo\\n\\nthree\\n' in one send(), then /who, whose reply it must get"
	chat_sync a
	program_output "$(chat_out a)" | LC_ALL=C grep -av '^\* ' > "$T/got" || true
	printf '<guest2> one\n<guest2> two\n<guest2> three\n' > "$T/expected"
	assert_same_bytes "$T/expected" "$T/got" "$T/sent"
}

# bats test_tags=points:3
@test "a 1025-byte line gets ! line too long, and the connection stays usable" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_join b
	longest=$(printf '%1024s' '' | tr ' ' x)
	chat_say a "$longest" "y$longest" "$(printf '%5000s' '' | tr ' ' z)" 'still here'
	chat_wait b '^<guest1> still here$' || fail "guest1's next line after the long ones did not arrive"
	chat_assert_line b "<guest1> $longest" "guest1 sent a line of exactly 1024 bytes, then longer ones"
	chat_refute_line b '(^|> )[yz]' "a line longer than 1024 bytes must not be sent on, not even in part"
	chat_sync a
	chat_assert_count a '^! line too long$' 2 "guest1 sent lines of 1024, 1025 and 5000 bytes: one '! line too long' for each of the last two"
}

# bats test_tags=points:2
@test "binary junk does not crash the server" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_join b
	{
		printf '%%s%%s%%s%%n%%n%%s\n\0\0\0\n\r\r\n\377\376\n/\n/nick \377%%n\n'
		head -c 65536 /dev/urandom
		printf '\n'
	} > "$T/junk"
	chat_send_file a "$T/junk"
	chat_say a '/nick survivor' 'after the junk'
	chat_wait b '^<survivor> after the junk$' || fail "guest1's line after the junk did not arrive"
	kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died"
}

# ----------------------------------------------------------- commands --

# bats test_tags=points:5
@test "/nick renames the client and tells everyone, the sender included" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_join b
	chat_say a '/nick alice'
	chat_wait a '^\* guest1 is now alice$' || fail "the sender was not told '* guest1 is now alice'"
	chat_wait b '^\* guest1 is now alice$' || fail "the others were not told '* guest1 is now alice'"
	chat_say a 'hi, I am alice'
	chat_wait b '^<alice> hi, I am alice$' || fail "the message after /nick alice does not come from <alice>"
}

# bats test_tags=points:3
@test "/nick refuses a name that is not 1 to 16 letters, digits, _ or -" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_join b
	chat_say a '/nick' '/nick ' '/nick two words' '/nick seventeen_chars_x' '/nick dot.ted' $'/nick caf\xc3\xa9'
	# A NUL byte is no letter either (strchr(3) finds the one that ends
	# its string).
	printf '/nick ann\000x\n' >&"$(chat_var FD a)"
	chat_say a '/nick Ab_cd-0123456789'
	chat_wait a '^\* guest1 is now ' || fail "'/nick Ab_cd-0123456789' (16 characters) was not accepted"
	chat_assert_count a "^$INVALID_NICK\$" 7 \
		"guest1 sent $(chat_escape '/nick' '/nick ' '/nick two words' '/nick seventeen_chars_x' '/nick dot.ted' $'/nick caf\xc3\xa9'), '/nick ann\\x00x': each must get '$INVALID_NICK'"
	chat_sync b
	printf '* Welcome, guest2%s\n* guest1 is now Ab_cd-0123456789\n' "$WELCOME_TAIL" > "$T/expected"
	chat_assert_received b "$T/expected"
}

# bats test_tags=points:3
@test "/nick refuses a name in use with ! nick NAME is taken" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_join b
	chat_say a '/nick alice'
	chat_wait b '^\* guest1 is now alice$' || fail "'/nick alice' did not work"
	chat_say b '/nick alice'
	chat_wait b '^! nick alice is taken$' || fail "guest2 was not told '! nick alice is taken'"
	chat_say b 'still guest2'
	chat_wait a '^<guest2> still guest2$' || fail "guest2 is not guest2 any more"
	chat_refute_line a 'guest2 is now' "a refused /nick is not announced"
}

# bats test_tags=points:2
@test "/who lists everyone online in joining order" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_join b
	chat_join c
	chat_say b '/nick bob'
	chat_wait a '^\* guest2 is now bob$' || fail "'/nick bob' did not work"
	chat_sync a
	chat_assert_line a '* online: guest1, bob, guest3' "guest1, guest2 and guest3 joined, guest2 became bob, then guest1 sent /who"
	# The first to join leaves, so a server that reuses its slot (or its
	# descriptor's place) for the next newcomer lists the order wrong.
	chat_say a '/quit'
	chat_wait b '^\* guest1 left$' || fail "guest1's /quit was not announced"
	chat_join d
	chat_sync b
	chat_assert_line b '* online: bob, guest3, guest4' "then guest1 sent /quit, guest4 joined, and bob sent /who"
}

# bats test_tags=points:3
@test "/quit closes the connection and tells the others NAME left" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_join b
	chat_join c
	chat_wait_established 3 || fail "3 clients should be connected, not $(chat_established "$SERVER_PORT")"
	chat_say a '/quit'
	chat_wait b '^\* guest1 left$' || fail "the others were not told '* guest1 left'"
	chat_wait c '^\* guest1 left$' || fail "the others were not told '* guest1 left'"
	chat_wait_established 2 ||
		fail "the server did not close the connection after /quit: $(chat_established "$SERVER_PORT") connections are open, expected 2"
}

# bats test_tags=points:2
@test "a /who sent just before /quit is answered before the connection closes" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_join b
	# One write (cat's; bash's printf writes line by line): the server
	# reads both lines in one round.
	printf '/who\n/quit\n' > "$T/sent"
	chat_send_file a "$T/sent"
	chat_wait b '^\* guest1 left$' || fail "guest1 sent '/who\\n/quit\\n': the others were not told '* guest1 left'"
	chat_wait a '^\* online: ' ||
		fail "guest1 sent '/who\\n/quit\\n' in one write: it got no reply to /who before the server closed its connection (send what a client is owed, then close it)"
	chat_assert_line a '* online: guest1, guest2' "guest1 and guest2 joined, then guest1 sent '/who\\n/quit\\n'"
}

# bats test_tags=points:3
@test "a client that closes its connection is gone, and the others see NAME left" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_join b
	chat_join c
	kill "$(chat_pid b)"
	chat_wait a '^\* guest2 left$' || fail "the others were not told '* guest2 left'"
	chat_wait c '^\* guest2 left$' || fail "the others were not told '* guest2 left'"
	chat_wait_established 2 ||
		fail "the server kept the closed connection open: $(chat_established "$SERVER_PORT") connections are open, expected 2"
	chat_sync a
	chat_assert_line a '* online: guest1, guest3' "guest2's connection closed, then guest1 sent /who"
}

# bats test_tags=points:2
@test "an unknown command gets ! unknown command: /word" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_join b
	chat_say a '/dance with me'
	chat_wait a '^! unknown command' || fail "no '! unknown command: /dance' for '/dance with me'"
	chat_assert_line a '! unknown command: /dance' "guest1 sent '/dance with me': the command is the line up to its first space"
	# A command is its whole word: /whoami is not /who.  And the word
	# is quoted as sent, never used as a printf() format.
	chat_say a '/whoami' '/%s%s%s%n%x'
	chat_wait a '^! unknown command: /%' || fail "no '! unknown command: /%s%s%s%n%x' for '/%s%s%s%n%x'"
	chat_assert_line a '! unknown command: /whoami' "guest1 sent '/whoami': a command is the line up to its first space, and /whoami is not /who"
	chat_assert_line a '! unknown command: /%s%s%s%n%x' "guest1 sent '/%s%s%s%n%x': the reply quotes it as it is (it is no printf() format)"
	chat_refute_line a '^\* online: ' "guest1 sent no /who, only '/dance with me', '/whoami' and '/%s%s%s%n%x'"
	chat_sync b
	chat_refute_line b 'dance' "an unknown command is not a message"
}

# --------------------------------------------------- slow and many --

# bats test_tags=points:5
@test "a client that stops reading does not delay the others" {
	start_server chat_server 127.0.0.1 @PORT
	chat_start_mute
	# Well past what the kernel's buffers hold for the silent client.
	chat_lines "$T/lines" 100
	chat_send_file talk "$T/lines"
	chat_wait watch '^<guest3> z' 100 5 ||
		fail "100 lines of 1000 bytes did not all reach guest1: does the server wait for the client that does not read?"
}

# bats test_tags=points:3
@test "a client that stops reading gets every line, in order, once it reads again" {
	start_server chat_server 127.0.0.1 @PORT
	chat_start_mute
	# 100 numbered lines of 1000 bytes: far more than the kernel's buffers
	# hold for the silent client (guest2), so most wait in its queue.
	z=$(printf '%990s' '' | tr ' ' z)
	for i in $(seq 100 199); do printf 'line %s %s\n' "$i" "$z"; done > "$T/lines"
	sed 's/^/<guest3> /' "$T/lines" > "$T/expected"
	chat_send_file talk "$T/lines"
	chat_wait watch '^<guest3> line 199 ' 1 5 || fail "guest3's 100 lines did not reach guest1"
	printf 'read now\n' >&"$MUTE_FD"
	if ! wait_for_lines "$MUTE_OUT" '^<guest3> line 199 ' 1 5; then
		{
			echo "-- guest2 stopped reading while guest3 sent 100 lines of 1000 bytes, then read again:"
			echo "   after 5 s it had not received the last one, 'line 199 ...': the server must keep what guest2 cannot take yet (EAGAIN is no error) and send it all once guest2 reads"
			printf "   guest2 received %s lines from guest3; its last 200 bytes: '%s'\n" \
				"$(program_output "$MUTE_OUT" 1048576 | LC_ALL=C grep -ac '^<guest3> ')" "$(tail -c 200 "$MUTE_OUT" | escape_bytes 200)"
			[ "$(chat_count watch '^\* guest2 left$')" -eq 0 ] || echo "   (and the others were told '* guest2 left')"
		} | fail
	fi
	program_output "$MUTE_OUT" 1048576 | LC_ALL=C grep -a '^<guest3> ' > "$T/got" || true
	assert_same_bytes "$T/expected" "$T/got" "$T/lines"
}

# bats test_tags=points:2
@test "server sleeps in poll() while its clients are idle" {
	start_server chat_server 127.0.0.1 @PORT
	chat_assert_idle_sleeps
}

# bats test_tags=points:3
@test "server survives clients that reset their connection" {
	start_server chat_server 127.0.0.1 @PORT
	need_peer tcp_peer
	chat_join a
	for i in 1 2 3 4 5; do
		bounded 10 "$PEER" reset 127.0.0.1 "$SERVER_PORT" 100000 ||
			fail "tcp_peer could not connect and reset (try $i)"
		chat_say a "message $i"
	done
	chat_wait a '^\* guest[0-9]+ left$' 5 || fail "the others were not told that the reset clients left"
	kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died when a client reset its connection"
	chat_join b
	chat_say a 'still serving'
	chat_wait b '^<guest1> still serving$' || fail "the server stopped serving after the resets"
}

# --------------------------------------------------------- the server --

# bats test_tags=points:3
@test "server exits 0 on SIGTERM and on SIGINT, with clients connected" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_join b
	stop_server TERM
	chat_expect_server_exit TERM "with 2 clients connected"
	start_server chat_server 127.0.0.1 @PORT
	chat_join c
	stop_server INT
	chat_expect_server_exit INT "with 1 client connected"
}

# bats test_tags=points:3
@test "a log on a pipe that nobody reads neither stops the server nor keeps it from exiting on SIGTERM" {
	need_peer chat_load
	mkfifo "$T/log"
	# Held open read-write, never read: the server's stdout is a pipe
	# whose reader sleeps.
	chat_open_fifo "$T/log"
	PROCESS_OUT_TO=$T/log start_server chat_server 127.0.0.1 @PORT
	# 6 x 200 clients come and go: 1200 lines "Connected by ..." and as
	# many "guestN left (...)", 80 KB, more than a pipe holds (64 KiB).
	for i in 1 2 3 4 5 6; do
		run bounded 10 "$PEER" -c 200 -s 2 -m 1 -t 5 127.0.0.1 "$SERVER_PORT"
		chat_expect_run "round $i: chat_load connected 200 clients and 2 of them sent a line, with the server's log on a pipe that nobody reads: the log must never make the server wait"
	done
	chat_join late
	stop_server TERM
	chat_expect_server_exit TERM "with its log on a full pipe"
}

# bats test_tags=points:1
@test "server prints Listening on ADDR:PORT at once" {
	start_server chat_server 127.0.0.1 @PORT
	wait_for_line "$SERVER_OUT" '^Listening on ' 2 ||
		fail "no 'Listening on' line on stdout while the server runs (fflush(stdout)?)"
	program_output "$SERVER_OUT" | LC_ALL=C grep -Faxq "Listening on 127.0.0.1:$SERVER_PORT" ||
		fail "started as 'chat_server 127.0.0.1 $SERVER_PORT', the server must print the line 'Listening on 127.0.0.1:$SERVER_PORT'; its stdout: '$(program_output "$SERVER_OUT" | escape_bytes 200)'"
}

# bats test_tags=points:2
@test "server serves IPv6 clients on ::1" {
	has_ipv6_loopback || skip "no IPv6 loopback here, or $NC_FLAVOUR netcat has no IPv6"
	start_server chat_server ::1 @PORT
	chat_join a ::1
	chat_join b ::1
	chat_say a 'over IPv6'
	chat_wait b '^<guest1> over IPv6$' || fail "guest1's message did not reach guest2"
	wait_for_line "$SERVER_OUT" "^Listening on \[?::1\]?:$SERVER_PORT\$" 2 ||
		fail "no line 'Listening on [::1]:$SERVER_PORT'"
}

# bats test_tags=points:1
@test "server fails with a clear message and exit 1 when the port is taken" {
	start_server chat_server 127.0.0.1 @PORT
	run_prog 5 chat_server 127.0.0.1 "$SERVER_PORT"
	expect_exit 1 "^chat_server: .*$(errno_regex EADDRINUSE)" "chat_server 127.0.0.1 $SERVER_PORT (a port in use)"
}

# ------------------------------------------------------------- client --

# start_client ARGS...: chat_client connected to a netcat listener; both
# inputs are FIFOs held open on fds 7 (listener) and 8 (client).  The
# listener's output is NC_OUT, the client's CLIENT_OUT and CLIENT_ERR.
start_client() {
	mkfifo "$T/reply" "$T/typed"
	exec 7<> "$T/reply" 8<> "$T/typed"
	start_nc_listener 127.0.0.1 "$T/reply"
	need_prog chat_client
	PROCESS_IN=$T/typed start_process chat_client "$PROG" "$@" 127.0.0.1 "$NC_PORT"
	CLIENT_PID=$PROCESS_PID
	CLIENT_OUT=$PROCESS_OUT
	CLIENT_ERR=$PROCESS_ERR
}

# bats test_tags=points:5
@test "client sends each typed line at once" {
	start_client
	printf 'hello\n' >&8
	wait_for_size "$NC_OUT" 6 3 "$CLIENT_PID" || true
	printf 'second line\n' >&8
	wait_for_size "$NC_OUT" 18 3 "$CLIENT_PID" || true
	printf 'hello\nsecond line\n' > "$T/expected"
	cp "$NC_OUT" "$T/got"
	assert_same_bytes "$T/expected" "$T/got" "$T/expected"
}

# bats test_tags=points:5
@test "client prints each line the server sends at once" {
	start_client
	printf '* Welcome, guest1%s\n' "$WELCOME_TAIL" > "$T/expected"
	cat "$T/expected" >&7
	wait_for_size "$CLIENT_OUT" "$(wc -c < "$T/expected")" 3 "$CLIENT_PID" || true
	printf '<bob> hi there\n' | tee -a "$T/expected" >&7
	wait_for_size "$CLIENT_OUT" "$(wc -c < "$T/expected")" 3 "$CLIENT_PID" || true
	cp "$CLIENT_OUT" "$T/got"
	assert_same_bytes "$T/expected" "$T/got"
}

# bats test_tags=points:3
@test "client with -n NICK sends /nick NICK first" {
	start_client -n alice
	wait_for_size "$NC_OUT" 12 3 "$CLIENT_PID" || true
	printf 'hi\n' >&8
	wait_for_size "$NC_OUT" 15 3 "$CLIENT_PID" || true
	printf '/nick alice\nhi\n' > "$T/expected"
	cp "$NC_OUT" "$T/got"
	assert_same_bytes "$T/expected" "$T/got"
}

# bats test_tags=points:3
@test "client says so and exits 0 when the server closes" {
	start_client
	printf '* Welcome, guest1%s\n' "$WELCOME_TAIL" >&7
	wait_for_size "$CLIENT_OUT" 10 3 "$CLIENT_PID" || fail "the client printed nothing"
	# The listener has read everything: its end closes with a FIN.
	kill "$NC_PID"
	wait_until 3 gone "$CLIENT_PID" || fail "the client still runs 3 s after the server closed"
	status=0
	wait "$CLIENT_PID" || status=$?
	stderr=$(program_output "$CLIENT_ERR" | tr -d '\000')
	[ "$status" -eq 0 ] ||
		fail "the client exited with status $status after the server closed, expected 0; its stderr: '$(printf '%s' "$stderr" | escape_bytes 200)'"
	printf '%s\n' "$stderr" | grep -qi 'closed' ||
		fail "the client did not say on stderr that the server closed the connection (expected a line such as 'chat_client: the server closed the connection'); its stderr: '$(printf '%s' "$stderr" | escape_bytes 200)'"
}

# bats test_tags=points:3
@test "client half-closes at the end of its input and prints until the server closes" {
	# This peer answers only once the client has half-closed, then closes.
	need_peer chat_peer
	start_process peer "$PEER" late 127.0.0.1
	PEER_OUT=$PROCESS_OUT
	wait_for_line "$PEER_OUT" '^PORT [0-9]+$' 5 || fail "the test peer did not start"
	port=$(sed -n 's/^PORT //p' "$PEER_OUT")
	# The input ends without a newline: the client ends the line itself.
	printf 'last words' > "$T/typed"
	run_prog 5 chat_client 127.0.0.1 "$port" < "$T/typed"
	expect_exit 0 '' "chat_client 127.0.0.1 PORT < a file holding 'last words' (the peer replies once the client half-closes, then closes)"
	assert_text_equal 'a late reply' "$output" "what the client printed after the end of its input"
	printf 'PORT %s\nlast words\n' "$port" > "$T/expected"
	assert_same_bytes "$T/expected" "$PEER_OUT"
}

# bats test_tags=points:3
@test "client half-closes when its input is a pipe that closes later" {
	# The same as above, but standard input is a pipe (a FIFO the test
	# holds open on a descriptor of its own) that ends only after a line
	# has gone through.  For a pipe whose writer has closed, poll() reports
	# POLLHUP, not POLLIN: a file, as above, always reports POLLIN.
	need_peer chat_peer
	start_process peer "$PEER" late 127.0.0.1
	PEER_PID=$PROCESS_PID
	PEER_OUT=$PROCESS_OUT
	wait_for_line "$PEER_OUT" '^PORT [0-9]+$' 5 || fail "the test peer did not start"
	port=$(sed -n 's/^PORT //p' "$PEER_OUT")
	mkfifo "$T/typed"
	chat_open_fifo "$T/typed"
	typed_fd=$CHAT_FD
	need_prog chat_client
	PROCESS_IN=$T/typed start_process chat_client "$PROG" 127.0.0.1 "$port"
	CLIENT_PID=$PROCESS_PID
	CLIENT_OUT=$PROCESS_OUT
	CLIENT_ERR=$PROCESS_ERR
	printf 'first line\n' > "$T/sent"
	printf 'PORT %s\nfirst line\n' "$port" > "$T/expected"
	cat "$T/sent" >&"$typed_fd"
	wait_for_size "$PEER_OUT" "$(file_size "$T/expected")" 3 "$CLIENT_PID" ||
		fail "the line typed, 'first line\\n', did not reach the server within 3 s; it got: '$(escape_bytes < "$PEER_OUT")'"
	# The test held the pipe's only writer: closing it ends the input.
	cpu=$(os_cpu_ms "$(prog_pid "$CLIENT_PID")")
	eval "exec $typed_fd>&-"
	if ! wait_until 3 gone "$PEER_PID"; then
		cpu=$(($(os_cpu_ms "$(prog_pid "$CLIENT_PID")") - cpu))
		# Stopped first, so that it does not see the peer stop in teardown.
		kill -TERM -- "-$CLIENT_PID" 2>/dev/null || true
		fail "3 s after its standard input, a pipe, ended, the client had not half-closed: the server never saw the end of its input (the client used $cpu ms of CPU meanwhile)"
	fi
	wait_until 3 gone "$CLIENT_PID" || fail "the client still runs 3 s after the server closed"
	status=0
	wait "$CLIENT_PID" || status=$?
	[ "$status" -eq 0 ] ||
		fail "the client exited with status $status after the server closed, expected 0; its stderr: '$(program_output "$CLIENT_ERR" | escape_bytes 200)'"
	printf 'a late reply\n' > "$T/reply"
	program_output "$CLIENT_OUT" > "$T/got"
	assert_same_bytes "$T/reply" "$T/got"
	assert_same_bytes "$T/expected" "$PEER_OUT" "$T/sent"
}

# bats test_tags=points:1
@test "client reports a refused connection and exits 1" {
	port=$(free_port tcp)
	run_prog 5 chat_client 127.0.0.1 "$port" < /dev/null
	expect_exit 1 "^chat_client: .*$(errno_regex ECONNREFUSED)" "chat_client 127.0.0.1 $port (nothing listens there)"
}

