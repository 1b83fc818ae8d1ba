#!/usr/bin/env bats
# The rendered lecture (make slides): each deck is one HTML file that needs
# no network, has highlighted C and keyboard navigation, and works in a real
# browser.  The browser tests use headless Chromium and are skipped, saying
# so, where none is installed.  Not a lesson suite: the grader ignores it.

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	export TOP
	export SLIDES_OUT=$BATS_FILE_TMPDIR/slides
	if command -v pandoc >/dev/null 2>&1; then
		"$TOP/tools/slides" --no-update -o "$SLIDES_OUT" > "$BATS_FILE_TMPDIR/render.log" 2>&1 ||
			echo failed > "$BATS_FILE_TMPDIR/render.failed"
	fi
}

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	command -v pandoc >/dev/null 2>&1 || skip "pandoc is not installed (make slides installs it)"
	if [ -e "$BATS_FILE_TMPDIR/render.failed" ]; then
		cat "$BATS_FILE_TMPDIR/render.log"
		fail "tools/slides failed"
	fi
}

# decks: print the name of every deck, one a line.
decks() {
	local deck
	for deck in "$TOP"/slides/*.md; do
		basename "$deck" .md
	done
}

# slide_count HTML: the number of slides in a rendered deck.
slide_count() {
	grep -Eo 'class="([^"]* )?slide( [^"]*)?"' "$1" | wc -l | tr -d ' '
}

# need_chromium: set CHROMIUM, or skip the test.
need_chromium() {
	local cand
	for cand in chromium chromium-browser google-chrome google-chrome-stable; do
		if command -v "$cand" >/dev/null 2>&1; then
			CHROMIUM=$cand
			return 0
		fi
	done
	skip "no headless browser here (Debian: apt-get install chromium)"
}

# browser ARGS... URL: run headless Chromium once, offline (a proxy that
# does not exist catches any request to the network), bounded in time.
# Its log, with the page's console messages, goes to $T/browser.log.
browser() {
	local profile
	profile=$(mktemp -d "$BATS_TEST_TMPDIR/profile.XXXXXX")
	timeout --foreground -k 2 40 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--disable-background-networking --disable-component-update --disable-sync \
		--no-first-run --proxy-server=http://127.0.0.1:9 --user-data-dir="$profile" \
		--enable-logging=stderr --v=0 --window-size=1280,720 "$@" \
		2> "$BATS_TEST_TMPDIR/browser.log" 3>&-
}

# current_slide DECK QUERY: load the deck with "?QUERY" in headless
# Chromium and print the number of the slide it shows afterwards.
current_slide() {
	browser --dump-dom "file://$SLIDES_OUT/$1.html$2" > "$BATS_TEST_TMPDIR/dom.html" ||
		fail "chromium failed on $1.html$2: $(tail -n 5 "$BATS_TEST_TMPDIR/browser.log")"
	sed -n 's/.*<body[^>]* data-slide="\([0-9]*\)".*/\1/p' "$BATS_TEST_TMPDIR/dom.html" | head -n 1
}

@test "make slides renders every deck to one HTML file with highlighted C" {
	local name html
	for name in $(decks); do
		html=$SLIDES_OUT/$name.html
		[ -s "$html" ] || fail "no $html"
		grep -q '<style>' "$html" || fail "$name.html has no inline style"
		grep -q 'class="sourceCode c"' "$html" || fail "$name.html has no C code block"
		grep -q '^code span\.kw' "$html" || fail "$name.html has no highlighting styles"
		[ "$(slide_count "$html")" -gt 30 ] || fail "$name.html has only $(slide_count "$html") slides"
	done
}

@test "the rendered decks load nothing from the network" {
	local name html
	for name in $(decks); do
		html=$SLIDES_OUT/$name.html
		run grep -Eio '<(script|img|link|iframe|source|video|audio)[^>]*(src|href)="(https?:)?//[^"]*"|@import[^;]*|url\([^)]*//[^)]*\)' "$html"
		[ -z "$output" ] || fail "$name.html loads from the network: $output"
	done
}

@test "each deck has keyboard navigation in its own script" {
	local name html key
	for name in $(decks); do
		html=$SLIDES_OUT/$name.html
		grep -q 'addEventListener("keydown"' "$html" || fail "$name.html listens to no key"
		for key in ArrowRight ArrowLeft PageDown PageUp Home End; do
			grep -q "\"$key\"" "$html" || fail "$name.html does not handle $key"
		done
	done
}

@test "each deck loads in headless chromium without a script error" {
	need_chromium
	local name
	for name in $(decks); do
		run current_slide "$name" ""
		assert_success
		assert_output 1
		grep -q 'data-ready="yes"' "$BATS_TEST_TMPDIR/dom.html" ||
			fail "$name.html: the deck's script did not finish"
		if grep -E 'CONSOLE.*(Uncaught|Error)' "$BATS_TEST_TMPDIR/browser.log"; then
			fail "$name.html: script errors in chromium"
		fi
	done
}

@test "arrow keys, Page keys, Home, End and #N move between slides in chromium" {
	need_chromium
	local name last
	for name in $(decks); do
		last=$(slide_count "$SLIDES_OUT/$name.html")
		run current_slide "$name" "?press=ArrowRight,ArrowRight,ArrowRight,ArrowLeft"
		assert_output 3
		run current_slide "$name" "?press=End"
		assert_output "$last"
		run current_slide "$name" "?press=End,ArrowRight,Home,PageDown"
		assert_output 2
		run current_slide "$name" "?press=PageUp#7"
		assert_output 6
	done
}

@test "chromium renders a code slide to a screenshot" {
	need_chromium
	local name png slide
	for name in $(decks); do
		# The first slide whose code block is an excerpt from solutions/.
		slide=$(grep -Eo 'class="([^"]* )?slide( [^"]*)?"|<!-- excerpt:' "$SLIDES_OUT/$name.html" |
			awk '/excerpt/ { print n; exit } { n++ }')
		[ -n "$slide" ] || fail "$name.html shows no excerpt"
		png=$BATS_TEST_TMPDIR/$name.png
		browser --screenshot="$png" "file://$SLIDES_OUT/$name.html#$slide" > /dev/null ||
			fail "chromium failed: $(tail -n 5 "$BATS_TEST_TMPDIR/browser.log")"
		[ "$(head -c 4 "$png" | od -An -c | tr -d ' ')" = '211PNG' ] || fail "$png is not a PNG"
		[ "$(wc -c < "$png")" -gt 20000 ] || fail "$png is almost empty"
	done
}
