"""Harness: a private bus, the stand-ins and the daemon in one temporary
directory; _LIVE, the harnesses not closed yet (main()'s signal handler
kills them)."""

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import uuid

from .bus import BUS_CONFIG, Listener
from .constants import (BUS_NAME, CANARY, DAEMON, DAEMON_WRAPPER, IFACE, OBJECT_PATH, POLICY,
                        SECRET_MARKERS, TLS_CERT, VERSION)
from .kinds import KINDS, format_arg
from .processes import (AsyncCall, clean_env, parse_result, run_client, stop_process,
                        wait_until)
from .standin import StandIn


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

    def start_daemon(self, overrides=None, wait=True, extra_env=None, args=(), wrapper=None):
        """Starts the daemon with the harness config plus @overrides, under
        @wrapper (default: EP_DAEMON_WRAPPER's)."""
        assert self.daemon is None, "the daemon is already running"
        n = len(self.daemon_logs)
        conf = self.write_file(f"provisiond-{n}.conf", self.config_text(overrides))
        self.daemon_conf = conf
        log = os.path.join(self.tmp, f"daemon-{n}.stderr")
        self.daemon_logs.append(log)
        with open(log, "wb") as err:
            self.daemon = subprocess.Popen(
                [*(DAEMON_WRAPPER if wrapper is None else wrapper), DAEMON, "--config", conf,
                 f"--log-level={self.log_level}",
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

    def restart_daemon(self, overrides=None, extra_env=None, wrapper=None):
        if self.daemon is not None:
            rc = self.stop_daemon()
            if rc != 0:
                raise AssertionError(f"the daemon exited with {rc} on SIGTERM:\n"
                                     + self.daemon_stderr()[-4000:])
        return self.start_daemon(overrides, extra_env=extra_env, wrapper=wrapper)

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
