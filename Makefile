# socklab: network programming with sockets in C, as graded exercises.
# `make` (or `make help`) lists the targets.

CC       ?= cc
CFLAGS   ?= -std=c11 -Wall -Wextra -Wpedantic -g -O1
CPPFLAGS ?=
LDFLAGS  ?=
LDLIBS   ?= -pthread

# What to grade, and which lesson (01, 02, ... or empty for all).
HOMEWORK ?= homework
LESSON   ?=
# Results for other tools as well (gradescope, classroom, junit, tap, csv;
# several with commas), into OUT (one format) or build/grade/latest; and
# hidden tests, DIR/tests/NN-name.bats.
FORMAT   ?=
OUT      ?=
HIDDEN   ?=
# Which netcat the tests use: openbsd, traditional, ncat or busybox.
NC       ?=

BUILD    := build
WERROR   := -std=c11 -Wall -Wextra -Wpedantic -Werror -g -O1

export CC CFLAGS CPPFLAGS LDFLAGS LDLIBS NC HOMEWORK LESSON CLASS JOBS FORMAT OUT HIDDEN

# The student handout (make handout) has the same Makefile but no
# solutions/: what needs them says so instead of failing halfway.
HANDOUT := $(if $(wildcard solutions),,yes)
NEEDS_SOLUTIONS = @test -d solutions || { echo "make $@: not in the student handout (it needs the course's solutions/)" >&2; exit 2; }

.PHONY: help deps build peers skeletons solutions-release grade grade-class gradescope handout watch hint test check mutants fuzz bench bench-grade demo slides clean

help:
	@echo "socklab: network programming with sockets in C"
	@echo
	@echo "Students:"
	@echo "  make grade              build homework/ and run every lesson's tests"
	@echo "  make grade LESSON=01    one lesson only"
	@echo "  make watch LESSON=01    grade again whenever a file of the lesson changes"
	@echo "  make hint LESSON=01     a hint for the first failing test (again: the next one)"
ifeq ($(HANDOUT),yes)
	@echo "  make slides             render the lecture to HTML, with its diagrams"
	@echo "  make deps               install the test tools (bats, netcat)"
	@echo "  make clean              remove $(BUILD)/"
else
	@echo "Instructors:"
	@echo "  make grade HOMEWORK=DIR grade another tree (a student's copy, or solutions)"
	@echo "  make grade-class CLASS=DIR  grade every student in DIR (a folder or a .zip each),"
	@echo "                          JOBS at once (default: one per processor)"
	@echo "  make grade HOMEWORK=DIR FORMAT=gradescope [OUT=FILE]  also write the results for Gradescope"
	@echo "                          (or classroom, junit, tap, csv; several with commas)"
	@echo "  make grade HIDDEN=DIR   also run the hidden tests of DIR/tests/NN-name.bats"
	@echo "  make gradescope         the Gradescope autograder, $(BUILD)/gradescope/autograder.zip"
	@echo "                          (LESSON=01: that lesson only; HIDDEN=DIR: with hidden tests)"
	@echo "  make handout            the course for students, without solutions/: $(BUILD)/handout/"
	@echo "                          and $(BUILD)/handout.tar.gz"
	@echo "  make skeletons          regenerate homework/ from solutions/"
	@echo "  make solutions-release  clean copies of the solutions (no markers) in $(BUILD)/solutions-release/"
	@echo "  make test               the project's own checks"
	@echo "  make mutants            grade the course's buggy solutions: every one must lose points"
	@echo "  make mutants LESSON=03 RUNS=10  one lesson, each mutant graded 10 times"
	@echo "  make fuzz SECONDS=60    fuzz the chat server's lines, and test mkskel's markers, for N s each"
	@echo "Lecturers:"
	@echo "  make demo LESSON=01     live demo in tmux (F12 ends it)"
	@echo "  make demo LESSON=04 SCRIPT=1  netcat users chat by themselves"
	@echo "  make slides             render the lecture to HTML, with its diagrams"
	@echo "  make bench              performance benchmarks (lesson 05: a matrix against ncat, up to half an hour)"
	@echo "  make bench BENCH_CLIENTS=1000 BENCH_SENDERS=all  part of it (tools/bench lists the BENCH_ variables)"
	@echo "  make bench-grade        how long grading takes, against its targets"
	@echo "Other:"
	@echo "  make build              build the reference solutions into $(BUILD)/"
	@echo "  make deps               install the test tools (bats, netcat)"
	@echo "  make clean              remove $(BUILD)/"
endif

# A copy checked out with Windows line endings (git's core.autocrlf=true
# without our .gitattributes, or files saved by a Windows editor) cannot
# run its scripts: say so, and how to fix it, before anything fails.
CRLF_CHECK = if grep -q "$$(printf '\r')" tests/grade tools/deps tests/lib/harness.bash 2>/dev/null; then \
	echo "socklab: this copy has Windows line endings (CRLF), which the shell cannot run. Fix it with:" >&2; \
	echo "  git config core.autocrlf input && git rm -rq --cached . && git reset -q --hard" >&2; \
	exit 2; fi

# Checks for the test tools; installs them where it can, or stops and
# names the command to run.
deps:
	@$(CRLF_CHECK)
	@sh tools/deps

build: peers
	$(NEEDS_SOLUTIONS)
	@CFLAGS="$(WERROR)" tools/build solutions $(BUILD)/solutions

peers:
	@tools/peers $(BUILD)/peers

skeletons:
	$(NEEDS_SOLUTIONS)
	@tools/mkskel --sync

# The solutions as programs, for students after the deadline: no
# skeleton marker, no stub.
solutions-release:
	$(NEEDS_SOLUTIONS)
	@rm -rf $(BUILD)/solutions-release
	@tools/mkskel --release $(BUILD)/solutions-release

grade: deps
	@case "$$FORMAT" in *,*) [ -z "$$OUT" ] || { echo "make grade: OUT is one file: give one FORMAT with it" >&2; exit 2; } ;; esac; \
	tests/grade -h "$$HOMEWORK" $${LESSON:+-l "$$LESSON"} $${HIDDEN:+-H "$$HIDDEN"} \
		$$(for f in $$(echo "$$FORMAT" | tr , ' '); do printf ' -F %s' "$$f"; done) $${OUT:+-o "$$OUT"}

grade-class: deps
	$(NEEDS_SOLUTIONS)
	@test -n "$$CLASS" || { echo "usage: make grade-class CLASS=DIR [LESSON=NN] [JOBS=N]" >&2; exit 2; }
	@tools/grade-class $${JOBS:+-j "$$JOBS"} "$$CLASS" $${LESSON:+"$$LESSON"}

gradescope:
	$(NEEDS_SOLUTIONS)
	@tools/gradescope $${LESSON:+-l "$$LESSON"} $${HIDDEN:+-H "$$HIDDEN"}

# The course for students: no solutions/, the given files checked by the
# grader against a manifest (tools/handout).
handout:
	$(NEEDS_SOLUTIONS)
	@tools/handout

watch: deps
	@test -n "$$LESSON" || { echo "usage: make watch LESSON=NN" >&2; exit 2; }
	@tools/watch "$$LESSON" "$$HOMEWORK"

hint:
	@test -n "$$LESSON" || { echo "usage: make hint LESSON=NN" >&2; exit 2; }
	@tools/hint "$$LESSON"

test:
	$(NEEDS_SOLUTIONS)
	@$(CRLF_CHECK)
	@sh tools/deps test
	@tests/check

check: test

# The mutants of tests/mutants/: each a plausible bug in a reference
# solution, which the tests must catch (tools/mutants).
RUNS ?= 1
mutants: deps
	$(NEEDS_SOLUTIONS)
	@tools/mutants -n "$(RUNS)" $${LESSON:+-l "$$LESSON"}

# Fuzzing: each libFuzzer target of tests/fuzz/ for SECONDS, then the
# mkskel property test as long (tools/fuzz; output in $(BUILD)/fuzz/).
SECONDS ?= 60
fuzz:
	$(NEEDS_SOLUTIONS)
	@tools/fuzz "$(SECONDS)"

bench: build
	@tools/bench

bench-grade: deps
	$(NEEDS_SOLUTIONS)
	@tools/bench-grade

# A demo needs only the reference programs: a broken test peer must not
# stop a lecture.
demo:
	$(NEEDS_SOLUTIONS)
	@CFLAGS="$(WERROR)" tools/build solutions $(BUILD)/solutions > /dev/null || true
	@tools/demo $(LESSON)

# The handout has no solutions/ to bring the slides' code up to date from.
slides:
	@tools/slides $(if $(HANDOUT),--no-update)

clean:
	@chmod -R u+w $(BUILD) 2>/dev/null || true
	rm -rf $(BUILD)
