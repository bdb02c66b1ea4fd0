#!/usr/bin/env python3
"""Who may call (enapter-provisiond(8) "ACCESS"): the repository's bus policy lets everyone
introspect and read properties but only root (and the operators' group) call
the methods; and the daemon checks the caller itself, so a loose bus policy
opens nothing.

Some tests create system users and groups (groupadd/useradd; CI runs as
root) and remove them again, also when a test fails."""

import fcntl
import json
import os
import pwd
import re
import signal
import subprocess
import sys
import threading
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402  (harness._LIVE, for the emergency clean-up)
from harness import (ACCESS_DENIED, BUS_CLIENT, BUS_NAME, IFACE, KINDS, OBJECT_PATH,
                     HarnessTestCase, clean_env, default_args, main, parse_result, wait_until)

NOBODY = 65534
INVALID_ARGUMENT = "com.enapter.Provisioning1.Error.InvalidArgument"
BUS_LOAD = os.environ.get("EP_BUS_LOAD") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "build", "tests", "ep-bus-load")
# The group the repository's bus policy lets call the methods (and the
# harness's default [Access] Group).
POLICY_GROUP = "enapter-provisioning"

LOOSE_POLICY = f"""  <policy context="mandatory">
    <allow send_destination="{BUS_NAME}"/>
  </policy>"""


def denied_log(member, uid):
    """The daemon's info line for a call it refused from @uid."""
    return re.compile(rf"{member} \(uid {uid}, pid [1-9]\d*, unit [^)]*\): "
                      + re.escape(ACCESS_DENIED) + ": ")


def group_exists(name):
    return subprocess.run(["getent", "group", name], capture_output=True).returncode == 0


def run_checked(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed (exit {proc.returncode}): "
                             f"{proc.stderr.strip()}")


class Accounts:
    """Temporary system groups and users; each removal is registered with
    @add_cleanup before anything else can fail. While any exist, the object
    is also listed in harness._LIVE: the harness's SIGTERM handler (a meson
    timeout) calls kill_all() there and then exits without running cleanups."""

    # Groups with fixed names (the policy's) are shared by every test program
    # that runs at the same time: one that made such a group would delete it
    # under another. Their users hold this lock from the group's creation to
    # its removal, so they take turns.
    SHARED_LOCK = "/run/lock/ep-it-shared-groups.lock"

    def __init__(self, add_cleanup):
        self.add_cleanup = add_cleanup
        self.pending = []            # removal commands not run yet, oldest first
        self.lock = None

    def _undo_later(self, argv):
        if not self.pending:
            harness._LIVE.append(self)
        self.pending.append(argv)
        self.add_cleanup(self._undo, argv)

    def _undo(self, argv):
        if argv in self.pending:
            self.pending.remove(argv)
            subprocess.run(argv, capture_output=True, timeout=60)
        if not self.pending and self in harness._LIVE:
            harness._LIVE.remove(self)

    def kill_all(self):
        for argv in reversed(list(self.pending)):
            self._undo(argv)

    def _hold_shared_lock(self):
        if self.lock is not None:
            return
        os.makedirs(os.path.dirname(self.SHARED_LOCK), exist_ok=True)
        self.lock = open(self.SHARED_LOCK, "w")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        # Registered first, so it is released after every removal.
        self.add_cleanup(self._release_shared_lock)

    def _release_shared_lock(self):
        if self.lock is not None:
            self.lock.close()
            self.lock = None

    def group(self, name, shared=False):
        """Creates group @name unless it exists; returns whether it created it.
        A @shared group (a fixed name other test programs use too) is made
        and removed under the shared lock."""
        if shared:
            self._hold_shared_lock()
        if group_exists(name):
            return False
        run_checked(["groupadd", "--system", name])
        self._undo_later(["groupdel", name])
        return True

    def user(self, primary, supplementary=()):
        """A fresh system user (no home, no login) with primary group
        @primary; returns its passwd entry."""
        name = "ep-it-" + uuid.uuid4().hex[:10]
        argv = ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                "--shell", "/usr/sbin/nologin", "--no-user-group", "--gid", primary]
        if supplementary:
            argv += ["--groups", ",".join(supplementary)]
        # Registered first: userdel of a user useradd did not make fails harmlessly.
        self._undo_later(["userdel", name])
        run_checked(argv + [name])
        return pwd.getpwnam(name)


def as_user(pw, init_groups=True):
    """setpriv argv running as @pw with its groups from the group database
    (@init_groups) or with no supplementary groups at all."""
    return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
            "--init-groups" if init_groups else "--clear-groups"]


class AccountsTestCase(HarnessTestCase):
    """A harness whose bus and daemon start after the class's accounts exist:
    dbus-daemon resolves group names when it loads the policy and the daemon
    resolves [Access] Group when it reads its configuration."""

    @classmethod
    def make_accounts(cls, accounts):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.make_accounts(Accounts(cls.addClassCleanup))
        super().setUpClass()

    def provision_as(self, pw, kind, args, init_groups=True):
        k = KINDS[kind]
        argv = self.H._argv(k.method, k.sig, [args[a] for a in k.args], 30, False)
        proc = subprocess.run(as_user(pw, init_groups) + [BUS_CLIENT] + argv,
                              capture_output=True, text=True, timeout=40, env=clean_env())
        self.H.transcript += [proc.stdout, proc.stderr]
        return parse_result(proc.returncode, proc.stdout, proc.stderr, argv)

    def introspect_as(self, pw):
        argv = ["--address", self.H.address, "introspect", BUS_NAME, OBJECT_PATH]
        proc = subprocess.run(as_user(pw) + [BUS_CLIENT] + argv, capture_output=True,
                              text=True, timeout=30, env=clean_env())
        self.assertEqual(proc.returncode, 0, f"introspection as uid {pw.pw_uid}: {proc.stderr}")
        return proc.stdout

    def assertStored(self, pw, kind, device_id):
        """The daemon logged the stored device with the caller's uid."""
        line = re.compile(rf"{KINDS[kind].method} \(uid {pw.pw_uid}, pid [1-9]\d*, "
                          rf"unit [^)]*\): {kind} device {re.escape(device_id)} stored")
        self.assertRegex(self.H.daemon_stderr(), line)


class BusPolicy(HarnessTestCase):

    def test_unprivileged_caller_may_read_but_not_call(self):
        H = self.H
        for kind in ("ucm", "standalone", "gateway"):
            with self.subTest(kind=kind):
                res = H.provision(kind, default_args(kind), uid_=NOBODY)
                self.assertError(res, ACCESS_DENIED)
        self.assertNoRequests("for an unprivileged caller")
        version = H.get_property("Version", uid_=NOBODY)
        self.assertTrue(version.ok, version.doc)
        self.assertEqual(version.reply, H.get_property("Version").reply)
        self.assertTrue(H.get_property("ActiveRequests", uid_=NOBODY).ok)
        self.assertIn(IFACE, H.introspect(uid_=NOBODY))

    def test_root_may_call(self):
        args = default_args("ucm")
        self.check_provisioned("ucm", args, self.H.provision("ucm", args))

    def test_one_credentials_query_per_connection(self):
        """Calls that arrive together on a new connection wait for one
        answer of the bus driver (GetConnectionCredentials), and each gets
        its own verdict. The daemon is stopped while they are sent, so all
        of them wait in its socket when it reads the first."""
        H = self.H
        connections = 3
        sent = 6 * connections      # ep-bus-load flood: 6 calls per connection
        query = re.compile(r"^method call .*member=GetConnectionCredentials$", re.M)
        to_daemon = re.compile(rf"^method call .*destination={re.escape(BUS_NAME)} ", re.M)
        seen = ""
        # stdbuf: dbus-monitor buffers its output in a pipe.
        monitor = subprocess.Popen(
            ["stdbuf", "-oL", "dbus-monitor", "--address", H.address, "--monitor",
             "type='method_call',interface='org.freedesktop.DBus',"
             "member='GetConnectionCredentials'",
             f"type='method_call',destination='{BUS_NAME}'"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
        backstop = threading.Timer(60, monitor.kill)
        backstop.start()
        load = None
        H.daemon.send_signal(signal.SIGSTOP)
        try:
            # A monitor loses its own name once it is one: from then on it sees all.
            for line in monitor.stdout:
                if "member=NameLost" in line:
                    break
            else:
                self.fail(f"dbus-monitor did not start: {monitor.stderr.read()}")
            load = subprocess.Popen(
                [BUS_LOAD, "--address", H.address, "flood", "--connections", str(connections),
                 "--good-every", "1", "--prefix", "ONEQ-"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, env=clean_env())
            for line in monitor.stdout:
                seen += line
                if len(to_daemon.findall(seen)) >= sent:
                    break
            H.daemon.send_signal(signal.SIGCONT)
            out, err = load.communicate("\n", timeout=120)
            self.assertEqual(load.returncode, 0, err)
            answers = json.loads(out.splitlines()[0])
            self.assertEqual(answers["pending"], 0, answers)
            # Three checked calls per connection, each with its own verdict.
            self.assertEqual(answers["calls"]["ProvisionBad"], {INVALID_ARGUMENT: connections})
            self.assertEqual(answers["calls"]["ListDevices"], {"ok": connections})
            self.assertEqual(answers["calls"]["ProvisionGood"], {"ok": connections})
        finally:
            H.daemon.send_signal(signal.SIGCONT)
            backstop.cancel()
            if load is not None and load.poll() is None:
                load.kill()
                load.wait()
            monitor.terminate()
            rest, _ = monitor.communicate(timeout=10)
        # One query per connection, however many calls it sent.
        self.assertEqual(len(query.findall(seen + rest)), connections, seen + rest)

    def test_caller_gone_before_its_query(self):
        """A connection that leaves before the daemon asks for its
        credentials: each of its waiting calls is refused (logged, as
        there is no one to answer), and the daemon goes on serving."""
        H = self.H
        H.daemon.send_signal(signal.SIGSTOP)
        try:
            load = subprocess.run(
                [BUS_LOAD, "--address", H.address, "flood", "--connections", "2",
                 "--good-every", "1", "--abandon-every", "1", "--prefix", "GONE-"],
                input="\n", capture_output=True, text=True, timeout=120, env=clean_env())
        finally:
            H.daemon.send_signal(signal.SIGCONT)
        self.assertEqual(load.returncode, 0, load.stderr)
        unverified = "the caller's credentials could not be verified"
        wait_until(lambda: H.daemon_stderr().count(unverified) >= 6, 30, 0.05,
                   "the six checked calls of the two connections to be refused")
        args = default_args("ucm")
        self.check_provisioned("ucm", args, H.provision("ucm", args))


class PolicyGroupMember(AccountsTestCase):
    """The straight case: the repository's bus policy, [Access]
    Group = enapter-provisioning (the harness default), a real member of that
    group and a user outside it."""

    @classmethod
    def make_accounts(cls, accounts):
        cls.own_group = "ep-it-callers-" + uuid.uuid4().hex[:8]
        accounts.group(cls.own_group)
        accounts.group(POLICY_GROUP, shared=True)  # left alone if it exists already
        cls.member = accounts.user(cls.own_group, [POLICY_GROUP])
        cls.outsider = accounts.user(cls.own_group)

    def test_member_may_provision(self):
        H = self.H
        self.assertEqual(H.config_sections(H.daemon_overrides)["Access"]["Group"],
                         POLICY_GROUP)
        listener = H.listen()
        args = default_args("ucm")
        res = self.provision_as(self.member, "ucm", args)
        device_id, _, _, _ = self.check_provisioned("ucm", args, res, listener)
        self.assertStored(self.member, "ucm", device_id)
        args = default_args("lua_device")
        self.check_provisioned("lua_device", args,
                               self.provision_as(self.member, "lua_device", args), listener,
                               requests=2)

    def test_member_without_supplementary_groups_is_refused(self):
        """The same user with its supplementary groups dropped: the group
        membership of the calling process is what opens the door."""
        res = self.provision_as(self.member, "ucm", default_args("ucm"), init_groups=False)
        self.assertError(res, ACCESS_DENIED)
        self.assertNoRequests("for a caller without the group")

    def test_outsider_is_refused_by_the_bus(self):
        H = self.H
        listener = H.listen()
        for kind in ("ucm", "gateway"):
            with self.subTest(kind=kind):
                res = self.provision_as(self.outsider, kind, default_args(kind))
                msg = self.assertError(res, ACCESS_DENIED)
                self.assertIn("Rejected send message", msg or "",
                              "the repository's policy should stop the call at the bus")
        self.assertNoRequests("for a caller outside the group")
        self.assertFalse(listener.signals("DeviceProvisioned"))
        self.assertNotIn(f"(uid {self.outsider.pw_uid},", H.daemon_stderr(),
                         "a call the bus refused reached the daemon")

    def test_anyone_may_introspect(self):
        for pw in (self.member, self.outsider):
            with self.subTest(uid=pw.pw_uid):
                xml = self.introspect_as(pw)
                self.assertIn(f'<interface name="{IFACE}">', xml)
                self.assertIn('name="ProvisionUcm"', xml)


class LooseBusPolicy(HarnessTestCase):
    """A bus configuration that lets anyone send anything to the service."""
    BUS_EXTRA = LOOSE_POLICY

    def test_daemon_refuses_unprivileged_caller(self):
        H = self.H
        listener = H.listen()
        for kind in ("ucm", "lua_device"):
            with self.subTest(kind=kind):
                res = H.provision(kind, default_args(kind), uid_=NOBODY)
                msg = self.assertError(res, ACCESS_DENIED)
                # dbus-daemon's own refusals read "Rejected send message ..."
                self.assertNotIn("Rejected send message", msg or "",
                                 "the bus refused the call: the policy is not loose")
                self.assertRegex(H.daemon_stderr(), denied_log(KINDS[kind].method, NOBODY),
                                 "the daemon's log names the refused caller's uid")
        self.assertNoRequests("for an unprivileged caller")
        self.assertFalse(listener.signals("DeviceProvisioned"))
        # root still may
        args = default_args("ucm")
        self.check_provisioned("ucm", args, self.H.provision("ucm", args))


class LooseBusPolicyOwnGroup(AccountsTestCase):
    """A loose bus policy and [Access] Group set to a group of the test's own:
    the daemon alone decides, by the caller's groups."""
    BUS_EXTRA = LOOSE_POLICY
    GROUP = "ep-it-callers-" + uuid.uuid4().hex[:8]
    OTHER = "ep-it-others-" + uuid.uuid4().hex[:8]
    CONFIG = {"Access": {"Group": GROUP}}

    @classmethod
    def make_accounts(cls, accounts):
        accounts.group(cls.GROUP)
        accounts.group(cls.OTHER)
        cls.member = accounts.user(cls.OTHER, [cls.GROUP])
        cls.outsider = accounts.user(cls.OTHER)

    def test_member_may_provision(self):
        listener = self.H.listen()
        args = default_args("standalone")
        res = self.provision_as(self.member, "standalone", args)
        device_id, _, _, _ = self.check_provisioned("standalone", args, res, listener)
        self.assertStored(self.member, "standalone", device_id)

    def test_outsider_is_refused_by_the_daemon(self):
        H = self.H
        listener = H.listen()
        res = self.provision_as(self.outsider, "ucm", default_args("ucm"))
        msg = self.assertError(res, ACCESS_DENIED)
        self.assertNotIn("Rejected send message", msg or "", "the policy is not loose")
        self.assertIn(self.GROUP, msg or "", "the error names the group that may call")
        self.assertRegex(H.daemon_stderr(), denied_log("ProvisionUcm", self.outsider.pw_uid))
        self.assertNoRequests("for a caller outside the group")
        self.assertFalse(listener.signals("DeviceProvisioned"))


if __name__ == "__main__":
    main()
