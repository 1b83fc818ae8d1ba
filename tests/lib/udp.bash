# shellcheck shell=bash
# Variables set here (NC_PORT, PEER_OUT, ...) are read by the suites:
# shellcheck disable=SC2034
# UDP helpers for the suites, on top of tests/lib/harness.bash: a suite's
# setup() loads the harness, calls harness_setup, then loads this file.
#
# netcat sends each piece it reads from its standard input as one datagram,
# and prints the datagrams it receives run together, without boundaries.
# The helpers below drive it the same way under each flavour that speaks UDP
# (openbsd, traditional, ncat): its input is a FIFO that the test writes
# into, and the test waits for the bytes to come back, never for a fixed
# time.  No flavour has a reliable "quit after the reply", so netcat is
# stopped by the helper or by teardown.  Debian's busybox nc has no UDP:
# need_nc_udp skips the test there.
#
# Where datagram boundaries matter, or netcat cannot do the job at all
# (empty datagrams, 65507-byte datagrams, a server that loses a datagram
# or answers from a stranger's port), the tests use tests/peers/udp_peer.

# need_nc_udp: skip the test unless the netcat flavour speaks UDP (-u).
need_nc_udp() {
	if [ "$NC_FLAVOUR" = busybox ] && ! "${NC_CMD[@]}" --help 2>&1 | grep -q -- '-u'; then
		skip "this busybox netcat has no UDP (-u); run with NC=openbsd, NC=traditional or NC=ncat"
	fi
}

# nc_udp_start FD HOST PORT: start a netcat UDP client to HOST:PORT whose
# standard input is a FIFO the test holds open for writing on FD (7, 8 or
# 9: the fds start_process keeps from its children).  Send datagrams with
# nc_udp_send FD FILE.  Sets NC_PID and NC_OUT (every reply, run together).
nc_udp_start() {
	local fd=$1 host=$2 port=$3 fifo
	case $fd in
	7 | 8 | 9) ;;
	*) fail "nc_udp_start: FD must be 7, 8 or 9, not $fd" ;;
	esac
	fifo=$T/nc-udp-in.${#HARNESS_PIDS[@]}
	mkfifo "$fifo"
	# Opened read-write, the FIFO does not block and never reports its end
	# while the test holds it.
	eval "exec $fd<> \"\$fifo\""
	PROCESS_IN=$fifo start_process nc-udp "${NC_CMD[@]}" -u "$host" "$port"
	NC_PID=$PROCESS_PID
	NC_OUT=$PROCESS_OUT
}

# nc_udp_send FD FILE: have the netcat reading from FD send FILE as one
# datagram.  FILE must fit in one FIFO write (4096 bytes), and the previous
# datagram must have been read already (wait for its reply): netcat sends
# whatever one read() of its input returns, so two writes it reads together
# leave as one datagram.
nc_udp_send() {
	local fd=$1 file=$2
	[ "$(($(wc -c < "$file")))" -le 4096 ] || fail "nc_udp_send: $file is larger than 4096 bytes"
	eval "cat \"\$file\" >&$fd"
}

# nc_udp_stop PID: stop a netcat started by nc_udp_start (its whole process
# group) and reap it.
nc_udp_stop() {
	kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# nc_udp_exchange HOST PORT [SECS] [BYTES]: send standard input (at most
# 4096 bytes) to HOST:PORT as one datagram with netcat, and print what comes
# back once BYTES bytes (default: as many as were sent, the size of an echo)
# have come, or after SECS seconds (default 3).  False if fewer came back.
nc_udp_exchange() {
	local host=$1 port=$2 secs=${3:-3} bytes=${4:-} in code=0
	in=$T/nc-udp-exchange.${#HARNESS_PIDS[@]}
	cat > "$in"
	[ -n "$bytes" ] || bytes=$(($(wc -c < "$in")))
	nc_udp_start 9 "$host" "$port"
	nc_udp_send 9 "$in"
	wait_for_size "$NC_OUT" "$bytes" "$secs" "$NC_PID" || code=1
	exec 9>&-
	nc_udp_stop "$NC_PID"
	cat "$NC_OUT"
	if [ "$code" -ne 0 ]; then
		echo "-- netcat got $(($(wc -c < "$NC_OUT"))) of $bytes bytes back from $host:$port within ${secs}s" >&2
	fi
	return "$code"
}

# nc_udp_listen_cmd HOST PORT: set NC_LISTEN_CMD to the command for a
# netcat UDP listener on HOST:PORT that prints what it receives and sends
# its standard input to the first sender.  It never exits on its own.
nc_udp_listen_cmd() {
	local host=$1 port=$2
	NC_LISTEN_CMD=("${NC_CMD[@]}")
	case $NC_FLAVOUR in
	traditional) NC_LISTEN_CMD+=(-u -l -p "$port" -s "$host") ;;
	*) NC_LISTEN_CMD+=(-u -l "$host" "$port") ;;
	esac
}

# start_nc_udp_listener HOST [INPUT]: start a netcat UDP listener on a free
# UDP port of HOST, with INPUT (a file or FIFO; default /dev/null) as its
# standard input, and wait until it is bound.  Sets NC_PORT, NC_PID and
# NC_OUT (what it received).
start_nc_udp_listener() {
	_harness_start_listener udp nc-udp nc_udp_listen_cmd "$@"
}

# start_udp_peer HOST ACTION...: start tests/peers/udp_peer listening on a
# free UDP port of HOST; the i-th datagram gets the i-th ACTION (drop, echo
# or decoy; the last repeats) and a line "DATAGRAM i N bytes after MS ms" in
# PEER_OUT.  Sets PEER_PORT, PEER_PID and PEER_OUT.
start_udp_peer() {
	local host=$1
	shift
	need_peer udp_peer
	start_process udp_peer "$PEER" listen "$host" "$@"
	PEER_PID=$PROCESS_PID
	PEER_OUT=$PROCESS_OUT
	wait_for_line "$PEER_OUT" '^PORT [0-9]+$' 5 "$PEER_PID" || fail "udp_peer did not start"
	PEER_PORT=$(sed -n 's/^PORT //p' "$PEER_OUT")
}

# udp_peer_datagrams: how many datagrams the udp_peer has received so far.
udp_peer_datagrams() {
	grep -c '^DATAGRAM ' "$PEER_OUT" || true
}

# udp_send_datagrams HOST PORT FILE...: send each FILE as one datagram to
# HOST:PORT with udp_peer, back to back from one socket, then collect as
# many replies (3 s at most): the i-th goes into FILE.reply.  Output in
# $output (as bats' run): "LOCAL PORT n", then "REPLY i N bytes" each.
udp_send_datagrams() {
	local host=$1 port=$2
	shift 2
	need_peer udp_peer
	run --separate-stderr bounded 5 "$PEER" send 3 "$host" "$port" "$@"
}
