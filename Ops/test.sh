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

# Release mode, in a build folder of its own: `swift test` compiles with
# testability enabled, which would otherwise make the next plain release build
# (Ops/demo.sh, Ops/bench.sh) start over.
# The integration tests use the embedded PostgreSQL (each test makes its own database).
"$DRIFTLESS_ROOT/Ops/postgres.sh" start >/dev/null
log "building (release) and running the tests"
# One test at a time (--no-parallel): Swift Testing runs synchronous tests on the cooperative
# thread pool, one thread per core; on two cores an integration test (which blocks its thread
# for minutes) and one long synchronous unit test beside it left no thread for the async tests'
# servers, which then missed their deadlines (MetricsEndpoint, in CI). The integration suites,
# most of the time, ran one at a time anyway; the unit tests add about a minute.
swift test -c release --scratch-path "$DRIFTLESS_ROOT/.build-test" --no-parallel "$@"
