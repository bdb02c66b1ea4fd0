#!/usr/bin/env python3
"""Idle exit ([Service] IdleTimeout, seconds; 0 = never): once IdleTimeout
seconds have passed since the last call with no call pending, the daemon
releases its bus name, answers what it received, and exits 0. A call in
flight keeps it running however long the call takes. And what a quiet
daemon gives back before that: its kept connections."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import BUS_NAME, HarnessTestCase, default_args, main, wait_until

IDLE_LINE = "idle for 1 s: exiting"
UCM = "/v3/provisioning/ucm"


class IdleExit(HarnessTestCase):
    """Each test starts its own daemon with the IdleTimeout it needs (the
    class's default daemon has none), so the clock starts at the test."""

    def start_idle_daemon(self, idle_timeout):
        H = self.H
        if H.daemon is not None:
            rc = H.stop_daemon()
            self.assertEqual(rc, 0, "the previous daemon did not exit 0 on SIGTERM")
        service = {} if idle_timeout is None else {"IdleTimeout": idle_timeout}
        H.start_daemon({"Service": service})

    def wait_exit(self, timeout):
        """Waits for the daemon to exit on its own; reaps it (the harness then
        has no daemon to stop) and returns (exit status, monotonic exit time)."""
        H = self.H
        proc = H.daemon
        try:
            deadline = time.monotonic() + timeout
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    self.fail(f"the daemon still runs {timeout}s later:\n" + H.stderr_tail())
                time.sleep(0.02)
            exited = time.monotonic()
        finally:
            if proc.poll() is not None:
                H.daemon = None      # reaped: tear-down must not count it as a death
        return proc.returncode, exited

    def name_owned(self):
        res = self.H.bus_call("NameHasOwner", "s", BUS_NAME)
        self.assertTrue(res.ok, res.doc)
        return res.reply[0]

    def assertExitedIdle(self, rc):
        err = self.H.daemon_stderr()
        self.assertEqual(rc, 0, "idle exit status:\n" + err[-4000:])
        self.assertIn(IDLE_LINE, err, "stderr says why the daemon exited")
        self.assertEqual(err.count(IDLE_LINE), 1, err[-4000:])
        self.assertFalse(self.name_owned(), f"{BUS_NAME} still owned after the idle exit")

    def test_exits_when_idle_after_a_call(self):
        self.start_idle_daemon(1)
        args = default_args("ucm")
        called = time.monotonic()
        res = self.H.provision("ucm", args)
        answered = time.monotonic()
        self.check_provisioned("ucm", args, res)
        rc, exited = self.wait_exit(4.0 - (time.monotonic() - answered))
        self.assertExitedIdle(rc)
        # Not before a full IdleTimeout after the call (it arrived after @called).
        self.assertGreaterEqual(exited - called, 1.0, "the daemon exited too early")
        self.assertLessEqual(exited - answered, 4.0)

    def test_call_in_flight_keeps_it_running(self):
        H = self.H
        self.start_idle_daemon(1)
        H.gateway.faults({"path": UCM, "delay": 2})
        slow_args = default_args("ucm")
        slow = H.provision_async("ucm", slow_args)
        H.wait_request(H.gateway, UCM, timeout=5)
        # Longer than IdleTimeout with the call pending.
        time.sleep(1.5)
        self.assertIsNone(H.daemon.poll(), "the daemon exited with a call in flight:\n"
                          + H.stderr_tail())
        self.assertNotIn(IDLE_LINE, H.daemon_stderr())
        self.assertTrue(self.name_owned(), "the name was released with a call in flight")
        # A second call while the first is still busy: served normally.
        args = default_args("ucm")
        quick = H.provision("ucm", args)
        self.assertOk(quick, "the call made while busy")
        res = slow.result(timeout=15)
        answered = time.monotonic()
        self.assertGreaterEqual(slow.elapsed(), 2.0, "the delay fault did not apply")
        device_id, _ = self.assertOk(res, "the slow call")
        self.check_keystore("ucm", slow_args, device_id)
        self.check_keystore("ucm", args, quick.reply[0])
        self.assertEqual(len(H.gateway.requests(UCM)), 2)
        rc, exited = self.wait_exit(4.0)
        self.assertExitedIdle(rc)
        self.assertGreater(exited, answered - 0.05, "exited before answering")

    def test_no_idle_exit_by_default_or_with_zero(self):
        H = self.H
        for idle_timeout in (None, 0):
            with self.subTest(IdleTimeout=idle_timeout):
                self.start_idle_daemon(idle_timeout)
                self.assertOk(H.provision("ucm", default_args("ucm")))
                time.sleep(3)
                self.assertIsNone(H.daemon.poll(), "the daemon exited:\n" + H.stderr_tail())
                self.assertTrue(self.name_owned())
                self.assertNotIn("exiting", H.daemon_stderr())


class QuietRelease(HarnessTestCase):
    """KeepConnections seconds after the last answer the daemon closes the
    connections it kept for reuse; calls back to back still share one."""
    # With Retries=0 every request takes a fresh connection (no resend may
    # happen), so reuse needs retries allowed. 3 s leaves room for a slow
    # machine between the calls and the checks.
    CONFIG = {"Provisioning": {"Retries": 1, "KeepConnections": 3}}

    def sockets(self):
        """The daemon's open sockets (its bus connection among them)."""
        fd_dir = f"/proc/{self.H.daemon.pid}/fd"
        links = []
        for fd in os.listdir(fd_dir):
            try:
                links.append(os.readlink(os.path.join(fd_dir, fd)))
            except FileNotFoundError:
                pass        # closed while listed
        return sum(link.startswith("socket:") for link in links)

    def test_connections_closed_when_quiet(self):
        H = self.H
        H.reset_standins()
        before = self.sockets()
        for _ in range(2):
            self.assertOk(H.provision("ucm", default_args("ucm")))
        kept = self.sockets()
        self.assertEqual(H.gateway.stats()["provisioning_connections"], 1,
                         "calls back to back did not share a connection")
        self.assertEqual(kept, before + 1, "the kept connection is not open")
        wait_until(lambda: self.sockets() == before, timeout=15,
                   what="the daemon to close its idle connection")
        self.assertOk(H.provision("ucm", default_args("ucm")))
        self.assertEqual(H.gateway.stats()["provisioning_connections"], 2,
                         "the call after a quiet spell did not open a new connection")


if __name__ == "__main__":
    main()
