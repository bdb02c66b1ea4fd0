#!/usr/bin/env python3
"""The daemon as a process: configuration errors, SIGTERM/SIGINT with and
without calls in flight, the shipped introspection XML against the live one,
responsiveness while a request is slow, start-up clean-up of temporaries, and
that no secret ever leaves it (README and enapter-provisiond(8))."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (BUS_NAME, CANARY, DAEMON, DAEMON_WRAPPER, IFACE, KINDS, SHIPPED_XML,
                     VERSION, HarnessTestCase, clean_env, default_args, main, mint_set,
                     run_client, stop_process, wait_until)

UCM = KINDS["ucm"].endpoint
PROBLEM = r"(?i)unknown|invalid|not (a |an )?(known|valid|recogni|allowed|expected)|unsupported"


SESSION_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def interface_model(xml_text, name=IFACE):
    """Methods, signals and properties of interface @name: names, argument
    names, types and directions (comments and annotations ignored)."""
    root = ET.fromstring(xml_text)
    found = [i for i in root.findall("interface") if i.get("name") == name]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} <interface name='{name}'> elements")
    iface = found[0]
    return {
        "methods": {m.get("name"): [(a.get("name"), a.get("type"), a.get("direction", "in"))
                                    for a in m.findall("arg")]
                    for m in iface.findall("method")},
        "signals": {s.get("name"): [(a.get("name"), a.get("type"), a.get("direction", "out"))
                                    for a in s.findall("arg")]
                    for s in iface.findall("signal")},
        "properties": {p.get("name"): (p.get("type"), p.get("access"))
                       for p in iface.findall("property")},
    }


class Process(HarnessTestCase):

    def test_version(self):
        res = self.H.get_property("Version", typed=True)
        self.assertTrue(res.ok, res.doc)
        (version,) = res.reply
        self.assertEqual(list(version), ["s"])
        if VERSION:
            self.assertEqual(version["s"], VERSION)
        rc, out, err = self.H.run_daemon_once(["--version"])
        self.assertEqual(rc, 0, err)
        self.assertIn(version["s"], out)

    def test_help(self):
        rc, out, err = self.H.run_daemon_once(["--help"])
        self.assertEqual(rc, 0, err)
        self.assertIn("--config", out)

    def test_introspection_matches_shipped_xml(self):
        live = interface_model(self.H.introspect())
        with open(SHIPPED_XML) as f:
            shipped = interface_model(f.read())
        self.assertEqual(live, shipped)
        # and the service's API is in it
        for kind in KINDS.values():
            self.assertIn(kind.method, live["methods"])
            args = live["methods"][kind.method]
            self.assertEqual([a[0] for a in args if a[2] == "in"], list(kind.args))
            self.assertEqual("".join(a[1] for a in args if a[2] == "in"), kind.sig)
            self.assertEqual([(a[0], a[1]) for a in args if a[2] == "out"],
                             [("device_id", "s"), ("details", "a{sv}")])
        self.assertEqual(live["signals"]["DeviceProvisioned"],
                         [("kind", "s", "out"), ("device_id", "s", "out"),
                          ("details", "a{sv}", "out")])
        self.assertEqual(live["signals"]["ProvisioningFailed"],
                         [("kind", "s", "out"), ("error_name", "s", "out"),
                          ("message", "s", "out"), ("request", "a{sv}", "out")])
        self.assertEqual(live["properties"]["Version"], ("s", "read"))
        self.assertEqual(live["properties"]["ActiveRequests"], ("u", "read"))

    def test_responsive_while_a_request_is_slow(self):
        H = self.H
        H.gateway.faults({"path": UCM, "delay": 3})
        slow = H.provision_async("ucm", default_args("ucm"))
        H.wait_request(H.gateway, UCM)
        probes = {
            "Version": lambda: self.assertTrue(H.get_property("Version").ok),
            "ActiveRequests": lambda: self.assertEqual(H.get_property("ActiveRequests").reply,
                                                       [1]),
            "Introspect": lambda: self.assertIn(IFACE, H.introspect()),
            "InvalidArgument": lambda: self.assertError(
                H.provision("ucm", default_args("ucm", protocol="x")), "InvalidArgument"),
        }
        for what, probe in probes.items():
            with self.subTest(what):
                t = time.monotonic()
                probe()
                self.assertLess(time.monotonic() - t, 1.0, f"{what} waited for the slow call")
        self.assertFalse(slow.done(), "the slow call was not in flight during the probes")
        self.assertOk(slow.result())

    def start_slow_call(self, listener=None, delay=1.5):
        """A ucm call held in flight by the stand-in; returns (args, call)."""
        H = self.H
        args = default_args("ucm")
        H.gateway.faults({"path": UCM, "delay": delay})
        call = H.provision_async("ucm", args)
        H.wait_request(H.gateway, UCM)
        return args, call

    def test_sigterm_with_a_call_in_flight(self):
        """The call in flight completes (reply, keystore, signal), then the
        daemon exits 0."""
        H = self.H
        listener = H.listen()
        args, call = self.start_slow_call()
        proc, H.daemon = H.daemon, None       # this test stops it
        try:
            proc.send_signal(signal.SIGTERM)
            res = call.result(timeout=30)
            self.check_provisioned("ucm", args, res, listener)
            rc = proc.wait(15)
            self.assertEqual(rc, 0, H.stderr_tail())
        finally:
            stop_process(proc, signal.SIGKILL)

    def test_second_sigterm_during_a_burst(self):
        """A second SIGTERM ends the daemon at once, calls in flight or not:
        it waits only for the keystore's threads, which read those calls'
        answers and arguments, before it frees them (exit status 0; under
        AddressSanitizer a use after free there ends it with 1). The API's
        answers are held, then most come back together, and the signals fall
        while the keystore's threads read them; the last few are held long
        after, so calls are surely still in flight at the second signal."""
        H = self.H
        n, late = 48, 8
        # The calls abandoned at such an exit are never freed: no leak check,
        # neither ASan's nor valgrind's (whose invalid reads still count).
        asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "detect_leaks=0"]))
        leak_options = ("--errors-for-leak-kinds", "--leak-check", "--show-leak-kinds")
        wrapper = [w for w in DAEMON_WRAPPER if not w.startswith(leak_options)]
        if wrapper and "valgrind" in os.path.basename(wrapper[0]):
            wrapper.append("--leak-check=no")
        H.restart_daemon({"Provisioning": {"MaxConcurrent": str(n)}},
                         extra_env={"ASAN_OPTIONS": asan}, wrapper=wrapper)
        H.gateway.faults({"path": UCM, "delay": 1, "count": n - late},
                         {"path": UCM, "delay": 20, "count": late})
        calls = [H.provision_async("ucm", default_args("ucm")) for _ in range(n)]
        H.wait_request(H.gateway, UCM)
        first = time.monotonic()
        H.wait_request(H.gateway, UCM, count=n, timeout=30)
        spread = time.monotonic() - first
        time.sleep(max(0.0, first + 1 + spread / 3 - time.monotonic()))
        proc, H.daemon = H.daemon, None
        try:
            proc.send_signal(signal.SIGTERM)
            # Two signals before the main loop takes the first in would be
            # taken in as one: the second waits until the first is logged.
            wait_until(lambda: "stopping:" in H.daemon_stderr(), 10, 0.005,
                       "the daemon to take the first SIGTERM in")
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(15), 0, H.stderr_tail())
            # The whole log, not its tail: a wrapper may report after it.
            self.assertIn("second stop signal", H.daemon_stderr())
        finally:
            stop_process(proc, signal.SIGKILL)
            for call in calls:
                call.result(timeout=30)

    def test_new_calls_during_shutdown_get_unavailable(self):
        H = self.H
        args, call = self.start_slow_call()
        proc, H.daemon = H.daemon, None
        try:
            proc.send_signal(signal.SIGTERM)
            # Nothing on the bus tells that the daemon has taken the signal
            # in; it does so in its main loop's next iteration, well within this.
            time.sleep(0.3)
            self.assertIsNone(proc.poll(), "the daemon exited with a call in flight")
            late = H.provision("standalone", default_args("standalone"), timeout=10)
            self.assertError(late, "Unavailable", "a new call during shutdown")
            self.assertOk(call.result(timeout=30))
            self.assertEqual(H.all_requests()[0]["path"], UCM)
            self.assertEqual(len(H.all_requests()), 1, "the late call sent a request")
            self.assertEqual(proc.wait(15), 0)
        finally:
            stop_process(proc, signal.SIGKILL)

    def test_sigterm_and_sigint_when_idle(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig.name):
                if self.H.daemon is None:
                    self.H.start_daemon()
                t = time.monotonic()
                rc = self.H.stop_daemon(sig)
                self.assertEqual(rc, 0, self.H.stderr_tail())
                self.assertLess(time.monotonic() - t, 5)

    def test_ready_notification_after_name_owned(self):
        """Under systemd (NOTIFY_SOCKET) READY=1 comes once the name is owned."""
        H = self.H
        self.assertEqual(H.stop_daemon(), 0)
        path = os.path.join(H.tmp, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(path)
            sock.settimeout(20)
            H.start_daemon(wait=False, extra_env={"NOTIFY_SOCKET": path})
            messages = b""
            while b"READY=1" not in messages.split(b"\n"):
                messages += sock.recv(4096) + b"\n"
            owner = H.bus_call("GetConnectionUnixProcessID", "s", BUS_NAME)
            self.assertTrue(owner.ok, f"READY=1 before the name was owned: {owner.doc}")
            self.assertEqual(owner.reply[0], H.daemon.pid)
        finally:
            sock.close()

    def test_session_bus(self):
        """--session serves on the session bus (DBUS_SESSION_BUS_ADDRESS)."""
        H = self.H
        conf = H.write_file("session-bus.conf", SESSION_BUS_CONFIG.format(
            socket=os.path.join(H.tmp, "session-bus")))
        bus = subprocess.Popen(["dbus-daemon", "--config-file=" + conf, "--nofork",
                                "--print-address=1"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
        daemon = None
        try:
            address = bus.stdout.readline().decode().strip()
            self.assertTrue(address, "the session dbus-daemon did not start")
            daemon = subprocess.Popen(
                [DAEMON, "--config", H.daemon_conf, "--session"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                env=clean_env(DBUS_SESSION_BUS_ADDRESS=address,
                              DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent/bus"))

            def version():
                self.assertIsNone(daemon.poll(), "the daemon exited on the session bus")
                rc, out, err = run_client(["--address", address, "get-property", BUS_NAME,
                                           "/com/enapter/Provisioning1", IFACE, "Version"], 20)
                return rc == 0 and json.loads(out).get("reply")
            self.assertEqual(wait_until(version, 20, 0.05, "the name on the session bus"),
                             H.get_property("Version").reply)
            daemon.send_signal(signal.SIGTERM)
            self.assertEqual(daemon.wait(15), 0)
        finally:
            stop_process(daemon, signal.SIGKILL)
            stop_process(bus)
            bus.stdout.close()
            if daemon is not None:
                daemon.stderr.close()

    def test_tokens_from_credentials_directory(self):
        """TokenFile unset: $CREDENTIALS_DIRECTORY/cloud-token and
        gateway-token."""
        H = self.H
        creds = os.path.join(H.tmp, "credentials")
        os.makedirs(creds, exist_ok=True)
        for name, token in (("cloud-token", H.cloud_token), ("gateway-token", H.gateway_token)):
            # As systemd hands credentials over: mode 0400 (others may not read a token).
            fd = os.open(os.path.join(creds, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o400)
            with os.fdopen(fd, "w") as f:
                f.write(token + "\n")
        H.restart_daemon({"Cloud": {"TokenFile": None}, "Gateway": {"TokenFile": None}},
                         extra_env={"CREDENTIALS_DIRECTORY": creds})
        for kind in ("ucm", "gateway"):
            with self.subTest(kind=kind):
                H.reset_standins()
                args = default_args(kind)
                self.check_provisioned(kind, args, H.provision(kind, args))

    def test_stale_temporaries_removed_at_start(self):
        H = self.H
        args = default_args("ucm")
        device_id = self.assertOk(H.provision("ucm", args))[0]
        self.assertEqual(H.stop_daemon(), 0)
        # Named as the daemon names its temporaries: only those are its own
        # to remove (test_trust_keystore: other names are left alone).
        stale_dir = os.path.join(H.keystore, f".new-0badc0de-{device_id}")
        os.makedirs(os.path.join(stale_dir, "sub"))
        with open(os.path.join(stale_dir, "private_key.pem"), "w") as f:
            f.write("half")
        with open(os.path.join(H.keystore, f".old-12345678-{device_id}"), "w") as f:
            f.write("half")
        H.start_daemon()
        self.assertKeystoreClean()
        self.check_keystore("ucm", args, device_id)

    def test_no_secret_leaves_the_daemon(self):
        """Neither the stand-in's private keys and passwords nor the tokens
        appear in any reply, error, signal or in the daemon's debug log."""
        H = self.H
        listener = H.listen()
        calls = [("ucm", {"protocol": "MQTTS"}), ("ucm", {"protocol": "MQTT"}),
                 ("embedded", {"protocol": "MQTT"}), ("embedded", {"protocol": "MQTTS"}),
                 ("gateway", {}), ("vucm", {}), ("link_master", {}), ("standalone", {}),
                 ("lua_device", {})]
        ids = []
        for kind, extra in calls:
            args = default_args(kind, **extra)
            ids.append(self.assertOk(H.provision(kind, args))[0])
            if kind == "ucm":   # and a second set for the same device
                self.assertTrue(self.assertOk(H.provision(kind, args))[1]["reprovisioned"])
        # refused responses that carry secrets
        args = default_args("ucm", protocol="MQTTS")
        body = {"config": {"mqtt_host": "h", "mqtt_port": 1, "mqtt_credentials": {
            "protocol": "MQTT", "username": "u", "password": f"{CANARY}-PASSWORD-31337"},
            "time_sync_protocol": "HTTP", "time_sync_host": "h", "time_sync_port": 1,
            "hardware_id": args["hardware_id"], "channel_id": "ucm"},
            "device_id": "leak-1", "slug": "leak"}
        H.gateway.faults({"path": UCM, "status": 200, "body": json.dumps(body)})
        self.assertError(H.provision("ucm", args), "ProtocolError")
        body["config"]["mqtt_credentials"] = {"protocol": "MQTTS", **mint_set()}
        body["device_id"] = "../leak"
        H.gateway.faults({"path": UCM, "status": 200, "body": json.dumps(body)})
        self.assertError(H.provision("ucm", args), "ProtocolError")
        # an API error and a refused call
        H.gateway.faults({"path": UCM, "status": 401})
        self.assertError(H.provision("ucm", default_args("ucm")), "AuthenticationFailed")
        self.assertError(H.provision("ucm", default_args("ucm", name="")), "InvalidArgument")
        for device_id in ids:
            listener.wait_for(lambda s: s["member"] == "DeviceProvisioned"
                              and s["args"][1] == device_id)
        listener.wait_for(lambda s: s["member"] == "ProvisioningFailed"
                          and s["args"][1].endswith("AuthenticationFailed"))
        listener.close()

        # the secrets were really in play...
        tree = H.keystore_tree()
        stored = b"".join(c for _, kind, c in tree.values() if kind == "f")
        self.assertIn(b"PRIVATE KEY-----", stored)
        self.assertIn(f"{CANARY}-PASSWORD-".encode(), stored)
        tokens = {r["headers"].get("x-enapter-auth-token") for r in H.all_requests()}
        self.assertLessEqual({H.cloud_token, H.gateway_token}, tokens)
        log = H.all_daemon_stderr()
        self.assertTrue(log.strip(), "the daemon logged nothing at --log-level=debug")
        # ...and went nowhere else
        self.assertNoSecrets("".join(H.transcript), "a reply, an error or a signal")
        self.assertNoSecrets(log, "the daemon's stderr")
        for path, (_, kind, content) in tree.items():
            if path.endswith("device.json"):
                self.assertNoSecrets(content.decode(), path)

    def test_no_file_written_outside_the_keystore(self):
        """Every file system change the daemon makes while provisioning and
        forgetting is inside the keystore (strace on all its threads)."""
        H = self.H
        pid = H.daemon.pid
        trace = os.path.join(H.tmp, "files.strace")
        attach = [a for tid in os.listdir(f"/proc/{pid}/task") for a in ("-p", tid)]
        tracer = subprocess.Popen(
            ["strace", "-f", "-qq", "-y", "-o", trace, "-e",
             "trace=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,"
             "symlink,symlinkat,unlink,unlinkat,truncate,chmod,fchmodat,chown,fchownat"]
            + attach, stderr=subprocess.DEVNULL)
        wait_until(lambda: os.path.exists(trace) and os.path.getsize(trace) >= 0, 5,
                   what="strace to attach")
        time.sleep(0.5)
        ids = []
        for kind, extra in (("ucm", {"protocol": "MQTTS"}), ("embedded", {"protocol": "MQTT"}),
                            ("gateway", {}), ("standalone", {}), ("lua_device", {})):
            ids.append(self.assertOk(H.provision(kind, default_args(kind, **extra)))[0])
        res = H.call("ForgetDevice", "s", ids[-1])
        self.assertTrue(res.ok, f"ForgetDevice failed: {res.doc}")
        tracer.terminate()
        tracer.wait(10)

        keystore = os.path.realpath(H.keystore)
        writes = []
        with open(trace) as f:
            for line in f:
                m = re.search(r"(\w+)\((.*)\)\s+=", line)
                if not m:
                    continue
                call, args = m.groups()
                if call in ("open", "openat") and not re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC",
                                                                args):
                    continue
                # each path argument, relative ones joined to their dirfd (-y)
                dirfd = None
                for tok in re.finditer(r'(\d+)<([^>]*)>|AT_FDCWD|"((?:[^"\\]|\\.)*)"', args):
                    if tok.group(2) is not None:
                        dirfd = tok.group(2)
                    elif tok.group(0) == "AT_FDCWD":
                        dirfd = os.getcwd()
                    else:
                        path = tok.group(3)
                        full = path if path.startswith("/") else os.path.join(dirfd or "", path)
                        writes.append((call, os.path.normpath(full)))
        self.assertTrue(any(p.startswith(keystore + "/") for _, p in writes),
                        "the trace saw no keystore write at all")
        outside = [(c, p) for c, p in writes
                   if p != keystore and not p.startswith(keystore + "/")]
        self.assertEqual(outside, [], "the daemon wrote outside the keystore")


class ConfigErrors(HarnessTestCase):
    """A bad configuration stops the daemon at start with exit status 1 and a
    message naming the file, the key and the problem."""

    def valid_config(self, **changes):
        return self.H.config_text(changes)

    def expect_refused(self, text, names, problem=PROBLEM, path=None, secret=None):
        if path is None:
            path = self.H.write_file(f"bad-{os.urandom(4).hex()}.conf", text)
        rc, out, err = self.H.run_daemon_once(["--config", path])
        self.assertEqual(rc, 1, f"exit status for {text!r}: {err}")
        self.assertIn(path, err, "the message does not name the file")
        for name in names:
            self.assertIn(name, err, f"the message does not name {name}")
        if problem:
            self.assertRegex(err, problem, "the message does not say what is wrong")
        if secret:
            self.assertNotIn(secret, err + out)
        return err

    def test_unknown_section(self):
        text = self.valid_config() + "\n[Clowd]\nURL=http://127.0.0.1:1\n"
        self.expect_refused(text, ["Clowd"])

    def test_unknown_key(self):
        text = self.valid_config(Provisioning={"MaxConcurent": "3"})
        self.expect_refused(text, ["MaxConcurent"])
        text = self.valid_config(Cloud={"Token": "x"})
        self.expect_refused(text, ["Token"])

    def test_bad_values(self):
        cases = [
            ("Provisioning", "MaxConcurrent", "lots", r"lots|number|integer"),
            ("Provisioning", "MaxConcurrent", "0", r"0|least|positive|range|from"),
            ("Provisioning", "MaxConcurrent", "-4", r"-4|number|positive|range"),
            ("Provisioning", "Timeout", "-1", r"-1|number|positive|seconds|range"),
            ("Provisioning", "Timeout", "ten", r"ten|number|seconds"),
            ("Provisioning", "Deadline", "nan", r"nan|number|seconds|finite"),
            ("Provisioning", "Retries", "-1", r"-1|number|range"),
            ("Provisioning", "Retries", "two", r"two|number|integer"),
            ("Provisioning", "DefaultTarget", "somewhere", r"somewhere|gateway|cloud|auto"),
            ("Cloud", "URL", "ftp://example.com", r"ftp|http"),
            ("Cloud", "URL", "not a url", r"not a url|URL|absolute"),
            ("Gateway", "URL", "http://", r"http://|URL|host"),
            ("Keystore", "Path", "relative/keystore", r"relative/keystore|absolute"),
            ("Keystore", "Group", "no-such-group-xyz", r"no-such-group-xyz"),
        ]
        for section, key, value, problem in cases:
            with self.subTest(f"[{section}] {key}={value}"):
                text = self.valid_config(**{section: {key: value}})
                self.expect_refused(text, [key], problem)

    def test_unparsable_file(self):
        self.expect_refused(self.valid_config() + "\nthis line has no equals sign\n", [],
                            problem=None)
        self.expect_refused("[Cloud\nURL=http://x\n", [], problem=None)

    def test_unreadable_file(self):
        missing = os.path.join(self.H.tmp, "no-such-dir", "provisiond.conf")
        self.expect_refused("", [], r"(?i)no such file|not found|does not exist|cannot|can't",
                            path=missing)
        directory = os.path.join(self.H.tmp, "a-directory.conf")
        os.makedirs(directory, exist_ok=True)
        self.expect_refused("", [], None, path=directory)

    def test_token_file_problems(self):
        missing = os.path.join(self.H.tmp, "no-such-token")
        text = self.valid_config(Cloud={"TokenFile": missing})
        self.expect_refused(text, ["TokenFile"],
                            r"(?i)no such file|not found|does not exist|cannot|can't")
        # a token that would inject a header line is a bad value; the message
        # must not echo it
        bad_token = f"{CANARY}-TOKEN-bad-{os.urandom(8).hex()}"
        token_file = self.H.write_file("bad-token", bad_token + "\r\nX-Injected: 1\n", 0o600)
        text = self.valid_config(Gateway={"TokenFile": token_file})
        self.expect_refused(text, ["TokenFile"], problem=None, secret=bad_token)

    def test_no_name_taken_on_error(self):
        """The running daemon keeps the name; a refused one never owned it."""
        text = self.valid_config(Provisioning={"Timeout": "soon"})
        self.expect_refused(text, ["Timeout"], r"soon|number|seconds")
        self.assertTrue(self.H.get_property("Version").ok)


if __name__ == "__main__":
    main()
