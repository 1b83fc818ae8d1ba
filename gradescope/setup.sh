#!/usr/bin/env bash
# setup.sh: what Gradescope runs once, as root, when it builds the
# autograder's image (Ubuntu 22.04 by default): install what grading
# needs.  The zip is unpacked in /autograder/source; the course is in its
# socklab/ folder (tools/gradescope built the zip).
#
# The course's tools/deps installs bats-core with bats-support and
# bats-assert (Ubuntu 22.04's bats is too old: a pinned copy comes from npm
# into socklab/build/tools), netcat and timeout; here go what it runs on
# (make, a compiler, npm) and what the grader isolates with (iproute2 for
# a network namespace per lesson, util-linux for setpriv and unshare).
set -eu
cd "$(dirname "$0")"

# Zip tools may drop the executable bits: the list kept in the zip.
while IFS= read -r file; do
	chmod +x "socklab/$file"
done < socklab/.executables

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq make gcc libc6-dev npm iproute2 util-linux > /dev/null
sh socklab/tools/deps
# The test peers, built once here rather than in every run.
socklab/tools/peers socklab/build/peers
