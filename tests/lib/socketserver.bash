# shellcheck shell=bash
# Helpers of lesson 03's suite (tests/03-socketserver.bats), loaded after
# lib/harness.  Through the harness's OS layer (tests/lib/os.bash) they
# read the socket table, to see what a server has accepted, and the
# process table, to see its children, threads and process group.
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

# server_accepted PORT N: the server on PORT has accepted N connections or
# more that are still established, and none waits in its accept queue.
server_accepted() {
	os_tcp_table | awk -v p="$1" -v n="$2" -v listed="$OS_TCP_QUEUED_LISTED" '
		$1 == p && $3 == "ESTABLISHED" { est++ }
		$1 == p && $3 == "LISTEN" { queued += $4 }
		END { if (listed) est -= queued; exit !(est >= n && queued == 0) }'
}

# accept_queue_is PORT N: exactly N connections wait in the accept queue of
# the server on PORT (for a listening socket, the kernel's rx_queue column).
accept_queue_is() {
	os_tcp_table | awk -v p="$1" -v n="$2" '
		$1 == p && $3 == "LISTEN" { queued += $4 }
		END { exit !(queued == n) }'
}

# clients_connected PORT N: N client sockets or more are connected to PORT
# (established, or half-closed after sending all: FIN_WAIT1, FIN_WAIT2).
clients_connected() {
	os_tcp_table | awk -v p="$1" -v n="$2" '
		$2 == p && ($3 == "ESTABLISHED" || $3 == "FIN_WAIT1" || $3 == "FIN_WAIT2") { c++ }
		END { exit !(c >= n) }'
}

# children_of PID: the children of the program started as PID, one "PID
# STATE" a line.
children_of() {
	os_procs | awk -v p="$(prog_pid "$1")" '$2 == p { print $1, $4 }'
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
	os_procs | awk -v g="$1" '$3 == g { print $1, $4 }'
}

# thread_count PID: how many threads the program started as PID has.
thread_count() {
	os_threads "$(prog_pid "$1")"
}

threads_at_least() { [ "$(thread_count "$1")" -ge "$2" ]; }
threads_exactly() { [ "$(thread_count "$1")" -eq "$2" ]; }

# memory_kb PID: the virtual size in KiB of the program started as PID.
memory_kb() {
	os_vsz_kb "$(prog_pid "$1")"
}

# memory_grew_less PID BEFORE KB: the program started as PID has grown by
# less than KB KiB since its size was BEFORE KiB.
memory_grew_less() {
	[ $(($(memory_kb "$1") - $2)) -lt "$3" ]
}

# not_listening PORT: no socket listens on TCP port PORT.
not_listening() { ! port_listening "$1"; }

# gone_or_zombie PID: process PID has exited (reaped or not).
gone_or_zombie() {
	gone "$1" || [ "$(os_procs | awk -v p="$1" '$1 == p { print $4 }')" = Z ]
}

# holds_for_ms MS CMD...: CMD stays true, checked every 50 ms, for MS
# milliseconds.  For what must NOT happen (a reply that must not come yet):
# a correct program never fails it, however slow the machine.
holds_for_ms() {
	local tries=$(($1 / 50))
	shift
	while [ "$tries" -gt 0 ]; do
		"$@" || return 1
		nap 0.05
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

# ss_assert_logged ADDR-REGEX DATA SENT: the server's stdout has a line
# "ADDR:PORT wrote:" (ADDR matching ADDR-REGEX, an ERE) and DATA on the
# next line.  SENT is what the client sent, for a failure.
ss_assert_logged() {
	program_output "$SERVER_OUT" > "$T/log"
	# Through the environment: awk -v would take backslashes as escapes.
	SS_HEAD="^$1:[0-9]+ wrote:\$" SS_WANT=$2 LC_ALL=C awk '
		BEGIN { head = ENVIRON["SS_HEAD"]; want = ENVIRON["SS_WANT"] }
		prev ~ head && $0 == want { found = 1 }
		{ prev = $0 }
		END { exit !found }' "$T/log" && return 0
	{
		echo "-- the client sent '$(printf '%s' "$3" | escape_bytes 100)': the server's stdout has no line"
		echo "   'ADDR:PORT wrote:' followed by the line '$(printf '%s' "$2" | escape_bytes 100)'"
		printf "   its stdout (%s bytes): '%s'\n" "$(file_size "$T/log")" "$(escape_bytes 300 < "$T/log")"
	} | fail
}

