# shellcheck shell=bash
# Helpers for lesson 04's suite (the chat), loaded after tests/lib/harness.bash.
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
# Variables set here are read by the suite:
# shellcheck disable=SC2034

declare -gA CHAT_FD=() CHAT_OUT=() CHAT_PID=() CHAT_NAME=()

# chat_poll SECS CMD...: run CMD every 10 ms until it succeeds; false after
# SECS seconds.
chat_poll() {
	local tries=$(($1 * 100))
	shift
	until "$@"; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.01
	done
}

# chat_count LABEL REGEX: how many lines the client LABEL received match REGEX.
chat_count() {
	LC_ALL=C grep -Eac -- "$2" "${CHAT_OUT[$1]}" 2>/dev/null || true
}

# chat_show LABEL: what the client LABEL received, escaped, for a failure.
chat_show() {
	local file=${CHAT_OUT[$1]}
	printf "   %s (%s) received %s bytes: '%s'\n" "$1" "${CHAT_NAME[$1]:-?}" \
		"$(wc -c < "$file" | tr -d ' ')" "$(escape_bytes 400 < "$file")"
}

# wait_for_lines FILE REGEX COUNT SECS: wait until COUNT lines of FILE match
# REGEX, polling every 5 ms.  The loop runs in sh: a loop in the test's own
# shell pays for bats' DEBUG trap at every command.
wait_for_lines() {
	# shellcheck disable=SC2016 # the script is for sh
	bounded "$4" sh -c 'until [ "$(LC_ALL=C grep -Eac -- "$2" "$1")" -ge "$3" ]; do sleep 0.005; done' \
		wait_for_lines "$@" 2>/dev/null
}

# chat_wait LABEL REGEX [COUNT] [SECS]: wait until COUNT lines (default 1)
# that the client LABEL received match REGEX; on failure say what it got.
chat_wait() {
	wait_for_lines "${CHAT_OUT[$1]}" "$2" "${3:-1}" "${4:-3}" && return 0
	{
		echo "-- after ${4:-3}s, $1 has not received ${3:-1} line(s) matching: $2"
		chat_show "$1"
	} >&2
	return 1
}

# chat_connect LABEL [HOST]: start a netcat client LABEL connected to the
# server on SERVER_PORT, without waiting for anything.
chat_connect() {
	local label=$1 host=${2:-127.0.0.1} fifo=$T/$1.in fd
	mkfifo "$fifo"
	# Opened read-write, the FIFO never blocks and never ends.
	exec {fd}<> "$fifo"
	# ncat reads the system's whole CA bundle at start, even for plain TCP
	# (60 ms here); with an empty one it starts twice as fast.
	SSL_CERT_FILE=/dev/null PROCESS_IN=$fifo start_process "$label" "${NC_CMD[@]}" "$host" "$SERVER_PORT"
	CHAT_FD[$label]=$fd
	CHAT_OUT[$label]=$PROCESS_OUT
	CHAT_PID[$label]=$PROCESS_PID
}

# chat_join LABEL [HOST]: connect a client LABEL and wait for its welcome;
# CHAT_NAME[LABEL] is then its guest name.  The server has registered the
# client once it has sent the welcome, not when connect() returns.
chat_join() {
	local label=$1 line
	chat_connect "$@"
	chat_wait "$label" '^\* Welcome, guest[0-9]+! ' ||
		fail "client $label got no line '* Welcome, guestN! Commands: /nick NAME, /who, /quit'"
	read -r line < "${CHAT_OUT[$label]}" || true
	line=${line#\* Welcome, }
	CHAT_NAME[$label]=${line%%!*}
}

# chat_say LABEL LINE...: the client LABEL sends each LINE with an LF.
chat_say() {
	local label=$1
	shift
	printf '%s\n' "$@" >&"${CHAT_FD[$label]}"
}

# chat_write LABEL BYTES: the client LABEL sends BYTES as they are.
chat_write() {
	printf '%s' "$2" >&"${CHAT_FD[$1]}"
}

# chat_send_file LABEL FILE: the client LABEL sends the content of FILE (a
# server that stops reading cannot block the test for more than 5 s).
chat_send_file() {
	bounded 5 cat "$2" >&"${CHAT_FD[$1]}" || fail "could not send $2 through client $1 within 5 s: does the server read?"
}

# chat_sync LABEL: send /who from the client LABEL and wait for the reply.
chat_sync() {
	local before
	before=$(chat_count "$1" '^\* online: ')
	chat_say "$1" /who
	chat_wait "$1" '^\* online: ' $((before + 1)) ||
		fail "client $1 got no reply '* online: ...' to /who"
}

# chat_assert_line LABEL LINE: the client LABEL received exactly LINE.
chat_assert_line() {
	LC_ALL=C grep -Faxq -- "$2" "${CHAT_OUT[$1]}" && return 0
	{
		echo "-- $1 did not receive the line: '$(printf '%s' "$2" | escape_bytes 200)'"
		chat_show "$1"
	} | fail
}

# chat_refute_line LABEL REGEX [WHY]: no line the client LABEL received
# matches REGEX.
chat_refute_line() {
	local found
	found=$(LC_ALL=C grep -Ea -m 1 -- "$2" "${CHAT_OUT[$1]}") || return 0
	{
		echo "-- $1 received a line it should not: '$(printf '%s' "$found" | escape_bytes 200)'"
		[ -n "${3:-}" ] && echo "   ($3)"
		chat_show "$1"
	} | fail
}

# chat_assert_received LABEL EXPECTED-FILE: the client LABEL received
# exactly the bytes of EXPECTED-FILE (after a chat_sync, the /who reply
# excluded).
chat_assert_received() {
	LC_ALL=C grep -av '^\* online: ' "${CHAT_OUT[$1]}" > "$T/$1.got" || true
	assert_same_bytes "$2" "$T/$1.got"
}

# chat_established PORT: how many server-side TCP connections on local
# port PORT are established (state 01 in /proc/net/tcp).
chat_established() {
	local hex
	hex=$(printf ':%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v p="$hex" 'index($2, p) == length($2) - 4 && $4 == "01" { n++ } END { print n + 0 }'
}

# wait_established PORT N SECS: wait until exactly N connections on local
# port PORT are established (polling every 5 ms, in sh as wait_for_lines).
wait_established() {
	local hex
	hex=$(printf ':%04X' "$1")
	# shellcheck disable=SC2016 # the script is for sh
	bounded "$3" sh -c 'until [ "$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v p="$1" '\''index($2, p) == length($2) - 4 && $4 == "01" { n++ } END { print n + 0 }'\'')" -eq "$2" ]
		do sleep 0.005; done' wait_established "$hex" "$2" 2>/dev/null
}

# chat_wait_established N [SECS]: wait until the server has exactly N
# established connections.  True at once where /proc/net/tcp is missing.
chat_wait_established() {
	[ -r /proc/net/tcp ] || return 0
	wait_established "$SERVER_PORT" "$1" "${2:-3}"
}

# chat_cpu_ticks PID: user + system CPU time of PID, in clock ticks.
chat_cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# chat_start_limited SOFT HARD: start chat_server on 127.0.0.1 and a free
# port with its open-file limits set to SOFT and HARD ("-" keeps the
# hard limit), and wait until it listens.  Sets what start_server sets.
chat_start_limited() {
	local soft=$1 hard=$2 attempt
	need_prog chat_server || return 1
	for attempt in 1 2 3; do
		SERVER_PORT=$(free_port tcp)
		# shellcheck disable=SC2016 # the script is for the inner bash
		start_process chat_server bash -c 'ulimit -S -n "$1" || exit 3
			if [ "$2" != - ]; then ulimit -H -n "$2" || exit 3; fi
			shift 2
			exec "$@"' limits "$soft" "$hard" "$PROG" 127.0.0.1 "$SERVER_PORT"
		SERVER_PID=$PROCESS_PID
		SERVER_OUT=$PROCESS_OUT
		SERVER_ERR=$PROCESS_ERR
		wait_listening tcp "$SERVER_PORT" "$SERVER_PID" && return 0
		kill -0 "$SERVER_PID" 2>/dev/null && break
		grep -qi 'in use' "$SERVER_ERR" 2>/dev/null || break
	done
	_harness_server_failed chat_server tcp
}

# chat_stop: send SIGTERM to every chat client and to the server at once,
# and wait (at most 2 s) until they are gone, so that harness_teardown,
# which stops the processes one after another, finds them done.  It still
# reaps them, reports crashes, and kills whatever is left.
chat_stop() {
	local -a pids=("${CHAT_PID[@]}" ${SERVER_PID:+"$SERVER_PID"} ${MUTE_PID:+"$MUTE_PID"})
	[ "${#pids[@]}" -gt 0 ] || return 0
	kill -TERM "${pids[@]}" 2>/dev/null || true
	# shellcheck disable=SC2016 # the script is for sh
	bounded 2 sh -c 'for pid; do while kill -0 "$pid" 2>/dev/null; do sleep 0.005; done; done' \
		chat_stop "${pids[@]}" 2>/dev/null || true
}
