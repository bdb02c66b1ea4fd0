#!/usr/bin/env python3
"""Logs a journal can filter (enapter-provisiond(8) "LOGGING"): under
journald every line carries a priority; a failed call is one warning line
with the D-Bus error name; each retry is one debug line saying why the
attempt failed (HTTP 503, a timeout, a refused connection)."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ERROR_PREFIX, KINDS, HarnessTestCase, default_args, free_port, main

UCM = KINDS["ucm"].endpoint
# Under systemd stderr is the journal's stream, and JOURNAL_STREAM is set.
JOURNAL = {"JOURNAL_STREAM": "8:12345"}
PRIORITY_LINE = re.compile(r"<[0-7]>\S")


class JournalLines(HarnessTestCase):
    CONFIG = {"Provisioning": {"Retries": 2, "Timeout": 1, "Deadline": 10}}

    def setUp(self):
        super().setUp()
        self.H.restart_daemon(extra_env=JOURNAL)    # a fresh log per test, with priorities

    def lines(self):
        return self.H.daemon_stderr().splitlines()

    def assertEveryLineHasAPriority(self):
        for line in self.lines():
            self.assertRegex(line, PRIORITY_LINE, "a line without a priority")

    def retry_lines(self):
        return [line for line in self.lines()
                if line.startswith("<7>") and "retrying in" in line]

    def test_retry_after_http_status(self):
        self.H.gateway.faults({"path": UCM, "status": 503, "count": 1})
        self.assertOk(self.H.provision("ucm", default_args("ucm")))
        retries = self.retry_lines()
        self.assertEqual(len(retries), 1, retries)
        self.assertRegex(retries[0], r"attempt 1 to http://\S+ failed \(HTTP 503\), retrying in "
                                     r"\d+ ms$")
        self.assertEveryLineHasAPriority()

    def test_retry_after_timeout(self):
        self.H.gateway.faults({"path": UCM, "delay": 2.5, "count": 1})
        self.assertOk(self.H.provision("ucm", default_args("ucm")))
        retries = self.retry_lines()
        self.assertEqual(len(retries), 1, retries)
        self.assertIn("failed (timeout after 1 s), retrying", retries[0])
        self.assertEveryLineHasAPriority()

    def test_retry_after_refused_connection_and_the_failure(self):
        self.H.restart_daemon({"Gateway": {"URL": f"http://127.0.0.1:{free_port()}"}},
                              extra_env=JOURNAL)
        try:
            self.assertError(self.H.provision("vucm", default_args("vucm")), "Unavailable")
            retries = self.retry_lines()
            self.assertEqual(len(retries), 2, "Retries=2: two retry lines")
            for n, line in enumerate(retries, 1):
                self.assertIn(f"attempt {n} to http://127.0.0.1:", line)
                self.assertIn("failed (connection refused), retrying", line)
            failed = [line for line in self.lines() if line.startswith("<4>ProvisionVucm")]
            self.assertEqual(len(failed), 1, self.lines())
            self.assertIn(ERROR_PREFIX + "Unavailable: ", failed[0])
            self.assertEveryLineHasAPriority()
        finally:
            self.H.restart_daemon()

    def test_failed_call_is_one_warning_with_the_error_name(self):
        self.H.gateway.faults({"path": UCM, "status": 422,
                               "body": '{"errors": [{"code": "x", "message": "site unknown"}]}'})
        self.assertError(self.H.provision("ucm", default_args("ucm")), "Rejected")
        warnings = [line for line in self.lines() if line.startswith("<4>ProvisionUcm")]
        self.assertEqual(len(warnings), 1, self.lines())
        self.assertRegex(warnings[0], r"^<4>ProvisionUcm \(.*\): " + re.escape(ERROR_PREFIX)
                         + r"Rejected: .*site unknown")
        # A bad argument too: refused before any request, at warning, named.
        self.assertError(self.H.provision("ucm", default_args("ucm", protocol="x")),
                         "InvalidArgument")
        warnings = [line for line in self.lines() if line.startswith("<4>ProvisionUcm")]
        self.assertEqual(len(warnings), 2, self.lines())
        self.assertIn(ERROR_PREFIX + "InvalidArgument: ", warnings[1])
        self.assertEveryLineHasAPriority()


if __name__ == "__main__":
    main()
