"""What the enapter-provisionctl tests (test_ctl_*.py beside this file)
share: each kind's command line, written here independently of the client,
helpers to read its output, monitor in the background, and CtlTestCase,
which runs the client against the integration harness's private bus.

EP_CTL names the client (tests/ctl/meson.build sets it); the rest of the
environment is the integration harness's."""

import datetime
import errno
import hashlib
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402
# Also what the test_ctl_*.py take from the harness, so they import from here alone.
from harness import (ERROR_PREFIX, HarnessTestCase, KINDS, Result, RFC3339_UTC,  # noqa: E402,F401
                     clean_env, default_args, wait_until)

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
           "blueprint_id": "--blueprint-id", "slug": "--slug",
           "gateway_version": "--gateway-version",
           "site_name": "--site-name", "site_timezone": "--timezone",
           "latitude": "--latitude", "longitude": "--longitude"}
GLOBAL_OPTIONS = ("--system", "--session", "--address", "--host", "--json", "--no-legend",
                  "--no-pager", "--timeout", "--verbose")
KEYSTORE_COMMANDS = ("list", "show", "generate", "export", "forget")
SERVICE_COMMANDS = ("status", "check", "monitor")
# The kinds as list --kind and the completion spell them.
KIND_WORDS = tuple(COMMANDS.values())
# The name of the client's own usage errors in JSON (org.freedesktop.DBus's).
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
# monitor's timestamps: whole seconds for people, microseconds in --json.
MONITOR_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
MONITOR_JSON_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
# The details that are Unix times (x), which the text output shows as UTC.
TIME_KEYS = ("certificate_not_before", "certificate_not_after")


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


def utc(seconds):
    """A Unix time as the client shows it: RFC 3339 UTC, whole seconds."""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def text_of(value, key=None):
    """The client's text for the JSON value of detail @key (its documented
    human output)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in TIME_KEYS and isinstance(value, int):
        return utc(value)
    return str(value)


def texts_of(details):
    """The client's text for each of @details."""
    return {k: text_of(v, k) for k, v in details.items()}


def parse_fields(testcase, text):
    """'key: value' lines into a dict; every line must be one."""
    fields = {}
    for line in text.splitlines():
        m = re.fullmatch(r"([a-z0-9_]+):( +)(.*)", line)
        testcase.assertIsNotNone(m, f"not a 'key: value' line: {line!r}")
        testcase.assertNotIn(m.group(1), fields, f"{m.group(1)} printed twice")
        fields[m.group(1)] = m.group(3)
    return fields


def parse_time(text):
    """An RFC 3339 UTC time as the client prints it, in Unix seconds."""
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in text else "%Y-%m-%dT%H:%M:%SZ"
    return datetime.datetime.strptime(text, fmt).replace(
        tzinfo=datetime.timezone.utc).timestamp()


def untimed(line):
    """A monitor line without its timestamp, which must be there and recent:
    the text's prefix, or --json's member "timestamp" (the object is
    returned as JSON text again, its other members in order)."""
    if line.startswith("{"):
        event = json.loads(line)
        stamp = event.pop("timestamp", None)
        if stamp is None or not re.fullmatch(MONITOR_JSON_TIME, stamp):
            raise AssertionError(f"no RFC 3339 timestamp with microseconds in {line!r}")
        rest = json.dumps(event)
    else:
        m = re.fullmatch(f"({MONITOR_TIME}) (.*)", line)
        if m is None:
            raise AssertionError(f"no timestamp at the start of {line!r}")
        stamp, rest = m.groups()
    if abs(parse_time(stamp) - time.time()) > 120:
        raise AssertionError(f"the timestamp of {line!r} is not the time it arrived")
    return rest


def table(testcase, text, titles):
    """A table as the client prints it: its header holds @titles in order,
    then rows, then a blank line and "N device(s) listed." (or "No
    devices."). Returns its rows, each a list of stripped cells."""
    lines = text.splitlines()
    if lines == ["No devices."]:
        return []
    header = lines[0]
    starts = [header.index(t) for t in titles]
    testcase.assertEqual(starts, sorted(starts), header)
    testcase.assertEqual(starts[0], 0, header)
    testcase.assertEqual(lines[-2], "", f"no blank line before the footer:\n{text}")
    n = len(lines) - 3
    testcase.assertEqual(lines[-1], f"{n} {'device' if n == 1 else 'devices'} listed.")
    rows = []
    for row in lines[1:-2]:
        cells = cut_row(row, starts)
        testcase.assertEqual(len(cells), len(titles), f"row {row!r}")
        for c in cells[:-1]:
            testcase.assertTrue(c.endswith("  "), f"columns not separated in {row!r}")
        rows.append([c.strip() for c in cells])
    return rows


# list's columns.
LIST_TITLES = ["DEVICE ID", "KIND", "NAME", "SITE", "HARDWARE ID", "EXPIRES"]


def run_tty(argv, env, columns=None, timeout=30):
    """Runs @argv with a pseudo-terminal as stdout (stderr stays a pipe);
    $COLUMNS set to @columns unless None. Returns (status, what it printed
    on the terminal with "\r\n" as "\n", stderr)."""
    env = dict(env)
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = str(columns)
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave,
                                stderr=subprocess.PIPE, env=env)
    finally:
        os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError as e:
                if e.errno != errno.EIO:    # EIO: the child closed the terminal
                    raise
                break
            if not data:
                break
            chunks.append(data)
        err = proc.stderr.read().decode()
        rc = proc.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    return rc, b"".join(chunks).decode().replace("\r\n", "\n"), err


def width(text):
    """Terminal columns of @text."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cut_row(row, starts):
    """A table row cut at the header's column @starts (terminal columns), its
    cells unstripped."""
    cells, col, cell = [], 0, ""
    bounds = starts[1:] + [10 ** 6]
    for ch in row:
        if col >= bounds[len(cells)]:
            cells.append(cell)
            cell = ""
        cell += ch
        col += width(ch)
    cells.append(cell)
    return cells


def certificate_facts(path):
    """(not before, not after, SHA-256 of the DER) of the PEM certificate at
    @path, read with the openssl command, independently of the daemon."""
    def openssl(*args):
        proc = subprocess.run(["openssl", "x509", "-in", path, *args], capture_output=True,
                              timeout=30)
        if proc.returncode != 0:
            raise AssertionError(f"openssl x509 {args} on {path}: {proc.stderr.decode()}")
        return proc.stdout
    der = openssl("-outform", "DER")
    dates = dict(line.split("=", 1) for line in
                 openssl("-noout", "-startdate", "-enddate").decode().splitlines())

    def seconds(text):
        # "Nov 30 12:00:00 2027 GMT"
        t = datetime.datetime.strptime(" ".join(text.split()), "%b %d %H:%M:%S %Y GMT")
        return int(t.replace(tzinfo=datetime.timezone.utc).timestamp())
    return (seconds(dates["notBefore"]), seconds(dates["notAfter"]),
            hashlib.sha256(der).hexdigest())


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
        """The first @n lines of standard output, while it still runs, each
        without its timestamp (see untimed)."""
        wait_until(lambda: len(self.out) >= n, timeout, what=f"{n} monitor line(s); "
                   f"got {self.out}")
        self.assertRunning()
        return [untimed(line) for line in self.out[:n]]

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

    def failure(self, *argv, status=1, **kwargs):
        """Runs the client, expecting @status, an empty stdout and one message
        on stderr; returns stderr."""
        rc, out, err = self.ctl(*argv, **kwargs)
        self.assertEqual(rc, status, f"enapter-provisionctl {argv}: {out} {err}")
        self.assertEqual(out, "", f"enapter-provisionctl {argv} printed on stdout")
        self.assertTrue(err.startswith("enapter-provisionctl: "), err)
        return err

    def json_failure(self, *argv, status=1, json_mode="--json", **kwargs):
        """Runs the client with @json_mode, expecting @status, the error as
        one JSON object {"error", "message"} on stdout and the same message on
        stderr; returns the object."""
        rc, out, err = self.ctl(json_mode, *argv, **kwargs)
        self.assertEqual(rc, status, f"enapter-provisionctl {argv}: {out} {err}")
        if json_mode in ("--json", "--json=short"):
            self.assertTrue(out.endswith("\n") and out.count("\n") == 1,
                            f"not one line of JSON: {out!r}")
        doc = json.loads(out)
        self.assertEqual(set(doc), {"error", "message"}, out)
        self.assertRegex(doc["error"], r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")
        self.assertTrue(doc["message"], out)
        self.assertTrue(err.startswith("enapter-provisionctl: "), err)
        self.assertIn(doc["message"], err)
        return doc

    def monitor(self, *options):
        m = Monitor(self.H.address, *options)
        self.monitors.append(m)
        return m

    def provision(self, kind, args, *options):
        """Provisions through the client with --json; returns its document."""
        return self.ok_json(*options, *kind_argv(kind, args))

    def show(self, device_id):
        return self.ok_json("show", device_id)

    def plant(self, device_ids, kind="link_master"):
        """Devices with the ids @device_ids, written into the keystore by
        hand (as a restore or another tool could) after the device.json of
        a provisioned device of @kind (no credentials, so device.json is all
        there is); the daemon is restarted to serve them."""
        template = self.provision(kind, default_args(kind))
        with open(os.path.join(self.H.device_dir(template["device_id"]), "device.json")) as f:
            meta = json.load(f)
        for device_id in device_ids:
            path = os.path.join(self.H.keystore, device_id)
            os.mkdir(path, 0o700)
            fd = os.open(os.path.join(path, "device.json"), os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(dict(meta, device_id=device_id), f)
        self.H.restart_daemon()
        served = {d["device_id"] for d in self.ok_json("list")}
        self.assertTrue(set(device_ids) <= served, f"the daemon does not serve {device_ids}")
        return template

    def forget_all(self):
        """Empties the keystore the class's tests share."""
        for device_id in self.ok("list", "--ids").split():
            self.ok("forget", device_id)
        self.assertEqual(self.ok_json("list"), [])


def main():
    """Runs the tests of the calling module (harness.main), once the client is
    there."""
    if not os.access(CTL, os.X_OK):
        print("TAP version 13\n1..1\nnot ok 1 - prerequisites\n# missing: " + CTL)
        sys.exit(1)
    harness.main()
