# shellcheck shell=bash
# Helpers for the chat suites (lessons 04 and 05), loaded after tests/lib/harness.bash.
#
# A chat client in a test is netcat with a label ("a", "bob", ...): its
# standard input is a FIFO that the test holds open read-write, so netcat
# never sees the end of its input, and its output is a file.  chat_join
# starts one and waits for its welcome; chat_say writes lines to it;
# chat_wait waits for lines in its output; chat_sync sends /who and waits
# for the reply, after which everything the server had queued for the
# client before it has arrived (the server answers in order).  That is how
# a test shows that something did NOT arrive, without sleeping.
#
# A label's descriptor, output file, PID and guest name are the variables
# CHAT_FD_label, CHAT_OUT_label, CHAT_PID_label and CHAT_NAME_label (bash
# 3.2 has no associative arrays); chat_out LABEL and chat_pid LABEL print
# the two a test needs.  Labels are letters, digits and _.
#
# Variables set here are read by the suite:
# shellcheck disable=SC2034

CHAT_PIDS=()
# The test's own descriptors for FIFOs: 5 to 9 (start_process closes them
# in every child; bash keeps descriptors 10 and up for itself).
CHAT_NEXT_FD=5

# chat_var FIELD LABEL: the value of CHAT_FIELD_LABEL.
chat_var() {
	_chat_get "$1" "$2"
	printf '%s\n' "$CHAT_VALUE"
}

# _chat_get FIELD LABEL: set CHAT_VALUE to CHAT_FIELD_LABEL, in this shell
# (the helpers below call it often: a $(chat_var) would cost a process).
_chat_get() {
	local name=CHAT_${1}_$2
	CHAT_VALUE=${!name:-}
}

# chat_out LABEL: the file holding what the client LABEL received.
chat_out() { chat_var OUT "$1"; }

# chat_pid LABEL: the PID of the client LABEL.
chat_pid() { chat_var PID "$1"; }

# chat_open_fifo FIFO: open FIFO read-write on the next free descriptor of
# the test's (5-9), which CHAT_FD then names.
chat_open_fifo() {
	[ "$CHAT_NEXT_FD" -le 9 ] || fail "more than 5 FIFOs in one test"
	CHAT_FD=$CHAT_NEXT_FD
	CHAT_NEXT_FD=$((CHAT_NEXT_FD + 1))
	# Opened read-write, the FIFO never blocks and never ends.
	eval "exec $CHAT_FD<> \"\$1\""
}

# chat_count LABEL REGEX: how many lines the client LABEL received match REGEX.
chat_count() {
	_chat_get OUT "$1"
	program_output "$CHAT_VALUE" 1048576 | LC_ALL=C grep -Eac -- "$2" || true
}

# chat_show LABEL [MAX]: what the client LABEL received, escaped (at most
# MAX bytes, default 400), for a failure.
chat_show() {
	local file
	file=$(chat_out "$1")
	printf "   %s (%s) received %s bytes: '%s'\n" "$1" "$(chat_var NAME "$1")" \
		"$(file_size "$file")" "$(escape_bytes "${2:-400}" < "$file")"
}

# chat_escape TEXT...: each TEXT escaped, quoted, joined with ", ": what a
# test sent, for a failure.
chat_escape() {
	local text sep=
	for text in "$@"; do
		printf "%s'%s'" "$sep" "$(printf '%s' "$text" | escape_bytes 60)"
		sep=', '
	done
}

# wait_for_lines FILE REGEX COUNT SECS: wait until COUNT lines of FILE (of
# its first MiB) match REGEX.  osprobe reads only what is new, every 2 ms,
# in one process: a loop of grep would cost processes every few ms.
wait_for_lines() {
	_harness_ms "$4"
	"$OS_PROBE" lines "$1" "$2" "$3" "$HARNESS_MS"
}

# chat_wait LABEL REGEX [COUNT] [SECS]: wait until COUNT lines (default 1)
# that the client LABEL received match REGEX; on failure say what it got.
chat_wait() {
	_chat_get OUT "$1"
	wait_for_lines "$CHAT_VALUE" "$2" "${3:-1}" "${4:-3}" && return 0
	{
		echo "-- after ${4:-3}s, $1 has not received ${3:-1} line(s) matching: $2"
		chat_show "$1"
	} >&2
	return 1
}

# chat_connect LABEL [HOST]: start a netcat client LABEL connected to the
# server on SERVER_PORT, without waiting for anything.
chat_connect() {
	local label=$1 host=${2:-127.0.0.1} fifo=$T/$1.in
	mkfifo "$fifo"
	chat_open_fifo "$fifo"
	# ncat reads the system's whole CA bundle at start, even for plain TCP
	# (60 ms here); with an empty one it starts twice as fast.
	SSL_CERT_FILE=/dev/null PROCESS_IN=$fifo start_process "$label" "${NC_CMD[@]}" "$host" "$SERVER_PORT"
	printf -v "CHAT_FD_$label" '%s' "$CHAT_FD"
	printf -v "CHAT_OUT_$label" '%s' "$PROCESS_OUT"
	printf -v "CHAT_PID_$label" '%s' "$PROCESS_PID"
	CHAT_PIDS+=("$PROCESS_PID")
}

# chat_join LABEL [HOST]: connect a client LABEL and wait for its welcome;
# CHAT_NAME_LABEL is then its guest name.  The server has registered the
# client once it has sent the welcome, not when connect() returns.
chat_join() {
	local label=$1 line
	chat_connect "$@"
	chat_wait "$label" '^\* Welcome, guest[0-9]+! ' ||
		fail "client $label got no line '* Welcome, guestN! Commands: /nick NAME, /who, /quit'"
	_chat_get OUT "$label"
	# The welcome is the first line (a NUL byte in it is dropped).
	IFS= read -r line < "$CHAT_VALUE" || true
	line=${line#\* Welcome, }
	printf -v "CHAT_NAME_$label" '%s' "${line%%!*}"
}

# chat_say LABEL LINE...: the client LABEL sends each LINE with an LF.
chat_say() {
	_chat_get FD "$1"
	shift
	printf '%s\n' "$@" >&"$CHAT_VALUE"
}

# chat_send_file LABEL FILE: the client LABEL sends the content of FILE (a
# server that stops reading cannot block the test for more than 5 s).
chat_send_file() {
	_chat_get FD "$1"
	bounded 5 cat "$2" >&"$CHAT_VALUE" || fail "could not send $2 through client $1 within 5 s: does the server read?"
}

# chat_sync LABEL: send /who from the client LABEL and wait for the reply.
chat_sync() {
	local before
	before=$(chat_count "$1" '^\* online: ')
	chat_say "$1" /who
	chat_wait "$1" '^\* online: ' $((before + 1)) ||
		fail "client $1 got no reply '* online: ...' to /who"
}

# chat_assert_line LABEL LINE [WHY]: the client LABEL received exactly
# LINE; WHY says what was sent, for a failure.
chat_assert_line() {
	program_output "$(chat_out "$1")" 1048576 | LC_ALL=C grep -Faxq -- "$2" && return 0
	{
		echo "-- $1 did not receive the line: '$(printf '%s' "$2" | escape_bytes 200)'"
		[ -n "${3:-}" ] && echo "   ($3)"
		chat_show "$1"
	} | fail
}

# chat_refute_line LABEL REGEX [WHY]: no line the client LABEL received
# matches REGEX.
chat_refute_line() {
	local found
	found=$(program_output "$(chat_out "$1")" 1048576 | LC_ALL=C grep -Ea -m 1 -- "$2") || return 0
	{
		echo "-- $1 received a line it should not: '$(printf '%s' "$found" | escape_bytes 200)'"
		[ -n "${3:-}" ] && echo "   ($3)"
		chat_show "$1"
	} | fail
}

# chat_assert_received LABEL EXPECTED-FILE [SENT-FILE]: the client LABEL
# received exactly the bytes of EXPECTED-FILE (after a chat_sync, the /who
# reply excluded); SENT-FILE is what the test sent, for a failure.
chat_assert_received() {
	program_output "$(chat_out "$1")" 1048576 | LC_ALL=C grep -av '^\* online: ' > "$T/$1.got" || true
	assert_same_bytes "$2" "$T/$1.got" ${3:+"$3"}
}

# chat_assert_first LABEL LINE: the first line the client LABEL received is
# exactly LINE.
chat_assert_first() {
	local first
	first=$(program_output "$(chat_out "$1")" 4096 | head -n 1 | tr -d '\000')
	[ "$first" = "$2" ] && return 0
	{
		echo "-- the first line $1 received is not as expected"
		printf "   expected: '%s'\n" "$(printf '%s' "$2" | escape_bytes 200)"
		printf "   got:      '%s'\n" "$(printf '%s' "$first" | escape_bytes 200)"
		chat_show "$1"
	} | fail
}

# chat_assert_count LABEL REGEX N WHY: exactly N lines that the client LABEL
# received match REGEX; WHY says what was sent, and why N.
chat_assert_count() {
	local got
	got=$(chat_count "$1" "$2")
	[ "$got" -eq "$3" ] && return 0
	{
		echo "-- $1 received $got line(s) matching '$2', expected $3"
		echo "   ($4)"
		chat_show "$1" 800
	} | fail
}

# chat_expect_run WHAT: after `run bounded SECS "$PEER" ...`, fail unless
# the peer exited 0.  WHAT says what it did and what it needed; its output
# (standard error included) is shown.
# shellcheck disable=SC2154 # status and output: set by bats' run
chat_expect_run() {
	[ "$status" -eq 0 ] && return 0
	{
		echo "-- $1"
		case $status in
		124 | 137) echo "   it did not finish in time (exit status $status)" ;;
		*) echo "   it failed (exit status $status)" ;;
		esac
		printf "   it printed: '%s'\n" "$(printf '%s' "$output" | escape_bytes 400)"
	} | fail
}

# chat_expect_server_exit SIG WHEN: after stop_server SIG, fail unless the
# server exited 0; WHEN says what was connected.
chat_expect_server_exit() {
	[ "$SERVER_STATUS" -ne 124 ] || fail "still running 3 s after SIG$1, $2: the signal must wake poll() (the self-pipe) and end the loop"
	[ "$SERVER_STATUS" -eq 0 ] && return 0
	if [ "$SERVER_STATUS" -gt 128 ]; then
		fail "killed by SIG$(kill -l $((SERVER_STATUS - 128))) after SIG$1, $2: expected exit status 0 (catch SIGINT and SIGTERM with sigaction(2))"
	else
		fail "exit status $SERVER_STATUS after SIG$1, $2: expected 0"
	fi
}

# chat_established PORT: how many connections to local port PORT a server
# has accepted and keeps open.
chat_established() {
	os_tcp_table | awk -v p="$1" -v listed="$OS_TCP_QUEUED_LISTED" '
		$1 == p && $3 == "ESTABLISHED" { n++ }
		$1 == p && $3 == "LISTEN" { q += $4 }
		END { if (listed) n -= q; print n + 0 }'
}

_chat_established_is() { [ "$(chat_established "$1")" -eq "$2" ]; }

# chat_wait_established N [SECS]: wait until the server has exactly N
# established connections.
chat_wait_established() {
	wait_until "${2:-3}" _chat_established_is "$SERVER_PORT" "$1"
}

# chat_start_limited SOFT HARD: start chat_server on 127.0.0.1 and a free
# port with its open-file limits set to SOFT and HARD ("-" keeps the
# hard limit), and wait until it listens.  Sets what start_server sets.
chat_start_limited() {
	HARNESS_NOFILE=$1:$2 start_server chat_server 127.0.0.1 @PORT
}

# chat_stop: send SIGTERM to every chat client and to the server at once,
# and wait (at most 2 s) until they are gone, so that harness_teardown,
# which stops the processes one after another, finds them done.  It still
# reaps them, reports crashes, and kills whatever is left.
chat_stop() {
	local -a pids=(${CHAT_PIDS[@]+"${CHAT_PIDS[@]}"} ${SERVER_PID:+"$SERVER_PID"} ${MUTE_PID:+"$MUTE_PID"})
	[ "${#pids[@]}" -gt 0 ] || return 0
	kill -TERM "${pids[@]}" 2>/dev/null || true
	# shellcheck disable=SC2016 # the script is for sh
	bounded 2 sh -c 'for pid; do while kill -0 "$pid" 2>/dev/null; do sleep 0.005; done; done' \
		chat_stop "${pids[@]}" 2>/dev/null || true
}

# chat_start_mute: a client that never reads (until told), between an observer
# "watch" (guest1) and a sender "talk" (guest3).  Sets MUTE_PID, MUTE_OUT
# and MUTE_FD.
chat_start_mute() {
	need_peer chat_peer
	chat_join watch
	mkfifo "$T/mute.in"
	chat_open_fifo "$T/mute.in"
	MUTE_FD=$CHAT_FD
	PROCESS_IN=$T/mute.in start_process mute "$PEER" mute 127.0.0.1 "$SERVER_PORT"
	MUTE_PID=$PROCESS_PID
	MUTE_OUT=$PROCESS_OUT
	chat_wait watch '^\* guest2 joined$' || fail "the silent client did not join"
	chat_join talk
}

# chat_lines FILE N: N lines of 999 bytes in FILE.
chat_lines() {
	yes "$(printf '%999s' '' | tr ' ' z)" | head -n "$2" > "$1"
}

# chat_storm SENDERS LINES LEAVERS READERS: run chat_peer storm (see
# tests/peers/chat_peer.c) against the server, stopped (SIGSTOP) while the
# senders send and the leavers close: all of it then waits for one round
# of its loop, as when it comes at the same moment.  Sets status and output
# for chat_expect_run.
chat_storm() {
	chat_peer_stopped storm "$@"
}

# chat_turns LINES: run chat_peer turns (see tests/peers/chat_peer.c)
# against the server, stopped while A sends LINES lines (0: floods) and B
# one line, so that both wait for the same round.  Sets status and output
# for chat_expect_run, and BEFORE and INTACT: how many of A's lines reached
# R before B's line, and how many of those were whole and in order.
chat_turns() {
	chat_peer_stopped turns "$@"
	BEFORE=$(printf '%s\n' "$output" | sed -n 's/^before=\([0-9]*\) .*/\1/p')
	INTACT=$(printf '%s\n' "$output" | sed -n 's/^before=.* intact=\([0-9]*\)$/\1/p')
	BEFORE=${BEFORE:-0} INTACT=${INTACT:-0}
}

# chat_peer_stopped MODE ARG...: run chat_peer MODE 127.0.0.1 SERVER_PORT
# ARG..., which prints "ready" once its clients joined, acts on a line on
# its standard input and prints "sent"; the server is stopped (SIGSTOP)
# from before that line until "sent".  Sets status and output.
chat_peer_stopped() {
	local mode=$1 server stopped=0
	shift
	need_peer chat_peer
	mkfifo "$T/$mode.in"
	chat_open_fifo "$T/$mode.in"
	PROCESS_IN=$T/$mode.in start_process "$mode" "$PEER" "$mode" 127.0.0.1 "$SERVER_PORT" "$@"
	wait_for_line "$PROCESS_OUT" '^ready$' 15 "$PROCESS_PID" ||
		fail "chat_peer $mode could not connect its clients: $(program_output "$PROCESS_ERR" 400)"
	server=$(prog_pid "$SERVER_PID")
	kill -STOP "$server"
	wait_until 2 _chat_stopped "$server" || stopped=1
	printf 'go\n' >&"$CHAT_FD"
	wait_for_line "$PROCESS_OUT" '^sent$' 5 "$PROCESS_PID" || true
	kill -CONT "$server"
	[ "$stopped" -eq 0 ] || fail "could not stop the server with SIGSTOP"
	wait_until 15 gone "$PROCESS_PID" || fail "chat_peer $mode did not finish within 15 s"
	status=0
	wait "$PROCESS_PID" || status=$?
	output=$(program_output "$PROCESS_OUT" 400; program_output "$PROCESS_ERR" 400)
}

# _chat_stopped PID: process PID is stopped (by SIGSTOP).
_chat_stopped() {
	case $(ps -o stat= -p "$1" 2>/dev/null) in
	T*) return 0 ;;
	esac
	return 1
}

# chat_sample_state PID MS: look at the state of process PID every 20 ms
# or so for MS milliseconds (10 looks at least); RUNNABLE is then how many
# times it was running or waiting for a core (os_proc_state R), SAMPLES how
# many times it was looked at.  A server that sleeps in poll() is R almost
# never; one that spins is R almost always, however loaded the machine.
chat_sample_state() {
	local start
	os_now
	start=$OS_NOW_MS
	RUNNABLE=0 SAMPLES=0
	while [ "$SAMPLES" -lt 10 ] || [ $((OS_NOW_MS - start)) -lt "$2" ]; do
		[ "$(os_proc_state "$1")" != R ] || RUNNABLE=$((RUNNABLE + 1))
		SAMPLES=$((SAMPLES + 1))
		# A deliberate measuring interval, not a wait for anything.
		nap 0.02
		os_now
	done
}

# chat_cpu_window_ms: set WINDOW_MS, how long to measure a server's CPU time:
# 400 ms, or longer where the clock counts coarser (ps in whole seconds).
chat_cpu_window_ms() {
	os_cpu_ms "$(prog_pid "$SERVER_PID")" > /dev/null
	WINDOW_MS=$((OS_CPU_RES_MS * 5 / 2))
	[ "$WINDOW_MS" -ge 400 ] || WINDOW_MS=400
}

# chat_assert_idle_sleeps: with the server on SERVER_PORT, two clients
# join and exchange a line; then, while they are idle, the server must
# sleep in poll(): little CPU, and seldom seen running.
chat_assert_idle_sleeps() {
	local pid cpu start cpu_ms wall_ms
	chat_join a
	chat_join b
	chat_say a "hello"
	chat_wait b '^<guest1> hello$' || fail "guest2 did not get guest1's 'hello'"
	chat_cpu_window_ms
	pid=$(prog_pid "$SERVER_PID")
	cpu=$(os_cpu_ms "$pid")
	start=$(os_now_ms)
	# On a busy machine a server that spins gets only its share of a
	# core, so its CPU time can look small: its state says it never sleeps.
	chat_sample_state "$pid" "$WINDOW_MS"
	cpu_ms=$(($(os_cpu_ms "$pid") - cpu))
	wall_ms=$(($(os_now_ms) - start))
	if [ $((cpu_ms - OS_CPU_RES_MS)) -lt $((wall_ms / 4)) ] && [ $((RUNNABLE * 2)) -le "$SAMPLES" ]; then
		return 0
	fi
	fail "with two idle clients the server used ${cpu_ms} ms of CPU in ${wall_ms} ms, and was running (not asleep in poll()) at $RUNNABLE of $SAMPLES looks: ask poll() for POLLOUT only while a client's output queue is not empty"
}
