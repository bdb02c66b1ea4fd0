#!/usr/bin/env python3
"""Memory that callers cannot inflate (enapter-provisiond(8) "MEMORY"):
whatever callers do, the daemon's anonymous memory (RssAnon in
/proc/PID/status) stays under 32 MiB, and once no call has been pending for
[Provisioning] KeepConnections it comes back to within 512 KiB of its start
value.

The start value is RssAnon as soon as the daemon owns its bus name (ready,
before any call). Whatever a first call sets up for good and the daemon did
not set up at start-up (libcurl's, GLib's and sd-bus's lazy state) counts
against the 512 KiB, and so does the index of the devices a load stores.
The daemon runs with the shipped unit's Environment= (the allocator
settings systemd starts it with).

Two loads, each on a fresh daemon (ep-bus-load drives them; Python could
not keep up):
  - a flood: 1,000 connections from four users, two in the operators'
    group and two strangers, under a loose bus policy so that the strangers'
    calls reach the daemon; each connection introspects, reads properties,
    calls ProvisionUcm with bad input, ListDevices and, one in eight,
    ProvisionUcm with good input; one in five leaves before its answers,
    the others are held open until all are answered, then closed;
  - a burst of 2,000 provisionings, 64 in flight, of 128 devices provisioned
    again and again: the index grows with the devices stored (about 0.7 KiB
    each), not with the calls.
RssAnon is sampled every 10 ms during each load. The test reads the memory
of the daemon itself, so it is meaningless under ASan or valgrind: the
build registers it for plain builds only, and scripts/test's valgrind pass
leaves out its suite (footprint)."""

import json
import os
import shlex
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import DAEMON_WRAPPER, SOURCE_ROOT, clean_env, main  # noqa: E402
from test_access import LOOSE_POLICY, POLICY_GROUP, AccountsTestCase, as_user  # noqa: E402
from test_hostile import read_rss_anon_kib as rss_anon_kib, uses_asan  # noqa: E402

BUS_LOAD = os.environ.get("EP_BUS_LOAD") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "build", "tests", "ep-bus-load")

PEAK_LIMIT_KIB = 32 * 1024
IDLE_SLACK_KIB = 512
KEEP_S = 1                  # [Provisioning] KeepConnections
IDLE_WAIT_S = KEEP_S + 4    # after the last caller left: the trim, with room for a slow machine

CONNECTIONS_PER_USER = 250
GOOD_EVERY = 8
ABANDON_EVERY = 5
BURST_CALLS = 2000
BURST_DRIVERS = 4           # each BURST_CALLS / BURST_DRIVERS calls
BURST_INFLIGHT = 16         # per driver: 64 in flight in all
BURST_POOL = 32             # per driver: the same 128 devices provisioned again and again

ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
INVALID = "com.enapter.Provisioning1.Error.InvalidArgument"
UNIT = os.path.join(SOURCE_ROOT, "systemd", "enapter-provisiond.service")


def unit_environment():
    """The Environment= settings of the shipped unit: the daemon is measured
    as systemd starts it (the unit sets the allocators up for memory)."""
    env = {}
    with open(UNIT) as f:
        for line in f:
            if line.startswith("Environment="):
                for item in shlex.split(line[len("Environment="):]):
                    key, _, value = item.partition("=")
                    env[key] = value
    return env


class Sampler:
    """RssAnon of @pid every 10 ms in a thread, until stop(); keeps the peak."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = rss_anon_kib(pid)
        self.samples = 1
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.wait(0.01):
            try:
                self.peak = max(self.peak, rss_anon_kib(self.pid))
                self.samples += 1
            except (FileNotFoundError, ProcessLookupError):
                return

    def stop(self):
        self.done.set()
        self.thread.join(5)
        return self.peak


class MemoryTestCase(AccountsTestCase):
    BUS_EXTRA = LOOSE_POLICY
    CONFIG = {"Provisioning": {"KeepConnections": KEEP_S, "MaxConcurrent": 64,
                               "MaxQueued": 256, "Timeout": 20, "Deadline": 24}}

    @classmethod
    def make_accounts(cls, accounts):
        accounts.group(POLICY_GROUP, shared=True)
        cls.members = [accounts.user("nogroup", [POLICY_GROUP]) for _ in range(2)]
        cls.strangers = [accounts.user("nogroup") for _ in range(2)]

    def fresh_daemon(self):
        """A daemon started for this test; returns (pid, its start value)."""
        H = self.H
        if DAEMON_WRAPPER:
            self.fail("RssAnon under a wrapper (valgrind) is not the daemon's: run this "
                      "test without EP_DAEMON_WRAPPER")
        if H.daemon is not None:
            self.assertEqual(H.stop_daemon(), 0, "the previous daemon did not exit 0")
        H.start_daemon(extra_env=unit_environment())
        pid = H.daemon.pid
        start = rss_anon_kib(pid)
        if uses_asan(pid):
            self.fail("the daemon is built with ASan, whose shadow memory and quarantine "
                      "are RssAnon too: run this test on a plain build")
        return pid, start

    def load(self, argv, prefix=()):
        proc = subprocess.Popen([*prefix, BUS_LOAD, "--address", self.H.address, *argv],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=clean_env())
        self.H.children.append(_Child(proc))
        return proc

    def answers(self, proc, what):
        """The driver's JSON line of answers."""
        line = proc.stdout.readline()
        if not line:
            proc.wait(10)
            self.fail(f"{what}: ep-bus-load exited {proc.returncode} without answers: "
                      f"{proc.stderr.read()}")
        doc = json.loads(line)
        self.assertEqual(doc["pending"], 0, f"{what}: calls without an answer: {doc}")
        return doc["calls"]

    def finish(self, proc, what):
        out, err = proc.communicate("\n", timeout=60)
        self.assertEqual(proc.returncode, 0, f"{what}: ep-bus-load failed: {err}")

    def wait_idle(self, pid, start):
        """RssAnon once quiet: read first when KeepConnections has passed
        (with half a second for the trim), then polled until within the
        slack or IDLE_WAIT_S passed; returns (value, seconds waited)."""
        t0 = time.monotonic()
        time.sleep(KEEP_S + 0.5)
        while True:
            self.assertIsNone(self.H.daemon_died(), "the daemon died:\n" + self.H.stderr_tail())
            now = rss_anon_kib(pid)
            waited = time.monotonic() - t0
            if now <= start + IDLE_SLACK_KIB or waited > IDLE_WAIT_S:
                return now, waited
            time.sleep(0.1)

    def check_footprint(self, what, pid, start, peak):
        idle, waited = self.wait_idle(pid, start)
        print(f"# {what}: RssAnon start {start} KiB, peak {peak} KiB ({peak - start:+d}), "
              f"idle {idle} KiB ({idle - start:+d}) {waited:.1f}s after the last caller",
              flush=True)
        self.assertLess(peak, PEAK_LIMIT_KIB, f"{what}: RssAnon peaked at {peak} KiB")
        self.assertLessEqual(idle - start, IDLE_SLACK_KIB,
                             f"{what}: RssAnon was {start} KiB at start and still {idle} KiB "
                             f"{waited:.1f}s after the last caller left (KeepConnections={KEEP_S})")


class _Child:
    """A driver the harness's tear-down kills should the test fail midway."""

    def __init__(self, proc):
        self.proc = proc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


class Flood(MemoryTestCase):

    def test_flood_of_members_and_strangers(self):
        H = self.H
        pid, start = self.fresh_daemon()
        t0 = time.monotonic()
        sampler = Sampler(pid)
        users = [(pw, True) for pw in self.members] + [(pw, False) for pw in self.strangers]
        procs = []
        for n, (pw, member) in enumerate(users):
            argv = ["flood", "--connections", str(CONNECTIONS_PER_USER),
                    "--good-every", str(GOOD_EVERY), "--abandon-every", str(ABANDON_EVERY),
                    "--prefix", f"FLOOD{n}-"]
            procs.append(self.load(argv, as_user(pw)))
        answered = [self.answers(p, f"uid {pw.pw_uid}") for p, (pw, _) in zip(procs, users)]
        # Every connection still open: the most the callers can hold.
        time.sleep(0.3)
        for p, (pw, _) in zip(procs, users):
            self.finish(p, f"uid {pw.pw_uid}")
        peak = sampler.stop()
        took = time.monotonic() - t0

        kept = CONNECTIONS_PER_USER - CONNECTIONS_PER_USER // ABANDON_EVERY
        good = sum(1 for i in range(CONNECTIONS_PER_USER)
                   if i % GOOD_EVERY == 0 and i % ABANDON_EVERY != ABANDON_EVERY - 1)
        for calls, (pw, member) in zip(answered, users):
            who = f"{'member' if member else 'stranger'} uid {pw.pw_uid}"
            for label in ("Introspect", "Get", "GetAll"):
                self.assertEqual(calls.get(label), {"ok": kept}, f"{label} of {who}")
            if member:
                expect = {"ProvisionBad": {INVALID: kept}, "ListDevices": {"ok": kept},
                          "ProvisionGood": {"ok": good}}
            else:
                expect = {"ProvisionBad": {ACCESS_DENIED: kept},
                          "ListDevices": {ACCESS_DENIED: kept},
                          "ProvisionGood": {ACCESS_DENIED: good}}
            for label, outcome in expect.items():
                self.assertEqual(calls.get(label), outcome, f"{label} of {who}")
        print(f"# flood: {len(users) * CONNECTIONS_PER_USER} connections, "
              f"{sampler.samples} samples, {took:.1f}s", flush=True)
        self.check_footprint("flood", pid, start, peak)
        res = H.get_property("ActiveRequests")
        self.assertEqual(res.reply, [0], "ActiveRequests after the flood")


class Burst(MemoryTestCase):

    def test_burst_of_provisionings(self):
        pid, start = self.fresh_daemon()
        t0 = time.monotonic()
        sampler = Sampler(pid)
        per = BURST_CALLS // BURST_DRIVERS
        procs = [self.load(["provision", "--calls", str(per), "--inflight", str(BURST_INFLIGHT),
                            "--pool", str(BURST_POOL), "--prefix", f"BURST{n}-"])
                 for n in range(BURST_DRIVERS)]
        answered = [self.answers(p, f"driver {n}") for n, p in enumerate(procs)]
        for n, p in enumerate(procs):
            self.finish(p, f"driver {n}")
        peak = sampler.stop()
        took = time.monotonic() - t0
        for calls in answered:
            self.assertEqual(calls, {"ProvisionGood": {"ok": per}})
        stored = [e for e in os.listdir(self.H.keystore) if not e.startswith(".")]
        self.assertEqual(len(stored), BURST_DRIVERS * BURST_POOL,
                         "keystore entries after the burst")
        print(f"# burst: {BURST_CALLS} provisionings, {BURST_DRIVERS * BURST_INFLIGHT} in "
              f"flight, {sampler.samples} samples, {took:.1f}s "
              f"({BURST_CALLS / took:.0f} calls/s)", flush=True)
        self.check_footprint("burst", pid, start, peak)


if __name__ == "__main__":
    main()
