#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (system
# packages, models), builds in release mode (numeric Swift is slow in debug)
# and runs every test.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

"$DRIFTLESS_ROOT/Ops/install-system.sh"
"$DRIFTLESS_ROOT/Ops/install-models.sh"
[ -d "$DRIFTLESS_SHARED/fixtures" ] || die "shared material not found at $DRIFTLESS_SHARED (set DRIFTLESS_SHARED)"
export DRIFTLESS_SHARED DRIFTLESS_MODELS

log "building (release) and running the tests"
swift build -c release --build-tests
swift test -c release --skip-build "$@"
