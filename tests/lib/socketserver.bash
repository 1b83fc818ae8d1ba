# shellcheck shell=bash
# Helpers of lesson 03's suite (tests/03-socketserver.bats), loaded after
# lib/harness.  They read the kernel's tables under /proc: the socket
# tables (/proc/net/tcp{,6}) to see what a server has accepted, and the
# process table to see its children, threads and process group.
# Variables set here (SILENT_PID, ...) are read by the suite:
# shellcheck disable=SC2034

# ss_start [--udp] PROG ARGS...: start_server, then wait for the line
# "Listening on ...", which the examples print once SIGINT and SIGTERM are
# handled: from then on a signal must stop the server cleanly.
ss_start() {
	start_server "$@" || return 1
	wait_for_line "$SERVER_OUT" '^Listening on ' 5 "$SERVER_PID" ||
		fail "the server listens but printed no line 'Listening on ADDR:PORT' within 5 s"
}

# _ss_tcp_table: every TCP socket as "LOCALPORT REMOTEPORT STATE RXQUEUE",
# in decimal but for STATE (01 established, 0A listening).
_ss_tcp_table() {
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '
		function hex(s,  i, n) {
			n = 0
			for (i = 1; i <= length(s); i++)
				n = n * 16 + index("0123456789ABCDEF", toupper(substr(s, i, 1))) - 1
			return n
		}
		$1 ~ /^[0-9]+:$/ {
			split($2, l, ":"); split($3, r, ":"); split($5, q, ":")
			print hex(l[2]), hex(r[2]), $4, hex(q[2])
		}' || true
}

# server_accepted PORT N: the server on PORT has accepted N connections or
# more that are still established, and none waits in its accept queue.
server_accepted() {
	_ss_tcp_table | awk -v p="$1" -v n="$2" '
		$1 == p && $3 == "01" { est++ }
		$1 == p && $3 == "0A" { queued += $4 }
		END { exit !(est >= n && queued == 0) }'
}

# accept_queue_is PORT N: exactly N connections wait in the accept queue of
# the server on PORT (for a listening socket, the kernel's rx_queue column).
accept_queue_is() {
	_ss_tcp_table | awk -v p="$1" -v n="$2" '
		$1 == p && $3 == "0A" { queued += $4 }
		END { exit !(queued == n) }'
}

# clients_connected PORT N: N client sockets or more are connected to PORT
# (established, or half-closed after sending all: FIN_WAIT1, FIN_WAIT2).
clients_connected() {
	_ss_tcp_table | awk -v p="$1" -v n="$2" '
		$2 == p && ($3 == "01" || $3 == "04" || $3 == "05") { c++ }
		END { exit !(c >= n) }'
}

# _ss_procs: every process as "PID STATE PPID PGRP".  The command name in
# /proc/PID/stat may hold spaces and parentheses: cut at the last ") ".
_ss_procs() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk '{
		rest = $0
		while ((i = index(rest, ") ")) > 0)
			rest = substr(rest, i + 2)
		split(rest, f, " ")
		print $1, f[1], f[2], f[3]
	}' || true
}

# children_of PID: the children of PID, one "PID STATE" a line.
children_of() {
	_ss_procs | awk -v p="$1" '$3 == p { print $1, $2 }'
}

# has_children PID: PID has at least one child process.
has_children() {
	[ -n "$(children_of "$1")" ]
}

# has_no_children PID: PID has no child process, zombie or running.
has_no_children() {
	[ -z "$(children_of "$1")" ]
}

# group_processes PGID: the processes left in process group PGID.
group_processes() {
	_ss_procs | awk -v g="$1" '$4 == g { print $1, $2 }'
}

# thread_count PID: how many threads process PID has.
thread_count() {
	local tasks=(/proc/"$1"/task/*)
	[ -e "${tasks[0]}" ] && echo "${#tasks[@]}" || echo 0
}

threads_at_least() { [ "$(thread_count "$1")" -ge "$2" ]; }
threads_exactly() { [ "$(thread_count "$1")" -eq "$2" ]; }

# holds_for_ms MS CMD...: CMD stays true, checked every 50 ms, for MS
# milliseconds.  For what must NOT happen (a reply that must not come yet):
# a correct program never fails it, however slow the machine.
holds_for_ms() {
	local tries=$(($1 / 50))
	shift
	while [ "$tries" -gt 0 ]; do
		"$@" || return 1
		sleep 0.05
		tries=$((tries - 1))
	done
	"$@"
}

file_empty() { [ ! -s "$1" ]; }

# nc_client_cmd: the netcat command (in NC_CMD_SEND) that sends its
# standard input and reads the reply, as nc_exchange does, for clients
# started in the background.
nc_client_cmd() {
	NC_CMD_SEND=("${NC_CMD[@]}")
	case $NC_FLAVOUR in
	openbsd) NC_CMD_SEND+=(-N) ;;
	traditional) NC_CMD_SEND+=(-q 5) ;;
	esac
}

# start_silent_client HOST PORT: connect a netcat that sends nothing (its
# input is a FIFO held open on fd 7) and wait until the server accepted
# it.  Sets SILENT_PID; stop_silent_client ends it.
start_silent_client() {
	mkfifo "$T/silent"
	exec 7<> "$T/silent"
	PROCESS_IN=$T/silent start_process silent-client "${NC_CMD[@]}" "$1" "$2"
	SILENT_PID=$PROCESS_PID
	wait_until 5 server_accepted "$2" 1 ||
		fail "the server did not accept a first client within 5 s"
}

# stop_silent_client: the silent client leaves (its connection is closed).
stop_silent_client() {
	kill -TERM -- "-$SILENT_PID" 2>/dev/null || true
	wait "$SILENT_PID" 2>/dev/null || true
	exec 7>&-
	rm -f "$T/silent"
}
