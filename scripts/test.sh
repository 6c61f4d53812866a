#!/usr/bin/env bash
# Every test tier, in order. Called by `./flotilla test` (which found the JDK and installed packages).
#  1. unit and native-KVM tests of every module (Maven; tiny guests run on any /dev/kvm)
#     then the bare-host install files (deploy/, staged into a scratch root)
#     then `./flotilla up` end to end with tiny guests (scripts/test-up.sh, scratch data and free ports)
#     then the dashboard in Chromium against the control plane and a real node agent process
#  2. guest artifacts (kernel, initramfs), cached outside the checkout
#  3. guest artifact and lab self-check (QEMU boots our kernel inside the lab)
#  4. Linux end-to-end tests of the engine: natively on hardware KVM, inside one lab boot on PVM
set -euo pipefail
cd "$FLOTILLA_HOME"

step() { echo; echo "==== flotilla test: $* ($(date +%T))"; }
START=$(date +%s)

step "1/4 build, unit and native-KVM tests (mvn install)"
mvn -B -q install

step "1b/4 bare-host install files (deploy/test.sh)"
"$FLOTILLA_HOME/deploy/test.sh"

step "1c/4 ./flotilla up with tiny guests: control plane, node agent, demo sandbox, Ctrl-C (scripts/test-up.sh)"
"$FLOTILLA_HOME/scripts/test-up.sh"

step "1d/4 dashboard in headless Chromium with a real node agent process (NodeAgentDashboardBrowserE2E)"
# Needs the packaged node agent, which the reactor builds after the control plane: run once `install` made both.
mvn -B -q -pl control-plane failsafe:integration-test@browser-node-agent failsafe:verify@browser-node-agent

step "2/4 guest artifacts"
"$FLOTILLA_HOME/guest/build.sh" all
source "$FLOTILLA_HOME/scripts/lib.sh"
guest_paths

step "3/4 guest artifacts and lab self-check"
"$FLOTILLA_HOME/guest/test.sh"

step "4/4 Linux end-to-end tests"
"$FLOTILLA_HOME/scripts/e2e.sh"

echo; echo "flotilla test: all tiers passed in $(( $(date +%s) - START )) s"
