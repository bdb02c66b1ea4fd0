#!/usr/bin/env python3
"""Counts test results from meson's testlog.json files (TAP tests count each
subtest), plain TAP logs, fuzz/run.sh's result lines and the output of a
script that ends with its own count (scripts/cross-test), and prints
'N passed, M failed'. Arguments: meson:FILE, tap:FILE, fuzz:FILE, summary:FILE.
Exit status 1 when anything failed or nothing ran."""
import json
import os
import re
import sys

TAP_RESULT = re.compile(r"^(not ok|ok)\b(.*)$")


def count_meson(path):
    """A test whose output has TAP result lines counts each of them."""
    passed = failed = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            entry = json.loads(line)
            result = entry.get("result")
            tap = [TAP_RESULT.match(l) for l in (entry.get("stdout") or "").splitlines()]
            tap = [m for m in tap if m]
            if tap:
                for m in tap:
                    skipped = "# SKIP" in m.group(2).upper()
                    if m.group(1) == "ok" and not skipped:
                        passed += 1
                    else:
                        failed += 1  # a skip is not a pass
                # A runner that died after its last ok line still failed.
                if result not in ("OK", "EXPECTEDFAIL") and all(m.group(1) == "ok" for m in tap):
                    failed += 1
            elif result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            else:
                failed += 1
    return passed, failed


def count_tap(path):
    """A plain TAP log: each result line counts; a bail-out is a failure."""
    passed = failed = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = TAP_RESULT.match(line)
            if m:
                if m.group(1) == "ok" and "# SKIP" not in m.group(2).upper():
                    passed += 1
                else:
                    failed += 1
            elif line.startswith("Bail out!"):
                failed += 1
    return passed, failed


def fuzz_targets():
    """The targets fuzz/run.sh fuzzes (its all_targets list)."""
    run_sh = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "run.sh")
    with open(run_sh, encoding="utf-8") as f:
        m = re.search(r"^all_targets=\(([^)]*)\)", f.read(), re.M)
    return set(m.group(1).split()) if m else set()


def count_fuzz(path):
    passed = failed = 0
    seen = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"^fuzz (\S+): (\d+) execs in .*?(\d+) crash", line)
            if m:
                seen.add(m.group(1))
                kept = re.search(r"\((\d+) of \d+ kept inputs? still fail", line)
                # A target that ran nothing, or whose kept crashes still
                # crash, has not passed.
                if int(m.group(2)) > 0 and int(m.group(3)) == 0 and not (kept and int(kept.group(1))):
                    passed += 1
                else:
                    failed += 1
    # A target with no result line (its build failed, say) has not passed.
    failed += len(fuzz_targets() - seen)
    return passed, failed


def count_summary(path):
    """The last 'N passed, M failed' line of a script's output; none (the
    script died before it) is a failure."""
    result = (0, 1)
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"^(\d+) passed, (\d+) failed$", line.strip())
            if m:
                result = (int(m.group(1)), int(m.group(2)))
    return result


def main(args):
    passed = failed = 0
    for arg in args:
        kind, _, path = arg.partition(":")
        try:
            counter = {"fuzz": count_fuzz, "tap": count_tap,
                       "summary": count_summary}.get(kind, count_meson)
            p, f = counter(path)
        except OSError as e:
            print(f"summarize: cannot read {path}: {e}", file=sys.stderr)
            p, f = 0, 1
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
