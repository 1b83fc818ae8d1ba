# shellcheck shell=bash
# The harness's one place for what the operating system provides: clocks,
# sockets, processes, threads, memory, descriptors and CPU time.  Suites and
# harness call only these functions, never /proc, ss or GNU-only options.
#
# Two implementations:
#   linux     the kernel's tables under /proc (fast, exact)
#   portable  POSIX ps, lsof and tests/peers/osprobe (a C helper of ours):
#             what macOS has (WSL1 once lsof is installed)
# SOCKLAB_OS=linux|portable chooses; the default is linux where /proc has
# the socket tables, portable elsewhere.  `make test` runs the lesson
# suites in both modes, so the portable path is proven on every run.
#
# Variables set here are read by the harness and the suites:
# shellcheck disable=SC2034

# os_setup OSPROBE: pick the implementation; OSPROBE is the path of the
# built osprobe helper.  Sets OS_MODE.
os_setup() {
	OS_PROBE=$1
	OS_MODE=${SOCKLAB_OS:-}
	if [ -z "$OS_MODE" ]; then
		# WSL1 has the files, but empty.
		local first=
		read -r first < /proc/net/tcp 2> /dev/null || true
		if [ -r /proc/self/stat ] && case $first in *local_address*) true ;; *) false ;; esac; then
			OS_MODE=linux
		else
			OS_MODE=portable
		fi
	fi
	case $OS_MODE in
	linux | portable) ;;
	*) echo "SOCKLAB_OS=$OS_MODE: use linux or portable" >&2; return 1 ;;
	esac
	OS_HAVE_LSOF=0
	command -v lsof > /dev/null 2>&1 && OS_HAVE_LSOF=1
	if [ "$OS_MODE" = portable ] && [ "$OS_HAVE_LSOF" = 0 ]; then
		echo "the portable OS layer needs lsof to see sockets: install it (make deps does)" >&2
		return 1
	fi
	# Whether os_tcp_table lists connections still waiting in a listening
	# socket's accept queue (the kernel's table does; lsof lists only
	# sockets that a process holds).
	OS_TCP_QUEUED_LISTED=0
	[ "$OS_MODE" = linux ] && OS_TCP_QUEUED_LISTED=1
	return 0
}

# ---------------------------------------------------------------- time --

# os_now_ms: a monotonic clock in milliseconds.
os_now_ms() {
	os_now
	echo "$OS_NOW_MS"
}

# os_now: set OS_NOW_MS to os_now_ms's clock, in this shell (on Linux
# without a process: loops that look at the clock often call this).
os_now() {
	if [ "$OS_MODE" = linux ]; then
		if [ -n "${EPOCHREALTIME:-}" ]; then # bash32: ok bash 5 only, /proc/uptime otherwise
			local t=${EPOCHREALTIME/[.,]/} # bash32: ok bash 5 only, tested above
			OS_NOW_MS=$((t / 1000))
			return
		fi
		local up
		read -r up _ < /proc/uptime
		up=${up/./}
		OS_NOW_MS=$((10#$up * 10))
	else
		OS_NOW_MS=$("$OS_PROBE" now)
	fi
}

# ------------------------------------------------------------- sockets --

# os_has_ipv6_loopback: a socket can use ::1 here.
os_has_ipv6_loopback() {
	if [ "$OS_MODE" = linux ]; then
		[ -r /proc/net/if_inet6 ] && grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6
	else
		"$OS_PROBE" ipv6
	fi
}

# os_port_in_use PROTO PORT: some socket of PROTO (tcp or udp) uses local
# port PORT.
os_port_in_use() {
	"$OS_PROBE" inuse "$1" "$2"
}

# os_listening PROTO PORT: a TCP socket listens on PORT, or (udp) a UDP
# socket is bound to it.
os_listening() {
	if [ "$OS_MODE" = linux ]; then
		local state=LISTEN
		[ "$1" = udp ] && state=CLOSE
		_os_proc_net "$1" | awk -v p="$2" -v s="$state" '$1 == p && $3 == s { found = 1 } END { exit !found }'
	elif [ "$1" = tcp ]; then
		lsof -nP -iTCP:"$2" -sTCP:LISTEN > /dev/null 2>&1
	else
		lsof -nP -iUDP:"$2" > /dev/null 2>&1
	fi
}

# os_listen_ports PGID: the TCP ports on which processes of process group
# PGID listen, one a line.
os_listen_ports() {
	if [ "$OS_MODE" = linux ]; then
		local pid inodes=
		for pid in $(os_procs | awk -v g="$1" '$3 == g { print $1 }'); do
			# shellcheck disable=SC2012 # the names are descriptor numbers
			inodes="$inodes $(ls -l "/proc/$pid/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\].*/\1/p' | tr '\n' ' ')"
		done
		[ -n "${inodes// /}" ] || return 0
		_os_proc_net tcp inode | awk -v list="$inodes" '
			BEGIN { n = split(list, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
			$3 == "LISTEN" && ($5 in want) { print $1 }' | sort -u
	else
		lsof -nP -a -g "$1" -iTCP -sTCP:LISTEN -Fn 2>/dev/null | sed -n 's/^n.*:\([0-9][0-9]*\)$/\1/p' | sort -u
	fi
}

# os_tcp_table: every TCP socket as "LOCALPORT REMOTEPORT STATE RXQUEUE",
# ports in decimal, STATE a name (LISTEN, ESTABLISHED, FIN_WAIT1, ...).
# For a listening socket RXQUEUE is the length of its accept queue.  See
# OS_TCP_QUEUED_LISTED for the connections waiting in that queue.
os_tcp_table() {
	if [ "$OS_MODE" = linux ]; then
		_os_proc_net tcp
	else
		# One record per (process, socket): keep each socket once.
		lsof -nP -iTCP -F nT -T qs 2>/dev/null | awk '
			function flush() {
				if (name != "" && !(name in seen)) {
					seen[name] = 1
					split(name, ends, "->")
					lp = ends[1]; sub(/.*:/, "", lp)
					rp = 0
					if (ends[2] != "") { rp = ends[2]; sub(/.*:/, "", rp) }
					if (state == "") state = "UNKNOWN"
					print lp, rp, state, queue + 0
				}
				name = ""; state = ""; queue = 0
			}
			/^n/ { flush(); name = substr($0, 2) }
			/^TST=/ { state = substr($0, 5) }
			/^TQR=/ { queue = substr($0, 5) }
			END { flush() }'
	fi
}

# _os_proc_net PROTO [inode]: the kernel's socket table for PROTO (tcp or
# udp, IPv4 and IPv6) as "LOCALPORT REMOTEPORT STATE RXQUEUE [INODE]".
_os_proc_net() {
	"$OS_PROBE" sockets "$1" ${2:+inode}
}

# ----------------------------------------------------------- processes --

# os_procs: every process as "PID PPID PGID STATE" (STATE one letter: R,
# S, D, T, Z...).
os_procs() {
	if [ "$OS_MODE" = linux ]; then
		"$OS_PROBE" procs
	else
		ps -A -o pid= -o ppid= -o pgid= -o stat= 2>/dev/null | awk '{ print $1, $2, $3, substr($4, 1, 1) }'
	fi
}

# os_threads PID: how many threads process PID has (0 if it is gone).
os_threads() {
	if [ "$OS_MODE" = linux ]; then
		local tasks
		# shellcheck disable=SC2012 # the names are thread IDs
		tasks=$(ls "/proc/$1/task" 2>/dev/null | wc -l)
		echo $((tasks + 0))
	else
		local n
		n=$(ps -o nlwp= -p "$1" 2>/dev/null | tr -d ' ')
		case $n in
		'' | *[!0-9]*)
			# BSD ps (macOS) has no nlwp: one line per thread with -M.
			n=$(ps -M -p "$1" 2>/dev/null | awk 'NR > 1' | wc -l)
			;;
		esac
		echo $((n + 0))
	fi
}

# os_rss_kb PID: the resident size of process PID in KiB (0 if it is gone):
# the memory it has touched and the system keeps in RAM for it.
os_rss_kb() { _os_mem_kb "$1" VmRSS rss; }

# os_vsz_kb PID: the virtual size of process PID in KiB (0 if it is gone):
# all the memory it has mapped, thread stacks included, touched or not.
os_vsz_kb() { _os_mem_kb "$1" VmSize vsz; }

# _os_mem_kb PID FIELD PSFIELD: /proc's FIELD of process PID (Linux), or
# ps's PSFIELD, in KiB; 0 if it is gone.
_os_mem_kb() {
	local kb=
	if [ "$OS_MODE" = linux ]; then
		kb=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null)
	else
		kb=$(ps -o "$3=" -p "$1" 2>/dev/null | tr -d ' ')
	fi
	case $kb in
	'' | *[!0-9]*) kb=0 ;;
	esac
	echo "$kb"
}

# os_cpu_ms PID: user + system CPU time of PID in milliseconds.  Sets
# OS_CPU_RES_MS to the clock's resolution (ps may count whole seconds).
os_cpu_ms() {
	if [ "$OS_MODE" = linux ]; then
		local ticks hz
		hz=$(getconf CLK_TCK)
		ticks=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }')
		OS_CPU_RES_MS=$(((1000 + hz - 1) / hz))
		echo $((${ticks:-0} * 1000 / hz))
	else
		local time
		time=$(ps -o time= -p "$1" 2>/dev/null | tr -d ' ')
		# [[dd-]hh:]mm:ss[.ff]
		case $time in
		*.*) OS_CPU_RES_MS=10 ;;
		*) OS_CPU_RES_MS=1000 ;;
		esac
		printf '%s\n' "$time" | awk -F'[-:]' '{
			ms = 0
			for (i = 1; i <= NF; i++) {
				unit = (NF - i == 0) ? 1 : (NF - i == 1) ? 60 : (NF - i == 2) ? 3600 : 86400
				ms += $i * unit * 1000
			}
			printf "%d\n", ms
		}'
	fi
}

# os_proc_state PID: the state letter of process PID as ps shows it: R
# (running, or runnable and waiting for a core), S or I (sleeping), T
# (stopped), Z...; nothing if it is gone.  Unlike CPU time, R does not
# depend on how busy the machine is: a process that never sleeps is R
# whether it gets a whole core or a tenth of one.
os_proc_state() {
	if [ "$OS_MODE" = linux ]; then
		local stat=
		read -r stat < "/proc/$1/stat" 2>/dev/null || return 0
		stat=${stat##*) }
		printf '%s\n' "${stat%% *}"
	else
		ps -o stat= -p "$1" 2>/dev/null | cut -c 1
	fi
}

# os_fd_count PID: how many file descriptors process PID has open.
os_fd_count() {
	if [ "$OS_MODE" = linux ]; then
		local n
		# shellcheck disable=SC2012 # the names are descriptor numbers
		n=$(ls "/proc/$1/fd" 2>/dev/null | wc -l)
		echo $((n + 0))
	else
		lsof -p "$1" -F f 2>/dev/null | grep -c '^f[0-9]' || true
	fi
}

# os_leftovers MARK PREFIX UID SELF: processes (one PID a line) that are
# surely programs under test, zombies left out: their environment holds
# MARK (Linux), or their command line holds PREFIX (the folder of the
# lesson's programs), or their executable is there (Linux: a program that
# rewrote its command line and environment still runs its own executable);
# unless UID is "-", every process of user UID; and unless SELF is "-" (in
# a process namespace of the lesson's own, PID 1 the sandbox's), every
# process that descends neither from SELF's bats nor is PID 1: orphans of
# the programs under test.  The same PID may be listed twice.
os_leftovers() {
	if [ "$OS_MODE" = linux ]; then
		"$OS_PROBE" sweep "$@"
		return 0
	fi
	ps -A -o pid= -o uid= -o stat= -o args= 2>/dev/null | awk -v p="$2" -v u="$3" '{
		pid = $1; uid = $2; stat = $3
		sub(/^ *[0-9]+ +[0-9]+ +[^ ]+ /, "")
		if (stat !~ /^Z/ && (index($0, p) > 0 || uid == u)) print pid
	}'
	[ "$4" = - ] || os_procs | awk -v self="$4" '
		{ parent[$1] = $2; state[$1] = $4 }
		END {
			# bats: the ancestor of SELF whose parent is PID 1.
			b = self
			while (b in parent && parent[b] != 1 && parent[b] != 0) b = parent[b]
			for (p in parent) {
				if (p == 1 || state[p] == "Z") continue
				q = p
				while (q in parent && q != b && q != 1 && q != 0) q = parent[q]
				if (q != b) print p
			}
		}'
}

# os_wait_listening PROTO PORT PID MS: wait until PORT listens (tcp) or is
# bound (udp): exit 0; 3 as soon as process PID is gone (or a zombie); 4 as
# soon as PID's process group listens on other TCP ports only (printed one
# a line); 1 after MS milliseconds.  Exit 5: this OS layer cannot wait in
# one process (portable): poll os_listening and os_listen_ports instead.
os_wait_listening() {
	[ "$OS_MODE" = linux ] || return 5
	"$OS_PROBE" listen "$@"
}
