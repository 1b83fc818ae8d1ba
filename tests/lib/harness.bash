# shellcheck shell=bash
# Variables set here (SERVER_PORT, NC_OUT, ...) are read by the suites:
# shellcheck disable=SC2034
# The test harness shared by every lesson's suite.
#
# A suite loads it in setup() and calls harness_setup with its lesson's
# folder name; teardown() calls harness_teardown.  Environment (the grader
# sets all of it; a suite run by hand with bats needs none):
#   SOCKLAB_BIN        folder of built lessons (default: build/solutions)
#   SOCKLAB_PEERS      folder of built test peers (default: build/peers)
#   SOCKLAB_OSPROBE    the osprobe helper (default: SOCKLAB_PEERS/osprobe)
#   SOCKLAB_OS         linux or portable: see tests/lib/os.bash
#   NC                 netcat flavour: openbsd, traditional, ncat or busybox
#                      (or a command name such as nc.openbsd); autodetected
#   SOCKLAB_WAIT       seconds to wait for a server to listen (default 5)
#   SOCKLAB_TEST_LIMIT seconds a test may take, on the clock (default 30)
#   SOCKLAB_JAIL       how programs under test run: none, uid:N or bwrap
#                      (see tests/peers/jail.c; default none)
#   SOCKLAB_SCRATCH    folder for the programs' scratch folders
#   SOCKLAB_KEY, SOCKLAB_VERDICTS  the grader's secret and the file where
#                      each test's verdict is recorded with it
#
# Rules it enforces for every suite: no fixed ports (servers get a random
# free port), readiness by polling the socket table (never a fixed sleep),
# every network step and every test under a time limit, every program
# under test started through the jail (tests/peers/jail.c), everything a test started
# killed and reaped in teardown (process groups, and whatever carries the
# test's mark: daemons too), output of programs read in bounded amounts,
# and failure output that shows what was sent, what was expected and what
# came back.
#
# The verdict: teardown appends "KEY<TAB>STATE<TAB>TEST NAME<TAB>REASON" to
# SOCKLAB_VERDICTS, STATE one of PASS, SKIP, FAIL, TIMEOUT, CRASH SIGNAME,
# BUILD ERROR, ERROR.  REASON, for a failed test whose program did not
# build, or exited before the test could talk to it, says so in words the
# same for every test it costs ("echo_server exited with status 1 before it
# listened"): the grader reports such tests together, once.  The programs under test never see the key (the jail
# clears their environment), so nothing they print or write can pass for
# a verdict.

# The grader's secret stays in this shell: no process started from here
# inherits it.
HARNESS_KEY=${SOCKLAB_KEY:-}
HARNESS_VERDICTS=${SOCKLAB_VERDICTS:-}
unset SOCKLAB_KEY
# Under the grader, bats' DEBUG trap (a stack trace recorded at every
# command, for failure reports the grader shows students none of) costs a
# third of the run: off, before the libraries are read.
[ -z "$HARNESS_KEY" ] || trap - DEBUG

# The grader gives bats-support and bats-assert as one file
# (SOCKLAB_BATS_LIBS): loaded the usual way, they cost a dirname process
# for each of their fifteen files, in every test.
if [ -n "${SOCKLAB_BATS_LIBS:-}" ]; then
	# shellcheck source=/dev/null
	. "$SOCKLAB_BATS_LIBS"
else
	bats_load_library bats-support
	bats_load_library bats-assert
fi

HARNESS_LIB=${BASH_SOURCE[0]%/*}
case $HARNESS_LIB in /*) ;; *) HARNESS_LIB=$(cd "$HARNESS_LIB" && pwd) ;; esac
HARNESS_TOP=${HARNESS_LIB%/tests/lib}
# shellcheck source=tests/lib/os.bash
. "$HARNESS_LIB/os.bash"

# ---------------------------------------------------------------- set-up --

# harness_setup LESSON: find the lesson's programs, a netcat, the clock;
# start the test's watchdog.
harness_setup() {
	HARNESS_LESSON=$1
	HARNESS_BIN=${SOCKLAB_BIN:-$HARNESS_TOP/build/solutions}/$1
	HARNESS_PEERS=${SOCKLAB_PEERS:-$HARNESS_TOP/build/peers}
	HARNESS_STATE=
	HARNESS_REASON=
	HARNESS_LAST_EXIT=
	HARNESS_RAN=
	HARNESS_PIDS=()
	HARNESS_ERRS=()
	HARNESS_NAMES=()
	HARNESS_JAILED=()
	HARNESS_WATCHDOG=
	T=$BATS_TEST_TMPDIR
	HARNESS_MARK=SOCKLAB_TEST_MARK=$$.$RANDOM$RANDOM
	_harness_find_timeout
	os_setup "${SOCKLAB_OSPROBE:-$HARNESS_PEERS/osprobe}" 2> "$T/os.err" || _harness_error "$(cat "$T/os.err")"
	[ -x "$OS_PROBE" ] || _harness_error "the test helper osprobe was not built ($OS_PROBE): run 'make peers'"
	_harness_setup_jail
	_harness_find_nc
	_harness_nap_setup
	_harness_watchdog_start
}

# A problem of the test tools, not of the program under test.
_harness_error() {
	HARNESS_STATE=ERROR
	fail "grading tools: $1"
}

# harness_teardown: stop every process the test started; record the verdict.
harness_teardown() {
	local i pid status signo
	_harness_watchdog_stop
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
			elif [ "$status" -ne 0 ] && [ "${HARNESS_JAILED[$i]}" = 1 ]; then
				HARNESS_LAST_EXIT=${HARNESS_LAST_EXIT:-"${HARNESS_NAMES[$i]} exited with status $status"}
			fi
		fi
		# Anything left in the group (forked children) goes too.
		kill -KILL -- "-$pid" 2>/dev/null || true
	done
	# What escaped the groups, if a program under test ran at all.
	case " ${HARNESS_JAILED[*]-} ${HARNESS_RAN:-} " in *" 1 "*) _harness_sweep ;; esac
	if [ -e "$T/.deadline" ] && [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		_harness_state TIMEOUT
		echo "-- the test ran out of its ${SOCKLAB_TEST_LIMIT:-30} s"
	fi
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		# A program under test that failed on its own is a reason that other
		# tests may share.
		[ -z "${HARNESS_LAST_EXIT:-}" ] || _harness_reason "$HARNESS_LAST_EXIT"
		for i in "${!HARNESS_ERRS[@]}"; do
			if [ -s "${HARNESS_ERRS[$i]}" ]; then
				echo "-- last lines of ${HARNESS_NAMES[$i]}'s stderr:"
				program_tail "${HARNESS_ERRS[$i]}"
			fi
		done
	fi
	_harness_verdict
}

# Record the most telling state: ERROR beats BUILD ERROR beats CRASH beats
# TIMEOUT.
_harness_state() {
	case "$HARNESS_STATE:$1" in
	ERROR:*) ;;
	"BUILD ERROR:"*) [ "$1" = ERROR ] && HARNESS_STATE=$1 ;;
	CRASH*:TIMEOUT) ;;
	*) HARNESS_STATE=$1 ;;
	esac
}

_harness_verdict() {
	local state reason=
	if [ -n "${BATS_TEST_SKIPPED:-}" ]; then
		state=SKIP
	elif [ -n "${BATS_TEST_COMPLETED:-}" ]; then
		state=PASS
	else
		state=${HARNESS_STATE:-FAIL}
		# One line of printable text (in bash: no process for it).
		reason=${HARNESS_REASON//[![:print:]]/ }
		reason=${reason:0:200}
	fi
	[ -n "$HARNESS_VERDICTS" ] || return 0
	printf '%s\t%s\t%s\t%s\n' "$HARNESS_KEY" "$state" "$BATS_TEST_DESCRIPTION" "$reason" >> "$HARNESS_VERDICTS"
}

# _harness_reason TEXT: the first reason a test failed that other tests
# may share (see the verdict above).
_harness_reason() {
	[ -n "$HARNESS_REASON" ] || HARNESS_REASON=$1
}



_harness_find_timeout() {
	if command -v timeout >/dev/null 2>&1; then
		HARNESS_TIMEOUT=timeout
	elif command -v gtimeout >/dev/null 2>&1; then
		HARNESS_TIMEOUT=gtimeout
	else
		_harness_error "no timeout command: install GNU coreutils (macOS: brew install coreutils)"
	fi
}

# NC_FLAVOUR is one of openbsd, traditional, ncat, busybox; NC_CMD the
# command (an array, as busybox needs its applet name).
_harness_find_nc() {
	local want=${NC:-} cand cache=${BATS_RUN_TMPDIR:-$T}/.socklab-nc
	# Found once per run: each test would run nc -h again.
	if [ -s "$cache" ]; then
		# shellcheck source=/dev/null
		. "$cache"
		return 0
	fi
	_harness_find_nc_now "$want" || return 1
	{
		printf 'NC_FLAVOUR=%s\nNC_CMD=(' "$NC_FLAVOUR"
		printf "'%s' " "${NC_CMD[@]}"
		printf ')\n'
	} > "$cache.$$" && mv -f "$cache.$$" "$cache"
}

_harness_find_nc_now() {
	local want=$1 cand
	if [ -n "$want" ]; then
		case $want in
		openbsd) cand=nc.openbsd ;;
		traditional) cand=nc.traditional ;;
		ncat) cand=ncat ;;
		busybox) cand=busybox ;;
		*) cand=$want ;;
		esac
		command -v "$cand" >/dev/null 2>&1 || _harness_error "NC=$want: no such command ($cand)"
		_harness_nc_identify "$cand" || _harness_error "NC=$want: not a netcat this harness knows"
		return 0
	fi
	for cand in nc.openbsd ncat nc nc.traditional busybox; do
		command -v "$cand" >/dev/null 2>&1 && _harness_nc_identify "$cand" && return 0
	done
	_harness_error "no netcat found: run 'make deps' (or install netcat-openbsd)"
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
	# (macOS's own nc is none of these: its -N takes a number.)
	*OpenBSD* | *"-N"*"shutdown"*) NC_FLAVOUR=openbsd ;;
	*"[v1.10"* | *"-q secs"*) NC_FLAVOUR=traditional ;;
	*) return 1 ;;
	esac
	NC_CMD=("$cmd")
}

# has_ipv6_loopback: the machine has ::1, and the netcat flavour speaks IPv6.
has_ipv6_loopback() {
	[ "$NC_FLAVOUR" != traditional ] && os_has_ipv6_loopback
}

# gone PID: process PID has exited.
gone() { ! kill -0 "$1" 2>/dev/null; }

# ------------------------------------------------------------- the jail --

# Where programs under test run, and how (tests/peers/jail.c).
_harness_setup_jail() {
	HARNESS_JAIL_MODE=${SOCKLAB_JAIL:-none}
	# Under bubblewrap, what the programs must not read: the folder of the
	# verdicts, the tests' own files, and everything the grader built but
	# the lesson's programs.
	HARNESS_HIDE=${SOCKLAB_HIDE:-}${BATS_RUN_TMPDIR:+:$BATS_RUN_TMPDIR}
	if [ -n "${SOCKLAB_SCRATCH:-}" ]; then
		HARNESS_SCRATCH=$SOCKLAB_SCRATCH/test.$$
	else
		HARNESS_SCRATCH=$T/scratch
	fi
	# The jail makes the scratch folder (and gives it to its user) when it
	# first starts a program of the test.
	HARNESS_JAIL=$HARNESS_PEERS/jail
	[ -x "$HARNESS_JAIL" ] || _harness_error "the test helper jail was not built ($HARNESS_JAIL): run 'make peers'"
	case $HARNESS_JAIL_MODE in
	uid:* | none | bwrap) ;;
	*) _harness_error "SOCKLAB_JAIL=$HARNESS_JAIL_MODE: use none, uid:N or bwrap" ;;
	esac
}

# _harness_command CMD...: set HARNESS_CMD to the command line that runs
# CMD: through the jail if CMD is a program under test.
_harness_command() {
	case $1 in
	"$HARNESS_BIN"/*)
		HARNESS_CMD=("$HARNESS_JAIL" -e "$T/.jail-failed" -h "$HARNESS_HIDE" ${HARNESS_NOFILE:+-n "$HARNESS_NOFILE"} \
			"$HARNESS_JAIL_MODE" "$HARNESS_SCRATCH" "$HARNESS_MARK" "$@")
		HARNESS_CMD_JAILED=1
		;;
	*)
		HARNESS_CMD=("$@")
		HARNESS_CMD_JAILED=0
		;;
	esac
}

# prog_pid PID: the PID of the program started as PID.  They differ only
# under bwrap, whose monitor stays the parent of the program.
prog_pid() {
	local i child
	if [ "$HARNESS_JAIL_MODE" = bwrap ]; then
		for i in "${!HARNESS_PIDS[@]}"; do
			if [ "${HARNESS_PIDS[$i]}" = "$1" ] && [ "${HARNESS_JAILED[$i]}" = 1 ]; then
				child=$(os_procs | awk -v p="$1" '$2 == p { print $1; exit }')
				echo "${child:-$1}"
				return 0
			fi
		done
	fi
	echo "$1"
}

# Kill whatever the test's programs left: what carries the test's mark or
# runs a program of the lesson; as root, every process of the jail's user;
# inside the lesson's own process namespace, every process that is not the
# test harness's (a daemon that changed its name, environment and
# executable is still there).  Zombies are not counted: they are dead.
_harness_sweep() {
	local pid round=0 left
	while [ "$round" -lt 20 ]; do
		left=
		# Through a file: a command substitution would cost a process.
		_harness_leftovers > "$T/.leftovers"
		while read -r pid; do
			[ "$pid" = "$$" ] && continue
			kill -KILL "$pid" 2>/dev/null && left=1
		done < "$T/.leftovers"
		[ -n "$left" ] || return 0
		nap 0.05
		round=$((round + 1))
	done
	echo "-- processes of the test were still running after teardown"
}

_harness_leftovers() {
	local uid=- self=-
	case $HARNESS_JAIL_MODE in uid:*) uid=${HARNESS_JAIL_MODE#uid:} ;; esac
	[ -z "${SOCKLAB_PIDNS:-}" ] || self=$$
	os_leftovers "$HARNESS_MARK" "$HARNESS_BIN/" "$uid" "$self"
}

# --------------------------------------------------------- time limits --

# The watchdog: once the test has run SOCKLAB_TEST_LIMIT seconds, it marks
# the test as out of time and kills every process the test started (its
# descendants), again and again, until teardown stops it.  A hanging
# command then fails, and the test ends.
_harness_watchdog_start() {
	local limit=${SOCKLAB_TEST_LIMIT:-30} test_pid=$$
	(
		sleeper=
		trap '[ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null; exit 0' TERM
		if [ -n "${HARNESS_NAP:-}" ]; then
			nap "$limit"
		else
			sleep "$limit" &
			sleeper=$!
			wait "$sleeper"
			sleeper=
		fi
		# A test that ended without its teardown needs no watchdog.
		kill -0 "$test_pid" 2>/dev/null || exit 0
		: > "$T/.deadline"
		# This subshell's PID (bash 3.2 has no BASHPID): sh's parent.
		sh -c 'echo "$PPID"' > "$T/.watchdog"
		me=$(cat "$T/.watchdog")
		while kill -0 "$test_pid" 2>/dev/null; do
			for pid in $(_harness_descendants "$test_pid" "$me"); do
				kill -KILL "$pid" 2>/dev/null
			done
			sleep 0.2 &
			sleeper=$!
			wait "$sleeper"
			sleeper=
		done
	) 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- < /dev/null > /dev/null 2>&1 &
	HARNESS_WATCHDOG=$!
}

_harness_watchdog_stop() {
	[ -n "${HARNESS_WATCHDOG:-}" ] || return 0
	kill -TERM "$HARNESS_WATCHDOG" 2>/dev/null || true
	wait "$HARNESS_WATCHDOG" 2>/dev/null || true
	HARNESS_WATCHDOG=
}

# _harness_descendants PID SKIP: the descendants of PID, except SKIP and
# its own descendants.
_harness_descendants() {
	os_procs | awk -v root="$1" -v skip="$2" '
		{ parent[$1] = $2 }
		END {
			for (p in parent) {
				q = p
				while (q != "" && q != root && q != skip && q != 1 && q != 0) q = parent[q]
				if (q == root && p != root) print p
			}
		}'
}

# nap SECS: pause SECS seconds (may have a fraction), or until a signal
# with a trap comes.  In bash 4 and later without a process: a read that
# times out on a FIFO no one writes (fd 19, opened by harness_setup);
# sleep otherwise.  Loops that look at something every few milliseconds
# call this, and a sleep each time would cost a process.
_harness_nap_setup() {
	local fifo=${BATS_RUN_TMPDIR:-$T}/.socklab-nap
	HARNESS_NAP=
	[ "${BASH_VERSINFO[0]}" -ge 4 ] || return 0
	[ -p "$fifo" ] || mkfifo "$fifo" 2>/dev/null || [ -p "$fifo" ] || return 0
	exec 19<> "$fifo" && HARNESS_NAP=1
}
nap() {
	if [ -n "${HARNESS_NAP:-}" ]; then
		read -r -t "$1" -u 19 _ 2>/dev/null || true # bash32: ok bash 4 only, tested in _harness_nap_setup
	else
		sleep "$1"
	fi
}

# _harness_ms SECS: set HARNESS_MS to SECS (may have a fraction) in
# milliseconds.
_harness_ms() {
	local whole=${1%%.*} frac=
	case $1 in *.*) frac=${1#*.} ;; esac
	frac=${frac}000
	HARNESS_MS=$((${whole:-0} * 1000 + 10#${frac:0:3}))
}

# wait_until SECS CMD...: run CMD every 50 ms until it succeeds; false if
# it still fails after SECS seconds on the clock.  This is how tests
# synchronise: on a condition, never on a fixed delay.
wait_until() {
	local end tries=0
	os_now
	_harness_ms "$1"
	end=$((OS_NOW_MS + HARNESS_MS))
	shift
	while :; do
		"$@" && return 0
		[ ! -e "$T/.deadline" ] || return 1
		os_now
		[ "$OS_NOW_MS" -lt "$end" ] || return 1
		# Most conditions come true within milliseconds: look often at first.
		if [ "$tries" -lt 5 ]; then
			nap 0.01
			tries=$((tries + 1))
		else
			nap 0.05
		fi
	done
}

# wait_while_alive PID SECS CMD...: like wait_until, but give up as soon as
# process PID has exited (a program that died will not make CMD true).
wait_while_alive() {
	local pid=$1 end
	os_now
	_harness_ms "$2"
	end=$((OS_NOW_MS + HARNESS_MS))
	shift 2
	while :; do
		"$@" && return 0
		kill -0 "$pid" 2>/dev/null || { "$@"; return; }
		[ ! -e "$T/.deadline" ] || return 1
		os_now
		[ "$OS_NOW_MS" -lt "$end" ] || return 1
		nap 0.05
	done
}

# ---------------------------------------------------------- programs --

# need_prog NAME: set PROG to the path of the lesson's program NAME, or fail
# the test as a BUILD ERROR when it was not built.
need_prog() {
	PROG=$HARNESS_BIN/$1
	[ -x "$PROG" ] && return 0
	_harness_state "BUILD ERROR"
	# A library that did not compile costs every program: one reason.
	case $(head -n 1 "$PROG.log" 2>/dev/null) in
	"not built: it needs"*)
		local needs
		needs=$(head -n 1 "$PROG.log")
		needs=${needs#not built: it needs }
		_harness_reason "${needs%%, which*} did not compile"
		;;
	*) _harness_reason "$1 did not compile" ;;
	esac
	if [ -s "$PROG.log" ]; then
		echo "-- $1 did not compile:"
		head -c 4096 "$PROG.log" | head -n 15 | _harness_printable | sed 's/^/   | /'
	fi >&2
	fail "$1 was not built (expected at $PROG)"
}

# need_peer NAME: set PEER to the path of a test peer from tests/peers.
need_peer() {
	PEER=$HARNESS_PEERS/$1
	[ -x "$PEER" ] || _harness_error "test peer $1 was not built: run 'make peers'"
}

# bounded SECS CMD...: run CMD, killed after SECS seconds.  Exit status as
# CMD's; 124 (or 137) means it ran out of time, 128+N a signal N.  A
# program under test runs in the jail.
bounded() {
	local secs=$1 code=0
	shift
	_harness_command "$@"
	[ "$HARNESS_CMD_JAILED" = 0 ] || HARNESS_RAN=1
	"$HARNESS_TIMEOUT" --foreground -k 1 "$secs" "${HARNESS_CMD[@]}" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- || code=$?
	# A program under test that failed: a reason other tests may share.
	if [ "$code" -ne 0 ] && [ "$HARNESS_CMD_JAILED" = 1 ] && [ -z "${HARNESS_LAST_EXIT:-}" ]; then
		HARNESS_LAST_EXIT="${1##*/} exited with status $code"
	fi
	return "$code"
}

# run_prog SECS NAME ARGS...: run a lesson program with a time limit, its
# standard input the caller's; like bats' run: $status, $output (its
# standard output) and $lines, and $stderr.  Each holds at most the first
# 64 KiB.  A timeout or a crash is recorded for the grader and fails the
# test.
run_prog() {
	local secs=$1 name=$2
	shift 2
	need_prog "$name" || return 1
	status=0
	bounded "$secs" "$PROG" "$@" > "$T/run.out" 2> "$T/run.err" || status=$?
	_harness_slurp "$T/run.out"
	output=$HARNESS_TEXT
	_harness_slurp "$T/run.err"
	stderr=$HARNESS_TEXT
	lines=()
	IFS=$'\n' read -d '' -r -a lines <<< "$output" || true
	_harness_check_status "$name" "$status" "$secs"
}

# _harness_slurp FILE: set HARNESS_TEXT to the first 64 KiB of FILE, NUL
# bytes left out and trailing newlines cut, as "$(head -c 65536 FILE)"
# would; in bash 4 and later without a process.
_harness_slurp() {
	HARNESS_TEXT=
	if [ -n "${HARNESS_NAP:-}" ]; then
		LC_ALL=C read -r -N 65536 -d '' HARNESS_TEXT < "$1" 2>/dev/null || true # bash32: ok bash 4 only, as nap
		while [ "${HARNESS_TEXT%$'\n'}" != "$HARNESS_TEXT" ]; do
			HARNESS_TEXT=${HARNESS_TEXT%$'\n'}
		done
	else
		HARNESS_TEXT=$(head -c 65536 "$1" 2>/dev/null | tr -d '\000')
	fi
}

# Record TIMEOUT or CRASH for a finished command; fail the test if so.
_harness_check_status() {
	local name=$1 code=$2 secs=$3
	case $code in
	124 | 137)
		_harness_state TIMEOUT
		echo "-- stderr of $name:"
		printf '%s\n' "${stderr:-}" | program_tail
		fail "$name did not finish within ${secs}s (it hangs?)"
		;;
	125)
		[ ! -e "$T/.jail-failed" ] || _harness_error "the jail could not start $name: $(cat "$T/.jail-failed")"
		;;
	13[0-9] | 14[0-9] | 15[0-9])
		_harness_state "CRASH SIG$(kill -l $((code - 128)))"
		echo "-- stderr of $name:"
		printf '%s\n' "${stderr:-}" | program_tail
		fail "$name was killed by SIG$(kill -l $((code - 128)))"
		;;
	esac
}

# errno_text NAME: the C library's message for errno NAME (EADDRINUSE,
# ECONNREFUSED, ...), as the programs under test print it: glibc, musl and
# macOS word some of them differently.
errno_text() {
	local text
	text=$("$OS_PROBE" strerror "$1")
	printf '%s\n' "${text#*$'\t'}"
}

# errno_regex NAME: errno_text as an extended regular expression, its
# first letter in either case.
errno_regex() {
	local text c out='' i=0 upper lower before
	local lc=abcdefghijklmnopqrstuvwxyz uc=ABCDEFGHIJKLMNOPQRSTUVWXYZ
	text=$("$OS_PROBE" strerror "$1")
	text=${text#*$'\t'}
	while [ "$i" -lt "${#text}" ]; do
		c=${text:$i:1}
		case $c in
		[][\\.*^\$\(\){}+?\|/]) out="$out\\$c" ;;
		*) out=$out$c ;;
		esac
		i=$((i + 1))
	done
	c=${out:0:1}
	upper=$c lower=$c
	case $lc$uc in
	*"$c"*)
		before=${lc%%"$c"*}
		[ "$before" = "$lc" ] || upper=${uc:${#before}:1}
		before=${uc%%"$c"*}
		[ "$before" = "$uc" ] || lower=${lc:${#before}:1}
		;;
	esac
	printf '[%s%s]%s\n' "$upper" "$lower" "${out:1}"
}

# ------------------------------------------------------------- servers --

# A random port in 20000-31999 (below Linux's ephemeral range) that no
# socket of the given protocol (tcp or udp) uses right now.
free_port() {
	_harness_free_port "$@" || return 1
	printf '%s\n' "$HARNESS_PORT"
}

# _harness_free_port [PROTO]: set HARNESS_PORT to a free port, in this
# shell.
_harness_free_port() {
	local proto=${1:-tcp} i=0
	while [ "$i" -lt 50 ]; do
		HARNESS_PORT=$((20000 + RANDOM % 12000))
		os_port_in_use "$proto" "$HARNESS_PORT" || return 0
		i=$((i + 1))
	done
	fail "no free $proto port found"
}

# port_listening PORT: a TCP socket listens on PORT.
port_listening() { os_listening tcp "$1"; }

# port_bound_udp PORT: a UDP socket is bound to PORT.
port_bound_udp() { os_listening udp "$1"; }

# _harness_wait_gone PID SECS: wait until process PID has exited.
_harness_wait_gone() { wait_until "$2" gone "$1"; }

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
		_harness_free_port "$proto" || return 1
		SERVER_PORT=$HARNESS_PORT
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
		if gone "$SERVER_PID"; then
			SERVER_PORT=0
			_harness_server_failed "$name" "$proto"
			return 1
		fi
		echo "-- stdout: '$(escape_bytes < "$SERVER_OUT")'" >&2
		fail "no line 'Listening on 127.0.0.1:PORT' within 5 s"
		return 1
	}
	SERVER_PORT=$(program_output "$SERVER_OUT" | sed -n 's/^Listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' | head -n 1)
	[ "$SERVER_PORT" -gt 0 ] ||
		fail "the reported port is $SERVER_PORT: print the port getsockname(2) returns" || return 1
	if [ "$proto" = tcp ]; then
		port_listening "$SERVER_PORT" || fail "nothing listens on the reported port $SERVER_PORT"
	else
		port_bound_udp "$SERVER_PORT" || fail "no UDP socket is bound to the reported port $SERVER_PORT"
	fi
}

_harness_server_failed() {
	local name=$1 proto=$2 status=0 elsewhere
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		if [ -n "${HARNESS_ELSEWHERE:-}" ]; then
			fail "$name listens on port $HARNESS_ELSEWHERE, not on port $SERVER_PORT, the one it was given"
			return 1
		fi
		_harness_state TIMEOUT
		fail "$name did not listen on $proto port $SERVER_PORT within ${SOCKLAB_WAIT:-5}s"
		return 1
	fi
	wait "$SERVER_PID" 2>/dev/null || status=$?
	if [ "$status" -gt 128 ]; then
		_harness_state "CRASH SIG$(kill -l $((status - 128)))"
		_harness_reason "$name was killed by SIG$(kill -l $((status - 128))) before it listened"
		fail "$name was killed by SIG$(kill -l $((status - 128))) before it listened"
		return 1
	fi
	[ ! -e "$T/.jail-failed" ] || _harness_error "the jail could not start $name: $(cat "$T/.jail-failed")"
	_harness_reason "$name exited with status $status before it listened"
	fail "$name exited with status $status before it listened on $proto port $SERVER_PORT"
}

# start_process NAME CMD ARGS...: start CMD in the background, in its own
# process group, with the test's own descriptors (3 to 9) closed;
# teardown stops it.  A program under test runs in the jail.  Sets
# PROCESS_PID, PROCESS_OUT and PROCESS_ERR.  Standard input is /dev/null
# unless PROCESS_IN names a file or FIFO; standard output is a new file
# unless PROCESS_OUT_TO names a file or FIFO (PROCESS_OUT is then that).
start_process() {
	local name=$1 n=${#HARNESS_PIDS[@]}
	shift
	PROCESS_OUT=${PROCESS_OUT_TO:-$T/$name.$n.out}
	PROCESS_ERR=$T/$name.$n.err
	_harness_command "$@"
	set -m
	# fds 3 and 4 are bats' own: a process holding them makes bats wait
	# for it.  fds 5-9 are the test's (FIFO ends): a process holding a
	# FIFO's writer would never see the end of its own input.
	"${HARNESS_CMD[@]}" < "${PROCESS_IN:-/dev/null}" > "$PROCESS_OUT" 2> "$PROCESS_ERR" \
		3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	PROCESS_PID=$!
	set +m
	HARNESS_PIDS+=("$PROCESS_PID")
	HARNESS_ERRS+=("$PROCESS_ERR")
	HARNESS_NAMES+=("$name")
	HARNESS_JAILED+=("$HARNESS_CMD_JAILED")
}

# wait_listening PROTO PORT [PID]: poll the socket table until PORT listens
# (TCP) or is bound (UDP); give up after SOCKLAB_WAIT seconds, as soon as
# PID has exited, or as soon as PID's process group listens on another
# TCP port (HARNESS_ELSEWHERE is then that port).
wait_listening() {
	local pid=${3:-} status=0 ports
	HARNESS_ELSEWHERE=
	if [ -n "$pid" ]; then
		_harness_ms "${SOCKLAB_WAIT:-5}"
		os_wait_listening "$1" "$2" "$pid" "$HARNESS_MS" > "$T/.ports" || status=$?
		case $status in
		0) return 0 ;;
		# Gone: once this shell has reaped it, as the caller will ask.
		3) wait_until 1 gone "$pid"; return 1 ;;
		4)
			while read -r ports; do
				HARNESS_ELSEWHERE=${HARNESS_ELSEWHERE:+$HARNESS_ELSEWHERE }$ports
			done < "$T/.ports"
			return 1
			;;
		1) return 1 ;;
		esac
	fi
	wait_until "${SOCKLAB_WAIT:-5}" _harness_ready_or_gone "$@" || return 1
	[ -z "$HARNESS_ELSEWHERE" ] || return 1
	[ -z "$pid" ] || kill -0 "$pid" 2>/dev/null
}

# True when PORT listens (TCP) or is bound (UDP), when PID has exited, or
# when PID's group listens on another TCP port only.
_harness_ready_or_gone() {
	local proto=$1 port=$2 pid=${3:-} ports
	[ -n "$pid" ] && gone "$pid" && return 0
	os_listening "$proto" "$port" && return 0
	if [ -n "$pid" ] && [ "$proto" = tcp ]; then
		ports=" $(os_listen_ports "$pid" | tr '\n' ' ')"
		# Read after the socket table: it may list the port by now.
		case $ports in
		*" $port "*) return 0 ;;
		" ") ;;
		*)
			HARNESS_ELSEWHERE=${ports# }
			HARNESS_ELSEWHERE=${HARNESS_ELSEWHERE% }
			return 0
			;;
		esac
	fi
	return 1
}

# wait_for_line FILE REGEX [SECS] [PID]: wait until a line of FILE (of its
# first MiB) matches REGEX (giving up early if process PID exits).
# One osprobe reads the file as it grows: a loop of grep would cost two
# processes every few ms.
wait_for_line() {
	local status=0
	_harness_ms "${3:-5}"
	"$OS_PROBE" lines "$1" "$2" 1 "$HARNESS_MS" ${4:+"$4"} || status=$?
	[ "$status" = 0 ] && return 0
	[ "$status" = 1 ] && [ -n "${4:-}" ] && kill -0 "$4" 2>/dev/null && _harness_state TIMEOUT
	return 1
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
	kill -"$sig" "$(prog_pid "$SERVER_PID")" 2>/dev/null || true
	if ! _harness_wait_gone "$SERVER_PID" 3; then
		SERVER_STATUS=124
		_harness_state TIMEOUT
		return 0
	fi
	wait "$SERVER_PID" 2>/dev/null || SERVER_STATUS=$?
}

# ------------------------------------------------------ program output --

# program_output FILE [BYTES]: the first BYTES (default 64 KiB) of FILE, a
# program's output: a program may write without end.
program_output() {
	head -c "${2:-65536}" "$1" 2>/dev/null || true
}

# program_tail [FILE]: the last lines of FILE (or standard input), each at
# most 200 characters, control characters replaced: fit for a terminal,
# whatever the program wrote.
program_tail() {
	if [ -n "${1:-}" ]; then
		{ "$OS_PROBE" tail < "$1"; } 2>/dev/null
	else
		"$OS_PROBE" tail
	fi
}

_harness_printable() {
	LC_ALL=C tr -c '[:print:]\t\n' '?'
}

# -------------------------------------------------- failure reports --

# Bats shows what a test printed only when the test fails: these helpers
# add to a failure what was run and, in words, what was expected.

# note_run NAME ARGS...: print the command line of a lesson program.
note_run() {
	local line=$1 word
	shift
	for word in "$@"; do
		case $word in
		'' | *[!A-Za-z0-9._:/@%+=-]*) line="$line '$(printf '%s' "$word" | escape_bytes 200)'" ;;
		*) line="$line $word" ;;
		esac
	done
	echo "-- ran: $line"
}

# run_noted SECS NAME ARGS...: note_run, then run_prog.
run_noted() {
	need_prog "$2" || return 1
	note_run "${@:2}"
	run_prog "$@"
}

# check_message REGEX EXPECTED: after run_prog, fail unless its standard
# error matches REGEX from its first byte (as assert_regex does); EXPECTED
# says in words what is checked, with an example.
check_message() {
	local regex=$1
	[[ ${stderr:-} =~ $regex ]] && return 0
	{
		echo "-- the error message is not as expected"
		echo "   expected: $2"
		printf "   got:      '%s'\n" "$(printf '%s' "${stderr:-}" | escape_bytes 200)"
	} | fail
}

# print_lines FILE: the first lines of a program's output, each escaped.
print_lines() {
	local line
	[ -s "$1" ] || { echo "   (nothing)"; return 0; }
	program_output "$1" 4096 | head -n 10 | while IFS= read -r line || [ -n "$line" ]; do
		printf "   | '%s'\n" "$(printf '%s' "$line" | escape_bytes 120)"
	done
}

# check_server_line REGEX EXPECTED: fail unless a line of the server's
# standard output matches REGEX; EXPECTED is that line in words.
check_server_line() {
	program_output "$SERVER_OUT" | LC_ALL=C grep -Eaq -- "$1" && return 0
	{
		echo "-- a line is missing from the server's standard output"
		echo "   expected: $2"
		echo "   got:"
		print_lines "$SERVER_OUT"
	} | fail
}

# expect_exit CODE REGEX RAN: after run_prog, fail unless the program
# exited with CODE and its standard error matches REGEX (an ERE matched
# against the whole text, so ^ is its start; '' matches anything); RAN is
# the command run, for the report.
expect_exit() {
	local regex=$2
	if [ "$status" -eq "$1" ]; then
		[ -z "$regex" ] && return 0
		[[ ${stderr:-} =~ $regex ]] && return 0
	fi
	{
		echo "-- ran: $3"
		echo "   expected: exit status $1${regex:+, and standard error matching: $regex}"
		echo "   got:      exit status $status"
		printf "   stdout: '%s'\n" "$(printf '%s' "${output:-}" | escape_bytes 200)"
		printf "   stderr: '%s'\n" "$(printf '%s' "${stderr:-}" | escape_bytes 200)"
	} | fail
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
	bounded "$secs" "${NC_CMD[@]}" ${flags[@]+"${flags[@]}"} "$host" "$port" || code=$?
	case $code in
	124 | 137)
		_harness_state TIMEOUT
		echo "-- netcat got no end of the reply from $host:$port within ${secs}s" >&2
		;;
	esac
	return "$code"
}

# nc_listen_cmd HOST PORT: set NC_LISTEN_CMD to the command for a one-shot
# TCP listener that sends its standard input and prints what it receives.
nc_listen_cmd() {
	local host=$1 port=$2
	NC_LISTEN_CMD=("${NC_CMD[@]}")
	case $NC_FLAVOUR in
	openbsd) NC_LISTEN_CMD+=(-N -l "$host" "$port") ;;
	traditional) NC_LISTEN_CMD+=(-q 5 -l -p "$port" -s "$host") ;;
	ncat) NC_LISTEN_CMD+=(-l "$host" "$port") ;;
	busybox) NC_LISTEN_CMD+=(-l -p "$port" "$host") ;;
	esac
}

# start_nc_listener HOST [INPUT]: start a one-shot netcat listener on a free
# port with INPUT (a file or FIFO) as its standard input.  Sets NC_PORT,
# NC_PID and NC_OUT (what it received).
start_nc_listener() {
	_harness_start_listener tcp nc nc_listen_cmd "$@"
}

# _harness_start_listener PROTO NAME CMD_FN HOST [INPUT]: the work of
# start_nc_listener, for TCP or UDP; CMD_FN HOST PORT sets NC_LISTEN_CMD.
_harness_start_listener() {
	local proto=$1 name=$2 cmd_fn=$3 host=$4 input=${5:-/dev/null} attempt
	for attempt in 1 2 3; do
		NC_PORT=$(free_port "$proto")
		"$cmd_fn" "$host" "$NC_PORT"
		PROCESS_IN=$input start_process "$name" "${NC_LISTEN_CMD[@]}"
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
	"$OS_PROBE" escape "${1:-80}"
}

# file_size FILE: its size in bytes.
file_size() {
	local n
	n=$(wc -c < "$1" 2>/dev/null || echo 0)
	echo $((n + 0))
}

# describe_file LABEL FILE: one line "LABEL (N bytes): 'escaped...'".
describe_file() {
	printf "   %-9s %7s bytes: '%s'\n" "$1" "$(file_size "$2")" "$(escape_bytes 60 < "$2")"
}

# assert_same_bytes EXPECTED GOT [SENT]: fail unless the files are equal
# byte for byte; explain the difference (sizes, first differing byte, both
# sides around it escaped) and show what was sent.
assert_same_bytes() {
	local expected=$1 got=$2 sent=${3:-} offset size_e size_g
	cmp -s "$expected" "$got" && return 0
	size_e=$(file_size "$expected")
	size_g=$(file_size "$got")
	# cmp -l lists differing bytes (1-based offset first); nothing when one
	# file is a prefix of the other.
	offset=$(cmp -l "$expected" "$got" 2>/dev/null | head -n 1 | awk '{ print $1 }')
	{
		echo "-- bytes differ"
		[ -n "$sent" ] && describe_file sent "$sent"
		describe_file expected "$expected"
		describe_file got "$got"
		if [ "$size_g" -eq 0 ]; then
			: # nothing came back: the two lines above say it all
		elif [ -z "$offset" ]; then
			if [ "$size_g" -lt "$size_e" ]; then
				echo "   got is the first $size_g bytes of expected: $((size_e - size_g)) bytes are missing"
			else
				echo "   got is expected followed by $((size_g - size_e)) more bytes"
			fi
			offset=$(( (size_e < size_g ? size_e : size_g) + 1 ))
		else
			echo "   first difference at byte $offset (counting from 1):"
		fi
		if [ "$size_g" -gt 0 ]; then
			printf "     expected: '%s'\n" "$(tail -c +"$offset" "$expected" | escape_bytes 24)"
			printf "     got:      '%s'\n" "$(tail -c +"$offset" "$got" | escape_bytes 24)"
		fi
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
