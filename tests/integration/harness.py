"""Integration test harness for enapter-provisiond (Python standard library only).

A Harness owns, in a fresh temporary directory: a private dbus-daemon of type
system that loads the repository's bus policy, two stand-ins of the Enapter
API (roles cloud and gateway), and the daemon itself, configured to use them.
Tests talk to the daemon through ep-bus-client, exactly as a caller on the
system bus would, and inspect what the stand-ins saw and what the keystore
holds.

main() runs the calling module's unittest tests and prints TAP 13.

Paths come from the environment (tests/meson.build sets them):
  EP_DAEMON      build/src/enapter-provisiond
  EP_BUS_CLIENT  build/tests/ep-bus-client
  EP_SOURCE_ROOT the source tree (policy/, dbus/)
  EP_STANDIN     tests/standin/standin.py
  EP_VERSION     the project's version (optional)
Set EP_KEEP_TMP=1 to keep the temporary directories for inspection.
"""

import collections
import datetime
import grp
import json
import os
import re
import shutil
import shlex
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("EP_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
_BUILD = os.path.join(SOURCE_ROOT, "build")
DAEMON = os.environ.get("EP_DAEMON") or os.path.join(_BUILD, "src", "enapter-provisiond")
BUS_CLIENT = os.environ.get("EP_BUS_CLIENT") or os.path.join(_BUILD, "tests", "ep-bus-client")
STANDIN = os.environ.get("EP_STANDIN") or os.path.join(SOURCE_ROOT, "tests", "standin",
                                                        "standin.py")
VERSION = os.environ.get("EP_VERSION") or None
# A command the daemon runs under, e.g. valgrind (scripts/test sets it for the
# memcheck pass over this suite).
DAEMON_WRAPPER = shlex.split(os.environ.get("EP_DAEMON_WRAPPER", ""))
POLICY = os.path.join(SOURCE_ROOT, "policy", "com.enapter.Provisioning1.conf")
SHIPPED_XML = os.path.join(SOURCE_ROOT, "dbus", "com.enapter.Provisioning1.xml")
# A self-signed certificate for 127.0.0.1 (valid 2020-2120) for HTTPS stand-ins.
TLS_CERT = os.path.join(HERE, "tls", "standin-cert.pem")
TLS_KEY = os.path.join(HERE, "tls", "standin-key.pem")

BUS_NAME = "com.enapter.Provisioning1"
OBJECT_PATH = "/com/enapter/Provisioning1"
IFACE = "com.enapter.Provisioning1"
ERROR_PREFIX = IFACE + ".Error."
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"

CANARY = "CANARY"
# Strings that must never leave the daemon: private keys and passwords handed
# out by the stand-in (the tokens are added per harness).
SECRET_MARKERS = (CANARY + "-PRIVATE-KEY-", CANARY + "-PASSWORD-", "BEGIN PRIVATE KEY")

# ------------------------------------------------------------------- kinds

Kind = collections.namedtuple(
    "Kind", "name method args sig endpoint route has_config has_slug id_field identity")

KINDS = {k.name: k for k in (
    Kind("ucm", "ProvisionUcm", ("site_id", "hardware_id", "name", "protocol"), "ssss",
         "/v3/provisioning/ucm", "default", True, True, "device_id",
         ("site_id", "hardware_id")),
    Kind("vucm", "ProvisionVucm", ("site_id", "hardware_id", "name"), "sss",
         "/v3/provisioning/vucm", "gateway", False, False, "device_id",
         ("site_id", "hardware_id")),
    Kind("embedded", "ProvisionEmbedded",
         ("device_type", "site_id", "hardware_id", "name", "protocol"), "sssss",
         "/v3/provisioning/embedded", "default", True, True, "device_id",
         ("device_type", "site_id", "hardware_id")),
    Kind("link_master", "ProvisionLinkMaster", ("site_id", "hardware_id", "name"), "sss",
         "/v3/provisioning/link_master", "gateway", False, False, "device_id",
         ("site_id", "hardware_id")),
    Kind("link_slave", "ProvisionLinkSlave",
         ("site_id", "hardware_id", "name", "master_device_id"), "ssss",
         "/v3/provisioning/link_slave", "gateway", False, False, "device_id",
         ("site_id", "hardware_id", "master_device_id")),
    Kind("standalone", "ProvisionStandalone", ("site_id", "name"), "ss",
         "/v3/provisioning/standalone", "default", False, True, "device_id", ("site_id",)),
    Kind("lua_device", "ProvisionLuaDevice", ("runtime_id", "blueprint_id", "name", "slug"),
         "ssss", "/v3/provisioning/lua_device", "default", False, True, "device_id",
         ("runtime_id", "blueprint_id", "slug")),
    Kind("gateway", "ProvisionGateway",
         ("site_id", "hardware_id", "gateway_version", "site_name", "site_timezone",
          "latitude", "longitude"), "sssssdd",
         "/v3/provisioning/gateway", "cloud", True, False, "gateway_device_id",
         ("site_id", "hardware_id")),
)}


def uid(prefix="X"):
    """A fresh identifier of [A-Za-z0-9_-], unique across tests."""
    return f"{prefix}{uuid.uuid4().hex[:16].upper()}"


def default_args(kind, **values):
    """Valid arguments for @kind with fresh ids; @values override."""
    base = {
        "site_id": uid("site-"),
        "hardware_id": uid("HW"),
        "name": "Test device " + uuid.uuid4().hex[:6],
        "protocol": "MQTTS",
        "device_type": "ELECTROLYSER",
        "runtime_id": uid("rt-"),
        "blueprint_id": uid("bp-"),
        "slug": "dev-" + uuid.uuid4().hex[:10],
        "gateway_version": "3.1.0-rc.1",
        "site_name": "Site " + uuid.uuid4().hex[:6],
        "site_timezone": "Europe/Berlin",
        "latitude": 52.520008,
        "longitude": 13.404954,
        "master_device_id": "set-me",
    }
    unknown = set(values) - set(KINDS[kind].args)
    if unknown:
        raise ValueError(f"{kind} has no argument {', '.join(sorted(unknown))}")
    args = {name: base[name] for name in KINDS[kind].args}
    args.update(values)
    return args


def request_body(kind, args):
    """The exact JSON body README "Configuration" and the seed prescribe for @args."""
    if kind == "gateway":
        body = {k: args[k] for k in ("site_id", "hardware_id", "gateway_version",
                                     "site_name", "site_timezone")}
        body["site_location"] = {"latitude": args["latitude"], "longitude": args["longitude"]}
        return body
    return dict(args)


def format_arg(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)          # nan, inf, -inf and 17 significant digits
    return str(value)

# ----------------------------------------------------------------- helpers


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

# ---------------------------------------------------------------- stand-in


class StandIn:
    """One running stand-in of the Enapter API and its control API."""

    def __init__(self, role, token, tmp, tls=False):
        self.role, self.token, self.tls = role, token, tls
        port_file = os.path.join(tmp, f"standin-{role}.port")
        self.log_path = os.path.join(tmp, f"standin-{role}.log")
        argv = [sys.executable, STANDIN, "--role", role, "--token", token,
                "--listen", "127.0.0.1", "--port", "0", "--port-file", port_file,
                "--canary", CANARY, "--quiet"]
        if tls:
            argv += ["--tls-cert", TLS_CERT, "--tls-key", TLS_KEY]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         env=clean_env())

        def port():
            if self.proc.poll() is not None:
                raise AssertionError(f"stand-in {role} exited with {self.proc.returncode}: "
                                     + open(self.log_path, errors="replace").read())
            try:
                with open(port_file) as f:
                    text = f.read().strip()
                return int(text) if text else None
            except FileNotFoundError:
                return None
        self.port = wait_until(port, 15, what=f"the {role} stand-in's port file")
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        handlers = [urllib.request.ProxyHandler({})]
        if tls:
            handlers.append(urllib.request.HTTPSHandler(
                context=ssl.create_default_context(cafile=TLS_CERT)))
        self.opener = urllib.request.build_opener(*handlers)

    def _control(self, method, name, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/_standin/" + name, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with self.opener.open(req, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"stand-in control {name}: HTTP {exc.code}: "
                                 f"{exc.read().decode(errors='replace')}") from None

    def requests(self, path=None):
        """Every provisioning request received since the last reset, oldest first."""
        reqs = self._control("GET", "requests")
        return [r for r in reqs if path is None or r["path"] == path]

    def faults(self, *faults):
        return self._control("POST", "faults", list(faults))

    def reset(self):
        return self._control("POST", "reset", {})

    def stats(self):
        return self._control("GET", "stats")

    def close(self):
        return stop_process(self.proc, timeout=5)

# ---------------------------------------------------------------- listener


class Listener:
    """ep-bus-client listen in the background: the service's signals. With
    @typed, variant values come as {"signature": value}."""

    def __init__(self, address, transcript, typed=False, prefix=()):
        argv = [*prefix, BUS_CLIENT, "--address", address] + (["--typed"] if typed else [])
        argv.append("listen")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=clean_env())
        self.received = []
        self.cond = threading.Condition()
        self.ready = False
        self.transcript = transcript
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        with self.cond:
            self.cond.wait_for(lambda: self.ready or self.proc.poll() is not None, 10)
        if not self.ready:
            self.close()
            raise AssertionError("the signal listener did not get ready: "
                                 + self.proc.stderr.read())

    def _read(self):
        for line in self.proc.stdout:
            self.transcript.append(line)
            doc = json.loads(line)
            with self.cond:
                if doc.get("ready"):
                    self.ready = True
                else:
                    self.received.append(doc)
                self.cond.notify_all()

    def signals(self, member=None):
        with self.cond:
            return [s for s in self.received if member is None or s["member"] == member]

    def wait_for(self, predicate, timeout=15.0, what="a signal"):
        """The first signal received for which @predicate holds."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for s in self.received:
                    if predicate(s):
                        return s
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [(s["member"], s["args"]) for s in self.received]
                    raise AssertionError(f"timed out waiting for {what}; signals seen: {got}")
                self.cond.wait(left)

    def close(self):
        stop_process(self.proc, timeout=5)
        self.thread.join(5)
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()

# ---------------------------------------------------------------- async call


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

# ------------------------------------------------------------------ harness


BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <!-- The default context of Debian's /usr/share/dbus-1/system.conf. -->
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
  <include>{policy}</include>
{extra}
</busconfig>
"""


_LIVE = []   # harnesses started and not closed yet, for emergency clean-up


class Harness:
    """Bus, stand-ins and daemon in one temporary directory."""

    def __init__(self, config=None, gateway=True, bus_extra="", log_level="debug",
                 daemon_preexec=None, cloud_tls=False):
        self.overrides = config or {}
        self.cloud_tls = cloud_tls
        self.daemon_preexec = daemon_preexec
        self.version = VERSION
        self.with_gateway = gateway
        self.bus_extra = bus_extra
        self.log_level = log_level
        self.tmp = None
        self.bus_proc = self.address = None
        self.cloud = self.gateway = None
        self.daemon = None
        self.daemon_overrides = None
        self.daemon_logs = []          # stderr file of every daemon started
        self.transcript = []           # every line any client printed
        self.children = []             # async calls and listeners to clean up
        self.cloud_token = f"{CANARY}-TOKEN-cloud-{uuid.uuid4().hex}"
        self.gateway_token = f"{CANARY}-TOKEN-gw-{uuid.uuid4().hex}"

    # -- set-up and tear-down

    def start(self):
        _LIVE.append(self)
        self.tmp = tempfile.mkdtemp(prefix="ep-it-")
        os.chmod(self.tmp, 0o755)       # so that an unprivileged client reaches the bus
        self.keystore = os.path.join(self.tmp, "keystore")
        self.cloud_token_file = self._write_secret("cloud-token", self.cloud_token + "\n")
        self.gateway_token_file = self._write_secret("gateway-token", self.gateway_token + "\n")
        self.start_bus()
        self.cloud = StandIn("cloud", self.cloud_token, self.tmp, tls=self.cloud_tls)
        if self.with_gateway:
            self.gateway = StandIn("gateway", self.gateway_token, self.tmp)
        self.start_daemon()
        return self

    def _write_secret(self, name, text):
        path = os.path.join(self.tmp, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

    def write_file(self, name, text, mode=0o644):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def start_bus(self):
        config = os.path.join(self.tmp, "bus.conf")
        with open(config, "w") as f:
            f.write(BUS_CONFIG.format(socket=os.path.join(self.tmp, "bus"), policy=POLICY,
                                      extra=self.bus_extra))
        self.bus_log = os.path.join(self.tmp, "dbus-daemon.log")
        with open(self.bus_log, "wb") as log:
            self.bus_proc = subprocess.Popen(
                ["dbus-daemon", "--config-file=" + config, "--nofork", "--print-address=1"],
                stdout=subprocess.PIPE, stderr=log, env=clean_env())
        line = self.bus_proc.stdout.readline().decode().strip()
        if not line:
            self.bus_proc.wait(5)
            raise AssertionError("dbus-daemon did not start: "
                                 + open(self.bus_log, errors="replace").read())
        self.address = line

    def close(self, check=True):
        """Tears everything down in reverse order; with @check, raises when the
        daemon did not exit 0 on SIGTERM."""
        if self in _LIVE:
            _LIVE.remove(self)
        problems = []
        for child in reversed(self.children):
            child.close() if isinstance(child, Listener) else child.kill()
        self.children = []
        if self.daemon is not None:
            rc = self.stop_daemon()
            if rc != 0:
                problems.append(f"the daemon exited with {rc} on SIGTERM at tear-down:\n"
                                + self.daemon_stderr()[-4000:])
        for standin in (self.gateway, self.cloud):
            if standin is not None:
                standin.close()
        stop_process(self.bus_proc, timeout=5)
        if self.bus_proc is not None:
            self.bus_proc.stdout.close()
        if self.tmp and not os.environ.get("EP_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif self.tmp:
            sys.stderr.write(f"# kept {self.tmp}\n")
        if check and problems:
            raise AssertionError("\n".join(problems))

    def kill_all(self):
        """Emergency tear-down (the test process is being stopped): SIGKILL
        every process started, remove the temporary directory."""
        procs = [c.proc for c in self.children] + [self.daemon, self.bus_proc]
        procs += [s.proc for s in (self.cloud, self.gateway) if s is not None]
        for proc in procs:
            if proc is not None and proc.poll() is None:
                proc.kill()
        if self.tmp and not os.environ.get("EP_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- the daemon

    def config_sections(self, overrides=None):
        sections = {
            "Cloud": dict({"URL": self.cloud.url, "TokenFile": self.cloud_token_file},
                          **({"CAFile": TLS_CERT} if self.cloud_tls else {})),
            "Gateway": ({"URL": self.gateway.url, "TokenFile": self.gateway_token_file}
                        if self.gateway else {"URL": ""}),
            "Provisioning": {"DefaultTarget": "auto", "MaxConcurrent": "8", "Timeout": "5",
                             "Deadline": "10", "Retries": "0"},
            "Keystore": {"Path": self.keystore},
            "Access": {"Group": "enapter-provisioning"},
        }
        for layer in (self.overrides, overrides or {}):
            for section, keys in layer.items():
                if keys is None:
                    sections.pop(section, None)
                    continue
                target = sections.setdefault(section, {})
                for key, value in keys.items():
                    if value is None:
                        target.pop(key, None)
                    else:
                        target[key] = str(value)
        return sections

    def config_text(self, overrides=None):
        lines = []
        for section, keys in self.config_sections(overrides).items():
            lines.append(f"[{section}]")
            lines += [f"{k}={v}" for k, v in keys.items()]
            lines.append("")
        return "\n".join(lines)

    def start_daemon(self, overrides=None, wait=True, extra_env=None, args=()):
        """Starts the daemon with the harness config plus @overrides."""
        assert self.daemon is None, "the daemon is already running"
        n = len(self.daemon_logs)
        conf = self.write_file(f"provisiond-{n}.conf", self.config_text(overrides))
        self.daemon_conf = conf
        log = os.path.join(self.tmp, f"daemon-{n}.stderr")
        self.daemon_logs.append(log)
        with open(log, "wb") as err:
            self.daemon = subprocess.Popen(
                [*DAEMON_WRAPPER, DAEMON, "--config", conf, f"--log-level={self.log_level}",
                 *args],
                stdout=err, stderr=err, preexec_fn=self.daemon_preexec,
                env=clean_env(DBUS_SYSTEM_BUS_ADDRESS=self.address, **(extra_env or {})))
        self.daemon_overrides = overrides
        if wait:
            self.wait_ready()
            if self.version is None:
                res = self.get_property("Version")
                self.version = res.reply[0] if res.ok else "?"
        return self.daemon

    def wait_ready(self, timeout=20.0):
        """Waits until the daemon process owns the bus name."""
        def owned():
            if self.daemon.poll() is not None:
                raise AssertionError(f"the daemon exited with {self.daemon.returncode} before "
                                     f"owning {BUS_NAME}:\n{self.daemon_stderr()[-4000:]}")
            res = self.bus_call("GetConnectionUnixProcessID", "s", BUS_NAME)
            return res.ok and res.reply[0] == self.daemon.pid
        try:
            wait_until(owned, timeout, 0.03, f"the daemon to own {BUS_NAME}")
        except AssertionError as exc:
            if "timed out" in str(exc):
                raise AssertionError(f"{exc}; daemon stderr:\n{self.daemon_stderr()[-4000:]}")
            raise

    def stop_daemon(self, sig=signal.SIGTERM, timeout=20.0):
        """Stops the daemon; returns its exit status."""
        proc, self.daemon = self.daemon, None
        return stop_process(proc, sig, timeout)

    def restart_daemon(self, overrides=None, extra_env=None):
        if self.daemon is not None:
            rc = self.stop_daemon()
            if rc != 0:
                raise AssertionError(f"the daemon exited with {rc} on SIGTERM:\n"
                                     + self.daemon_stderr()[-4000:])
        return self.start_daemon(overrides, extra_env=extra_env)

    def daemon_died(self):
        """The exit status if the daemon exited without being asked to."""
        return None if self.daemon is None else self.daemon.poll()

    def daemon_stderr(self, index=-1):
        if not self.daemon_logs:
            return ""
        with open(self.daemon_logs[index], errors="replace") as f:
            return f.read()

    def all_daemon_stderr(self):
        return "".join(self.daemon_stderr(i) for i in range(len(self.daemon_logs)))

    def run_daemon_once(self, args, timeout=15.0, extra_env=None):
        """Runs the daemon with @args to completion; returns (status, stdout, stderr)."""
        proc = subprocess.run([DAEMON] + args, capture_output=True, text=True, timeout=timeout,
                              env=clean_env(DBUS_SYSTEM_BUS_ADDRESS=self.address,
                                            **(extra_env or {})))
        return proc.returncode, proc.stdout, proc.stderr

    # -- calls

    def _argv(self, method, sig, args, timeout, typed, dest=BUS_NAME, path=OBJECT_PATH,
              iface=IFACE):
        argv = ["--address", self.address, "--timeout", str(timeout)]
        if typed:
            argv.append("--typed")
        return argv + ["call", dest, path, iface, method, sig] + [format_arg(a) for a in args]

    def call(self, method, sig, *args, timeout=30.0, typed=False, uid_=None, iface=IFACE):
        argv = self._argv(method, sig, args, timeout, typed, iface=iface)
        rc, out, err = run_client(argv, timeout + 10, uid_)
        self.transcript += [out, err]
        return parse_result(rc, out, err, argv)

    def bus_call(self, method, sig, *args):
        """A call to the bus driver itself."""
        argv = self._argv(method, sig, args, 10, False, "org.freedesktop.DBus",
                          "/org/freedesktop/DBus", "org.freedesktop.DBus")
        return parse_result(*run_client(argv, 20), argv)

    def call_async(self, method, sig, *args, timeout=60.0):
        call = AsyncCall(self._argv(method, sig, args, timeout, False), self.transcript)
        self.children.append(call)
        return call

    def provision(self, kind, args, timeout=30.0, typed=False, uid_=None):
        k = KINDS[kind]
        return self.call(k.method, k.sig, *[args[a] for a in k.args], timeout=timeout,
                         typed=typed, uid_=uid_)

    def provision_async(self, kind, args, timeout=60.0):
        k = KINDS[kind]
        return self.call_async(k.method, k.sig, *[args[a] for a in k.args], timeout=timeout)

    def get_property(self, name, typed=False, uid_=None):
        argv = ["--address", self.address]
        argv += ["--typed"] if typed else []
        argv += ["get-property", BUS_NAME, OBJECT_PATH, IFACE, name]
        rc, out, err = run_client(argv, 20, uid_)
        self.transcript += [out, err]
        return parse_result(rc, out, err, argv)

    def introspect(self, uid_=None):
        argv = ["--address", self.address, "introspect", BUS_NAME, OBJECT_PATH]
        rc, out, err = run_client(argv, 20, uid_)
        if rc != 0:
            raise AssertionError(f"introspection failed (exit {rc}): {err}")
        return out

    def listen(self, typed=False, prefix=()):
        """A signal listener; @prefix runs it as another user (setpriv ...)."""
        listener = Listener(self.address, self.transcript, typed, prefix)
        self.children.append(listener)
        return listener

    # -- stand-ins

    def standins(self):
        return [s for s in (self.cloud, self.gateway) if s is not None]

    def reset_standins(self):
        for s in self.standins():
            s.reset()

    def all_requests(self):
        return [r for s in self.standins() for r in s.requests()]

    def wait_request(self, standin, path, count=1, timeout=10.0):
        """Waits until @standin has received @count requests for @path (the
        stand-in records a request when it arrives, before any fault delay)."""
        def arrived():
            reqs = standin.requests(path)
            return reqs if len(reqs) >= count else None
        return wait_until(arrived, timeout, 0.02,
                          f"{count} request(s) to {path} at the {standin.role} stand-in")

    def target_of(self, kind):
        """The stand-in a kind goes to under the current daemon configuration."""
        route = KINDS[kind].route
        if route == "gateway":
            return self.gateway
        if route == "cloud":
            return self.cloud
        target = self.config_sections(self.daemon_overrides)["Provisioning"].get(
            "DefaultTarget", "auto")
        if target == "auto":
            return self.gateway if self.gateway else self.cloud
        return self.gateway if target == "gateway" else self.cloud

    # -- keystore

    def keystore_tree(self):
        """{relative path: (mode, 'd' or 'f', bytes or None)} of the keystore."""
        tree = {}
        if not os.path.lexists(self.keystore):
            return tree
        for root, dirs, files in os.walk(self.keystore):
            for name in dirs + files:
                path = os.path.join(root, name)
                st = os.lstat(path)
                rel = os.path.relpath(path, self.keystore)
                if stat.S_ISDIR(st.st_mode):
                    tree[rel] = (stat.S_IMODE(st.st_mode), "d", None)
                elif stat.S_ISREG(st.st_mode):
                    with open(path, "rb") as f:
                        tree[rel] = (stat.S_IMODE(st.st_mode), "f", f.read())
                else:
                    tree[rel] = (stat.S_IMODE(st.st_mode), "other", None)
        return tree

    def device_dir(self, device_id):
        return os.path.join(self.keystore, device_id)

    def secrets(self):
        """Every string that must never appear on the bus or in the logs."""
        return SECRET_MARKERS + (self.cloud_token, self.gateway_token)

    def stderr_tail(self, lines=60):
        text = self.daemon_stderr()
        return "\n".join(text.splitlines()[-lines:])

# ------------------------------------------------- end-to-end verification


def slugify(name):
    """The stand-in's slug for a name (its documented contract)."""
    out, dash = [], False
    for ch in name.lower():
        if "a" <= ch <= "z" or "0" <= ch <= "9":
            out.append(ch)
            dash = False
        elif not dash:
            out.append("-")
            dash = True
    return "".join(out).strip("-")[:64].strip("-") or "device"


def pem(label, text):
    return f"-----BEGIN {label}-----\n{text}\n-----END {label}-----\n"


RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]00:00)")
DETAIL_TYPES = {"kind": "s", "device_id": "s", "slug": "s", "site_id": "s", "hardware_id": "s",
                "reprovisioned": "b", "keystore_path": "s", "protocol": "s", "mqtt_host": "s",
                "mqtt_port": "u", "channel_id": "s"}


class ProvisioningChecks:
    """End-to-end checks of one successful Provision call (mixed into
    HarnessTestCase)."""

    def user_agent(self):
        return "enapter-provisiond/" + (VERSION or self.H.version)

    def check_request(self, req, kind, args, standin):
        """One recorded request: method, exact path, headers and body."""
        k = KINDS[kind]
        self.assertEqual(req["method"], "POST")
        self.assertEqual(req["path"], k.endpoint)
        h = req["headers"]
        self.assertEqual(h.get("x-enapter-auth-token"), standin.token, "X-Enapter-Auth-Token")
        self.assertEqual(h.get("content-type"), "application/json", "Content-Type")
        self.assertEqual(h.get("accept"), "application/json", "Accept")
        self.assertEqual(h.get("user-agent"), self.user_agent(), "User-Agent")
        if standin.tls:
            self.assertNotIn("x-enapter-allow-http", h, "X-Enapter-Allow-HTTP over HTTPS")
        else:
            self.assertEqual(h.get("x-enapter-allow-http"), "true", "X-Enapter-Allow-HTTP")
        self.assertIsNotNone(req["json"], f"the body is not JSON: {req['body']!r}")
        self.assertEqual(req["json"], request_body(kind, args), "request body")
        if kind == "gateway":
            for axis in ("latitude", "longitude"):
                value = req["json"]["site_location"][axis]
                self.assertIsInstance(value, (int, float), f"site_location.{axis} is a number")
                self.assertNotIsInstance(value, bool)

    def expected_details(self, kind, args, device_id, reprovisioned):
        k = KINDS[kind]
        exp = {"kind": kind, "device_id": device_id, "reprovisioned": reprovisioned,
               "keystore_path": self.H.device_dir(device_id)}
        for key in ("site_id", "hardware_id"):
            if key in args:
                exp[key] = args[key]
        if k.has_config:
            protocol = args.get("protocol", "MQTTS")
            exp.update(protocol=protocol, mqtt_host="mqtt.standin.invalid",
                       mqtt_port=8883 if protocol == "MQTTS" else 1883,
                       channel_id="gw" if kind == "gateway" else "ucm")
        if kind == "lua_device":
            exp["slug"] = args["slug"]
        elif k.has_slug:
            exp["slug"] = slugify(args["name"])
        return exp

    def check_details(self, details, kind, args, device_id, reprovisioned):
        exp = self.expected_details(kind, args, device_id, reprovisioned)
        for key, value in exp.items():
            self.assertIn(key, details, f"details lack {key}: {details}")
            self.assertEqual(details[key], value, f"details[{key!r}]")
        for key in ("slug", "site_id", "hardware_id", "protocol", "mqtt_host", "mqtt_port",
                    "channel_id"):
            if key not in exp:
                self.assertNotIn(key, details, f"{kind} details hold {key}, which is not known")
        self.assertNoSecrets(json.dumps(details), "the details")
        for key in ("private_key", "certificate", "ca_chain", "password", "token"):
            self.assertNotIn(key, details)

    def check_keystore(self, kind, args, device_id):
        """The device's directory: layout, modes, device.json; returns
        (device.json, credential serial number)."""
        H, k = self.H, KINDS[kind]
        group = H.config_sections(H.daemon_overrides)["Keystore"].get("Group")
        dmode, fmode = (0o750, 0o640) if group else (0o700, 0o600)
        gid = grp.getgrnam(group).gr_gid if group else None
        st = os.lstat(H.keystore)
        self.assertTrue(stat.S_ISDIR(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), dmode, "keystore directory mode")
        if gid is not None:
            self.assertEqual(st.st_gid, gid, "keystore directory group")
        d = H.device_dir(device_id)
        st = os.lstat(d)
        self.assertTrue(stat.S_ISDIR(st.st_mode), f"{d} is not a directory")
        self.assertEqual(stat.S_IMODE(st.st_mode), dmode, "device directory mode")
        if gid is not None:
            self.assertEqual(st.st_gid, gid, "device directory group")
        protocol = args.get("protocol", "MQTTS") if k.has_config else None
        creds = {"MQTTS": {"private_key.pem", "certificate.pem", "ca_chain.pem"},
                 "MQTT": {"password"}, None: set()}[protocol]
        self.assertEqual(set(os.listdir(d)), {"device.json"} | creds, f"files in {d}")
        contents = {}
        for name in os.listdir(d):
            st = os.lstat(os.path.join(d, name))
            self.assertTrue(stat.S_ISREG(st.st_mode), f"{name} is not a regular file")
            self.assertEqual(stat.S_IMODE(st.st_mode), fmode, f"mode of {name}")
            if gid is not None:
                self.assertEqual(st.st_gid, gid, f"group of {name}")
            with open(os.path.join(d, name), "rb") as f:
                contents[name] = f.read().decode()

        dj_text = contents["device.json"]
        self.assertNoSecrets(dj_text, "device.json")
        dj = json.loads(dj_text)
        self.assertIsInstance(dj, dict)
        self.assertEqual(dj.get("kind"), kind)
        self.assertEqual(dj.get("device_id"), device_id)
        if "name" in args:
            self.assertEqual(dj.get("name"), args["name"])
        # (the gateway kind has no name argument: test_provision checks its
        # device.json name on its own)
        when = dj.get("provisioned_at")
        self.assertIsInstance(when, str)
        self.assertRegex(when, RFC3339_UTC, "provisioned_at is RFC 3339 UTC")
        ts = datetime.datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
        self.assertTrue(self.t0 - 2 <= ts <= time.time() + 2,
                        f"provisioned_at {when} is not the time of the call")
        for field in k.identity:
            self.assertEqual(dj.get(field), args[field], f"device.json {field}")
        serial = None
        if k.has_config:
            cfg = dj.get("config")
            self.assertIsInstance(cfg, dict, "device.json config")
            expected = {"mqtt_host": "mqtt.standin.invalid",
                        "mqtt_port": 8883 if protocol == "MQTTS" else 1883,
                        "protocol": protocol, "time_sync_protocol": "HTTP",
                        "time_sync_host": "127.0.0.1", "time_sync_port": 80,
                        "hardware_id": args["hardware_id"],
                        "channel_id": "gw" if kind == "gateway" else "ucm"}
            if protocol == "MQTT":
                expected["username"] = "user-" + device_id
            for key, value in expected.items():
                self.assertEqual(cfg.get(key), value, f"device.json config.{key}")
            if protocol == "MQTTS":
                self.assertNotIn("username", cfg)
                m = re.fullmatch(r"-----BEGIN PRIVATE KEY-----\n" + CANARY
                                 + r"-PRIVATE-KEY-(\d+)\n-----END PRIVATE KEY-----\n",
                                 contents["private_key.pem"])
                self.assertIsNotNone(m, f"private_key.pem: {contents['private_key.pem']!r}")
                serial = int(m.group(1))
                self.assertIn(f"{CANARY}-CERT-{serial}\n", contents["certificate.pem"])
                self.assertIn(f"{CANARY}-CERT-{serial}-CA", contents["ca_chain.pem"])
                self.assertNotIn(f"{CANARY}-CERT-{serial}-CA", contents["certificate.pem"])
            else:
                m = re.fullmatch(CANARY + r"-PASSWORD-(\d+)", contents["password"])
                self.assertIsNotNone(m, f"password file: {contents['password']!r}")
                serial = int(m.group(1))
        else:
            self.assertNotIn("config", dj, f"{kind} has no config")
        self.assertKeystoreClean()
        return dj, serial

    def check_signal(self, listener, kind, device_id, details):
        sig = listener.wait_for(
            lambda s: s["member"] == "DeviceProvisioned" and s["args"][1] == device_id
            and s["args"][2].get("reprovisioned") == details.get("reprovisioned"),
            timeout=5, what=f"DeviceProvisioned for {device_id}")
        self.assertEqual(sig["interface"], IFACE)
        self.assertEqual(sig["path"], OBJECT_PATH)
        self.assertEqual(sig["args"], [kind, device_id, details])
        return sig

    def check_provisioned(self, kind, args, res, listener=None, reprovisioned=False,
                          target=None, requests=1):
        """All of it: the request the stand-in saw, the reply, the keystore and
        the signal. Returns (device_id, details, device.json, serial)."""
        device_id, details = self.assertOk(res, f"{kind} provisioning")
        target = target or self.H.target_of(kind)
        self.assertIsNotNone(target, f"no stand-in serves {kind}")
        reqs = target.requests()
        self.assertEqual(len(reqs), requests, f"requests to the {target.role} stand-in")
        for other in self.H.standins():
            if other is not target:
                self.assertEqual(other.requests(), [], f"requests to the {other.role} stand-in")
        self.check_request(reqs[-1], kind, args, target)
        self.check_details(details, kind, args, device_id, reprovisioned)
        dj, serial = self.check_keystore(kind, args, device_id)
        if listener is not None:
            self.check_signal(listener, kind, device_id, details)
        return device_id, details, dj, serial


# ------------------------------------------------------------- test cases


class HarnessTestCase(ProvisioningChecks, unittest.TestCase):
    """A test class sharing one harness (bus, stand-ins, daemon) across its
    tests. CONFIG overrides the daemon configuration, GATEWAY=False runs no
    gateway stand-in (and leaves [Gateway] URL empty)."""

    CONFIG = None
    GATEWAY = True
    BUS_EXTRA = ""
    DAEMON_PREEXEC = None
    CLOUD_TLS = False
    H = None
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.H = Harness(config=cls.CONFIG, gateway=cls.GATEWAY, bus_extra=cls.BUS_EXTRA,
                        daemon_preexec=cls.DAEMON_PREEXEC, cloud_tls=cls.CLOUD_TLS)
        try:
            cls.H.start()
        except BaseException:
            cls.H.close(check=False)
            cls.H = None
            raise

    @classmethod
    def tearDownClass(cls):
        h, cls.H = cls.H, None
        if h is not None:
            h.close(check=True)

    def setUp(self):
        H = self.H
        if H.daemon is None or H.daemon_overrides or H.daemon.poll() is not None:
            if H.daemon is not None:
                H.stop_daemon()
            H.start_daemon()
        H.reset_standins()
        self.t0 = time.time()

    def tearDown(self):
        H = self.H
        for child in H.children:
            child.close() if isinstance(child, Listener) else child.kill()
        H.children = []
        rc = H.daemon_died()
        if rc is not None:
            H.daemon = None
            self.fail(f"the daemon died during the test (exit status {rc}):\n"
                      + H.stderr_tail())

    def diagnostics(self):
        if self.H is None:
            return ""
        return "daemon stderr (tail):\n" + self.H.stderr_tail()

    # -- assertions

    def assertOk(self, res, what="the call"):
        """Asserts a (s, a{sv}) reply; returns (device_id, details)."""
        self.assertTrue(res.ok, f"{what} failed: {res.doc}")
        self.assertEqual(len(res.reply), 2, f"reply is not (s, a{{sv}}): {res.doc}")
        device_id, details = res.reply
        self.assertIsInstance(device_id, str)
        self.assertIsInstance(details, dict)
        return device_id, details

    def assertError(self, res, name, what="the call"):
        """Asserts the error com.enapter.Provisioning1.Error.<name> (or a full
        name); returns its message."""
        full = name if "." in name else ERROR_PREFIX + name
        self.assertFalse(res.ok, f"{what} succeeded, expected {full}: {res.doc}")
        self.assertEqual(res.error_name, full, f"{what}: {res.doc}")
        return res.error_message

    def assertNoRequests(self, what=""):
        reqs = self.H.all_requests()
        self.assertEqual(reqs, [], f"the stand-ins saw requests {what}")

    def assertNoSecrets(self, text, where):
        for secret in self.H.secrets():
            self.assertNotIn(secret, text, f"a secret ({secret[:20]}...) leaked into {where}")

    def assertKeystoreClean(self):
        """No temporary ('.'-prefixed) entries anywhere in the keystore."""
        tmp = [p for p in self.H.keystore_tree()
               if any(part.startswith(".") for part in p.split(os.sep))]
        self.assertEqual(tmp, [], "temporary entries left in the keystore")

# -------------------------------------------------------------- TAP runner


class TapResult(unittest.TestResult):
    """Prints one TAP line per test as it finishes."""

    def __init__(self):
        super().__init__()
        self.n = 0
        self.any_failed = False
        self._problems = []
        self._skip = None

    def _emit(self, ok, name, problems=(), directive="", extra=""):
        self.n += 1
        line = f"{'ok' if ok else 'not ok'} {self.n} - {name}"
        print(line + (f" # {directive}" if directive else ""))
        for block in list(problems) + ([extra] if extra and not ok else []):
            for text_line in block.rstrip().splitlines():
                print("# " + text_line)
        sys.stdout.flush()
        if not ok:
            self.any_failed = True
            # meson parses stdout as TAP and shows only stderr for a failed
            # test: say what failed there too, so CI logs keep it.
            sys.stderr.write(f"{line}\n")
            for block in list(problems) + ([extra] if extra else []):
                sys.stderr.write(block.rstrip()[-6000:] + "\n")
            sys.stderr.flush()

    @staticmethod
    def _name(test):
        if hasattr(test, "_testMethodName"):
            return f"{type(test).__name__}.{test._testMethodName}"
        return str(test)

    def startTest(self, test):
        super().startTest(test)
        self._problems = []
        self._skip = None
        self._t0 = time.monotonic()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, err)

    def _record(self, test, err):
        text = self._exc_info_to_string(err, test)
        if not hasattr(test, "_testMethodName"):
            # setUpClass, tearDownClass, setUpModule...: not a test of its own
            self._emit(False, self._name(test), [text])
        else:
            self._problems.append(text)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._problems.append(f"{subtest._subDescription()}:\n"
                                  + self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._skip = reason

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._problems.append("unexpected success")

    def stopTest(self, test):
        super().stopTest(test)
        took = time.monotonic() - self._t0
        name = self._name(test)
        if self._skip is not None:
            self._emit(True, name, directive=f"SKIP {self._skip}")
        elif self._problems:
            extra = test.diagnostics() if hasattr(test, "diagnostics") else ""
            self._emit(False, name, self._problems, extra=extra)
        else:
            self._emit(True, name)
        print(f"# {name}: {took:.2f}s")


def main():
    """Runs the tests of the calling module (optionally only those whose name
    contains one of the command-line arguments) and prints TAP 13."""
    module = sys.modules["__main__"]
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    patterns = sys.argv[1:]
    if patterns:
        def keep(s):
            out = unittest.TestSuite()
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    out.addTest(keep(t))
                elif any(p in t.id() for p in patterns):
                    out.addTest(t)
            return out
        suite = keep(suite)
    print("TAP version 13")
    missing = [p for p in (DAEMON, BUS_CLIENT, STANDIN, POLICY) if not os.path.exists(p)]
    if missing:
        print("1..1")
        print("not ok 1 - prerequisites")
        print(f"# missing: {', '.join(missing)}")
        sys.exit(1)
    def stopped(signum, frame):
        for h in list(_LIVE):
            h.kill_all()
        print(f"Bail out! stopped by signal {signum}", flush=True)
        os._exit(128 + signum)
    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGHUP, stopped)
    result = TapResult()
    try:
        suite.run(result)
    finally:
        for h in list(_LIVE):      # after KeyboardInterrupt, say
            h.kill_all()
    print(f"1..{result.n}")
    sys.stdout.flush()
    sys.exit(1 if result.any_failed or result.n == 0 else 0)
