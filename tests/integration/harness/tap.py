"""The TAP 13 runner: main() runs the calling module's tests."""

import os
import signal
import sys
import time
import unittest

from .constants import BUS_CLIENT, DAEMON, POLICY, STANDIN
from .daemon import _LIVE


class TapResult(unittest.TestResult):
    """Prints one TAP line per test as it finishes."""

    def __init__(self):
        super().__init__()
        self.n = 0
        self.any_failed = False
        self._problems = []
        self._skip = None

    def _emit(self, ok, name, problems=(), directive="", extra=""):
        self.n += 1
        line = f"{'ok' if ok else 'not ok'} {self.n} - {name}"
        print(line + (f" # {directive}" if directive else ""))
        for block in list(problems) + ([extra] if extra and not ok else []):
            for text_line in block.rstrip().splitlines():
                print("# " + text_line)
        sys.stdout.flush()
        if not ok:
            self.any_failed = True
            # meson parses stdout as TAP and shows only stderr for a failed
            # test: say what failed there too, so CI logs keep it.
            sys.stderr.write(f"{line}\n")
            for block in list(problems) + ([extra] if extra else []):
                sys.stderr.write(block.rstrip()[-6000:] + "\n")
            sys.stderr.flush()

    @staticmethod
    def _name(test):
        if hasattr(test, "_testMethodName"):
            return f"{type(test).__name__}.{test._testMethodName}"
        return str(test)

    def startTest(self, test):
        super().startTest(test)
        self._problems = []
        self._skip = None
        self._t0 = time.monotonic()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, err)

    def _record(self, test, err):
        text = self._exc_info_to_string(err, test)
        if not hasattr(test, "_testMethodName"):
            # setUpClass, tearDownClass, setUpModule...: not a test of its own
            self._emit(False, self._name(test), [text])
        else:
            self._problems.append(text)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._problems.append(f"{subtest._subDescription()}:\n"
                                  + self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._skip = reason

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._problems.append("unexpected success")

    def stopTest(self, test):
        super().stopTest(test)
        took = time.monotonic() - self._t0
        name = self._name(test)
        if self._skip is not None:
            self._emit(True, name, directive=f"SKIP {self._skip}")
        elif self._problems:
            extra = test.diagnostics() if hasattr(test, "diagnostics") else ""
            self._emit(False, name, self._problems, extra=extra)
        else:
            self._emit(True, name)
        print(f"# {name}: {took:.2f}s")


def main():
    """Runs the tests of the calling module (optionally only those whose name
    contains one of the command-line arguments) and prints TAP 13."""
    module = sys.modules["__main__"]
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    patterns = sys.argv[1:]
    if patterns:
        def keep(s):
            out = unittest.TestSuite()
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    out.addTest(keep(t))
                elif any(p in t.id() for p in patterns):
                    out.addTest(t)
            return out
        suite = keep(suite)
    print("TAP version 13")
    missing = [p for p in (DAEMON, BUS_CLIENT, STANDIN, POLICY) if not os.path.exists(p)]
    if missing:
        print("1..1")
        print("not ok 1 - prerequisites")
        print(f"# missing: {', '.join(missing)}")
        sys.exit(1)
    def stopped(signum, frame):
        for h in list(_LIVE):
            h.kill_all()
        print(f"Bail out! stopped by signal {signum}", flush=True)
        os._exit(128 + signum)
    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGHUP, stopped)
    result = TapResult()
    try:
        suite.run(result)
    finally:
        for h in list(_LIVE):      # after KeyboardInterrupt, say
            h.kill_all()
    print(f"1..{result.n}")
    sys.stdout.flush()
    sys.exit(1 if result.any_failed or result.n == 0 else 0)
