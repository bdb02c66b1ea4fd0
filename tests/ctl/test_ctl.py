#!/usr/bin/env python3
"""enapter-provisionctl against the real daemon on a private system-type bus
with the API stand-ins (the integration harness): every command, the text
and --json output (parsed and checked against the daemon, the stand-ins and
the keystore), the exit statuses 0/1/2, --verbose, --help, monitor, and the
bash completion.

EP_CTL names the client (tests/ctl/meson.build sets it); the rest of the
environment is the integration harness's."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402
from harness import (ERROR_PREFIX, HarnessTestCase, KINDS, Result, clean_env,  # noqa: E402
                     default_args, uid, wait_until)

CTL = os.environ.get("EP_CTL") or os.path.join(harness.SOURCE_ROOT, "build", "client",
                                               "enapter-provisionctl")
COMPLETION = os.path.join(harness.SOURCE_ROOT, "completion", "enapter-provisionctl")

# The command line of each kind, written here independently of the client:
# {API argument: option}. The stand-in's record of the request body proves
# the client maps each option to the right argument.
COMMANDS = {"ucm": "ucm", "vucm": "vucm", "embedded": "embedded",
            "link_master": "link-master", "link_slave": "link-slave",
            "standalone": "standalone", "lua_device": "lua-device", "gateway": "gateway"}
OPTIONS = {"site_id": "--site-id", "hardware_id": "--hardware-id", "name": "--name",
           "protocol": "--protocol", "device_type": "--type",
           "master_device_id": "--master-device-id", "runtime_id": "--runtime-id",
           "blueprint_id": "--blueprint-id", "slug": "--slug", "gateway_version": "--version",
           "site_name": "--site-name", "site_timezone": "--timezone",
           "latitude": "--latitude", "longitude": "--longitude"}
GLOBAL_OPTIONS = ("--system", "--session", "--address", "--json", "--timeout", "--verbose")
KEYSTORE_COMMANDS = ("list", "show", "forget", "monitor")


def spell(arg, value):
    """How a person types an API value: protocols and device types in lower
    case (the client maps them back), numbers as Python writes them."""
    if arg == "protocol":
        return value.lower()
    if arg == "device_type":
        return value.lower().replace("_", "-")
    return repr(value) if isinstance(value, float) else str(value)


def kind_argv(kind, args, skip=()):
    """The command line for @args; the arguments in @skip left out."""
    argv = [COMMANDS[kind]]
    for arg in KINDS[kind].args:
        if arg not in skip:
            argv += [OPTIONS[arg], spell(arg, args[arg])]
    return argv


def text_of(value):
    """The client's text for a JSON value (its documented human output)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def parse_fields(testcase, text):
    """'key: value' lines into a dict; every line must be one."""
    fields = {}
    for line in text.splitlines():
        m = re.fullmatch(r"([a-z_]+):( +)(.*)", line)
        testcase.assertIsNotNone(m, f"not a 'key: value' line: {line!r}")
        testcase.assertNotIn(m.group(1), fields, f"{m.group(1)} printed twice")
        fields[m.group(1)] = m.group(3)
    return fields


def width(text):
    """Terminal columns of @text."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


class Monitor:
    """enapter-provisionctl monitor in the background, its lines collected as
    they are printed."""

    def __init__(self, address, *options):
        argv = [CTL, "--address", address, "--verbose", *options, "monitor"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=clean_env())
        self.out, self.err = [], []
        self.threads = [threading.Thread(target=self._read, args=(f, lines), daemon=True)
                        for f, lines in ((self.proc.stdout, self.out),
                                         (self.proc.stderr, self.err))]
        for t in self.threads:
            t.start()
        # --verbose: it says so once its subscription is in place.
        wait_until(lambda: any("monitoring" in line for line in self.err)
                   or self.proc.poll() is not None, 10, what="monitor to get ready")
        if self.proc.poll() is not None:
            raise AssertionError(f"monitor exited with {self.proc.returncode}: {self.err}")

    @staticmethod
    def _read(f, lines):
        for line in f:
            lines.append(line.rstrip("\n"))

    def wait_lines(self, n, timeout=15):
        """The first @n lines of standard output, while it still runs."""
        wait_until(lambda: len(self.out) >= n, timeout, what=f"{n} monitor line(s); "
                   f"got {self.out}")
        self.assertRunning()
        return self.out[:n]

    def assertRunning(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"monitor exited with {self.proc.returncode}: {self.err}")

    def stop(self, sig=signal.SIGINT):
        """Signals it; returns its exit status."""
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"monitor did not exit on {sig.name}")
        for t in self.threads:
            t.join(5)
        return rc

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()


class CtlTestCase(HarnessTestCase):
    """Runs the client against the harness's bus."""

    def setUp(self):
        super().setUp()
        self.monitors = []

    def tearDown(self):
        for m in self.monitors:
            m.close()
        super().tearDown()

    def ctl(self, *argv, address=True, timeout=60, env=None, preexec_fn=None):
        """Runs the client; returns (exit status, stdout, stderr)."""
        full = [CTL] + (["--address", self.H.address] if address else []) + list(argv)
        proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout,
                              env=env or clean_env(), preexec_fn=preexec_fn)
        self.H.transcript += [proc.stdout, proc.stderr]
        self.assertNoSecrets(proc.stdout + proc.stderr, f"the output of {argv}")
        return proc.returncode, proc.stdout, proc.stderr

    def ok(self, *argv, **kwargs):
        """Runs the client, expecting success and a quiet stderr; returns stdout."""
        rc, out, err = self.ctl(*argv, **kwargs)
        self.assertEqual((rc, err), (0, ""), f"enapter-provisionctl {argv}: {out}")
        return out

    def ok_json(self, *argv, **kwargs):
        """Runs the client with --json: exactly one JSON document on one line."""
        out = self.ok("--json", *argv, **kwargs)
        self.assertTrue(out.endswith("\n") and out.count("\n") == 1,
                        f"not one line of JSON: {out!r}")
        return json.loads(out)

    def failure(self, *argv, status=1):
        """Runs the client, expecting @status, an empty stdout and one message
        on stderr; returns stderr."""
        rc, out, err = self.ctl(*argv)
        self.assertEqual(rc, status, f"enapter-provisionctl {argv}: {out} {err}")
        self.assertEqual(out, "", f"enapter-provisionctl {argv} printed on stdout")
        self.assertTrue(err.startswith("enapter-provisionctl: "), err)
        return err

    def monitor(self, *options):
        m = Monitor(self.H.address, *options)
        self.monitors.append(m)
        return m

    def provision(self, kind, args, *options):
        """Provisions through the client with --json; returns its document."""
        return self.ok_json(*options, *kind_argv(kind, args))

    def show(self, device_id):
        return self.ok_json("show", device_id)


class Provisioning(CtlTestCase):
    """Each kind through the client, end to end."""

    def check_kind(self, kind, listener, args, requests=1):
        doc = self.provision(kind, args)
        self.assertIsInstance(doc, dict)
        self.assertIsInstance(doc.get("device_id"), str)
        # The reply as the daemon sent it: the stand-in's request (each
        # option went to its argument), the details, the keystore and the
        # DeviceProvisioned signal, all checked by the harness.
        res = Result({"reply": [doc["device_id"], doc]})
        device_id, details, dj, _ = self.check_provisioned(kind, args, res, listener,
                                                           requests=requests)
        self.assertEqual(details.get("name"), dj.get("name"))
        self.assertEqual(details.get("provisioned_at"), dj.get("provisioned_at"))
        return device_id, doc

    def test_every_kind_json(self):
        listener = self.H.listen()
        for kind in ("ucm", "vucm", "embedded", "standalone", "lua_device", "gateway"):
            with self.subTest(kind=kind):
                self.H.reset_standins()
                self.check_kind(kind, listener, default_args(kind))
        with self.subTest(kind="link_master and link_slave"):
            self.H.reset_standins()
            master_id, _ = self.check_kind("link_master", listener,
                                           default_args("link_master"))
            self.check_kind("link_slave", listener,
                            default_args("link_slave", master_device_id=master_id),
                            requests=2)

    def test_option_spellings(self):
        """--protocol and --type in any case, '_' for '-'; negative degrees in
        both option forms."""
        listener = self.H.listen()
        cases = [("embedded", {"device_type": "WATER_TANK", "protocol": "MQTT"},
                  ["--type", "Water_Tank", "--protocol", "MqTt"]),
                 ("embedded", {"device_type": "DRYER", "protocol": "MQTTS"},
                  ["--type=DRYER", "--protocol=MQTTS"]),
                 ("gateway", {"latitude": -33.8688, "longitude": -151.5},
                  ["--latitude=-33.8688", "--longitude", "-151.5"])]
        for kind, values, spelled in cases:
            with self.subTest(kind=kind, spelled=spelled):
                self.H.reset_standins()
                args = default_args(kind, **values)
                doc = self.ok_json(*kind_argv(kind, args, skip=values), *spelled)
                self.check_provisioned(kind, args, Result({"reply": [doc["device_id"], doc]}),
                                       listener)

    def test_every_kind_text(self):
        """The text output holds what --json holds, one 'key: value' line per
        detail, device_id first."""
        master = self.provision("link_master", default_args("link_master"))
        for kind in KINDS:
            with self.subTest(kind=kind):
                extra = {"master_device_id": master["device_id"]} if kind == "link_slave" else {}
                out = self.ok(*kind_argv(kind, default_args(kind, **extra)))
                self.assertTrue(out.startswith("device_id:"), out)
                fields = parse_fields(self, out)
                # Provisioned just now, so show has the same details
                # (reprovisioned is false in both).
                doc = self.show(fields["device_id"])
                self.assertEqual(fields, {k: text_of(v) for k, v in doc.items()})
                self.assertEqual(doc["kind"], kind)
                widths = {line.index(":") + len(re.match(r"[^:]+:( *)", line).group(1))
                          for line in out.splitlines()}
                self.assertEqual(len(widths), 1, f"values are not aligned:\n{out}")

    def test_reprovisioning(self):
        args = default_args("ucm")
        first = self.provision("ucm", args)
        self.assertIs(first["reprovisioned"], False)
        fields = parse_fields(self, self.ok(*kind_argv("ucm", args)))
        self.assertEqual(fields["reprovisioned"], "yes")
        self.assertEqual(fields["device_id"], first["device_id"])
        again = self.provision("ucm", args)
        self.assertIs(again["reprovisioned"], True)

    def test_global_options_after_the_command(self):
        args = default_args("standalone")
        doc = self.ok_json(*kind_argv("standalone", args))
        self.assertEqual(self.ok("show", doc["device_id"], "--json"), json.dumps(
            doc, separators=(",", ":"), ensure_ascii=False) + "\n")
        rc, out, err = self.ctl("show", "no-such-device", "--verbose")
        self.assertEqual(rc, 1)
        self.assertIn(ERROR_PREFIX + "NotFound", err)
        # Given before and after the command, the later one wins.
        self.assertEqual(self.ok_json("--address", "unix:path=/nonexistent", "--timeout", "0.001",
                                      "show", doc["device_id"], "--address", self.H.address,
                                      "--timeout", "20", address=False), doc)

    def test_daemon_errors_exit_1(self):
        """An error the daemon answers: exit 1, its message on stderr, its name
        with --verbose only; nothing on stdout."""
        listener = self.H.listen()
        cases = [
            (kind_argv("ucm", default_args("ucm", site_id="bad/site")),
             "InvalidArgument", "site_id"),
            (kind_argv("gateway", default_args("gateway", latitude=91.0)),
             "InvalidArgument", "latitude"),
            (kind_argv("gateway", default_args("gateway", site_timezone="Mars/Olympus")),
             "InvalidArgument", "site_timezone"),
            (kind_argv("link_slave", default_args("link_slave", master_device_id="nobody")),
             "NotFound", "nobody"),
        ]
        for argv, error, word in cases:
            with self.subTest(argv=argv):
                err = self.failure(*argv)
                self.assertIn(word, err)
                self.assertNotIn(ERROR_PREFIX, err, "the error name without --verbose")
                self.assertEqual(len(err.splitlines()), 1, err)
                err = self.failure("--verbose", *argv)
                self.assertIn(f"{ERROR_PREFIX}{error}: ", err)
                self.assertIn(word, err)
        # A Lua device cannot be reprovisioned.
        args = default_args("lua_device")
        self.provision("lua_device", args)
        err = self.failure("--verbose", *kind_argv("lua_device", args))
        self.assertIn(ERROR_PREFIX + "NotSupported", err)
        self.assertTrue(listener.signals("ProvisioningFailed"))

    def test_timeout(self):
        """--timeout bounds the wait; the call still completes in the daemon."""
        args = default_args("ucm")
        target = self.H.target_of("ucm")
        target.faults({"path": KINDS["ucm"].endpoint, "delay": 3})
        t0 = time.monotonic()
        err = self.failure("--verbose", "--timeout", "1", *kind_argv("ucm", args))
        took = time.monotonic() - t0
        self.assertLess(took, 2.5, "the client waited past --timeout")
        self.assertGreater(took, 0.9, "the client gave up before --timeout")
        self.assertIn("no answer from enapter-provisiond within 1 s", err)
        self.assertIn("org.freedesktop.DBus.Error.Timeout", err)
        # As the message says: the device appears once the call completes.
        wait_until(lambda: any(d.get("hardware_id") == args["hardware_id"]
                               for d in self.ok_json("list")), 15,
                   what="the device of the timed-out call")

    def test_daemon_not_running(self):
        self.H.stop_daemon()
        err = self.failure("list")
        self.assertIn("enapter-provisiond is not running", err)
        err = self.failure("--verbose", "show", "x")
        self.assertIn("org.freedesktop.DBus.Error.ServiceUnknown", err)

    def test_no_bus(self):
        rc, out, err = self.ctl("--address", "unix:path=/nonexistent/bus", "list",
                                address=False)
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("cannot connect to unix:path=/nonexistent/bus", err)
        # The system bus of the environment, as every sd-bus program.
        env = clean_env(DBUS_SYSTEM_BUS_ADDRESS=self.H.address)
        self.assertIsInstance(json.loads(self.ok("--json", "list", address=False, env=env)),
                              list)

    def test_access_denied(self):
        """A caller outside root and the access group: exit 1, permission
        denied (the bus policy stops it)."""
        if os.geteuid() != 0:
            self.skipTest("needs root to run the client as another user")

        def nobody():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        rc, out, err = self.ctl("--verbose", "list", preexec_fn=nobody)
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("permission denied", err)
        self.assertIn("org.freedesktop.DBus.Error.AccessDenied", err)


class Keystore(CtlTestCase):
    """list, show and forget (a harness of its own: the keystore starts
    empty)."""

    def test_list_show_forget(self):
        self.assertEqual(self.ok("list"), "No devices.\n")
        self.assertEqual(self.ok_json("list"), [])
        self.assertEqual(self.ok("list", "--ids"), "")

        made = [self.provision("ucm", default_args("ucm", name="Wärme 漢字 pump")),
                self.provision("gateway", default_args("gateway")),
                self.provision("standalone", default_args("standalone"))]
        ids = {d["device_id"] for d in made}

        # --json: the details of each device, exactly as show and the bus give them.
        listed = self.ok_json("list")
        self.assertEqual({d["device_id"] for d in listed}, ids)
        raw = self.H.call("ListDevices", "")
        self.assertTrue(raw.ok, raw.doc)
        self.assertEqual(sorted(listed, key=lambda d: d["device_id"]),
                         sorted(raw.reply[0], key=lambda d: d["device_id"]))
        for device in listed:
            self.assertEqual(self.show(device["device_id"]), device)
        self.assertEqual(set(self.ok("list", "--ids").split()), ids)

        # The table: a header, one row per device, columns aligned.
        lines = self.ok("list").splitlines()
        header, rows = lines[0], lines[1:]
        titles = ["DEVICE ID", "KIND", "NAME", "SLUG", "PROVISIONED"]
        starts = [header.index(t) for t in titles]
        self.assertEqual(starts[0], 0)
        self.assertEqual(header.split("  ")[0], "DEVICE ID")
        self.assertEqual(len(rows), 3, lines)
        by_id = {d["device_id"]: d for d in listed}
        order = []
        for row in rows:
            # Cut at the header's columns, counting terminal columns.
            cells, col, cell = [], 0, ""
            bounds = starts[1:] + [10 ** 6]
            for ch in row:
                if col >= bounds[len(cells)]:
                    cells.append(cell)
                    cell = ""
                cell += ch
                col += width(ch)
            cells.append(cell)
            self.assertEqual(len(cells), 5, f"row {row!r}")
            device = by_id[cells[0].strip()]
            order.append(device)
            expected = [device["device_id"], device["kind"], device.get("name", "-"),
                        device.get("slug", "-"), device["provisioned_at"]]
            self.assertEqual([c.strip() for c in cells], expected, row)
            for c in cells[:-1]:
                self.assertTrue(c.endswith("  "), f"columns not separated in {row!r}")
        self.assertEqual(order, sorted(order, key=lambda d: (d["provisioned_at"],
                                                             d["device_id"])))

        # show: the same details as text.
        ucm = made[0]["device_id"]
        fields = parse_fields(self, self.ok("show", ucm))
        self.assertEqual(fields, {k: text_of(v) for k, v in by_id[ucm].items()})
        self.assertEqual(fields["name"], "Wärme 漢字 pump")

        # forget, seen by monitor; then the device is gone everywhere.
        monitor = self.monitor("--json")
        gateway = made[1]["device_id"]
        self.assertEqual(parse_fields(self, self.ok("forget", gateway)),
                         {"device_id": gateway, "forgotten": "yes"})
        self.assertFalse(os.path.exists(self.H.device_dir(gateway)))
        line, = monitor.wait_lines(1)
        self.assertEqual(json.loads(line), {"signal": "DeviceForgotten", "device_id": gateway})
        self.assertEqual(set(self.ok("list", "--ids").split()), ids - {gateway})
        err = self.failure("--verbose", "show", gateway)
        self.assertIn(ERROR_PREFIX + "NotFound", err)
        self.assertIn(gateway, err)
        err = self.failure("forget", gateway)
        self.assertIn(gateway, err)
        self.assertNotIn(ERROR_PREFIX, err)
        err = self.failure("--verbose", "forget", gateway)
        self.assertIn(ERROR_PREFIX + "NotFound", err)

        standalone = made[2]["device_id"]
        self.assertEqual(self.ok_json("forget", standalone),
                         {"device_id": standalone, "forgotten": True})
        self.assertEqual(self.ok("list", "--ids").split(), [ucm])
        self.assertEqual(monitor.stop(), 0)
        self.assertEqual(len(monitor.out), 2, monitor.out)


class Monitoring(CtlTestCase):
    """monitor: a line per signal as it happens, until SIGINT or SIGTERM."""

    def test_monitor_json(self):
        monitor = self.monitor("--json")
        # A provisioning through the client, one through the bus directly,
        # a failure and a forget.
        doc = self.provision("ucm", default_args("ucm"))
        args = default_args("standalone")
        res = self.H.provision("standalone", args)
        device_id, details = self.assertOk(res)
        bad = default_args("link_slave", master_device_id="no-master")
        self.failure(*kind_argv("link_slave", bad))
        self.ok("forget", doc["device_id"])

        lines = [json.loads(line) for line in monitor.wait_lines(4)]
        self.assertEqual(lines[0], {"signal": "DeviceProvisioned", "kind": "ucm",
                                    "device_id": doc["device_id"], "details": doc})
        self.assertEqual(lines[1], {"signal": "DeviceProvisioned", "kind": "standalone",
                                    "device_id": device_id, "details": details})
        failed = lines[2]
        self.assertEqual(failed["signal"], "ProvisioningFailed")
        self.assertEqual(failed["kind"], "link_slave")
        self.assertEqual(failed["error_name"], ERROR_PREFIX + "NotFound")
        self.assertIn("no-master", failed["message"])
        self.assertEqual(failed["request"], bad)
        self.assertEqual(lines[3], {"signal": "DeviceForgotten", "device_id": doc["device_id"]})
        self.assertEqual(monitor.stop(signal.SIGINT), 0)
        self.assertEqual(len(monitor.out), 4, monitor.out)
        self.assertNoSecrets("\n".join(monitor.out + monitor.err), "monitor's output")

    def test_monitor_text(self):
        monitor = self.monitor()
        args = default_args("ucm", name="Boiler room")
        first = self.provision("ucm", args)
        self.provision("ucm", args)
        gateway = self.provision("gateway", default_args("gateway"))
        self.failure(*kind_argv("ucm", default_args("ucm", site_id="bad/site")))
        self.ok("forget", first["device_id"])
        lines = monitor.wait_lines(5)
        ucm = first["device_id"]
        self.assertEqual(lines[0], f'provisioned ucm {ucm} (name "Boiler room")')
        self.assertEqual(lines[1], f'provisioned ucm {ucm} (name "Boiler room", reprovisioned)')
        # A gateway's details name it only if the daemon knows a name.
        named = f' (name "{gateway["name"]}")' if "name" in gateway else ""
        self.assertEqual(lines[2], f"provisioned gateway {gateway['device_id']}{named}")
        self.assertRegex(lines[3], r"^failed ucm: " + re.escape(ERROR_PREFIX)
                         + r"InvalidArgument: .*site_id")
        self.assertEqual(lines[4], f"forgotten {ucm}")
        self.assertEqual(monitor.stop(signal.SIGTERM), 0)

    def test_monitor_short_error_names(self):
        """Without --verbose a failure line names the error briefly, and
        stderr stays quiet (it is no terminal)."""
        proc = subprocess.Popen([CTL, "--address", self.H.address, "monitor"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=clean_env())
        lines = []

        def read():
            for line in proc.stdout:
                lines.append(line)
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            # Nothing says when it has subscribed: fail calls until it shows one.
            argv = kind_argv("ucm", default_args("ucm", site_id="bad/site"))
            deadline = time.monotonic() + 10
            while not lines and time.monotonic() < deadline:
                self.failure(*argv)
                time.sleep(0.2)
            self.assertTrue(lines, "monitor printed nothing")
            self.assertRegex(lines[0], r"^failed ucm: InvalidArgument: .*site_id")
            proc.send_signal(signal.SIGINT)
            self.assertEqual(proc.wait(10), 0)
            reader.join(5)
            for line in lines:
                self.assertEqual(line, lines[0])
            self.assertEqual(proc.stderr.read(), "")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()


class Usage(CtlTestCase):
    """Usage errors (exit 2, nothing sent), --help and --version."""

    def test_usage_errors(self):
        full_ucm = kind_argv("ucm", default_args("ucm"))
        gateway = default_args("gateway")
        cases = [
            ([], "missing command"),
            (["frobnicate"], "unknown command 'frobnicate'"),
            (["ucm", "--site-id", "s"], "missing --hardware-id, --name, --protocol"),
            (["link-slave", "--site-id", "s", "--hardware-id", "h", "--name", "n"],
             "missing --master-device-id"),
            (full_ucm[:-1] + ["http"], "--protocol must be mqtt or mqtts, not 'http'"),
            (kind_argv("embedded", default_args("embedded"))[:2] + ["toaster"]
             + kind_argv("embedded", default_args("embedded"))[3:],
             "--type must be electrolyser, dryer or water-tank, not 'toaster'"),
            (kind_argv("gateway", gateway)[:-1] + ["north"], "--longitude"),
            (kind_argv("gateway", dict(gateway, latitude="nan")), "--latitude"),
            (kind_argv("gateway", dict(gateway, latitude="1e999")), "--latitude"),
            (kind_argv("gateway", dict(gateway, latitude="")), "--latitude"),
            (kind_argv("gateway", dict(gateway, latitude="12abc")), "--latitude"),
            (full_ucm + ["extra"], "unexpected argument 'extra'"),
            (["list", "extra"], "unexpected argument 'extra'"),
            (["monitor", "extra"], "unexpected argument 'extra'"),
            (["show"], "missing DEVICE_ID"),
            (["forget"], "missing DEVICE_ID"),
            (["show", "a", "b"], "unexpected argument 'b'"),
            (["list", "--bogus"], "--bogus"),
            (["--bogus", "list"], "--bogus"),
            (["ucm", "--site-id"], "--site-id"),
            (["--timeout", "0", "list"], "--timeout"),
            (["--timeout", "-1", "list"], "--timeout"),
            (["--timeout", "soon", "list"], "--timeout"),
            (["list", "--timeout", "inf"], "--timeout"),
            (["--session", "list"], "exclude each other"),
            (["list", "--system"], "exclude each other"),
        ]
        for argv, message in cases:
            with self.subTest(argv=argv):
                err = self.failure(*argv, status=2)
                self.assertIn(message, err)
                self.assertIn("--help", err, "a usage error points to --help")
        self.assertNoRequests("after usage errors")
        self.assertEqual(self.ok_json("list"), [], "usage errors provisioned something")

    def test_help(self):
        out = self.ok("--help", address=False)
        self.assertTrue(out.startswith("Usage:"), out)
        for command in list(COMMANDS.values()) + list(KEYSTORE_COMMANDS):
            self.assertRegex(out, rf"(?m)^  {command}\b", f"--help lists {command}")
        for option in GLOBAL_OPTIONS + ("--version",):
            self.assertIn(option, out)
        self.assertEqual(self.ok("help", address=False), out)

        for kind, command in COMMANDS.items():
            with self.subTest(command=command):
                text = self.ok(command, "--help", address=False)
                self.assertIn(f"enapter-provisionctl {command} [OPTION", text)
                self.assertIn(KINDS[kind].method, text)
                shown = set(re.findall(r"(?m)^  (--[a-z-]+)=", text))
                self.assertEqual(shown, {OPTIONS[a] for a in KINDS[kind].args})
                self.assertEqual(self.ok("help", command, address=False), text)
                everything = self.ok(command, "--help-all", address=False)
                for option in GLOBAL_OPTIONS:
                    self.assertIn(option, everything)
        for command in KEYSTORE_COMMANDS:
            with self.subTest(command=command):
                text = self.ok(command, "--help", address=False)
                self.assertIn(f"enapter-provisionctl {command}", text)
                self.assertNotIn("--ids", text, "--ids is for completion only")
        self.assertIn("DEVICE_ID", self.ok("show", "--help", address=False))

    def test_version(self):
        version = os.environ.get("EP_VERSION")
        if version is None:
            res = self.H.get_property("Version")
            self.assertTrue(res.ok, res.doc)
            version = res.reply[0]
        self.assertEqual(self.ok("--version", address=False),
                         f"enapter-provisionctl {version}\n")


class Completion(CtlTestCase):
    """The bash completion, driven as bash drives it (COMP_WORDS split at
    blanks and at ':' and '=', COMP_LINE, COMP_POINT)."""

    def complete(self, line, env=None):
        """The candidates for the end of @line."""
        if shutil.which("bash") is None:
            self.skipTest("no bash")
        words = []
        for token in line.split(" "):
            words += re.findall(r"[:=]+|[^:=]+", token) or [""]
        script = (f"source {json.dumps(COMPLETION)}\n"
                  'COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))\n'
                  f"COMP_LINE={json.dumps(line)}; COMP_POINT=${{#COMP_LINE}}\n"
                  "_enapter_provisionctl\n"
                  'printf "%s\\n" "${COMPREPLY[@]}"\n')
        proc = subprocess.run(["bash", "--norc", "-c", script, "bash", *words],
                              capture_output=True, text=True, timeout=30,
                              env=env or clean_env())
        self.assertEqual((proc.returncode, proc.stderr), (0, ""), line)
        return set(proc.stdout.split())

    def test_commands_and_options(self):
        everything = set(COMMANDS.values()) | set(KEYSTORE_COMMANDS) | {"help"}
        self.assertEqual(self.complete("enapter-provisionctl "), everything)
        self.assertEqual(self.complete("enapter-provisionctl l"),
                         {"link-master", "link-slave", "list", "lua-device"})
        self.assertEqual(self.complete("enapter-provisionctl --json --timeout 5 s"),
                         {"standalone", "show"})
        self.assertEqual(self.complete("enapter-provisionctl --ver"), {"--verbose", "--version"})
        for kind, command in COMMANDS.items():
            with self.subTest(command=command):
                got = self.complete(f"enapter-provisionctl {command} --")
                self.assertEqual(got, {OPTIONS[a] for a in KINDS[kind].args}
                                 | set(GLOBAL_OPTIONS) | {"--help"})
        self.assertEqual(self.complete("enapter-provisionctl embedded --type "),
                         {"electrolyser", "dryer", "water-tank"})
        self.assertEqual(self.complete("enapter-provisionctl embedded --type=w"),
                         {"water-tank"})
        self.assertEqual(self.complete("enapter-provisionctl ucm --protocol mqtt"),
                         {"mqtt", "mqtts"})
        self.assertEqual(self.complete("enapter-provisionctl ucm --site-id "), set())
        self.assertEqual(self.complete("enapter-provisionctl help u"), {"ucm"})

    def test_device_ids(self):
        ids = {self.provision(k, default_args(k))["device_id"] for k in ("ucm", "standalone")}
        env = clean_env(DBUS_SYSTEM_BUS_ADDRESS=self.H.address)
        # The client itself as typed (a path), asked on the system bus.
        for command in ("show", "forget"):
            got = self.complete(f"{CTL} {command} ", env=env)
            self.assertTrue(ids <= got, got)
        one = sorted(ids)[0]
        got = self.complete(f"{CTL} show {one[:12]}", env=env)
        self.assertEqual(got, {i for i in self.ok("list", "--ids").split()
                               if i.startswith(one[:12])})
        # --address on the line is used for the look-up.
        got = self.complete(f"{CTL} --address {self.H.address} forget ")
        self.assertTrue(ids <= got, got)
        # No daemon: no candidates, no noise.
        self.assertEqual(self.complete(f"{CTL} --address unix:path=/nonexistent show "),
                         set())


if __name__ == "__main__":
    if not os.access(CTL, os.X_OK):
        print("TAP version 13\n1..1\nnot ok 1 - prerequisites\n# missing: " + CTL)
        sys.exit(1)
    harness.main()
