"""Child processes: polling, ports, stopping, the clean environment, and
ep-bus-client calls (synchronous, and AsyncCall in the background)."""

import json
import os
import signal
import socket
import subprocess
import time

from .constants import BUS_CLIENT


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls @predicate until it returns a true value, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc, sig=signal.SIGTERM, timeout=10.0):
    """Signals @proc, waits, falls back to SIGKILL; returns the exit status."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def clean_env(**extra):
    """The environment for child processes: no proxies, no systemd hooks."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
                                "notify_socket", "credentials_directory", "journal_stream",
                                "dbus_session_bus_address", "dbus_system_bus_address")}
    env.update(extra)
    return env


class Result:
    """The outcome of one D-Bus call: {"reply": [...]} or {"error": {...}}."""

    def __init__(self, doc, raw=""):
        self.doc = doc
        self.raw = raw

    @property
    def ok(self):
        return "reply" in self.doc

    @property
    def reply(self):
        return self.doc.get("reply")

    @property
    def error_name(self):
        return self.doc.get("error", {}).get("name")

    @property
    def error_message(self):
        return self.doc.get("error", {}).get("message")

    def __repr__(self):
        return f"Result({self.doc!r})"


def run_client(argv, timeout, uid_=None):
    """Runs ep-bus-client; returns (exit status, stdout, stderr)."""
    kwargs = {}
    if uid_ is not None:     # run as that user and group, no supplementary groups
        kwargs = {"user": uid_, "group": uid_, "extra_groups": []}
    proc = subprocess.run([BUS_CLIENT] + argv, capture_output=True, text=True,
                          timeout=timeout, env=clean_env(), **kwargs)
    return proc.returncode, proc.stdout, proc.stderr


def parse_result(rc, out, err, argv):
    if rc != 0 or not out.strip():
        raise AssertionError(f"ep-bus-client {' '.join(argv)} failed (exit {rc}): {err.strip()}")
    return Result(json.loads(out), out)


class AsyncCall:
    """A call running in its own ep-bus-client process."""

    def __init__(self, argv, transcript):
        self.argv = argv
        self.transcript = transcript
        self.started = time.monotonic()
        self.proc = subprocess.Popen([BUS_CLIENT] + argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=clean_env())
        self.finished = None

    def result(self, timeout=60.0):
        out, err = self.proc.communicate(timeout=timeout)
        self.finished = time.monotonic()
        self.transcript.append(out)
        self.transcript.append(err)
        return parse_result(self.proc.returncode, out, err, self.argv)

    def done(self):
        return self.proc.poll() is not None

    def elapsed(self):
        return (self.finished or time.monotonic()) - self.started

    def kill(self):
        if self.finished is None:
            self.proc.kill()
            self.proc.communicate()
            self.finished = time.monotonic()


# libfaketime (package faketime), for tests of the daemon's clock rules.
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def preloaded(library, **env):
    """The daemon's environment with @library preloaded, plus @env. It goes
    after whatever LD_PRELOAD holds: under ASan the runtime must come first,
    and ASan's check of that order is switched off."""
    return dict(env, LD_PRELOAD=" ".join(filter(None, [os.environ.get("LD_PRELOAD"), library])),
                ASAN_OPTIONS=":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                                    "verify_asan_link_order=0"])))


def faketime_env(clock_file, when):
    """The daemon's environment under libfaketime, its clock read from
    @clock_file, which is set to @when (such as "@1970-01-02 00:00:00");
    the monotonic clock stays real."""
    with open(clock_file, "w") as f:
        f.write(when + "\n")
    return preloaded(LIBFAKETIME, FAKETIME_TIMESTAMP_FILE=clock_file, FAKETIME_NO_CACHE="1",
                     FAKETIME_DONT_FAKE_MONOTONIC="1")
