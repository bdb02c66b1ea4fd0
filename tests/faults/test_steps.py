#!/usr/bin/env python3
"""Fault injection at every file-system step of the keystore (README "Keystore":
a keystore that never loses or mixes credentials).

For each scenario (reprovisioning MQTTS -> MQTT, first provisioning into an
empty slot, GenerateCredentials MQTTS -> MQTT, ForgetDevice), one run under strace records the system calls the
keystore worker makes. Every call that works on the keystore is a step. Then,
for each step, the scenario runs again with strace injecting into that very
invocation (-e inject=NAME:...:when=N, counted per thread, so the N-th NAME of
the worker thread):

  KILL    SIGKILL on entering the step (the step does not happen). The device
          directory must hold exactly the old or the new complete set (for
          "first": nothing or the new set; for "forget": the old set or
          nothing), no success reply may have been sent, and a restart must
          remove every '.'-temporary and keep the set, with the daemon's view
          (GetDevice) matching the disk.
  ENOSPC, EIO, EROFS (the last one on calls that change the tree)
          the step fails. If the call fails, it is KeystoreError naming the
          device, the previous state is intact and no temporary is left. If it
          succeeds, the new state is complete; a leftover temporary is allowed
          only for cleanup steps after the point of no return (the keystore
          directory fsync that makes the swap durable), and the next start
          removes it. Either way the daemon keeps serving: the next call works.

The steps come from the recording, so a step added to the code is covered
without touching this file; the covered steps are listed as TAP comments.
Set EP_FAULT_MODES=KILL,ENOSPC (for example) to run a subset while debugging.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import (KEYSTORE_ERROR, MQTTS_FILES, SECRET_MARKERS, Tap,  # noqa: E402
                      Tracer, call_key, check_new_set, describe, harness, normalize,
                      read_dir, temporaries, touches)

KIND = "ucm"
MODES = [m for m in os.environ.get("EP_FAULT_MODES", "KILL,ENOSPC,EIO,EROFS").split(",") if m]
# A read-only file system refuses what changes the tree, not reads or fsync.
EROFS_CALLS = {"mkdirat", "openat", "renameat", "renameat2", "unlinkat", "fchmod", "fchown"}


class Diverged(Exception):
    """The fault did not land on the recorded step, and the run left no
    problem of its own: it tested some other moment, not this step. strace
    counts a call per thread, and the keystore's pools hand a write to
    whichever thread is idle (GLib lends idle threads between pools), so
    now and then the write runs in a thread whose counts include other
    work; under load strace has also been seen to log a killed call twice.
    Only a run that still kept every promise (Runner.diverged) is made
    again; a crash or a reply that does not match the disk fails at once.
    The recording still requires one thread for all the keystore work."""


RETRIES = 3


class Step:
    def __init__(self, number, event, ordinal, key, text, cleanup, after=False):
        self.number, self.name, self.ordinal = number, event.name, ordinal
        self.key, self.text, self.cleanup, self.after = key, text, cleanup, after

    def label(self):
        where = "after the last step, at" if self.after else f"at step {self.number}:"
        return f"{where} {self.name}#{self.ordinal} {self.key}"


class Scenario:
    """What one scenario does and which states it may leave. States: 'old'
    (the previous set, byte for byte), 'new' (a complete MQTT set),
    'missing' (no entry for the device)."""

    def __init__(self, name, setup_forget, action, kill_states, error_state, success_state,
                 modes, reprovisioned=None):
        self.name = name
        self.reprovisioned = reprovisioned   # the reply's details["reprovisioned"]
        self.modes = [m for m in modes if m in MODES]
        self.setup_forget = setup_forget
        self.action = action              # 'provision', 'generate' or 'forget'
        self.kill_states = kill_states
        self.error_state = error_state
        self.success_state = success_state


# The main scenario, reprovisioning, gets every mode; first provisioning
# and ForgetDevice take the same code paths for every errno, so one errno
# keeps the run time (ASan build included) within a few minutes.
SCENARIOS = [
    Scenario("reprovision", False, "provision", {"old", "new"}, "old", "new",
             ["KILL", "ENOSPC", "EIO", "EROFS"], reprovisioned=True),
    Scenario("first", True, "provision", {"missing", "new"}, "missing", "new",
             ["KILL", "ENOSPC"], reprovisioned=False),
    # An update: the worker also reads the stored device.json to keep the
    # device's identity.
    Scenario("generate", False, "generate", {"old", "new"}, "old", "new",
             ["KILL", "ENOSPC"], reprovisioned=False),
    Scenario("forget", False, "forget", {"old", "missing"}, "old", "missing",
             ["KILL", "ENOSPC"]),
]


class Runner:
    def __init__(self, tap):
        self.tap = tap
        self.H = harness.Harness()
        self.runs = 0
        self.tracers = []

    def trace(self, *args, **kwargs):
        tracer = Tracer(*args, **kwargs)
        self.tracers.append(tracer)
        return tracer

    def detach_all(self):
        """After a check that raised: no strace stays attached to the daemon."""
        for tracer in self.tracers:
            tracer.stop()
        self.tracers = []

    # -- the daemon and the device

    @property
    def ks(self):
        return self.H.keystore

    def fresh_daemon(self):
        H = self.H
        if H.daemon is not None:
            rc = H.stop_daemon()
            if rc != 0:
                raise AssertionError(f"the daemon exited with {rc} on SIGTERM:\n"
                                     + H.stderr_tail())
        H.start_daemon()

    def setup_device(self, sc):
        """A device in the scenario's starting state; returns (args, device id,
        read_dir() of the old set or None). Each run ends with a daemon that
        passed the checks, so it is reused (a restart costs most of a run)."""
        if self.H.daemon is None or self.H.daemon_died() is not None:
            self.H.daemon = None
            self.H.start_daemon()
        args = harness.default_args(KIND, protocol="MQTTS")
        res = self.H.provision(KIND, args)
        if not res.ok:
            raise AssertionError(f"provisioning the starting set failed: {res.doc}")
        dev = res.reply[0]
        old = read_dir(os.path.join(self.ks, dev))
        if old is None or set(old) != MQTTS_FILES:
            raise AssertionError("the starting set is not a complete MQTTS set: "
                                 f"{old and sorted(old)}")
        if sc.setup_forget:
            res = self.H.call("ForgetDevice", "s", dev)
            if not res.ok:
                raise AssertionError(f"ForgetDevice failed: {res.doc}")
            old = None
        # The worker thread now waits for the next task: strace's per-thread
        # counts start when it attaches, whatever the daemon did before.
        return args, dev, old

    def act(self, sc, args, dev, timeout=20.0):
        if sc.action == "forget":
            return self.H.call("ForgetDevice", "s", dev, timeout=timeout)
        if sc.action == "generate":
            return self.H.call("GenerateCredentials", "ss", dev, "MQTT", timeout=timeout)
        return self.H.provision(KIND, dict(args, protocol="MQTT"), timeout=timeout)

    def state(self, dev, old):
        """('old' | 'new' | 'missing' | 'broken', problems)."""
        path = os.path.join(self.ks, dev)
        if not os.path.lexists(path):
            return "missing", []
        files = read_dir(path)
        if files is None:
            return "broken", [f"{dev} is not a directory"]
        if old is not None and files == old:
            mode = os.lstat(path).st_mode & 0o7777
            return ("old", []) if mode == 0o700 else ("broken", [f"old set dir mode {mode:04o}"])
        problems = check_new_set(files, dev, os.lstat(path).st_mode & 0o7777)
        if problems:
            return "broken", [f"{dev} holds neither the old set nor a complete new one "
                              f"(files {sorted(files)}): " + "; ".join(problems)]
        return "new", []

    def daemon_view(self, dev, state):
        """Problems if GetDevice disagrees with the disk."""
        res = self.H.call("GetDevice", "s", dev)
        if state == "missing":
            if res.ok:
                return [f"GetDevice reports {dev} although the keystore has no entry for it"]
            return []
        if not res.ok:
            return [f"GetDevice({dev}) failed although the keystore holds the {state} set: "
                    f"{res.doc}"]
        want = "MQTTS" if state == "old" else "MQTT"
        got = res.reply[0].get("protocol")
        if got != want:
            return [f"GetDevice says protocol {got} but the keystore holds the {state} set "
                    f"({want}): the daemon's index and the disk disagree"]
        return []

    def next_call_works(self, sc, args, dev, now, allowed_temps):
        """The next call, without injection, succeeds and leaves a clean state.
        It is the scenario's call again, or provisioning when the device is
        gone after a ForgetDevice."""
        problems = []
        if sc.action == "forget" and now == "missing":
            res, want = self.H.provision(KIND, dict(args, protocol="MQTT")), "new"
        else:
            res, want = self.act(sc, args, dev), sc.success_state
        if not res.ok:
            return [f"the next call after the fault failed: {res.doc}"]
        st, p = self.state(dev, None)
        if st != want:
            problems.append(f"after the next call the device is {st}, expected {want}: {p}")
        extra = sorted(set(temporaries(self.ks)) - set(allowed_temps))
        if extra:
            problems.append(f"the next call left temporaries {extra}")
        return problems

    def restart_clean(self, dev, old, expect_state):
        """Restarts (SIGTERM, then start) and checks the clean-up at start."""
        problems = []
        before = read_dir(os.path.join(self.ks, dev))
        self.fresh_daemon()
        left = temporaries(self.ks)
        if left:
            problems.append(f"temporaries remain after a restart: {left}")
        st, p = self.state(dev, old)
        if st != expect_state or read_dir(os.path.join(self.ks, dev)) != before:
            problems.append(f"the restart changed the device: {expect_state} before, {st} "
                            f"after {p}")
        problems += self.daemon_view(dev, st)
        return problems

    # -- recording

    def record(self, sc):
        """Runs the scenario once under strace; returns (steps, the worker's
        calls, device id)."""
        args, dev, old = self.setup_device(sc)
        log = os.path.join(self.H.tmp, f"record-{sc.name}.strace")
        tracer = self.trace(self.H.daemon.pid, log)
        try:
            res = self.act(sc, args, dev)
        finally:
            events = tracer.stop()
        if not res.ok:
            raise AssertionError(f"the recorded {sc.name} call failed: {res.doc}")
        st, p = self.state(dev, old)
        if st != sc.success_state:
            raise AssertionError(f"the recorded {sc.name} left the device {st}: {p}")
        workers = sorted({e.tid for e in events if touches(e, self.ks)})
        if len(workers) != 1:
            raise AssertionError(
                f"expected the keystore work in one traced thread, found {workers}: is it "
                f"still done in a worker thread (not the main one)?\n" + self.tail(events))
        tid = workers[0]
        calls = [e for e in events if e.tid == tid and e.name not in ("+++", "---")]
        counts, ordinals = {}, []
        for e in calls:
            counts[e.name] = counts.get(e.name, 0) + 1
            ordinals.append(counts[e.name])
        touching = [i for i, e in enumerate(calls) if touches(e, self.ks)]
        first, last = touching[0], touching[-1]
        # The point of no return: the keystore directory fsync after the
        # rename. Later steps only clean up the previous set.
        swap = [i for i in touching if calls[i].name.startswith("rename")
                and calls[i].ret.startswith("0")]
        durable = [i for i in touching if swap and i > swap[-1] and calls[i].name == "fsync"
                   and call_key(calls[i], self.ks, dev) == "fsync(<KS>)"]
        no_return = durable[0] if durable else None
        steps = []
        for i in range(first, last + 1):
            e = calls[i]
            if not touches(e, self.ks):
                continue
            steps.append(Step(len(steps) + 1, e, ordinals[i], call_key(e, self.ks, dev),
                              describe(e, self.ks, dev),
                              cleanup=no_return is not None and i > no_return))
        # Killing at the worker's next call shows the state the keystore work
        # leaves. futex calls depend on lock contention: not reproducible.
        later = [i for i in range(last + 1, len(calls)) if calls[i].name != "futex"]
        if later:
            e = calls[later[0]]
            steps.append(Step(len(steps) + 1, e, ordinals[later[0]],
                              call_key(e, self.ks, dev), describe(e, self.ks, dev),
                              cleanup=True, after=True))
        return steps, calls, dev

    def tail(self, events, n=40):
        return "\n".join(repr(e) for e in events[-n:])

    # -- one injected run

    def injected_event(self, events, step, dev):
        """The traced event that was the step's invocation, checked."""
        counts, hits = {}, []
        for e in events:
            if e.name in ("+++", "---"):
                continue
            k = (e.tid, e.name)
            counts[k] = counts.get(k, 0) + 1
            if e.name == step.name and counts[k] == step.ordinal:
                hits.append(e)
        workers = {e.tid for e in events if touches(e, self.ks)}
        mine = [e for e in hits if e.tid in workers]
        if len(mine) != 1:
            return None, [f"the worker thread made no {step.name}#{step.ordinal}: the run "
                          f"diverged from the recording\n" + self.tail(events)]
        e = mine[0]
        key = call_key(e, self.ks, dev)
        if key != step.key:
            return None, [f"{step.name}#{step.ordinal} was {key}, not {step.key} as recorded: "
                          f"the run diverged from the recording\n" + self.tail(events)]
        return e, []

    def diverged(self, sc, dev, old, top, problems, res):
        """After a run whose fault missed its step: the keystore must still
        hold a whole set (or none) and the other entries, and a reply
        (@res; None when the daemon was killed) must match it: a success
        the new set, a failure a KeystoreError with the previous state
        intact, no secret and no temporary. Then the daemon is restarted
        (start-up removes what the fault left) and Diverged raised."""
        st, p = self.state(dev, old)
        found = (p if st == "broken" else []) + self.others_changed(dev, top)
        if res is not None and st != "broken":
            msg = res.error_message or ""
            if res.ok and st != sc.success_state:
                found.append(f"the call succeeded but the device is {st}")
            if not res.ok:
                if st != sc.error_state:
                    found.append(f"the call failed ({msg}) but the device is {st}")
                if res.error_name != KEYSTORE_ERROR:
                    found.append(f"the call failed with {res.error_name}: {msg}")
                if any(x in msg for x in SECRET_MARKERS + self.H.secrets()):
                    found.append("the error message holds a secret")
                if temporaries(self.ks):
                    found.append(f"the failed call left temporaries {temporaries(self.ks)}")
        if found:
            raise AssertionError("; ".join(problems[:1] + found))
        if self.H.daemon is not None:
            self.fresh_daemon()
        raise Diverged(problems[0])

    def run_step(self, run, sc, step, *args):
        """@run (run_kill, run_error) until its fault lands on @step, at most
        RETRIES times."""
        for attempt in range(1, RETRIES + 1):
            try:
                return run(sc, step, *args)
            except Diverged as d:
                self.detach_all()
                self.tap.diag(f"attempt {attempt}: the fault missed the step, made again: "
                              + str(d).splitlines()[0])
                last = str(d)
        return [f"in {RETRIES} attempts the fault never landed on the step; the last: {last}"]

    def others(self, dev):
        """The complete entries of the keystore other than @dev."""
        return sorted(n for n in os.listdir(self.ks) if not n.startswith(".") and n != dev)

    def others_changed(self, dev, before):
        now = self.others(dev)
        return [f"other keystore entries changed: {before} -> {now}"] if now != before else []

    def start_run(self, sc, step, fault):
        """Sets up the scenario's device and traces the daemon with @fault
        injected at @step; returns (args, device id, old set, the other
        entries, the tracer)."""
        args, dev, old = self.setup_device(sc)
        log = os.path.join(self.H.tmp, f"run-{self.runs}.strace")
        self.runs += 1
        tracer = self.trace(self.H.daemon.pid, log,
                            inject=f"{step.name}:{fault}:when={step.ordinal}")
        return args, dev, old, self.others(dev), tracer

    def run_kill(self, sc, step):
        H = self.H
        args, dev, old, top, tracer = self.start_run(sc, step, "signal=KILL")
        res = self.act(sc, args, dev)
        problems = []
        try:
            rc = H.daemon.wait(15)
        except Exception:  # noqa: BLE001
            rc = None
        events = tracer.stop()
        if rc != -9:
            stopped = H.stop_daemon()
            problems.append(f"the daemon was not killed at the step (exit status {rc})")
        H.daemon = None
        e, p = self.injected_event(events, step, dev)
        if p:
            # Missed: killed at another call, or never (then it must have
            # kept serving and stopped cleanly). A daemon that died of
            # anything else failed, whatever the step.
            if rc is not None and rc != -9:
                raise AssertionError(f"the daemon died by itself (exit status {rc}):\n"
                                     + H.stderr_tail())
            if rc is None and stopped != 0:
                raise AssertionError(f"the daemon exited with {stopped} on SIGTERM")
            self.diverged(sc, dev, old, top, p, None if rc == -9 else res)
        if e is not None and e.ret != "?":
            problems.append(f"the step completed ({e.ret}) instead of being killed")
        if res.ok:
            problems.append("a success reply was sent although the daemon was killed before "
                            "the keystore work had finished")
        st, p = self.state(dev, old)
        if st not in sc.kill_states:
            problems.append(f"after SIGKILL the device is {st}, expected one of "
                            f"{sorted(sc.kill_states)}" + (f": {p}" if p else ""))
        problems += self.others_changed(dev, top)
        if st != "broken":
            problems += self.restart_clean(dev, old, st)
            problems += self.next_call_works(sc, args, dev, st, [])
        return problems

    def run_error(self, sc, step, errno):
        H = self.H
        args, dev, old, top, tracer = self.start_run(sc, step, f"error={errno}")
        try:
            res = self.act(sc, args, dev)
        finally:
            events = tracer.stop()
        problems = []
        e, p = self.injected_event(events, step, dev)
        if p:
            # Missed: the error hit another call, or none. The daemon must
            # live on, and its reply must still tell the truth.
            rc = H.daemon_died()
            if rc is not None:
                H.daemon = None
                raise AssertionError(f"the daemon died (exit status {rc}) in a run whose "
                                     f"{step.name} fault missed its step:\n" + H.stderr_tail())
            self.diverged(sc, dev, old, top, p, res)
        if e is not None and not e.injected:
            problems.append(f"{step.name}#{step.ordinal} was not injected: {e!r}")
        stray = [x for x in events if x.injected and x is not e]
        if stray:
            problems.append(f"injections outside the step: {stray}")
        rc = H.daemon_died()
        if rc is not None:
            H.daemon = None
            return problems + [f"the daemon died (exit status {rc}) after a failed {step.name}:"
                               f"\n{H.stderr_tail()}"]
        st, p = self.state(dev, old)
        temps = temporaries(self.ks)
        problems += self.others_changed(dev, top)
        if res.ok:
            if sc.reprovisioned is not None and \
                    res.reply[1].get("reprovisioned") is not sc.reprovisioned:
                problems.append(f"the reply says reprovisioned="
                                f"{res.reply[1].get('reprovisioned')}, but the keystore "
                                f"{'held' if sc.reprovisioned else 'did not hold'} the device")
            if st != sc.success_state:
                problems.append(f"the call succeeded but the device is {st}, expected "
                                f"{sc.success_state}" + (f": {p}" if p else ""))
            if temps and not step.cleanup:
                problems.append(f"the call succeeded and left temporaries {temps} although "
                                f"the failing step comes before the point of no return")
        else:
            if res.error_name != KEYSTORE_ERROR:
                problems.append(f"the call failed with {res.error_name}, expected "
                                f"{KEYSTORE_ERROR}: {res.error_message}")
            msg = res.error_message or ""
            if dev not in msg:
                problems.append(f"the error message does not name device {dev}: {msg!r}")
            if any(s in msg for s in SECRET_MARKERS + H.secrets()):
                problems.append("the error message holds a secret")
            if st != sc.error_state:
                problems.append(f"the call failed ({msg}) but the device is {st}, expected "
                                f"the previous state ({sc.error_state}) intact"
                                + (f": {p}" if p else ""))
            if temps:
                problems.append(f"the failed call left temporaries {temps}")
        if st == "broken":
            return problems
        problems += self.daemon_view(dev, st)
        problems += self.next_call_works(sc, args, dev, st, temps)
        st2, _ = self.state(dev, None)
        problems += self.restart_clean(dev, None, st2)
        return problems

    # -- checks of the recorded sequence

    def check_recording(self, sc, calls, steps, dev):
        """Static rules of the keystore's writes, read off the recorded calls."""
        problems = []
        ks_calls = [e for e in calls if touches(e, self.ks)]
        for e in ks_calls:
            args = e.args
            if "AT_FDCWD" in args:
                problems.append(f"a keystore call by absolute path, not through the keystore "
                                f"directory fd: {describe(e, self.ks, dev)}")
            if e.name in ("openat", "openat2"):
                flags = args.split(",")[2] if args.count(",") >= 2 else ""
                for flag in ("O_NOFOLLOW", "O_CLOEXEC"):
                    if flag not in flags:
                        problems.append(f"openat without {flag}: {describe(e, self.ks, dev)}")
                if "O_CREAT" in flags:
                    if "O_EXCL" not in flags:
                        problems.append(f"a file created without O_EXCL: "
                                        f"{describe(e, self.ks, dev)}")
                    mode = re.search(r",\s*(0[0-7]+)\s*$", args)
                    if not mode or int(mode.group(1), 8) & 0o077:
                        problems.append(f"a file created with a mode open to others: "
                                        f"{describe(e, self.ks, dev)}")
            if e.name == "mkdirat":
                mode = re.search(r",\s*(0[0-7]+)\s*$", args)
                if not mode or int(mode.group(1), 8) & 0o077:
                    problems.append(f"a directory created with a mode open to others: "
                                    f"{describe(e, self.ks, dev)}")
        if sc.action in ("provision", "generate"):
            problems += self.check_durability(calls, dev)
        return problems

    def check_durability(self, calls, dev):
        """Every new file written and fsynced, the new directory fsynced, before
        the rename; the keystore directory fsynced after it."""
        problems = []
        key = [call_key(e, self.ks, dev) for e in calls]
        renames = [i for i, e in enumerate(calls) if e.name.startswith("rename")
                   and touches(e, self.ks) and e.ret.startswith("0")]
        if len(renames) != 1:
            return [f"expected exactly one successful rename into place, saw {len(renames)}"]
        r = renames[0]
        rename = calls[r]
        if not (re.search(r'"\.new-[^"]*",.*"' + re.escape(dev) + '"', rename.args)
                and ("RENAME_EXCHANGE" in rename.args or "RENAME_NOREPLACE" in rename.args)):
            problems.append(f"the swap is not an exchange / no-replace rename of a '.new-' "
                            f"directory onto the device id: {describe(rename, self.ks, dev)}")
        created = [i for i, e in enumerate(calls[:r]) if e.name == "openat" and "O_CREAT" in e.args]
        if not created:
            problems.append("no file was created before the rename")
        for i in created:
            fd_path = calls[i].ret.split("<", 1)[-1].rstrip(">")
            fd_key = normalize("<" + fd_path + ">", self.ks, dev)
            wrote = [j for j in range(i, r) if calls[j].name == "write"
                     and key[j] == f"write({fd_key})"]
            synced = [j for j in range(i, r) if calls[j].name == "fsync"
                      and key[j] == f"fsync({fd_key})"]
            if not wrote or not synced or synced[-1] < wrote[-1]:
                problems.append(f"{fd_key} is not written and then fsynced before the rename")
        tmpdir = [j for j in range(r) if calls[j].name == "fsync"
                  and re.fullmatch(r"fsync\(<KS/\.new-\*-ID>\)", key[j])]
        if not tmpdir or (created and tmpdir[-1] < created[-1]):
            problems.append("the new directory is not fsynced after its files, before the "
                            "rename")
        after = [j for j in range(r + 1, len(calls)) if key[j] == "fsync(<KS>)"]
        if not after:
            problems.append("the keystore directory is not fsynced after the rename")
        else:
            removals = [j for j in range(r + 1, after[0]) if calls[j].name == "unlinkat"]
            if removals:
                problems.append("the previous set is removed before the rename is durable")
        return problems

    def check_reply_order(self, sc):
        """With every thread traced: no message naming the device leaves on the
        bus before the keystore directory fsync that makes the new set durable."""
        args, dev, old = self.setup_device(sc)
        log = os.path.join(self.H.tmp, f"order-{sc.name}.strace")
        tracer = self.trace(self.H.daemon.pid, log, all_threads=True, strsize=4096,
                        only="sendmsg,sendto,writev,fsync,renameat2,renameat")
        try:
            res = self.act(sc, args, dev)
        finally:
            events = tracer.stop()
        if not res.ok:
            return [f"the call failed: {res.doc}"]
        syncs = [e for e in events if e.name == "fsync" and touches(e, self.ks)
                 and call_key(e, self.ks, dev) == "fsync(<KS>)" and e.ret.startswith("0")]
        replies = [e for e in events if e.name in ("sendmsg", "sendto", "writev")
                   and dev in e.args and "keystore_path" in e.args]
        if not syncs:
            return ["no fsync of the keystore directory was seen"]
        if not replies:
            return ["the reply naming the device was not seen on the bus socket"]
        early = [e for e in replies if e.start < syncs[-1].end]
        if early:
            return [f"{len(early)} message(s) naming the device left before the keystore "
                    f"directory fsync returned"]
        return []


def main():
    tap = Tap()
    runner = Runner(tap)
    t_start = time.monotonic()
    try:
        runner.H.start()
    except Exception as exc:  # noqa: BLE001
        tap.result("harness start", [str(exc)])
        runner.H.close(check=False)
        sys.exit(tap.finish())
    total = 0
    try:
        for sc in SCENARIOS:
            recorded = {}

            def rec(sc=sc):
                recorded["v"] = runner.record(sc)
                return []
            problems, _ = tap.run(f"{sc.name}: record the keystore steps", rec)
            runner.detach_all()
            if problems:
                continue
            steps, calls, dev = recorded["v"]
            tap.diag(f"{sc.name}: {len(steps)} steps covered "
                     f"(* = cleanup after the point of no return):")
            for s in steps:
                tap.diag(f"  {s.number:2d}{'*' if s.cleanup else ' '} {s.name}#{s.ordinal} "
                         f"{s.text}" + ("  [after the last step]" if s.after else ""))
            tap.run(f"{sc.name}: keystore calls go through directory fds, O_NOFOLLOW|"
                    f"O_CLOEXEC, O_EXCL, private modes, durable order",
                    runner.check_recording, sc, calls, steps, dev)
            if sc.action == "provision" and sc.name == "reprovision":
                tap.run(f"{sc.name}: the reply leaves only after the new set is durable",
                        runner.check_reply_order, sc)
                runner.detach_all()
            for step in steps:
                for mode in sc.modes:
                    if step.after and mode != "KILL":
                        continue
                    if mode == "EROFS" and step.name not in EROFS_CALLS:
                        continue
                    name = f"{sc.name}: {mode} {step.label()}"
                    if mode == "KILL":
                        tap.run(name, runner.run_step, runner.run_kill, sc, step)
                    else:
                        tap.run(name, runner.run_step, runner.run_error, sc, step, mode)
                    runner.detach_all()
                    total += 1
    finally:
        runner.detach_all()
        if runner.H.daemon is not None and runner.H.daemon_died() is None:
            rc = runner.H.stop_daemon()
            if rc not in (0, None):
                tap.result("the daemon exits 0 on SIGTERM at the end", [f"exit status {rc}"])
        runner.H.daemon = None
        runner.H.close(check=False)
    tap.diag(f"{total} injected runs in {time.monotonic() - t_start:.1f} s")
    sys.exit(tap.finish())


if __name__ == "__main__":
    main()
