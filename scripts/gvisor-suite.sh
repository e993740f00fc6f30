#!/usr/bin/env bash
# The gVisor suite in every setup (`make test`): `gvnet-harness check` with and without the
# preload, for each of
#   20240729      Debian's runsc (trixie, the testbed's)
#   current       $RUNSC (default ../shared/gvisor/runsc-release-20260817.0-70.xz), no flag
#   current+flag  the same runsc with --allow-packet-socket-write
# Each run must measure as its setup (--setup NAME). Without that runsc the two current legs
# are reported as not run: a failure under CI=true, never a silent skip. Ends with one line per
# run: setup, mode, duration, and the run's `N passed, N failed`. SETUPS="20240729 current
# current+flag" (the default) names the setups to run. A failed run's FAILED scenario rows
# and the harness's own error lines follow the summary, so the end of the output says what
# failed where.
set -uo pipefail
cd "$(dirname "$0")/.."
H=${HARNESS:-target/release/gvnet-harness}
RUNSC=${RUNSC:-../shared/gvisor/runsc-release-20260817.0-70.xz}
ci() { case ${CI:-} in true | 1 | yes) return 0 ;; esac; return 1; }

summary=()
failures=()
rc=0
t_all=$(date +%s)

# one SETUP MODE [ARGS...]: one check run, its line in the summary.
one() {
    local setup=$1 mode=$2 out st line t0
    shift 2
    t0=$(date +%s)
    out=$(mktemp)
    echo "=== gVisor setup $setup, $mode: $H check --setup $setup $*"
    "$H" check --setup "$setup" "$@" 2>&1 | tee "$out"
    st=${PIPESTATUS[0]}
    # -a: the output is text even when a log tail in it carries a stray control byte.
    line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    case $st in
    0) ;;
    77) line="not run: ${line:-$(grep -a -m1 '^SKIPPED' "$out")}" ;; # no sandbox, not under CI
    *)
        rc=1
        while IFS= read -r f; do
            failures+=("$setup $mode: $f")
        done < <(grep -aE '^[a-z0-9-]+ +FAILED |^error: ' "$out" | cut -c1-400)
        ;;
    esac
    summary+=("$(printf '%-13s %-11s %5ss  %s' "$setup" "$mode" $(($(date +%s) - t0)) "${line:-no result (exit $st)}")")
    rm -f "$out"
}

# leg SETUP [ARGS...]: the setup with and without the preload.
leg() {
    local setup=$1
    shift
    one "$setup" preload "$@"
    one "$setup" no-preload --no-preload "$@"
}

SETUPS=${SETUPS:-20240729 current current+flag}
for s in $SETUPS; do
    case $s in
    20240729) leg 20240729 ;;
    current | current+flag)
        if [ ! -f "$RUNSC" ]; then
            why="not run: no runsc at $RUNSC (make test RUNSC=/path/to/runsc)"
            ci && { why="$why; CI=true: a failure"; rc=1; }
            for m in preload no-preload; do
                summary+=("$(printf '%-13s %-11s %5s   %s' "$s" "$m" - "$why")")
            done
        elif [ "$s" = current ]; then
            leg current --runsc "$RUNSC"
        else
            leg current+flag --runsc "$RUNSC" --runsc-flag=--allow-packet-socket-write
        fi
        ;;
    *) echo "gvisor-suite: unknown setup '$s' (20240729, current, current+flag)" >&2; exit 2 ;;
    esac
done

echo
echo "gVisor suite: setup, mode, duration, result"
printf '%s\n' "${summary[@]}"
echo "all setups: $(($(date +%s) - t_all)) s"
if [ ${#failures[@]} -gt 0 ]; then
    echo
    echo "what failed:"
    printf '%s\n' "${failures[@]}"
fi
exit $rc
