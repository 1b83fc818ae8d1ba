#!/usr/bin/env bats
# The live demos (make demo LESSON=NN), run headless: each session starts
# detached on a tmux server of its own, its panes run, its server answers,
# and once the session is killed nothing it started is left running.
# Skipped where tmux is not installed.  Not a lesson suite: the grader
# ignores it.

bats_require_minimum_version 1.5.0

setup() {
	load lib/harness
	harness_setup 01-tcp-echo
	command -v tmux >/dev/null 2>&1 || skip "tmux is not installed"
	DEMO=$HARNESS_TOP/tools/demo
	SOCK=socklab-test-$$-$BATS_TEST_NUMBER
	# tmux leaves its socket file behind after kill-server: keep it in the
	# test's own folder, which bats removes.
	export TMUX_TMPDIR=$BATS_TEST_TMPDIR
}

teardown() {
	local pid
	tmux -L "$SOCK" kill-server 2>/dev/null || true
	# Whatever the demo failed to end is ended here, and fails the test.
	for pid in $(demo_processes); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	harness_teardown
}

# connected PORT: a connection to local port PORT is established.
connected() {
	os_tcp_table | awk -v p="$1" '$1 == p && $3 == "ESTABLISHED" { found = 1 } END { exit !found }'
}

# demo_processes: the pids of every process of this test's demo: they
# carry SOCKLAB_DEMO=$SOCK in their environment (Linux /proc only).
demo_processes() {
	local dir
	for dir in /proc/[0-9]*; do
		{ tr '\0' '\n' < "$dir/environ" | grep -qx "SOCKLAB_DEMO=$SOCK"; } 2>/dev/null &&
			echo "${dir#/proc/}"
	done
	return 0
}

no_demo_process() { [ -z "$(demo_processes)" ]; }

port_closed() { ! port_listening "$1"; }

has_client() { [ -n "$(tmux -L "$SOCK" list-clients 2>/dev/null)" ]; }

# start_demo LESSON [VAR=VALUE...]: start the demo detached on a free port
# (DEMO_PORT); skip the test if the lesson's programs are not there yet.
start_demo() {
	local lesson=$1 proto=tcp
	shift
	[ "$lesson" = 02 ] && proto=udp
	DEMO_PORT=$(free_port "$proto")
	run bounded 20 env "$@" PORT="$DEMO_PORT" DEMO_SOCKET="$SOCK" "$DEMO" --detach "$lesson" 3>&-
	if [ "$status" -eq 1 ] && [[ $output == *"cannot start"* ]]; then
		skip "lesson $lesson's programs are not built yet: $output"
	fi
	assert_success
	assert_output --partial "tmux -L $SOCK"
	wait_listening "$proto" "$DEMO_PORT" || fail "the demo's server does not listen on $proto port $DEMO_PORT"
}

# pane TITLE: the id of the pane whose title starts with TITLE.
pane() {
	tmux -L "$SOCK" list-panes -a -F '#{pane_id} #{pane_title}' | awk -v t="$1" 'index(substr($0, index($0, " ") + 1), t) == 1 { print $1; exit }'
}

screen_has() { tmux -L "$SOCK" capture-pane -p -t "$1" | grep -qF -- "$2"; }

# wait_screen TITLE TEXT [SECS]: wait until the pane shows TEXT.
wait_screen() {
	local id
	id=$(pane "$1")
	[ -n "$id" ] || fail "no pane titled '$1'"
	wait_until "${3:-5}" screen_has "$id" "$2" && return 0
	echo "-- pane '$1' shows:"
	tmux -L "$SOCK" capture-pane -p -t "$id" | grep -v '^$' | tail -n 10 | sed 's/^/   | /'
	fail "pane '$1' does not show '$2'"
}

# end_demo: kill the session as a lecturer would; nothing may be left.
end_demo() {
	tmux -L "$SOCK" kill-session -t "socklab-$1"
	wait_until 5 no_demo_process || {
		ps -o pid,args -p "$(demo_processes | paste -sd, -)" || true
		fail "processes of the demo are still running after kill-session"
	}
}

assert_panes() {
	run tmux -L "$SOCK" list-panes -a -F '#{pane_title}|#{pane_dead}'
	assert_success
	[ "${#lines[@]}" -eq "$1" ] || fail "expected $1 panes, got: ${lines[*]}"
	refute_output --partial '|1'
}

@test "demo 01: server, connections, client and netcat panes; the server echoes; nothing left after" {
	[ -r /proc/self/environ ] || skip "needs Linux /proc to find leftover processes"
	start_demo 01
	assert_panes 4
	wait_screen "our client" "Received 'Hello, world'"
	wait_screen "connections" "LISTEN"
	printf 'projector check' > "$T/sent"
	nc_exchange 127.0.0.1 "$DEMO_PORT" < "$T/sent" > "$T/got" || true
	assert_same_bytes "$T/sent" "$T/got" "$T/sent"
	# netcat's pane holds its command ready: Enter runs it.
	tmux -L "$SOCK" send-keys -t "$(pane netcat)" Enter
	wait_until 5 connected "$DEMO_PORT" || fail "netcat did not connect"
	tmux -L "$SOCK" send-keys -t "$(pane netcat)" 'typed in the pane' Enter
	wait_until 5 screen_has "$(pane server)" "Connected by" || fail "the server saw no client"
	end_demo 01
	port_listening "$DEMO_PORT" && fail "the server still listens"
	true
}

@test "demo 01: Ctrl+C stops the server and Enter starts it again" {
	start_demo 01
	local srv
	srv=$(pane server)
	tmux -L "$SOCK" send-keys -t "$srv" C-c
	wait_until 5 port_closed "$DEMO_PORT" || fail "the server still listens after Ctrl+C"
	tmux -L "$SOCK" send-keys -t "$srv" Enter
	wait_listening tcp "$DEMO_PORT" || fail "Enter did not start the server again"
	end_demo 01
}

@test "demo 02: the UDP server answers the client and netcat" {
	[ -r /proc/self/environ ] || skip "needs Linux /proc to find leftover processes"
	start_demo 02
	assert_panes 4
	wait_screen "our client" "Received 'Hello, UDP'"
	tmux -L "$SOCK" send-keys -t "$(pane netcat)" Enter
	tmux -L "$SOCK" send-keys -t "$(pane netcat)" 'ping' Enter
	wait_screen server "(5 bytes)"
	end_demo 02
}

@test "demo 03: the upper-case server answers the client and netcat" {
	[ -r /proc/self/environ ] || skip "needs Linux /proc to find leftover processes"
	start_demo 03
	assert_panes 4
	wait_screen "our client" "Received 'HELLO, SOCKETSERVER'"
	printf 'shout' > "$T/sent"
	nc_exchange 127.0.0.1 "$DEMO_PORT" < "$T/sent" > "$T/got" || true
	printf 'SHOUT' > "$T/expected"
	assert_same_bytes "$T/expected" "$T/got" "$T/sent"
	end_demo 03
}

@test "demo 04 SCRIPT=1: three netcat clients chat by themselves" {
	[ -r /proc/self/environ ] || skip "needs Linux /proc to find leftover processes"
	start_demo 04 SCRIPT=1
	assert_panes 6
	# Our client or a scripted one may be first to connect: any guestN.
	wait_screen "our client" " is now lecturer"
	wait_screen "our client" "<alice> hi all!" 10
	wait_screen "our client" "<bob> it is." 10
	wait_screen "netcat: alice" "<carol> and each of us is just a netcat" 15
	end_demo 04
}

@test "demo 05: lesson 04's client and netcat chat through the server at scale" {
	[ -r /proc/self/environ ] || skip "needs Linux /proc to find leftover processes"
	start_demo 05
	assert_panes 4
	wait_screen "our client" " is now lecturer"
	wait_screen "netcat" "Welcome, guest"
	end_demo 05
}

@test "the demo ends with F12 or Ctrl+B X, and when its client detaches" {
	command -v script >/dev/null 2>&1 || skip "script(1) is not installed"
	start_demo 01
	run tmux -L "$SOCK" list-keys
	assert_output --regexp 'bind-key +-T root +F12 +kill-server'
	assert_output --regexp 'bind-key +-T prefix +X +kill-server'
	# A real client in a pseudo-terminal, then detached.
	start_process client script -qfec "TERM=xterm tmux -L $SOCK attach" /dev/null
	wait_until 5 has_client || fail "no client could attach"
	tmux -L "$SOCK" detach-client -s "socklab-01"
	wait_until 5 no_demo_process || fail "processes of the demo are still running after detaching"
}

@test "demo --print gives the commands for separate terminals" {
	run env PORT=24999 "$DEMO" --print 01
	assert_success
	assert_output --partial "./echo_server 127.0.0.1 24999"
	assert_output --partial "./echo_client 127.0.0.1 24999 'Hello, world'"
	assert_output --partial "ss -tan '( sport = :24999 or dport = :24999 )'"
}

@test "a demo whose programs are missing says which, and exits 1" {
	run env SOCKLAB_BIN="$T/nothing" "$DEMO" --detach 04
	assert_equal "$status" 1
	assert_output --partial "lesson 04's demo cannot start"
	assert_output --partial "chat_server"
	run "$DEMO" 7
	assert_equal "$status" 2
}

@test "the default port depends on the user id and the lesson" {
	uid=$(id -u)
	run env -u PORT "$DEMO" --print 03
	assert_output --partial " $((20000 + (uid % 1000) * 10 + 3))"
}
