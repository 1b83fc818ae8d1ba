# shellcheck shell=bash
# Variables set here (SERVER_PORT, NC_OUT, ...) are read by the suites:
# shellcheck disable=SC2034
# The test harness shared by every lesson's suite.
#
# A suite loads it in setup() and calls harness_setup with its lesson's
# folder name; teardown() calls harness_teardown.  Environment:
#   SOCKLAB_BIN    folder of built lessons (default: build/solutions)
#   SOCKLAB_PEERS  folder of built test peers (default: build/peers)
#   NC             netcat flavour: openbsd, traditional, ncat or busybox
#                  (or a command name such as nc.openbsd); autodetected
#   SOCKLAB_WAIT   seconds to wait for a server to listen (default 5)
#
# Rules it enforces for every suite: no fixed ports (servers get a random
# free port), readiness by polling the kernel's socket table (never a fixed
# sleep), every network step under a time limit, every server in its own
# process group that teardown kills and reaps, and failure output that shows
# what was sent, what was expected and what came back.
#
# When a test fails, teardown prints one line "socklab-state: STATE" that
# the grader reads: BUILD ERROR (a program did not compile), CRASH SIGNAME
# (a program was killed by a signal) or TIMEOUT (a step ran out of time).

bats_load_library bats-support
bats_load_library bats-assert

HARNESS_TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

# ---------------------------------------------------------------- set-up --

# harness_setup LESSON: find the lesson's programs and a netcat.
harness_setup() {
	HARNESS_LESSON=$1
	HARNESS_BIN=${SOCKLAB_BIN:-$HARNESS_TOP/build/solutions}/$1
	HARNESS_PEERS=${SOCKLAB_PEERS:-$HARNESS_TOP/build/peers}
	HARNESS_STATE=
	HARNESS_PIDS=()
	HARNESS_ERRS=()
	HARNESS_NAMES=()
	T=$BATS_TEST_TMPDIR
	_harness_find_timeout
	_harness_find_nc
}

# harness_teardown: stop every process the test started; report the state.
harness_teardown() {
	local i pid status signo
	for i in "${!HARNESS_PIDS[@]}"; do
		pid=${HARNESS_PIDS[$i]}
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
			_harness_wait_gone "$pid" 1 || kill -KILL -- "-$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		else
			status=0
			wait "$pid" 2>/dev/null || status=$?
			if [ "$status" -gt 128 ] && [ "$status" -lt 255 ]; then
				signo=$((status - 128))
				case $signo in
				2 | 9 | 15) ;;
				*) _harness_state "CRASH SIG$(kill -l "$signo")" ;;
				esac
			fi
		fi
		# Anything left in the group (forked children) goes too.
		kill -KILL -- "-$pid" 2>/dev/null || true
	done
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		for i in "${!HARNESS_ERRS[@]}"; do
			if [ -s "${HARNESS_ERRS[$i]}" ]; then
				echo "-- last lines of ${HARNESS_NAMES[$i]}'s stderr:"
				tail -n 8 "${HARNESS_ERRS[$i]}" | sed 's/^/   | /'
			fi
		done
		[ -z "$HARNESS_STATE" ] || echo "socklab-state: $HARNESS_STATE"
	fi
}

# Record the most telling state: BUILD ERROR beats CRASH beats TIMEOUT.
_harness_state() {
	case "$HARNESS_STATE:$1" in
	"BUILD ERROR:"*) ;;
	CRASH*:TIMEOUT) ;;
	*) HARNESS_STATE=$1 ;;
	esac
}

_harness_find_timeout() {
	if command -v timeout >/dev/null 2>&1; then
		HARNESS_TIMEOUT=timeout
	elif command -v gtimeout >/dev/null 2>&1; then
		HARNESS_TIMEOUT=gtimeout
	else
		fail "no timeout command: install GNU coreutils (macOS: brew install coreutils)"
	fi
}

# NC_FLAVOUR is one of openbsd, traditional, ncat, busybox; NC_CMD the
# command (an array, as busybox needs its applet name).
_harness_find_nc() {
	local want=${NC:-} cand
	if [ -n "$want" ]; then
		case $want in
		openbsd) cand=nc.openbsd ;;
		traditional) cand=nc.traditional ;;
		ncat) cand=ncat ;;
		busybox) cand=busybox ;;
		*) cand=$want ;;
		esac
		command -v "$cand" >/dev/null 2>&1 || fail "NC=$want: no such command ($cand)"
		_harness_nc_identify "$cand" || fail "NC=$want: not a netcat this harness knows"
		return 0
	fi
	for cand in nc.openbsd ncat nc nc.traditional busybox; do
		command -v "$cand" >/dev/null 2>&1 && _harness_nc_identify "$cand" && return 0
	done
	fail "no netcat found: run 'make deps' (or install netcat-openbsd)"
}

_harness_nc_identify() {
	local cmd=$1 help
	case $cmd in
	*busybox*)
		"$cmd" nc --help 2>&1 | grep -q -- '-l' || return 1
		NC_FLAVOUR=busybox
		NC_CMD=("$cmd" nc)
		return 0
		;;
	esac
	help=$("$cmd" -h 2>&1 || true)
	case $help in
	*Ncat*) NC_FLAVOUR=ncat ;;
	*OpenBSD* | *"-N"*"shutdown"*) NC_FLAVOUR=openbsd ;;
	*"[v1.10"* | *"-q secs"*) NC_FLAVOUR=traditional ;;
	*) return 1 ;;
	esac
	NC_CMD=("$cmd")
}

# ---------------------------------------------------------- programs --

# need_prog NAME: set PROG to the path of the lesson's program NAME, or fail
# the test as a BUILD ERROR when it was not built.
need_prog() {
	PROG=$HARNESS_BIN/$1
	[ -x "$PROG" ] && return 0
	_harness_state "BUILD ERROR"
	if [ -s "$PROG.log" ]; then
		echo "-- $1 did not compile:"
		head -n 15 "$PROG.log" | sed 's/^/   | /'
	fi >&2
	fail "$1 was not built (expected at $PROG)"
}

# need_peer NAME: set PEER to the path of a test peer from tests/peers.
need_peer() {
	PEER=$HARNESS_PEERS/$1
	[ -x "$PEER" ] || fail "test peer $1 was not built: run 'make peers'"
}

# bounded SECS CMD...: run CMD, killed after SECS seconds.  Exit status as
# CMD's; 124 (or 137) means it ran out of time, 128+N a signal N.
bounded() {
	local secs=$1
	shift
	"$HARNESS_TIMEOUT" --foreground -k 1 "$secs" "$@"
}

# run_prog SECS NAME ARGS...: run a lesson program under bats' run with a
# time limit; stdout in $output, stderr in $stderr (--separate-stderr).
# A timeout or a crash is recorded for the grader and fails the test.
run_prog() {
	local secs=$1 name=$2
	shift 2
	need_prog "$name" || return 1
	run --separate-stderr bounded "$secs" "$PROG" "$@"
	_harness_check_status "$name" "$status" "$secs"
}

# Record TIMEOUT or CRASH for a finished command; fail the test if so.
_harness_check_status() {
	local name=$1 code=$2 secs=$3
	case $code in
	124 | 137)
		_harness_state TIMEOUT
		echo "-- stderr of $name:"
		printf '%s\n' "${stderr:-}" | tail -n 8 | sed 's/^/   | /'
		fail "$name did not finish within ${secs}s (it hangs?)"
		;;
	13[0-9] | 14[0-9] | 15[0-9])
		_harness_state "CRASH SIG$(kill -l $((code - 128)))"
		echo "-- stderr of $name:"
		printf '%s\n' "${stderr:-}" | tail -n 8 | sed 's/^/   | /'
		fail "$name was killed by SIG$(kill -l $((code - 128)))"
		;;
	esac
}

# ------------------------------------------------------------- servers --

# A random port in 20000-31999 (below Linux's ephemeral range) that no
# socket of the given protocol (tcp or udp) uses right now.
free_port() {
	local proto=${1:-tcp} port i
	for i in $(seq 1 50); do
		port=$((20000 + RANDOM % 12000))
		_harness_port_used "$proto" "$port" || {
			printf '%s\n' "$port"
			return 0
		}
	done
	fail "no free $proto port found"
}

# _harness_port_used PROTO PORT [STATE]: true if a socket of PROTO has local
# port PORT (in STATE, a hex code of /proc/net/tcp, if given).
_harness_port_used() {
	local proto=$1 hex state=${3:-}
	hex=$(printf ':%04X' "$2")
	if [ -r /proc/net/tcp ]; then
		cat /proc/net/"$proto" /proc/net/"$proto"6 2>/dev/null |
			awk -v p="$hex" -v s="$state" '
				index($2, p) == length($2) - 4 && (s == "" || $4 == s) { found = 1 }
				END { exit !found }'
	elif command -v lsof >/dev/null 2>&1; then
		if [ "$proto" = tcp ]; then
			lsof -nP -iTCP:"$2" -sTCP:LISTEN >/dev/null 2>&1
		else
			lsof -nP -iUDP:"$2" >/dev/null 2>&1
		fi
	else
		return 1
	fi
}

# port_listening PORT: a TCP socket listens on PORT.
port_listening() { _harness_port_used tcp "$1" 0A; }

# port_bound_udp PORT: a UDP socket is bound to PORT.
port_bound_udp() { _harness_port_used udp "$1" 07; }

_harness_gone() { ! kill -0 "$1" 2>/dev/null; }

# _harness_wait_gone PID SECS: wait until process PID has exited.
_harness_wait_gone() { wait_until "$2" _harness_gone "$1"; }

# start_server [--udp] NAME ARGS...: start the lesson program NAME in the
# background in its own process group, with every argument "@PORT" replaced
# by a free port, and wait until it listens there.  Sets SERVER_PID,
# SERVER_PORT, SERVER_OUT and SERVER_ERR (files with its stdout and stderr).
# A server that loses a race for its port is restarted on another one.
start_server() {
	local proto=tcp path attempt arg
	local -a args
	if [ "$1" = --udp ]; then
		proto=udp
		shift
	fi
	local name=$1
	shift
	need_prog "$name" || return 1
	path=$PROG
	for attempt in 1 2 3 4 5; do
		SERVER_PORT=$(free_port "$proto")
		args=()
		for arg in "$@"; do
			args+=("${arg//@PORT/$SERVER_PORT}")
		done
		start_process "$name" "$path" "${args[@]}"
		SERVER_PID=$PROCESS_PID
		SERVER_OUT=$PROCESS_OUT
		SERVER_ERR=$PROCESS_ERR
		if wait_listening "$proto" "$SERVER_PORT" "$SERVER_PID"; then
			return 0
		fi
		if kill -0 "$SERVER_PID" 2>/dev/null; then
			break
		fi
		grep -qi 'in use' "$SERVER_ERR" 2>/dev/null || break
	done
	_harness_server_failed "$name" "$proto"
}

# start_server_reporting [--udp] NAME ARGS...: start NAME with ARGS, which
# ask for port 0; wait for its line "Listening on 127.0.0.1:PORT" and check
# that PORT really listens (TCP) or is bound (UDP).  Sets SERVER_PID,
# SERVER_PORT, SERVER_OUT and SERVER_ERR.
start_server_reporting() {
	local proto=tcp
	if [ "$1" = --udp ]; then
		proto=udp
		shift
	fi
	local name=$1
	shift
	need_prog "$name" || return 1
	start_process "$name" "$PROG" "$@"
	SERVER_PID=$PROCESS_PID
	SERVER_OUT=$PROCESS_OUT
	SERVER_ERR=$PROCESS_ERR
	wait_for_line "$SERVER_OUT" '^Listening on 127\.0\.0\.1:[0-9]+$' 5 "$SERVER_PID" || {
		echo "-- stdout: '$(escape_bytes < "$SERVER_OUT")'" >&2
		fail "no line 'Listening on 127.0.0.1:PORT' within 5 s"
		return 1
	}
	SERVER_PORT=$(sed -n 's/^Listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$SERVER_OUT" | head -n 1)
	[ "$SERVER_PORT" -gt 0 ] ||
		fail "the reported port is $SERVER_PORT: print the port getsockname(2) returns" || return 1
	if [ "$proto" = tcp ]; then
		port_listening "$SERVER_PORT" || fail "nothing listens on the reported port $SERVER_PORT"
	else
		port_bound_udp "$SERVER_PORT" || fail "no UDP socket is bound to the reported port $SERVER_PORT"
	fi
}

_harness_server_failed() {
	local name=$1 proto=$2 status=0
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		_harness_state TIMEOUT
		fail "$name did not listen on $proto port $SERVER_PORT within ${SOCKLAB_WAIT:-5}s"
		return 1
	fi
	wait "$SERVER_PID" 2>/dev/null || status=$?
	if [ "$status" -gt 128 ]; then
		_harness_state "CRASH SIG$(kill -l $((status - 128)))"
		fail "$name was killed by SIG$(kill -l $((status - 128))) before it listened"
		return 1
	fi
	fail "$name exited with status $status before it listened on $proto port $SERVER_PORT"
}

# start_process NAME CMD ARGS...: start CMD in the background, in its own
# process group, with fds 3 and 7-9 closed; teardown stops it.  Sets
# PROCESS_PID, PROCESS_OUT and PROCESS_ERR.  Standard input is /dev/null
# unless PROCESS_IN names a file or FIFO.
start_process() {
	local name=$1 n=${#HARNESS_PIDS[@]}
	shift
	PROCESS_OUT=$T/$name.$n.out
	PROCESS_ERR=$T/$name.$n.err
	set -m
	# fd 3 is bats' own: a process holding it makes bats wait for it.  fds
	# 7-9 are the test's (FIFO ends): a process holding a FIFO's writer
	# would never see the end of its own input.
	"$@" < "${PROCESS_IN:-/dev/null}" > "$PROCESS_OUT" 2> "$PROCESS_ERR" 3>&- 7>&- 8>&- 9>&- &
	PROCESS_PID=$!
	set +m
	HARNESS_PIDS+=("$PROCESS_PID")
	HARNESS_ERRS+=("$PROCESS_ERR")
	HARNESS_NAMES+=("$name")
}

# wait_listening PROTO PORT [PID]: poll the socket table until PORT listens
# (TCP) or is bound (UDP); give up after SOCKLAB_WAIT seconds or as soon as
# PID has exited.
wait_listening() {
	local pid=${3:-}
	wait_until "${SOCKLAB_WAIT:-5}" _harness_ready_or_gone "$@" || return 1
	[ -z "$pid" ] || kill -0 "$pid" 2>/dev/null
}

# True when PORT listens (TCP) or is bound (UDP), or when PID has exited.
_harness_ready_or_gone() {
	local proto=$1 port=$2 pid=${3:-}
	[ -n "$pid" ] && _harness_gone "$pid" && return 0
	if [ -r /proc/net/tcp ] || command -v lsof >/dev/null 2>&1; then
		if [ "$proto" = tcp ]; then port_listening "$port"; else port_bound_udp "$port"; fi
	else
		grep -q "Listening on .*:$port\$" "$SERVER_OUT" 2>/dev/null
	fi
}

# wait_until SECS CMD...: run CMD every 50 ms until it succeeds; false if
# it still fails after SECS seconds.  This is how tests synchronise: on a
# condition, never on a fixed delay.
wait_until() {
	local tries=$(($1 * 20))
	shift
	while [ "$tries" -gt 0 ]; do
		"$@" && return 0
		sleep 0.05
		tries=$((tries - 1))
	done
	return 1
}

# wait_while_alive PID SECS CMD...: like wait_until, but give up as soon as
# process PID has exited (a program that died will not make CMD true).
wait_while_alive() {
	local pid=$1 tries=$(($2 * 20))
	shift 2
	while [ "$tries" -gt 0 ]; do
		"$@" && return 0
		kill -0 "$pid" 2>/dev/null || { "$@"; return; }
		sleep 0.05
		tries=$((tries - 1))
	done
	return 1
}

# wait_for_line FILE REGEX [SECS] [PID]: wait until a line of FILE matches
# REGEX (giving up early if process PID exits).
wait_for_line() {
	if [ -n "${4:-}" ]; then
		wait_while_alive "$4" "${3:-5}" grep -Eq -- "$2" "$1" && return 0
		kill -0 "$4" 2>/dev/null && _harness_state TIMEOUT
		return 1
	else
		wait_until "${3:-5}" grep -Eq -- "$2" "$1"
	fi
}

_harness_size_at_least() {
	[ "$(wc -c < "$1" 2>/dev/null || echo 0)" -ge "$2" ]
}

# wait_for_size FILE BYTES [SECS] [PID]: wait until FILE holds at least
# BYTES (giving up early if process PID exits).
wait_for_size() {
	if [ -n "${4:-}" ]; then
		wait_while_alive "$4" "${3:-5}" _harness_size_at_least "$1" "$2" && return 0
		kill -0 "$4" 2>/dev/null && _harness_state TIMEOUT
		return 1
	else
		wait_until "${3:-5}" _harness_size_at_least "$1" "$2"
	fi
}

# stop_server [SIGNAL]: send SIGNAL (default TERM) to the server alone and
# wait up to 3 s for it to exit; its exit status is left in SERVER_STATUS
# (124 if it did not exit).
stop_server() {
	local sig=${1:-TERM}
	SERVER_STATUS=0
	kill -"$sig" "$SERVER_PID" 2>/dev/null || true
	if ! _harness_wait_gone "$SERVER_PID" 3; then
		SERVER_STATUS=124
		_harness_state TIMEOUT
		return 0
	fi
	wait "$SERVER_PID" 2>/dev/null || SERVER_STATUS=$?
}

# -------------------------------------------------------------- netcat --

# nc_exchange HOST PORT [SECS]: send standard input to HOST:PORT, close the
# sending side at its end, and print what comes back until the peer closes.
nc_exchange() {
	local host=$1 port=$2 secs=${3:-5} code=0
	local -a flags=()
	case $NC_FLAVOUR in
	openbsd) flags=(-N) ;;
	traditional) flags=(-q 5) ;;
	esac
	bounded "$secs" "${NC_CMD[@]}" "${flags[@]}" "$host" "$port" || code=$?
	case $code in
	124 | 137)
		_harness_state TIMEOUT
		echo "-- netcat got no end of the reply from $host:$port within ${secs}s" >&2
		;;
	esac
	return "$code"
}

# nc_listen_cmd HOST PORT: print, one word a line, the command for a
# one-shot TCP listener that sends its standard input and prints what it
# receives.  Use: mapfile -t cmd < <(nc_listen_cmd H P)
nc_listen_cmd() {
	local host=$1 port=$2
	printf '%s\n' "${NC_CMD[@]}"
	case $NC_FLAVOUR in
	openbsd) printf '%s\n' -N -l "$host" "$port" ;;
	traditional) printf '%s\n' -q 5 -l -p "$port" -s "$host" ;;
	ncat) printf '%s\n' -l "$host" "$port" ;;
	busybox) printf '%s\n' -l -p "$port" "$host" ;;
	esac
}

# start_nc_listener HOST [INPUT]: start a one-shot netcat listener on a free
# port with INPUT (a file or FIFO) as its standard input.  Sets NC_PORT,
# NC_PID and NC_OUT (what it received).
start_nc_listener() {
	_harness_start_listener tcp nc nc_listen_cmd "$@"
}

# _harness_start_listener PROTO NAME CMD_FN HOST [INPUT]: the work of
# start_nc_listener, for TCP or UDP; CMD_FN HOST PORT prints the command.
_harness_start_listener() {
	local proto=$1 name=$2 cmd_fn=$3 host=$4 input=${5:-/dev/null} attempt
	local -a cmd
	for attempt in 1 2 3; do
		NC_PORT=$(free_port "$proto")
		mapfile -t cmd < <("$cmd_fn" "$host" "$NC_PORT")
		PROCESS_IN=$input start_process "$name" "${cmd[@]}"
		NC_PID=$PROCESS_PID
		NC_OUT=$PROCESS_OUT
		wait_listening "$proto" "$NC_PORT" "$NC_PID" && return 0
		kill -0 "$NC_PID" 2>/dev/null && break
	done
	fail "netcat ($NC_FLAVOUR) did not listen on $proto port $NC_PORT"
}

# -------------------------------------------------------- assertions --

# escape_bytes [MAX]: print standard input C-escaped, at most MAX bytes
# (default 80), with "..." when there was more.
escape_bytes() {
	local max=${1:-80}
	od -An -v -tu1 | awk -v max="$max" -v quote="'" '
		{ for (i = 1; i <= NF; i++) {
			n++
			if (n > max) { more = 1; continue }
			c = $i + 0
			if (c == 10) s = s "\\n"
			else if (c == 13) s = s "\\r"
			else if (c == 9) s = s "\\t"
			else if (c == 92) s = s "\\\\"
			else if (c == 39) s = s "\\" quote
			else if (c < 32 || c > 126) s = s sprintf("\\x%02x", c)
			else s = s sprintf("%c", c)
		} }
		END { printf "%s%s\n", s, more ? "..." : "" }'
}

# describe_file LABEL FILE: one line "LABEL (N bytes): 'escaped...'".
describe_file() {
	local size
	size=$(wc -c < "$2" | tr -d ' ')
	printf "   %-9s %7s bytes: '%s'\n" "$1" "$size" "$(escape_bytes 60 < "$2")"
}

# assert_same_bytes EXPECTED GOT [SENT]: fail unless the files are equal
# byte for byte; explain the difference (sizes, first differing byte, both
# sides around it escaped) and show what was sent.
assert_same_bytes() {
	local expected=$1 got=$2 sent=${3:-} diff offset
	cmp -s "$expected" "$got" && return 0
	{
		echo "-- bytes differ"
		[ -n "$sent" ] && describe_file sent "$sent"
		describe_file expected "$expected"
		describe_file got "$got"
		diff=$(cmp "$expected" "$got" 2>&1 || true)
		case $diff in
		*EOF*) echo "   got is a prefix of expected, or the reverse: $diff" ;;
		*byte*)
			offset=$(printf '%s\n' "$diff" | sed -n 's/.*byte \([0-9]*\).*/\1/p')
			echo "   first difference at byte $offset (counting from 1):"
			printf "     expected: '%s'\n" "$(tail -c +"$offset" "$expected" | escape_bytes 24)"
			printf "     got:      '%s'\n" "$(tail -c +"$offset" "$got" | escape_bytes 24)"
			;;
		esac
	} | fail
}

# assert_server_exit CODE SIGNAL: after stop_server SIGNAL, fail unless the
# server exited with CODE.
assert_server_exit() {
	[ "$SERVER_STATUS" -ne 124 ] || fail "the server was still running 3 s after SIG$2"
	[ "$SERVER_STATUS" -eq "$1" ] && return 0
	if [ "$SERVER_STATUS" -gt 128 ]; then
		fail "the server was killed by SIG$(kill -l $((SERVER_STATUS - 128))) (status $SERVER_STATUS); expected exit status $1: catch SIG$2 with sigaction(2)"
	else
		fail "after SIG$2 the server exited with status $SERVER_STATUS; expected $1"
	fi
}

# assert_exit CODE: after run_prog, fail unless the program exited with
# CODE; show what it wrote.
assert_exit() {
	[ "$status" -eq "$1" ] && return 0
	{
		echo "-- exit status: expected $1, got $status"
		printf "   stdout: '%s'\n" "$(printf '%s' "${output:-}" | escape_bytes 200)"
		printf "   stderr: '%s'\n" "$(printf '%s' "${stderr:-}" | escape_bytes 200)"
	} | fail
}

# assert_text_equal EXPECTED ACTUAL WHAT: compare two strings; on failure
# show both C-escaped with their byte counts.
assert_text_equal() {
	[ "$1" = "$2" ] && return 0
	{
		echo "-- $3 is not as expected"
		printf "   expected (%s bytes): '%s'\n" "${#1}" "$(printf '%s' "$1" | escape_bytes 200)"
		printf "   got      (%s bytes): '%s'\n" "${#2}" "$(printf '%s' "$2" | escape_bytes 200)"
	} | fail
}
