#!/bin/bash
# test.sh -- `make test`: every Weft test level behind one runner
# (STYLE.md 12).
#
#   build    make -j2 (build/), make -j2 SAN=1 (build-san/), and
#            make check-headers (every public header compiles alone)
#   unit     every build/tests/test-*       (release build)
#   san      every build-san/tests/test-*   (ASan + UBSan, leak checker on)
#   fuzz     every tests/fuzz/fuzz-*.c, built with clang libFuzzer + ASan +
#            UBSan into build-fuzz/ and run for $WEFT_FUZZ_SECS (20) s; its
#            sources come from the target's "/* FUZZ_SOURCES: a.c b.c */"
#            comment (optional "/* FUZZ_LIBS: -lfoo */" adds libraries)
#   scenario every tests/scenario/*.sh (if any)
#   system   every tests/system/*.sh (real namespaces; root)
#   san-system  the system scripts in $WEFT_SAN_SYSTEM again, with the
#            daemons of build-san/ (a sanitizer report in a daemon's log
#            fails the script: tests/lib/netns.sh)
#
# Counting: a *suite* is the unit of the summary -- one test binary, one
# fuzz target, one scenario or system script (and each of the two builds).
# A suite passes when it exits 0, is skipped when it exits 77, and fails
# otherwise (including a timeout).  The individual PASS/FAIL lines a suite
# prints are in its log, build/test-logs/<suite>.log; failures show its
# tail.  The last line is exactly "N passed, N failed, N skipped".
#
# WEFT_TEST_FILTER=regex runs only the suites whose name ("unit/test-x",
# "san/test-x", "fuzz/fuzz-x", "system/test-x", ...) matches (the builds
# always run).  WEFT_FUZZ_SECS sets the fuzzing time per target.
# Exits 1 if any suite failed.

set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOGS=$ROOT/build/test-logs
FILTER=${WEFT_TEST_FILTER:-}
FUZZ_SECS=${WEFT_FUZZ_SECS:-20}
SYSTEM_TIMEOUT=${WEFT_SYSTEM_TIMEOUT:-240}
UNIT_TIMEOUT=${WEFT_UNIT_TIMEOUT:-180}

rm -rf "$LOGS"
mkdir -p "$LOGS"

PASSED=0
FAILED=0
SKIPPED=0
RESULTS=()
SKIPS=()
T0=$(date +%s)

selected() {
    [ -z "$FILTER" ] || [[ $1 =~ $FILTER ]]
}

# record NAME RC SECONDS: counts one suite's result and prints it.
record() {
    local name=$1 rc=$2 secs=$3 log="$LOGS/${1//\//_}.log" reason
    if [ "$rc" -eq 0 ]; then
        PASSED=$((PASSED + 1))
        RESULTS+=("PASS  $name (${secs}s)")
        echo "PASS  $name (${secs}s)"
    elif [ "$rc" -eq 77 ]; then
        SKIPPED=$((SKIPPED + 1))
        reason=$(grep -m1 -o 'SKIP:.*' "$log" 2>/dev/null | sed 's/^SKIP: *//')
        RESULTS+=("SKIP  $name: ${reason:-exit 77}")
        SKIPS+=("$name: ${reason:-exit 77}")
        echo "SKIP  $name: ${reason:-exit 77}  <<<<<<<<<<<<<<<< SKIPPED"
    else
        FAILED=$((FAILED + 1))
        [ "$rc" -eq 124 ] && rc="$rc (timeout)"
        RESULTS+=("FAIL  $name (exit $rc, ${secs}s)")
        echo "FAIL  $name (exit $rc, ${secs}s); last lines of $log:"
        tail -n 30 "$log" 2>/dev/null | sed 's/^/    | /'
    fi
}

# run_suite NAME TIMEOUT CMD...: runs CMD bounded by TIMEOUT seconds with
# its output in the suite's log, then records the result.
run_suite() {
    local name=$1 tmo=$2 t0 rc; shift 2
    selected "$name" || return 0
    t0=$(date +%s)
    timeout -k 10 "$tmo" "$@" >"$LOGS/${name//\//_}.log" 2>&1 </dev/null
    rc=$?
    record "$name" "$rc" $(($(date +%s) - t0))
}

# ------------------------------------------------------------------ builds
build() {
    local name=$1; shift
    local t0 rc
    t0=$(date +%s)
    make -j2 "$@" >"$LOGS/$name.log" 2>&1
    rc=$?
    record "$name" "$rc" $(($(date +%s) - t0))
}
echo "== build"
build build
build build-san SAN=1
build check-headers check-headers

# ------------------------------------------------------------------ unit
echo "== unit tests (build/tests, build-san/tests)"
for t in build/tests/test-*; do
    [ -x "$t" ] && [ -f "$t" ] || continue
    run_suite "unit/$(basename "$t")" "$UNIT_TIMEOUT" "$t"
done
for t in build-san/tests/test-*; do
    [ -x "$t" ] && [ -f "$t" ] || continue
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        run_suite "san/$(basename "$t")" "$UNIT_TIMEOUT" "$t"
done

# ------------------------------------------------------------------ fuzz
# fuzz_field FILE KEY REGEX: the words of the "KEY: ..." paragraph in FILE's
# comments that match REGEX.  The paragraph may continue on the following
# " * " comment lines; it ends at "*/", an empty comment line or another
# "WORD:" key.
fuzz_field() {
    /usr/bin/python3 - "$@" <<'PY'
import re, sys
path, key, pat = sys.argv[1:4]
words, on = [], False
for line in open(path, errors="replace"):
    if not on:
        i = line.find(key + ":")
        if i < 0:
            continue
        on, line = True, line[i + len(key) + 1:]
    else:
        line = re.sub(r"^\s*(/\*|\*(?!/))?", "", line)
        if not line.strip() or re.match(r"\s*[A-Z_]+:", line):
            break
    end = line.find("*/")
    words += line[:end if end >= 0 else None].split()
    if end >= 0:
        break
print(" ".join(w for w in words if re.search(pat, w)))
PY
}

# fuzz_one SRC: builds and runs one libFuzzer target (called by run_suite,
# so its output goes to the suite's log).
fuzz_one() {
    local src=$1 name srcs libs bin corpus seeds
    name=$(basename "$src" .c)
    srcs=$(fuzz_field "$src" FUZZ_SOURCES '\.c$')
    libs=$(fuzz_field "$src" FUZZ_LIBS '^-')
    bin=build-fuzz/$name
    corpus=build-fuzz/corpus/$name
    seeds=tests/fuzz/corpus/$name
    mkdir -p "$corpus"
    echo "fuzz: $name: sources: $src $srcs"
    # shellcheck disable=SC2086
    clang -std=gnu11 -g -O1 -D_GNU_SOURCE -Iinclude -I. \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -fno-omit-frame-pointer "$src" $srcs -o "$bin" \
        ${libs:--ljansson} -lpthread || return 1
    local dirs=("$corpus")
    [ -d "$seeds" ] && dirs+=("$seeds")
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$bin" -max_total_time="$FUZZ_SECS" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="build-fuzz/$name-" "${dirs[@]}"
}
echo "== fuzz targets (tests/fuzz, ${FUZZ_SECS}s each)"
if ls tests/fuzz/fuzz-*.c >/dev/null 2>&1; then
    mkdir -p build-fuzz
    if ! command -v clang >/dev/null; then
        for f in tests/fuzz/fuzz-*.c; do
            n="fuzz/$(basename "$f" .c)"
            selected "$n" || continue
            echo "SKIP: clang not installed" >"$LOGS/${n//\//_}.log"
            record "$n" 77 0
        done
    else
        export -f fuzz_one fuzz_field
        export FUZZ_SECS
        for f in tests/fuzz/fuzz-*.c; do
            run_suite "fuzz/$(basename "$f" .c)" $((FUZZ_SECS + 120)) \
                bash -c 'fuzz_one "$1"' fuzz_one "$f"
        done
    fi
fi

# ------------------------------------------------------------------ scenario
echo "== scenario tests (tests/scenario)"
for t in tests/scenario/*.sh; do
    [ -f "$t" ] || continue
    run_suite "scenario/$(basename "$t" .sh)" "$SYSTEM_TIMEOUT" bash "$t"
done

# ------------------------------------------------------------------ system
echo "== system tests (tests/system, real namespaces)"
for t in tests/system/*.sh; do
    [ -f "$t" ] || continue
    run_suite "system/$(basename "$t" .sh)" "$SYSTEM_TIMEOUT" bash "$t"
done

# ------------------------------------------------------------------ san
# The packet paths with the most new code, under ASan + UBSan with real
# traffic.
SAN_SYSTEM=${WEFT_SAN_SYSTEM:-test-cross-host test-router test-dhcp test-port-security
    test-security-groups test-sg-ipv6 test-sg-flood test-conntrack-full
    test-kpath}
echo "== system tests with the sanitizer build: $SAN_SYSTEM"
for n in $SAN_SYSTEM; do
    [ -f "tests/system/$n.sh" ] || continue
    WEFT_BIN=$ROOT/build-san/bin \
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        run_suite "san-system/$n" "$SYSTEM_TIMEOUT" bash "tests/system/$n.sh"
done

# ------------------------------------------------------------------ summary
echo
echo "================ summary ($(($(date +%s) - T0)) s) ================"
printf '%s\n' "${RESULTS[@]}"
if [ ${#SKIPS[@]} -gt 0 ]; then
    echo
    echo "!!!!!!!! ${#SKIPS[@]} suite(s) SKIPPED -- not tested:"
    printf '!!!!!!!!   SKIP %s\n' "${SKIPS[@]}"
fi
echo "logs: $LOGS"
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
