#!/usr/bin/env bats
# The rendered lecture (make slides): each deck is one HTML file that needs
# no network, has highlighted C, its diagrams and keyboard navigation, and
# works in a real browser.  The browser tests use headless Chromium and are
# skipped, saying so, where none is installed; they leave a screenshot of
# each diagram slide in build/slides/screenshots/.  The benchmark chart is
# drawn from tests/fixtures/bench/chart.tsv.  Not a lesson suite: the
# grader ignores it.

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	export TOP
	export SLIDES_OUT=$BATS_FILE_TMPDIR/slides
	export SHOTS=$TOP/build/slides/screenshots
	if have_tools; then
		BENCH_RESULTS=$TOP/tests/fixtures/bench/chart.tsv "$TOP/tools/slides" --no-update -o "$SLIDES_OUT" \
			> "$BATS_FILE_TMPDIR/render.log" 2>&1 || echo failed > "$BATS_FILE_TMPDIR/render.failed"
	fi
}

# have_tools: true if what tools/slides needs is installed.
have_tools() {
	command -v pandoc >/dev/null 2>&1 && command -v dot >/dev/null 2>&1 && command -v mscgen >/dev/null 2>&1
}

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	have_tools || skip "pandoc, graphviz or mscgen is not installed (make slides installs them)"
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

# diagrams: print the name of every diagram, one a line: each source in
# slides/diagrams/, and the benchmark chart.
diagrams() {
	local file
	for file in "$TOP"/slides/diagrams/*.dot "$TOP"/slides/diagrams/*.msc; do
		[ -f "$file" ] || continue
		file=${file##*/}
		echo "${file%.*}"
	done
	echo bench
}

# deck_diagrams HTML: "SLIDE NAME" for each diagram of a rendered deck, in
# order.
deck_diagrams() {
	grep -Eo 'class="([^"]* )?slide( [^"]*)?"|data-diagram="[^"]*"' "$1" |
		awk '/data-diagram/ { gsub(/data-diagram=|"/, ""); print n, $0; next } { n++ }'
}

# valid_xml FILE: FILE parses as XML (xmllint, or python3's parser).
valid_xml() {
	if command -v xmllint >/dev/null 2>&1; then
		xmllint --noout "$1"
	else
		python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$1"
	fi
}

# The regular expression of what loads from the network, as tools/slides
# has it: a script, style, image, font or frame from elsewhere, in HTML
# or in SVG.
REMOTE='<(script|img|link|iframe|source|video|audio|image|use|feimage)[^>]*(src|href)="(https?:)?//[^"]*"|@import[^;]*|url\(["'\'']?(https?:)?//[^)]*\)'

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
		--enable-logging=stderr --v=0 --window-size="${WINDOW_SIZE:-1280,720}" "$@" \
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

@test "the rendered decks and their diagrams load nothing from the network" {
	local file
	for file in "$SLIDES_OUT"/*.html "$SLIDES_OUT"/diagrams/*/*.svg; do
		run grep -Eio "$REMOTE" "$file"
		[ -z "$output" ] || fail "${file#"$SLIDES_OUT"/} loads from the network: $output"
	done
	# The check itself: an SVG image from elsewhere is caught.
	printf '<svg><image xlink:href="https://example.org/a.png"/></svg>\n' > "$BATS_TEST_TMPDIR/remote.svg"
	grep -Eiq "$REMOTE" "$BATS_TEST_TMPDIR/remote.svg" || fail "the check misses an <image> from the network"
}

@test "every diagram renders for every deck, and each deck shows each diagram once" {
	local name lang want got diagram
	want=$(diagrams | sort)
	for name in $(decks); do
		lang=$(sed -n 's/^lang:[[:space:]]*//p' "$TOP/slides/$name.md" | head -n 1)
		for diagram in $want; do
			[ -s "$SLIDES_OUT/diagrams/$lang/$diagram.svg" ] || fail "no diagrams/$lang/$diagram.svg"
			grep -q '<svg class="diagram-svg"' "$SLIDES_OUT/diagrams/$lang/$diagram.svg" ||
				fail "diagrams/$lang/$diagram.svg is not an inline SVG"
		done
		got=$(deck_diagrams "$SLIDES_OUT/$name.html" | awk '{ print $2 }' | sort)
		[ "$got" = "$want" ] ||
			fail "$name.html shows diagrams \"$(printf '%s' "$got" | tr '\n' ' ')\", not each of \"$(printf '%s' "$want" | tr '\n' ' ')\" once"
	done
}

@test "every rendered diagram is valid XML" {
	command -v xmllint >/dev/null 2>&1 || command -v python3 >/dev/null 2>&1 ||
		skip "neither xmllint nor python3 is installed"
	local svg
	for svg in "$SLIDES_OUT"/diagrams/*/*.svg; do
		run valid_xml "$svg"
		[ "$status" -eq 0 ] || fail "${svg#"$SLIDES_OUT"/} is not valid XML: $output"
	done
	# The check itself: an unescaped "<" is caught.
	printf '<svg><text>a < b</text></svg>\n' > "$BATS_TEST_TMPDIR/bad.svg"
	run valid_xml "$BATS_TEST_TMPDIR/bad.svg"
	[ "$status" -ne 0 ] || fail "valid_xml accepts broken XML"
}

@test "a diagram that does not parse, or lacks a translation, stops the rendering with its file" {
	run "$TOP/tools/diagrams" -d "$TOP/tests/fixtures/diagrams/broken" -o "$BATS_TEST_TMPDIR/out" en
	assert_failure
	assert_output --partial "broken/syntax.dot (en)"
	run "$TOP/tools/diagrams" -d "$TOP/tests/fixtures/diagrams/untranslated" -o "$BATS_TEST_TMPDIR/out" en ru
	assert_failure
	assert_output --partial 'untranslated/labels.msc:3: no "ru" label for @who@'
	refute_output --partial '"en" label'
}

@test "the benchmark chart draws results with the machine's name, and says to run make bench without them" {
	local lang
	for lang in en ru; do
		run "$TOP/tools/bench-chart" -l "$lang" "$TOP/tests/fixtures/bench/chart.tsv"
		assert_success
		assert_output --partial "ncat --chat"
		assert_output --partial "test fixture, not a measurement"
		assert_output --partial "1000c 10s w16 20B"
		run "$TOP/tools/bench-chart" -l "$lang" -p build/bench/chart.tsv
		assert_success
		assert_output --partial "make bench"
	done
	printf 'cell\tours_rate\tncat_rate\tours_p50_us\tours_p99_us\tncat_p50_us\tncat_p99_us\nx\tfast\t1\t1\t1\t1\t1\n' > "$BATS_TEST_TMPDIR/bad.tsv"
	run "$TOP/tools/bench-chart" "$BATS_TEST_TMPDIR/bad.tsv"
	assert_failure
	assert_output --partial 'ours_rate is "fast"'
	# A slide without results is the placeholder, never a stale chart.
	BENCH_RESULTS=$BATS_TEST_TMPDIR/none.tsv run "$TOP/tools/diagrams" -d "$TOP/tests/fixtures/diagrams/oversized" -o "$BATS_TEST_TMPDIR/out" en
	assert_success
	grep -q "make bench" "$BATS_TEST_TMPDIR/out/en/bench.svg" || fail "no placeholder without results"
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

# measure DIR DECK: load DIR/DECK.html?measure in headless Chromium, whose
# page is then 1280x720 (a window that size has a smaller page at first:
# WINDOW_SIZE makes up the difference), and print what the deck measured:
# "SLIDE NAME fits|overflows box=... slide=... text=PX", one a line.
measure() {
	local height
	if [ -z "${WINDOW_SIZE:-}" ]; then
		browser --dump-dom "file://$1/$2.html?measure" > "$BATS_TEST_TMPDIR/dom.html" ||
			fail "chromium failed on $2.html: $(tail -n 5 "$BATS_TEST_TMPDIR/browser.log")"
		height=$(sed -n 's/.*data-viewport="[0-9]*x\([0-9]*\)".*/\1/p' "$BATS_TEST_TMPDIR/dom.html")
		[ -n "$height" ] || fail "$2.html reports no viewport"
		WINDOW_SIZE=1280,$((720 + 720 - height))
	fi
	browser --dump-dom "file://$1/$2.html?measure" > "$BATS_TEST_TMPDIR/dom.html" ||
		fail "chromium failed on $2.html: $(tail -n 5 "$BATS_TEST_TMPDIR/browser.log")"
	grep -q 'data-viewport="1280x720"' "$BATS_TEST_TMPDIR/dom.html" ||
		fail "$2.html was not measured at 1280x720: $(grep -o 'data-viewport="[^"]*"' "$BATS_TEST_TMPDIR/dom.html")"
	sed -n 's/.*data-measure="\([^"]*\)".*/\1/p' "$BATS_TEST_TMPDIR/dom.html" | tr ';' '\n'
}

@test "chromium shows every diagram within its slide at 1280x720, legibly, and screenshots each" {
	need_chromium
	local name slide diagram verdict box area text png seen
	mkdir -p "$SHOTS"
	for name in $(decks); do
		measure "$SLIDES_OUT" "$name" > "$BATS_TEST_TMPDIR/$name.measure"
		seen=0
		while read -r slide diagram verdict box area text; do
			seen=$((seen + 1))
			[ "$verdict" = fits ] || fail "$name.html slide $slide: diagram $diagram overflows: $box, $area"
			# Text under 10 pixels cannot be read from the back of a room.
			awk -v t="${text#text=}" 'BEGIN { exit !(t >= 10) }' ||
				fail "$name.html slide $slide: diagram $diagram has text of ${text#text=} px"
			png=$SHOTS/$name-$diagram.png
			WINDOW_SIZE=1280,720 browser --screenshot="$png" "file://$SLIDES_OUT/$name.html#$slide" > /dev/null ||
				fail "chromium failed: $(tail -n 5 "$BATS_TEST_TMPDIR/browser.log")"
			[ "$(head -c 4 "$png" | od -An -c | tr -d ' ')" = '211PNG' ] || fail "$png is not a PNG"
			[ "$(wc -c < "$png")" -gt 20000 ] || fail "$png is almost empty"
		done < "$BATS_TEST_TMPDIR/$name.measure"
		[ "$seen" -eq "$(deck_diagrams "$SLIDES_OUT/$name.html" | wc -l)" ] ||
			fail "$name.html: $seen diagrams measured, $(deck_diagrams "$SLIDES_OUT/$name.html" | wc -l) shown"
	done
}

@test "the browser check finds a diagram that overflows its slide" {
	need_chromium
	"$TOP/tools/slides" --no-update -d "$TOP/tests/fixtures/diagrams/oversized" -o "$BATS_TEST_TMPDIR/big" \
		"$TOP/tests/fixtures/diagrams/oversized/deck.md" > /dev/null
	run measure "$BATS_TEST_TMPDIR/big" deck
	assert_success
	assert_output --regexp '^2 tall overflows '
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
