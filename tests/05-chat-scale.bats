#!/usr/bin/env bats
# Lesson 05: the chat at scale: lesson 04's chat (its chat.c) behind a
# transport that reads each client fairly and in large pieces, bounds each
# client's output queue and sizes it to what waits, raises its open-file
# limit and survives running out of descriptors.  Clients are netcat, fed
# from FIFOs (tests/lib/chat.bash), and our peers: tests/peers/chat_load
# (hundreds of clients) and tests/peers/chat_peer (a client that stops
# reading; a storm of lines or departures at once; a flood; joins and
# departures by the hundred thousand).

bats_require_minimum_version 1.5.0

setup() {
	load lib/harness
	load lib/chat
	harness_setup 05-chat-scale
}

teardown() {
	chat_stop
	harness_teardown
}

# ------------------------------------------------- lesson 04's server --

# bats test_tags=points:2
@test "server welcomes newcomers and sends each line to the others" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_assert_first a '* Welcome, guest1! Commands: /nick NAME, /who, /quit'
	chat_join b
	chat_wait a '^\* guest2 joined$' || fail "guest1 was not told '* guest2 joined'"
	chat_say a 'Hello, everyone!'
	chat_wait b '^<guest1> Hello, everyone!$' || fail "guest2 did not get guest1's 'Hello, everyone!'"
}

# bats test_tags=points:2
@test "server exits 0 on SIGTERM, with clients connected" {
	start_server chat_server 127.0.0.1 @PORT
	chat_join a
	chat_join b
	stop_server TERM
	chat_expect_server_exit TERM "with 2 clients connected"
}

# bats test_tags=points:1
@test "server prints Listening on ADDR:PORT at once" {
	start_server chat_server 127.0.0.1 @PORT
	wait_for_line "$SERVER_OUT" '^Listening on ' 2 ||
		fail "no 'Listening on' line on stdout while the server runs"
	program_output "$SERVER_OUT" | LC_ALL=C grep -Faxq "Listening on 127.0.0.1:$SERVER_PORT" ||
		fail "started as 'chat_server 127.0.0.1 $SERVER_PORT', the server must print the line 'Listening on 127.0.0.1:$SERVER_PORT'; its stdout: '$(program_output "$SERVER_OUT" | escape_bytes 200)'"
}

# bats test_tags=points:2
@test "server sleeps in poll() while its clients are idle" {
	start_server chat_server 127.0.0.1 @PORT
	chat_assert_idle_sleeps
}

# -------------------------------------------------------- slow clients --

# bats test_tags=points:5
@test "a client that stops reading is dropped once 64 KiB wait for it, and the others see it leave" {
	start_server chat_server 127.0.0.1 @PORT
	chat_start_mute
	# About 40 KB fit in the kernel's buffers for the silent client, so
	# 200 KB are well over 64 KiB more.
	chat_lines "$T/lines" 200
	chat_send_file talk "$T/lines"
	chat_wait watch '^<guest3> z' 200 5 || fail "200 lines of 1000 bytes did not all reach guest1"
	chat_sync watch
	chat_assert_line watch '* guest2 left' "guest2 read nothing while guest3 sent 200 lines of 1000 bytes: over 64 KiB waited for it"
	chat_wait_established 2 ||
		fail "the server did not close the connection of the client that does not read: $(chat_established "$SERVER_PORT") connections are open, expected 2"
}

# bats test_tags=points:3
@test "a client slow to read keeps its place while less than 64 KiB waits for it" {
	start_server chat_server 127.0.0.1 @PORT
	chat_start_mute
	# About 40 KB fit in the kernel's buffers for this client; the rest
	# must wait in the server's queue.
	chat_lines "$T/lines" 72
	chat_send_file talk "$T/lines"
	chat_wait watch '^<guest3> z' 72 5 || fail "72 lines of 1000 bytes did not all reach guest1"
	chat_sync watch
	chat_refute_line watch '^\* guest2 left' "a client with less than 64 KiB waiting must not be dropped"
	printf 'read now\n' >&"$MUTE_FD"
	chat_say talk 'the end'
	wait_for_lines "$MUTE_OUT" '^<guest3> the end$' 1 5 ||
		fail "the slow client read again, but did not get guest3's 'the end', sent after the 72 lines ($(program_output "$MUTE_OUT" 1048576 | grep -c '^<guest3> ') lines from guest3)"
	# Each line once and whole: a queue that sends the start of a message
	# twice (a short writev() forgotten) garbles a line and repeats others.
	local whole all
	whole=$(program_output "$MUTE_OUT" 1048576 | grep -Ec '^<guest3> z+$') || true
	all=$(program_output "$MUTE_OUT" 1048576 | grep -c '^<guest3> ') || true
	[ "$whole" -eq 72 ] && [ "$all" -eq 73 ] ||
		fail "the slow client got $whole whole lines of guest3's 72, and $all lines from guest3 in all (72, and 'the end'): each line must come once and whole (a short writev() sends part of the queue: the next one starts where it stopped)"
}

# ---------------------------------------------------------------- many --

# bats test_tags=points:5
@test "200 clients at once each receive every message" {
	start_server chat_server 127.0.0.1 @PORT
	need_peer chat_load
	run bounded 15 "$PEER" -c 200 -s 200 -m 2 -t 10 127.0.0.1 "$SERVER_PORT"
	chat_expect_run \
		"chat_load connected 200 clients at once, and each sent 2 lines: every client must get each line of the others exactly once, in order, and none of its own"
}

# bats test_tags=points:3
@test "a burst of one-byte lines from several clients at once drops none of the clients that read" {
	start_server chat_server 127.0.0.1 @PORT
	chat_storm 8 1024 0 10
	chat_expect_run \
		"8 clients each sent 1024 one-byte lines at once (one read of 2 KiB each, 90 KB for each of the others), and 10 more read: all 18 read, so none may be dropped, and each must get every line of the others"
}

# bats test_tags=points:2
@test "a burst that overfills the queue of a client with small buffers keeps it while it reads" {
	start_server chat_server 127.0.0.1 @PORT
	# The readers' kernel buffers take only part of a full queue at once
	# (mute's small buffers): after that send, the queue is not empty, but
	# the next message fits.
	chat_storm 6 1024 0 4 small
	chat_expect_run \
		"6 clients each sent 1024 one-byte lines at once (about 68 KB for each of the others), and 4 more with small buffers read: their queues overflow in that round while their kernel buffers take only part of them, yet all read, so none may be dropped"
}

# bats test_tags=points:2
@test "4000 clients leaving at once drop none of the clients that stay" {
	start_server chat_server 127.0.0.1 @PORT
	chat_storm 0 0 4000 5
	chat_expect_run \
		"4000 clients closed their connections at once (a notice '* NAME left' of 17 bytes each, 68 KB, for each of the others), and 5 more read: none of the 5 may be dropped, and each must be told every departure"
}

# ------------------------------------------ fairness, batching, memory --

# bats test_tags=points:3
@test "every line of one 60 KB read reaches the others in that round, before the next client's line" {
	start_server chat_server 127.0.0.1 @PORT
	# While the server is stopped, A sends 60 lines of 1000 bytes in one
	# send() and then B one line: both wait for the same round.
	chat_turns 60
	chat_expect_run \
		"clients A, B and R joined; A sent 60 lines of 1000 bytes in one send(), then B one line, while the server was stopped: R must get them all"
	# shellcheck disable=SC2153 # chat_turns sets BEFORE and INTACT
	[ "$BEFORE" -eq 60 ] && [ "$INTACT" -eq 60 ] ||
		fail "R got $BEFORE of A's 60 lines ($INTACT of them whole and in order) before B's line: A's 60,000 bytes were there to read when B's line came, so one read of 64 KiB takes them all, and every line in it goes out in that round, before B's turn (read 64 KiB at once, not lesson 04's 4 KiB)"
}

# bats test_tags=points:3
@test "a client that floods cannot starve the others: another's line gets through within two read budgets of the flood" {
	start_server chat_server 127.0.0.1 @PORT
	# A sends 1000-byte lines without pause, hundreds of KB waiting for
	# the server before B says its line.
	chat_turns 0
	chat_expect_run \
		"client A flooded the room with lines of 1000 bytes without pause, and B said one line: R must get B's line"
	[ "$BEFORE" -le 131 ] ||
		fail "R got $BEFORE of the flood's lines (1000 bytes each) before B's line: read at most 64 KiB (READ_BUDGET, one recv()) from a client a round, not until EAGAIN, so that everyone else has a turn in between"
	[ "$INTACT" -eq "$BEFORE" ] || fail "of the $BEFORE lines of the flood R got, only $INTACT were whole"
}

# bats test_tags=points:3
@test "the server's memory does not grow while 20,000 clients join and leave" {
	start_server chat_server 127.0.0.1 @PORT
	need_peer chat_peer
	# A first 5,000 let malloc() find its size: after that, the same
	# traffic must not need more memory.  Any block lost with each client
	# (32 bytes at least) adds 640 KiB over 20,000; a cycle costs the
	# kernel some 40 us, so 100,000 would take this lesson's whole time
	# (make bench runs 100,000).
	run bounded 20 "$PEER" cycles 127.0.0.1 "$SERVER_PORT" 5000
	chat_expect_run "5,000 clients joined and left, 8 at a time, each after four /who: each must be welcomed and answered"
	before=$(os_rss_kb "$(prog_pid "$SERVER_PID")")
	run bounded 30 "$PEER" cycles 127.0.0.1 "$SERVER_PORT" 20000
	chat_expect_run "20,000 clients joined and left, 8 at a time, each after four /who: each must be welcomed and answered"
	after=$(os_rss_kb "$(prog_pid "$SERVER_PID")")
	[ $((after - before)) -le 256 ] ||
		fail "the server's resident memory grew from $before KiB to $after KiB while 20,000 clients joined and left (8 at a time, each with four replies to /who queued at once and an unfinished line): free every message once the last queue lets go of it, and all a client holds when it goes"
}

# ------------------------------------------------- file descriptors --

# bats test_tags=points:3
@test "server raises its open-file limit: 200 clients from a soft limit of 64" {
	chat_start_limited 64 -
	need_peer chat_load
	run bounded 15 "$PEER" -c 200 -s 5 -m 2 -t 5 127.0.0.1 "$SERVER_PORT"
	chat_expect_run \
		"chat_load connected 200 clients to a server started with a soft limit of 64 open files, and 5 of them sent 2 lines: each client must be welcomed and get every line"
}

# bats test_tags=points:3
@test "server out of file descriptors neither dies nor spins, and serves again later" {
	# 32 descriptors: room for about 27 clients; 40 try to come in, and
	# those let in hold on long enough for CPU time to be measured.
	chat_start_limited 32 32
	need_peer chat_load
	chat_cpu_window_ms
	cpu=$(os_cpu_ms "$(prog_pid "$SERVER_PID")")
	start=$(os_now_ms)
	run bounded 10 "$PEER" -c 40 -s 2 -m 3 -a -g 300 -H "$WINDOW_MS" -t 5 127.0.0.1 "$SERVER_PORT"
	echo "-- chat_load: $output"
	kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died when it ran out of file descriptors"
	cpu_ms=$(($(os_cpu_ms "$(prog_pid "$SERVER_PID")") - cpu))
	wall_ms=$(($(os_now_ms) - start))
	chat_expect_run \
		"chat_load tried 40 clients against a server limited to 32 open files (those refused are left out), and 2 of those let in sent 3 lines: each client let in must get every line"
	greeted=$(printf '%s\n' "$output" | sed -n 's/.* greeted=\([0-9]*\).*/\1/p')
	[ "${greeted:-0}" -ge 10 ] || fail "only ${greeted:-0} of 40 clients were welcomed"
	[ $((cpu_ms - OS_CPU_RES_MS)) -lt $((wall_ms / 4)) ] ||
		fail "the server used ${cpu_ms} ms of CPU in ${wall_ms} ms: it spins on accept() failing with EMFILE"
	chat_join late
}

# bats test_tags=points:3
@test "a newcomer to a server out of file descriptors sees its connection closed at once" {
	# 32 descriptors: room for about 27 clients, and 40 come.  Those the
	# server cannot take must see their connection closed, not hang.
	chat_start_limited 32 32
	need_peer chat_load
	run bounded 15 "$PEER" -c 40 -s 1 -m 1 -a -g 3000 -t 10 127.0.0.1 "$SERVER_PORT"
	echo "-- chat_load: $output"
	chat_expect_run \
		"chat_load tried 40 clients against a server limited to 32 open files, and one of those let in sent a line: each client let in must get it"
	greeted=$(printf '%s\n' "$output" | sed -n 's/.* greeted=\([0-9]*\).*/\1/p')
	left_out=$(printf '%s\n' "$output" | sed -n 's/.* left_out=\([0-9]*\).*/\1/p')
	refused=$(printf '%s\n' "$output" | sed -n 's/.* refused=\([0-9]*\).*/\1/p')
	[ "${greeted:-0}" -ge 10 ] || fail "only ${greeted:-0} of 40 clients were welcomed"
	[ "${left_out:-0}" -eq "${refused:-0}" ] ||
		fail "of 40 clients, $greeted were welcomed, $refused saw their connection closed, and $((${left_out:-0} - ${refused:-0})) still waited, connected but not welcomed, 3 s later: out of descriptors, refuse a newcomer (the spare descriptor: close it, accept, close, open it again) rather than leave it hanging"
}
