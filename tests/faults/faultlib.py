"""Shared by the keystore fault tests (Python standard library, and the
integration harness with python3-cryptography).

- Tracer: strace attached to the daemon's threads other than the main one,
  optionally with one injection (-e inject=NAME:signal=KILL|error=E:when=N).
  The keystore work runs in a GTask worker thread, and strace counts
  invocations per syscall and per thread, so leaving the main thread (bus,
  HTTP, logging) untraced makes "the N-th openat" mean the N-th openat of
  the keystore work, whatever the main loop does meanwhile.
- parse_trace(): strace -y output as Events, unfinished/resumed lines merged.
- Keystore helpers: a device directory's files, the check of a new MQTT set.
- Tap: a tiny TAP 13 printer (one line per check, diagnostics as comments).
"""

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402  (the integration harness: bus, stand-ins, daemon)
from harness import CANARY, ERROR_PREFIX, SECRET_MARKERS, wait_until  # noqa: E402,F401

STRACE = shutil.which("strace")
KEYSTORE_ERROR = ERROR_PREFIX + "KeystoreError"

MQTTS_FILES = {"device.json", "private_key.pem", "certificate.pem", "ca_chain.pem"}
MQTT_FILES = {"device.json", "password"}

# --------------------------------------------------------------- strace


class Tracer:
    """strace attached to every thread of @pid but the main one."""

    def __init__(self, pid, log_path, inject=None, all_threads=False, strsize=8, only=None):
        if STRACE is None:
            raise AssertionError("strace is not installed (Debian package strace): the fault "
                                 "tests need it")
        self.pid = pid
        self.log_path = log_path
        tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
        self.tids = tids if all_threads else [t for t in tids if t != pid]
        if not self.tids:
            raise AssertionError(f"the daemon (pid {pid}) has no thread besides the main one")
        argv = [STRACE, "-y", "-s", str(strsize), "-o", log_path]
        if only:
            argv += ["-e", "trace=" + only]
        if inject:
            argv += ["-e", "inject=" + inject]
        if all_threads:
            argv += ["-f", "-p", str(pid)]      # -f with -p: every thread of the process
        else:
            for tid in self.tids:
                argv += ["-p", str(tid)]
        self.argv = argv
        self.err_path = log_path + ".stderr"
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err)
        wait_until(self._attached, 10, 0.005, "strace to attach to the daemon's threads")

    def _attached(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"strace exited with {self.proc.returncode}: "
                                 + open(self.err_path, errors="replace").read())
        for tid in self.tids:
            try:
                with open(f"/proc/{self.pid}/task/{tid}/status") as f:
                    if f"TracerPid:\t{self.proc.pid}\n" not in f.read():
                        return False
            except FileNotFoundError:
                pass            # the thread ended; strace copes with that
        return True

    def stop(self):
        """Detaches (SIGINT makes strace detach and exit); returns the Events."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return parse_trace(self.log_path)


class Event:
    """One system call (or a +++/--- line) of one thread; @start and @end are
    the log lines where it was entered and where it returned."""

    def __init__(self, tid, name, args, ret, start, end):
        self.tid, self.name, self.args, self.ret = tid, name, args, ret
        self.start, self.end = start, end

    def __repr__(self):
        return f"{self.tid} {self.name}({self.args}) = {self.ret}"

    @property
    def injected(self):
        return "(INJECTED)" in (self.ret or "")


_PREFIX = re.compile(r"^(?:\[pid\s+(\d+)\]|(\d+))\s+(.*)$")
_CALL = re.compile(r"^(\w+)\((.*)\)\s*=\s*(.*)$", re.S)
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$", re.S)


def parse_trace(path):
    """The Events of an strace -o log, in order of completion."""
    events, pending = [], {}
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return events
    for no, line in enumerate(lines):
        m = _PREFIX.match(line)
        tid, text = (int(m.group(1) or m.group(2)), m.group(3)) if m else (None, line)
        if text.startswith(("+++", "---")):
            events.append(Event(tid, text[:3], text, None, no, no))
            continue
        if text.endswith("<unfinished ...>"):
            pending[tid] = (text[: -len("<unfinished ...>")], no)
            continue
        start = no
        r = _RESUMED.match(text)
        if r:
            head, start = pending.pop(tid, (r.group(1) + "(", no))
            text = head + r.group(2)
        text = text.replace("<unfinished ...>", "")
        c = _CALL.match(text)
        if c:
            events.append(Event(tid, c.group(1), c.group(2), c.group(3).strip(), start, no))
    # Calls cut off by the end of tracing (detach or death) have no result.
    for tid, (text, no) in pending.items():
        c = re.match(r"^(\w+)\((.*)$", text, re.S)
        if c:
            events.append(Event(tid, c.group(1), c.group(2), "?", no, len(lines)))
    return events


def split_args(args):
    """Top-level comma-separated arguments of an strace argument list."""
    out, depth, cur, quote, esc = [], 0, [], False, False
    for ch in args:
        if quote:
            cur.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                quote = False
            continue
        if ch == '"':
            quote = True
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def normalize(text, keystore, device_id=None):
    """Text with the keystore path, temporary names, the device id and fd
    numbers replaced by stable placeholders."""
    text = text.replace("(deleted)", "")
    text = re.sub(r"\b\d+<", "<", text)
    text = text.replace(keystore, "KS")
    text = re.sub(r"\.(new|old)-[0-9a-f]{8}-", r".\1-*-", text)
    if device_id:
        text = text.replace(device_id, "ID")
    return re.sub(r"0x[0-9a-f]+", "0x?", text)


def touches(event, keystore):
    return keystore in (event.args or "")


def call_key(event, keystore, device_id):
    """What identifies a step across runs: the call's name, the file it works
    on (first argument), and the name it passes when that is a path."""
    args = split_args(normalize(event.args or "", keystore, device_id))
    key = args[:1]
    if re.search(r"at2?$", event.name) and len(args) > 1 and args[1].startswith('"'):
        key.append(args[1])
    return f"{event.name}({', '.join(key)})"


def describe(event, keystore, device_id):
    """A short, secret-free description of a recorded step."""
    args = split_args(normalize(event.args or "", keystore, device_id))
    if event.name in ("write", "pwrite64", "read") and len(args) >= 3:
        args[1] = "..."
    args = [re.sub(r"\{st_mode=.*", "{...}", a) for a in args]
    ret = normalize(event.ret or "", keystore, device_id)
    ret = re.sub(r"\s*\(flags .*\)$", "", ret)
    return f"{event.name}({', '.join(args)}) = {ret}"

# ------------------------------------------------------------- keystore


def read_dir(path):
    """{name: (kind, mode, bytes or link target)} of the entries of @path, or
    None when @path is missing or not a directory."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return None
    out = {}
    for name in sorted(os.listdir(path)):
        p = os.path.join(path, name)
        st = os.lstat(p)
        if stat.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                out[name] = ("f", stat.S_IMODE(st.st_mode), f.read())
        elif stat.S_ISLNK(st.st_mode):
            out[name] = ("l", 0, os.readlink(p))
        else:
            out[name] = ("d" if stat.S_ISDIR(st.st_mode) else "?", stat.S_IMODE(st.st_mode),
                         None)
    return out


def temporaries(keystore):
    return sorted(n for n in os.listdir(keystore) if n.startswith("."))


def check_new_set(files, device_id, dir_mode):
    """Problems with @files as a complete MQTT set of @device_id ([] if none)."""
    problems = []
    if files is None:
        return ["the device directory is missing"]
    if dir_mode != 0o700:
        problems.append(f"device directory mode {dir_mode:04o}, expected 0700")
    if set(files) != MQTT_FILES:
        return problems + [f"files {sorted(files)}, expected {sorted(MQTT_FILES)}"]
    for name, (kind, mode, _) in files.items():
        if kind != "f" or mode != 0o600:
            problems.append(f"{name}: kind {kind} mode {mode:04o}, expected a 0600 file")
    password = files["password"][2] or b""
    if not re.fullmatch(rb"CANARY-PASSWORD-\d+", password):
        problems.append(f"password file holds {len(password)} bytes that are not a password")
    try:
        meta = json.loads(files["device.json"][2])
    except ValueError:
        return problems + ["device.json is not JSON"]
    if meta.get("device_id") != device_id:
        problems.append(f"device.json names device {meta.get('device_id')!r}")
    cfg = meta.get("config") or {}
    if cfg.get("protocol") != "MQTT" or cfg.get("username") != "user-" + device_id:
        problems.append(f"device.json config is not MQTT for this device: {cfg}")
    return problems


# ------------------------------------------------------------------- TAP


class Tap:
    """TAP 13 on stdout: ok/not ok per check, the plan at the end."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        print("TAP version 13", flush=True)

    def diag(self, text):
        for line in str(text).rstrip().splitlines():
            print("# " + line)
        sys.stdout.flush()

    def result(self, name, problems):
        self.n += 1
        if problems:
            self.failed += 1
            print(f"not ok {self.n} - {name}")
            for p in problems:
                self.diag(p)
        else:
            print(f"ok {self.n} - {name}")
        sys.stdout.flush()

    def run(self, name, func, *args):
        """Runs @func(*args) -> list of problems; an exception is a problem."""
        t0 = time.monotonic()
        try:
            problems = func(*args) or []
        except Exception as exc:  # noqa: BLE001  (reported as a failed check)
            problems = [f"{type(exc).__name__}: {exc}", traceback.format_exc()]
        self.result(name, problems)
        return problems, time.monotonic() - t0

    def finish(self):
        print(f"1..{self.n}", flush=True)
        return 1 if self.failed or self.n == 0 else 0
