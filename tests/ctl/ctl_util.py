"""What the enapter-provisionctl tests (test_ctl_*.py beside this file)
share: each kind's command line, written here independently of the client,
helpers to read its output, monitor in the background, and CtlTestCase,
which runs the client against the integration harness's private bus.

EP_CTL names the client (tests/ctl/meson.build sets it); the rest of the
environment is the integration harness's."""

import datetime
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
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
           "blueprint_id": "--blueprint-id", "slug": "--slug", "gateway_version": "--version",
           "site_name": "--site-name", "site_timezone": "--timezone",
           "latitude": "--latitude", "longitude": "--longitude"}
GLOBAL_OPTIONS = ("--system", "--session", "--address", "--json", "--timeout", "--verbose")
KEYSTORE_COMMANDS = ("list", "show", "generate", "export", "forget", "monitor")
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


def main():
    """Runs the tests of the calling module (harness.main), once the client is
    there."""
    if not os.access(CTL, os.X_OK):
        print("TAP version 13\n1..1\nnot ok 1 - prerequisites\n# missing: " + CTL)
        sys.exit(1)
    harness.main()
