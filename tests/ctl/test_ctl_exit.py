#!/usr/bin/env python3
"""enapter-provisionctl's exit statuses against the real daemon on the
integration harness's private bus: 0 success, 1 the daemon answered an
error, 2 usage, 3 the daemon cannot be reached (not running, no bus, no
answer within --timeout, an ssh link that fails); with --json each error
is also a JSON object {"error", "message"} on stdout. And -H/--host, through
a stand-in ssh on PATH that bridges to the harness's bus with
systemd-stdio-bridge, as the real ssh does on the remote machine.

EP_CTL names the client; see ctl_util.py."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from ctl_util import (clean_env, CTL, CtlTestCase, default_args, ERROR_PREFIX, INVALID_ARGS,
                      kind_argv, KINDS, main, wait_until)

NO_SERVER = "org.freedesktop.DBus.Error.NoServer"
SERVICE_UNKNOWN = "org.freedesktop.DBus.Error.ServiceUnknown"
TIMEOUT = "org.freedesktop.DBus.Error.Timeout"
NO_REPLY = "org.freedesktop.DBus.Error.NoReply"
TIMEOUTS = (TIMEOUT, NO_REPLY)

# ssh as sd-bus runs it (ssh -xT -- [USER@]HOST systemd-stdio-bridge): it
# records its arguments and bridges to $FAKE_SSH_BUS, or fails as an ssh
# that cannot resolve the host does, or says nothing for $FAKE_SSH_SLEEP
# seconds (a host that does not answer, a login that waits for a password).
FAKE_SSH = """#!/bin/sh
printf '%s\\n' "$@" > "$FAKE_SSH_ARGS"
if [ -n "$FAKE_SSH_SLEEP" ]; then
    exec sleep "$FAKE_SSH_SLEEP"
fi
if [ -z "$FAKE_SSH_BUS" ]; then
    echo "ssh: Could not resolve hostname $3: Name or service not known" >&2
    exit 255
fi
exec systemd-stdio-bridge --bus-path="$FAKE_SSH_BUS"
"""


class ExitStatus(CtlTestCase):
    """Each exit status, as text and as JSON."""

    def test_0_success(self):
        for argv in (["list"], ["--json", "list"], ["status"], []):
            with self.subTest(argv=argv):
                rc, _, err = self.ctl(*argv)
                self.assertEqual((rc, err), (0, ""))

    def test_1_daemon_error(self):
        err = self.failure("show", "no-such-device", status=1)
        self.assertIn("no-such-device", err)
        for mode in ("--json", "--json=short", "--json=pretty"):
            with self.subTest(mode=mode):
                doc = self.json_failure("show", "no-such-device", status=1, json_mode=mode)
                self.assertEqual(doc["error"], ERROR_PREFIX + "NotFound")
                self.assertIn("no-such-device", doc["message"])
        # The daemon's refusal of a value: InvalidArgument, named in JSON
        # without --verbose.
        argv = kind_argv("ucm", default_args("ucm", site_id="bad/site"))
        doc = self.json_failure(*argv, status=1)
        self.assertEqual(doc["error"], ERROR_PREFIX + "InvalidArgument")
        self.assertIn("site_id", doc["message"])
        # --json=off: text only.
        self.failure("--json=off", "show", "no-such-device", status=1)

    def test_2_usage(self):
        for argv in (["--json=bogus", "list"], ["list", "--json=bogus"], ["--bogus"],
                     ["frobnicate"]):
            with self.subTest(argv=argv):
                self.failure(*argv, status=2)
        doc = self.json_failure("list", "--kind", "toaster", status=2)
        self.assertEqual(doc["error"], INVALID_ARGS)
        self.assertNoRequests("after usage errors")

    def test_3_not_running(self):
        self.H.stop_daemon()
        for argv in (["list"], ["status"], [], ["show", "x"], ["check"],
                     kind_argv("ucm", default_args("ucm"))):
            with self.subTest(argv=argv):
                err = self.failure(*argv, status=3)
                self.assertIn("enapter-provisiond is not running", err)
                self.assertIn("systemctl status enapter-provisiond", err)
                doc = self.json_failure(*argv, status=3)
                self.assertEqual(doc["error"], SERVICE_UNKNOWN)
                self.assertIn("systemctl start enapter-provisiond", doc["message"])

    def test_3_no_bus(self):
        address = "unix:path=/nonexistent/bus"
        err = self.failure("--address", address, "list", status=3, address=False)
        self.assertIn(f"cannot connect to {address}", err)
        self.assertIn("--address", err)
        rc, out, err = self.ctl("--json", "--address", address, "status", address=False)
        self.assertEqual(rc, 3, err)
        doc = json.loads(out)
        self.assertEqual(doc["error"], NO_SERVER)
        self.assertIn(f"cannot connect to {address}", doc["message"])
        # The system bus of the environment (none there), as every sd-bus
        # program finds it.
        env = clean_env(DBUS_SYSTEM_BUS_ADDRESS=address)
        err = self.failure("list", status=3, address=False, env=env)
        self.assertIn("cannot connect to the system bus", err)
        self.assertIn("systemctl status dbus", err)

    def test_3_timeout(self):
        """No answer within --timeout: 3, while the call completes in the
        daemon."""
        args = default_args("ucm")
        target = self.H.target_of("ucm")
        target.faults({"path": KINDS["ucm"].endpoint, "delay": 3})
        t0 = time.monotonic()
        rc, out, err = self.ctl("--json", "--timeout", "1", *kind_argv("ucm", args))
        took = time.monotonic() - t0
        self.assertEqual(rc, 3, err)
        self.assertLess(took, 2.5, "the client waited past --timeout")
        doc = json.loads(out)
        self.assertIn(doc["error"], TIMEOUTS)
        self.assertIn("no answer from enapter-provisiond within 1 s", doc["message"])
        self.assertIn("list", doc["message"])
        wait_until(lambda: any(d.get("hardware_id") == args["hardware_id"]
                               for d in self.ok_json("list")), 15,
                   what="the device of the timed-out call")


@contextlib.contextmanager
def silent_bus():
    """The address of a socket that takes connections and never speaks (a
    hung bus, or something else listening there)."""
    with tempfile.TemporaryDirectory(prefix="ep-ctl-silent-") as tmp:
        path = os.path.join(tmp, "bus")
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(path)
            s.listen(16)
            yield f"unix:path={path}"


class Connecting(CtlTestCase):
    """--timeout bounds connecting too, not only the call."""

    def test_3_silent_bus(self):
        with silent_bus() as address:
            for argv in (["list"], ["status"], ["monitor"]):
                with self.subTest(argv=argv):
                    t0 = time.monotonic()
                    rc, out, err = self.ctl("--json", "--address", address, "--timeout", "1",
                                            *argv, address=False, timeout=15)
                    took = time.monotonic() - t0
                    self.assertEqual(rc, 3, err)
                    self.assertLess(took, 2.5, "connecting was not bounded by --timeout")
                    doc = json.loads(out)
                    self.assertEqual(doc["error"], TIMEOUT)
                    self.assertIn(f"cannot connect to {address}: no answer within 1 s",
                                  doc["message"])
                    self.assertIn("--address", doc["message"])
                    self.assertIn(doc["message"], err)

    def test_monitor_interrupted_while_connecting(self):
        """Ctrl+C ends monitor also before it has connected."""
        with silent_bus() as address:
            proc = subprocess.Popen([CTL, "--address", address, "monitor"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    env=clean_env())
            try:
                time.sleep(0.5)
                self.assertIsNone(proc.poll(), "monitor did not wait for the bus")
                proc.send_signal(signal.SIGINT)
                rc = proc.wait(5)
            except subprocess.TimeoutExpired:
                self.fail("monitor ignored SIGINT while connecting")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stderr.close()
        self.assertEqual(rc, -signal.SIGINT)


class DaemonGone(CtlTestCase):
    """The daemon dies while a call waits for it: not a timeout, and the
    journal says why."""

    def test_3_daemon_stops_during_call(self):
        H = self.H
        daemon = H.daemon
        os.kill(daemon.pid, signal.SIGSTOP)
        try:
            argv = [CTL, "--address", H.address, "--json", "--timeout", "30", "list"]
            t0 = time.monotonic()
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=clean_env())
            # The call reaches the bus and waits for the stopped daemon.
            time.sleep(1)
            self.assertIsNone(proc.poll(), "the call did not wait for the stopped daemon")
        finally:
            daemon.kill()
            daemon.wait(10)
            H.daemon = None
        out, err = proc.communicate(timeout=20)
        took = time.monotonic() - t0
        self.H.transcript += [out, err]
        self.assertEqual(proc.returncode, 3, err)
        self.assertLess(took, 10, "the client waited for --timeout")
        doc = json.loads(out)
        self.assertEqual(doc["error"], NO_REPLY)
        self.assertIn("enapter-provisiond stopped during the ListDevices call", doc["message"])
        self.assertIn("journalctl -u enapter-provisiond", doc["message"])
        self.assertNotIn("within 30 s", doc["message"])
        self.assertIn(doc["message"], err)
        H.start_daemon()
        self.assertEqual(self.ok_json("list"), [])


class BusGone(CtlTestCase):
    """monitor when the bus goes away: 3, and with --json a last JSON
    object naming Disconnected. (Its own harness: the bus does not come
    back.)"""

    def test_monitor_bus_gone(self):
        text, short = self.monitor(), self.monitor("--json")
        self.H.stop_daemon()
        # Nothing else of the harness may need the bus after this.
        self.H.bus_proc.terminate()
        self.H.bus_proc.wait(10)
        for m in (text, short):
            self.assertEqual(m.proc.wait(10), 3, m.err)
            for t in m.threads:
                t.join(5)
            # The hint for the bus it was given, as every command's.
            err = "\n".join(m.err)
            self.assertIn(f"the connection to {self.H.address} was closed", err)
            self.assertIn("check the address given to --address", err)
            self.assertNotIn("systemctl status dbus", err)
        self.assertEqual(text.out, [])
        doc = json.loads(short.out[-1])
        self.assertEqual(doc["error"], "org.freedesktop.DBus.Error.Disconnected")
        self.assertIn("check the address given to --address", doc["message"])


class Host(CtlTestCase):
    """-H/--host: the system bus of another machine, over ssh."""

    def setUp(self):
        super().setUp()
        if shutil.which("systemd-stdio-bridge") is None:
            self.skipTest("no systemd-stdio-bridge")
        self.tmp = tempfile.mkdtemp(prefix="ep-ctl-ssh-")
        path = os.path.join(self.tmp, "ssh")
        with open(path, "w") as f:
            f.write(FAKE_SSH)
        os.chmod(path, 0o755)
        self.args_file = os.path.join(self.tmp, "args")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        super().tearDown()

    def env(self, bus):
        return clean_env(PATH=self.tmp + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
                         FAKE_SSH_BUS=bus or "", FAKE_SSH_ARGS=self.args_file)

    def ssh_args(self):
        with open(self.args_file) as f:
            return f.read().split()

    def test_host(self):
        device = self.provision("standalone", default_args("standalone"))
        env = self.env(self.H.address)
        for argv in (["-H", "admin@gateway.local", "list"],
                     ["list", "--host=admin@gateway.local"],
                     ["--host", "admin@gateway.local", "list"]):
            with self.subTest(argv=argv):
                rc, out, err = self.ctl("--json", *argv, address=False, env=env)
                self.assertEqual((rc, err), (0, ""))
                self.assertIn(device["device_id"], [d["device_id"] for d in json.loads(out)])
                # The host reaches ssh after "--": never read as an option.
                args = self.ssh_args()
                self.assertIn("admin@gateway.local", args)
                self.assertLess(args.index("--"), args.index("admin@gateway.local"))
                self.assertEqual(args[-1], "systemd-stdio-bridge")

    def test_host_unreachable(self):
        """ssh fails (here: the host does not resolve): 3, naming the host
        and what to try."""
        env = self.env(None)
        # monitor as every other command: the ssh hint, not the local bus's.
        for command in ("list", "monitor"):
            with self.subTest(command=command):
                rc, out, err = self.ctl("-H", "nowhere.invalid", command, address=False,
                                        env=env, timeout=20)
                self.assertEqual((rc, out), (3, ""), err)
                self.assertIn("nowhere.invalid", err)
                self.assertIn("ssh nowhere.invalid systemd-stdio-bridge", err)
                self.assertNotIn("systemctl status dbus", err)
        for command in ("status", "monitor"):
            with self.subTest(command=command):
                rc, out, err = self.ctl("--json", "-H", "nowhere.invalid", command,
                                        address=False, env=env, timeout=20)
                self.assertEqual(rc, 3, err)
                doc = json.loads(out)
                self.assertEqual(doc["error"], NO_SERVER)
                self.assertIn("nowhere.invalid", doc["message"])
                self.assertIn("ssh nowhere.invalid systemd-stdio-bridge", doc["message"])

    def test_host_silent(self):
        """An ssh that never logs in (a host that does not answer, a password
        prompt): --timeout bounds it, 3, naming the host."""
        env = clean_env(PATH=self.tmp + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
                        FAKE_SSH_SLEEP="8", FAKE_SSH_ARGS=self.args_file)
        t0 = time.monotonic()
        rc, out, err = self.ctl("--json", "-H", "slowhost", "--timeout", "1", "list",
                                address=False, env=env, timeout=20)
        self.assertLess(time.monotonic() - t0, 3, "connecting over ssh was not bounded")
        self.assertEqual(rc, 3, err)
        doc = json.loads(out)
        self.assertEqual(doc["error"], TIMEOUT)
        self.assertIn("the system bus of slowhost over ssh: no answer within 1 s",
                      doc["message"])
        self.assertIn("ssh slowhost systemd-stdio-bridge", doc["message"])

    def test_host_excludes_other_buses(self):
        for argv in (["-H", "gw", "--system", "list"], ["-H", "gw", "--session", "list"],
                     ["list", "-H", "gw", "--address", "unix:path=/x"]):
            with self.subTest(argv=argv):
                err = self.failure(*argv, status=2, address=False, env=self.env(None))
                self.assertIn("exclude each other", err)
        self.assertFalse(os.path.exists(self.args_file), "ssh ran for a usage error")


if __name__ == "__main__":
    main()
