#!/bin/bash
# Builds the libFuzzer targets with clang and fuzzes each for a while.
#
#   fuzz/run.sh [SECONDS] [TARGET...]   fuzz (default 60 s, all targets)
#   fuzz/run.sh --replay BINARY TARGET  replay corpus and regressions only
#                                       (what `meson test --suite fuzz` runs)
#
# Per target: first the kept crash inputs in fuzz/regressions/<target>/ are
# replayed; then the fuzzer runs on a copy of fuzz/corpus/<target>/ (the seed
# corpus is never changed) with the target's dictionary. A crash, leak,
# timeout or out-of-memory input is copied to fuzz/regressions/<target>/ and
# fuzzing goes on for the time left, looking past the invariant that failed.
# Prints one line per target:
#   fuzz <target>: <executions> execs in <seconds> s, <crashes> crashes
# Exits non-zero when a new input crashed, or a kept one still does.
#
# Environment: EP_FUZZ_BUILD (build dir, default build-fuzz in the source
# root), EP_FUZZ_IGNORE (invariants to skip, comma-separated),
# EP_FUZZ_KEEP_LOGS=1 (keep the work dirs with the fuzzer logs).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
all_targets=(fuzz-response fuzz-error-body fuzz-validate fuzz-config fuzz-credentials)
max_restarts=5

export G_SLICE=always-malloc
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

regression_files() {
  find "$here/regressions/$1" -maxdepth 1 -type f ! -name '*.md' ! -name '.*' 2>/dev/null | sort
}

# What EP_FUZZ_IGNORE takes to look past the failure in a log: the invariant
# that failed, or json-glib-leak for json-glib's own leak (see README.md).
ignore_name_of() {
  local inv
  inv=$(sed -n "s/^==fuzz== invariant '\([^']*\)' violated.*/\1/p" "$1" | head -n 1)
  if [ -n "$inv" ]; then
    echo "$inv"
  elif grep -q 'LeakSanitizer' "$1" && grep -q 'json_parser_load_from_data' "$1"; then
    echo json-glib-leak
  fi
}

# Runs one input again with full stacks (GLib and json-glib have no frame
# pointers, so the fast unwinder stops in g_malloc) into a log.
replay_one() {   # bin input log ignore
  EP_FUZZ_IGNORE=$4 ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0:malloc_context_size=40" \
    "$1" "$2" >"$3" 2>&1
}

# The lines of a fuzzer log that say what went wrong and where.
summarise_crash() {
  grep -E "^==fuzz== invariant|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer|UndefinedBehaviorSanitizer)|runtime error|SUMMARY|^ +#[0-9]+ " "$1" |
    grep -v 'in fuzzer::' | head -n 24 | sed -e 's/ (BuildId: [0-9a-f]*)//' -e 's/^/    /'
}

replay() {
  local bin=$1 target=$2 rc=0 files
  "$bin" -runs=0 "$here/corpus/$target" || rc=1
  mapfile -t files < <(regression_files "$target")
  for f in "${files[@]}"; do
    if ! "$bin" "$f"; then
      echo "replay $target: $(basename "$f") still fails" >&2
      rc=1
    fi
  done
  return $rc
}

if [ "${1:-}" = --replay ]; then
  [ $# -eq 3 ] || { echo "usage: $0 --replay BINARY TARGET" >&2; exit 2; }
  replay "$2" "$3"
  exit $?
fi

seconds=${1:-60}
shift $(( $# > 0 ? 1 : 0 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
case $seconds in
  ''|*[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac

# ---- toolchain -----------------------------------------------------------
if ! command -v clang >/dev/null; then
  echo "run.sh: clang missing: installing Debian's clang" >&2
  apt-get install -y clang >&2 || exit 1
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput (const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput (const uint8_t *d, size_t n) { return 0; }\n' >"$probe/p.c"
if ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>/dev/null; then
  major=$(clang -dumpversion | cut -d. -f1)
  echo "run.sh: clang cannot link libFuzzer: installing libclang-rt-$major-dev" >&2
  apt-get install -y "libclang-rt-$major-dev" >&2 || exit 1
fi

# ---- build ---------------------------------------------------------------
# Until the top-level meson.build includes fuzz/, build a scratch copy of the
# tree that does.
src=$root
build=${EP_FUZZ_BUILD:-$root/build-fuzz}
if ! grep -q "subdir('fuzz')" "$root/meson.build"; then
  src=${TMPDIR:-/tmp}/ep-fuzz-src
  build=${EP_FUZZ_BUILD:-${TMPDIR:-/tmp}/ep-fuzz-build}
  echo "run.sh: meson.build has no subdir('fuzz') yet: building a copy in $src" >&2
  rm -rf "$src" && mkdir -p "$src" || exit 1
  tar -C "$root" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$src" -xf - || exit 1
  # The fuzzers need src/ only; tests/ may be mid-edit by someone else.
  sed -i "/^subdir('tests')/d" "$src/meson.build"
  echo "subdir('fuzz')" >>"$src/meson.build"
fi
if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" "$src" >&2 || exit 1
fi
if ! grep -q "fuzz-response" "$build/build.ninja" 2>/dev/null; then
  meson setup --reconfigure "$build" "$src" >&2 || exit 1
fi
if ! grep -q "fuzz-response" "$build/build.ninja"; then
  echo "run.sh: $build does not build the fuzzers (not a clang build dir?); set EP_FUZZ_BUILD" >&2
  exit 1
fi
if ! ninja -C "$build" $(printf 'fuzz/%s ' "${targets[@]}") >&2; then
  echo "fuzz: the build failed (ninja -C $build, output above); no target ran"
  exit 1
fi

# ---- fuzz ----------------------------------------------------------------
now() { date +%s; }   # whole seconds: plain shell arithmetic, no bc

# Bookkeeping after a fuzzer run that failed: keeps the new inputs as
# regressions, prints what went wrong, and extends $ignore so the next run
# looks past it. Returns 1 when the run failed without leaving an input.
record_crash() {   # log artifacts-before
  local log=$1 before=$2 after a name
  after=$(ls "$work/artifacts" | wc -l)
  if [ "$after" -le "$before" ]; then
    echo "fuzz $target: the fuzzer failed without an input (log $log):" >&2
    tail -n 20 "$log" | sed 's/^/    /' >&2
    return 1
  fi
  for a in $(ls -t "$work/artifacts" | head -n $((after - before))); do
    cp "$work/artifacts/$a" "$here/regressions/$target/$a"
    echo "fuzz $target: $a kept as fuzz/regressions/$target/$a:" >&2
    replay_one "$bin" "$work/artifacts/$a" "$work/artifact-$a.log" "$ignore"
    summarise_crash "$work/artifact-$a.log" >&2
    name=$(ignore_name_of "$work/artifact-$a.log")
    [ -n "$name" ] && ignore=${ignore:+$ignore,}$name
  done
  return 0
}

status=0
for target in "${targets[@]}"; do
  bin=$build/fuzz/$target
  [ -x "$bin" ] || { echo "run.sh: no target $target" >&2; exit 2; }
  work=$(mktemp -d "${TMPDIR:-/tmp}/ep-$target.XXXXXX")
  mkdir -p "$work/corpus" "$work/artifacts" "$here/regressions/$target"
  cp "$here/corpus/$target"/* "$work/corpus/"
  ignore=${EP_FUZZ_IGNORE:-}

  # Kept crash inputs first; an open finding is then looked past while fuzzing.
  mapfile -t kept < <(regression_files "$target")
  still_failing=0
  for f in "${kept[@]}"; do
    log=$work/regression-$(basename "$f").log
    if ! replay_one "$bin" "$f" "$log" "$ignore"; then
      still_failing=$((still_failing + 1))
      echo "fuzz $target: kept input $(basename "$f") still fails:" >&2
      summarise_crash "$log" >&2
      name=$(ignore_name_of "$log")
      [ -n "$name" ] && ignore=${ignore:+$ignore,}$name
    fi
  done

  dict=()
  [ -f "$here/dict/$target.dict" ] && dict=("-dict=$here/dict/$target.dict")
  execs=0 crashes=0 run=0
  start=$(now)
  deadline=$((start + seconds))
  while [ $crashes -lt $max_restarts ]; do
    left=$((deadline - $(now)))
    [ "${left:-0}" -ge 1 ] || break
    run=$((run + 1))
    log=$work/fuzz-$run.log
    before=$(ls "$work/artifacts" | wc -l)
    # While json-glib's own leak is open, every input of several top-level
    # values leaks and each leak check scans the heap: fuzz without leak
    # checks, then replay the whole corpus with them (below).
    leaks=1
    case ",$ignore," in *,json-glib-leak,*) leaks=0 ;; esac
    EP_FUZZ_IGNORE=$ignore "$bin" "$work/corpus" "${dict[@]}" -detect_leaks=$leaks \
      -max_total_time="$left" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" >"$log" 2>&1
    rc=$?
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    execs=$((execs + ${n:-0}))
    [ $rc -eq 0 ] && break
    crashes=$((crashes + 1))
    record_crash "$log" "$before" || break
  done
  case ",$ignore," in
    *,json-glib-leak,*)
      log=$work/leak-replay.log
      before=$(ls "$work/artifacts" | wc -l)
      if ! EP_FUZZ_IGNORE=$ignore "$bin" -runs=0 -detect_leaks=1 -rss_limit_mb=2048 \
          -artifact_prefix="$work/artifacts/" "$work/corpus" >"$log" 2>&1; then
        crashes=$((crashes + 1))
        record_crash "$log" "$before"
      fi ;;
  esac
  elapsed=$(($(now) - start))
  line=$(printf 'fuzz %s: %d execs in %d s, %d crashes' "$target" "$execs" "$elapsed" "$crashes")
  [ ${#kept[@]} -gt 0 ] && line="$line ($still_failing of ${#kept[@]} kept inputs still fail)"
  echo "$line"
  if [ $crashes -gt 0 ] || [ $still_failing -gt 0 ]; then
    status=1
  fi
  if [ "${EP_FUZZ_KEEP_LOGS:-0}" = 1 ] || [ $crashes -gt 0 ]; then
    echo "fuzz $target: logs in $work" >&2
  else
    rm -rf "$work"
  fi
done
exit $status
