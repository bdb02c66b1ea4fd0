#!/usr/bin/env python3
"""The benchmark driver (Python 3 standard library, the integration harness's
helpers, and the openssl command); bench/run builds what it needs and calls
it.

Everything runs on this machine in one temporary directory: a private
system-type dbus-daemon loading the project's bus policy, the C stand-in of
the API (bench/fast-standin, serving one real MQTTS set that this driver
makes with openssl), and the daemon. Each case compares the daemon
with a reference measured in the same run: the same POST made directly with
libcurl (bench-direct) and the durable write of the same credential set
(bench-floor). Prints a table and one line `BENCH_JSON {...}`.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import callgrind
import syscalls
from report import report

BUS_NAME = "com.enapter.Provisioning1"
TOKEN = "CANARY-TOKEN-bench"
MAX_CONCURRENT = 64
KEEP_CONNECTIONS = 10     # the daemon's default
WRITERS = 64              # src/keystore.c MAX_WRITERS: the most writer threads

# The private system bus is the integration harness's: the repo's policy on
# top of the default context of Debian's system.conf.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "integration"))
from harness import BUS_CONFIG, clean_env, stop_process, wait_until  # noqa: E402

DAEMON_CONFIG = """[Cloud]
URL={url}
TokenFile={token_file}

[Gateway]
URL=

[Provisioning]
DefaultTarget=cloud
MaxConcurrent={max_concurrent}
MaxQueued=64
Timeout=10
Deadline=20
Retries={retries}
KeepConnections={keep_connections}

[Keystore]
Path={keystore}

[Access]
Group=root
"""

CLK_TCK = os.sysconf("SC_CLK_TCK")
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def log(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------- credentials


def make_mqtts_set(directory):
    """One real MQTTS set made with the openssl command in @directory: a test
    CA (EC P-256, CA:TRUE), a P-256 key (PKCS#8 PEM) and its certificate that
    CA signs. fast-standin hands it out in every MQTTS answer, so that a
    daemon that verifies sets stores it. Returns the fast-standin options."""
    os.mkdir(directory)
    p = {name: os.path.join(directory, name + ".pem")
         for name in ("ca-key", "ca", "key", "request", "cert")}
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for argv in (
            ["req", "-x509", *new_key, "-keyout", p["ca-key"], "-out", p["ca"], "-days", "3650",
             "-subj", "/CN=enapter-provisiond bench CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ["req", "-new", *new_key, "-keyout", p["key"], "-out", p["request"],
             "-subj", "/CN=bench-device"],
            ["x509", "-req", "-in", p["request"], "-CA", p["ca"], "-CAkey", p["ca-key"],
             "-set_serial", "0x" + os.urandom(8).hex(), "-days", "365", "-out", p["cert"]]):
        proc = subprocess.run(["openssl", *argv], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"openssl {argv[0]} failed: {proc.stderr.strip()}")
    return ["--key", p["key"], "--cert", p["cert"], "--ca", p["ca"]]


# ------------------------------------------------------------------ /proc


def cpu_seconds(pid, tid=None):
    """utime + stime of the whole process (exited threads included), or of
    thread @tid."""
    with open(f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kib(pid):
    """The kB (and count) lines of /proc/PID/status as numbers."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            parts = value.split()
            if len(parts) == 2 and parts[1] == "kB" or key == "Threads":
                out[key] = int(parts[0])
    return out


class Sampler:
    """Samples RssAnon and Threads of @pid every 5 ms in the background."""

    def __init__(self, pid):
        self.pid = pid
        self.peak_rss_anon = 0
        self.peak_threads = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                st = status_kib(self.pid)
            except OSError:
                return
            self.peak_rss_anon = max(self.peak_rss_anon, st.get("RssAnon", 0))
            self.peak_threads = max(self.peak_threads, st.get("Threads", 0))
            self.samples += 1
            self._stop.wait(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

# --------------------------------------------------------------- statistics


def quantile_ms(values_ns, q):
    """Nearest-rank quantile, as the C programs compute it, in ms."""
    if not values_ns:
        return float("nan")
    v = sorted(values_ns)
    i = min(max(int(q * len(v) + 0.999999), 1), len(v))
    return v[i - 1] / 1e6


def summary(values_ns):
    return {"n": len(values_ns), "p50_ms": quantile_ms(values_ns, 0.5),
            "p90_ms": quantile_ms(values_ns, 0.9), "p99_ms": quantile_ms(values_ns, 0.99),
            "max_ms": max(values_ns) / 1e6 if values_ns else float("nan")}

# ------------------------------------------------------------------- bench


class Bench:
    def __init__(self, opts):
        self.opts = opts
        self.bin = opts.bin
        self.tmp = tempfile.mkdtemp(prefix="ep-bench-", dir=os.environ.get("BENCH_TMPDIR"))
        os.chmod(self.tmp, 0o755)
        self.procs = []
        self.bus_proc = self.standin = self.address = None
        self.standin_url = None
        self.token_file = os.path.join(self.tmp, "cloud-token")
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(TOKEN + "\n")
        self.n_daemons = 0
        self.wrapper = []         # a command the daemon runs under (callgrind.py)

    def close(self):
        for proc in reversed(self.procs):
            stop_process(proc, timeout=10)
        if self.opts.keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def spawn(self, argv, log_name, **kwargs):
        with open(os.path.join(self.tmp, log_name), "ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                    env=kwargs.pop("env", clean_env()), **kwargs)
        self.procs.append(proc)
        return proc

    def run(self, name, argv):
        """Runs a bench program; returns its JSON summary (last stdout line)."""
        proc = subprocess.run([os.path.join(self.bin, name)] + [str(a) for a in argv],
                              capture_output=True, text=True, env=clean_env())
        if proc.returncode != 0 or not proc.stdout.strip():
            raise RuntimeError(f"{name} {' '.join(map(str, argv))} failed "
                               f"(exit {proc.returncode}): {proc.stderr.strip()}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def raw_path(self, name):
        return os.path.join(self.tmp, f"raw-{name}.txt")

    @staticmethod
    def read_raw(path):
        with open(path) as f:
            return [int(line) for line in f if line.strip()]

    # -- the bus and the stand-ins

    def start_bus(self):
        conf = os.path.join(self.tmp, "bus.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONFIG.format(
                socket=os.path.join(self.tmp, "bus"),
                policy=os.path.join(self.opts.root, "policy", "com.enapter.Provisioning1.conf"),
                extra=""))
        with open(os.path.join(self.tmp, "dbus-daemon.log"), "wb") as err:
            self.bus_proc = subprocess.Popen(
                ["dbus-daemon", "--config-file=" + conf, "--nofork", "--print-address=1"],
                stdout=subprocess.PIPE, stderr=err, env=clean_env())
        self.procs.append(self.bus_proc)
        self.address = self.bus_proc.stdout.readline().decode().strip()
        if not self.address:
            raise RuntimeError("dbus-daemon did not start; see dbus-daemon.log")

    def start_standin(self, python=False):
        port_file = os.path.join(self.tmp, "standin-py.port" if python else "standin.port")
        if python:
            argv = [sys.executable, os.path.join(self.opts.root, "tests", "standin", "standin.py"),
                    "--role", "cloud", "--token", TOKEN, "--port", "0", "--port-file", port_file,
                    "--quiet", "--max-recorded", "100"]
        else:
            argv = [os.path.join(self.bin, "fast-standin"), "--token", TOKEN, "--port", "0",
                    "--port-file", port_file,
                    *make_mqtts_set(os.path.join(self.tmp, "mqtts-set"))]
        proc = self.spawn(argv, "standin-py.log" if python else "standin.log")

        def port():
            if proc.poll() is not None:
                raise RuntimeError(f"the stand-in exited with {proc.returncode}")
            try:
                with open(port_file) as f:
                    return int(f.read().strip() or 0)
            except FileNotFoundError:
                return 0
        url = f"http://127.0.0.1:{wait_until(port, 15, what='the stand-in port')}"
        return proc, url

    def standin_control(self, name, post=False):
        req = urllib.request.Request(self.standin_url + "/_standin/" + name,
                                     data=b"{}" if post else None,
                                     method="POST" if post else "GET")
        with NO_PROXY.open(req, timeout=10) as resp:
            return json.loads(resp.read())

    # -- the daemon

    def start_daemon(self, keystore):
        self.n_daemons += 1
        conf = os.path.join(self.tmp, f"provisiond-{self.n_daemons}.conf")
        with open(conf, "w") as f:
            f.write(self.daemon_config(keystore))
        proc = self.spawn(self.wrapper + [self.opts.daemon, "--config", conf],
                          f"daemon-{self.n_daemons}.log",
                          env=clean_env(DBUS_SYSTEM_BUS_ADDRESS=self.address))

        def owned():
            if proc.poll() is not None:
                raise RuntimeError(f"the daemon exited with {proc.returncode}; see "
                                   f"daemon-{self.n_daemons}.log")
            out = subprocess.run(
                ["busctl", f"--address={self.address}", "call", "org.freedesktop.DBus",
                 "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                 "s", BUS_NAME], capture_output=True, text=True, env=clean_env())
            return out.returncode == 0 and out.stdout.split() == ["u", str(proc.pid)]
        wait_until(owned, 20, what=f"the daemon to own {BUS_NAME}")
        return proc, conf

    def start_filled_daemon(self, log, pool):
        """For the counting modes (callgrind.py, syscalls.py): the bus, the C
        stand-in and a daemon whose keystore is filled as case 1 leaves
        instance A (64 + 500 devices, then the @pool's); returns the daemon."""
        self.start_bus()
        _, self.standin_url = self.start_standin()
        daemon, _ = self.start_daemon(os.path.join(self.tmp, "keystore"))
        log("filling the keystore as case 1 does (not counted)")
        for prefix, calls, inflight, devices in (("WARM", 64, 1, 0), ("FILL", 500, 8, 0),
                                                  ("C2W", 2 * pool, MAX_CONCURRENT, pool)):
            res = self.client(calls, inflight, devices, prefix)
            if res["errors"]:
                raise RuntimeError(f"calls failed before counting: {res['first_error']}")
        return daemon

    def daemon_config(self, keystore):
        return DAEMON_CONFIG.format(url=self.standin_url, token_file=self.token_file,
                                    max_concurrent=MAX_CONCURRENT, keystore=keystore,
                                    retries=self.opts.retries,
                                    keep_connections=KEEP_CONNECTIONS)

    def stop_daemon(self, proc):
        rc = stop_process(proc, timeout=20)
        self.procs.remove(proc)
        if rc != 0:
            raise RuntimeError(f"the daemon exited with {rc} on SIGTERM")

    def client(self, calls, inflight, pool, prefix, raw=None):
        argv = ["--address", self.address, "--calls", calls, "--inflight", inflight,
                "--pool", pool, "--prefix", prefix, "--site", "bench-daemon"]
        return self.run("bench-client", argv + (["--raw", raw] if raw else []))

    def direct(self, url, calls, inflight, pool, prefix, raw=None):
        """The reference: failures here mean the set-up is wrong, not the daemon."""
        argv = ["--url", url + "/v3/provisioning/ucm", "--token", TOKEN, "--calls", calls,
                "--inflight", inflight, "--pool", pool, "--prefix", prefix,
                "--site", "bench-direct"]
        res = self.run("bench-direct", argv + (["--raw", raw] if raw else []))
        if res["errors"]:
            raise RuntimeError(f"direct POSTs to {url} failed: {res['first_error']}")
        return res


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    os_name = "?"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem_kib / 1048576, 1),
            "kernel": platform.release(), "os": os_name}


def file_system(path):
    out = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE,OPTIONS", "--target", path],
                         capture_output=True, text=True)
    lines = out.stdout.splitlines()      # a file system mounted twice shows twice
    parts = lines[-1].split() if lines else []
    if len(parts) != 3:
        return {"type": "?", "source": "?", "options": "?"}
    fs = {"type": parts[0], "source": parts[1], "options": parts[2]}
    # ext4 without a journal fsyncs and allocates inodes differently (it
    # scans past recently deleted inodes): say which one this is.
    try:
        with open(f"/sys/fs/ext4/{os.path.basename(parts[1])}/journal_task") as f:
            fs["journal"] = f.read().strip() != "<none>"
    except OSError:
        pass
    return fs


def keystore_state(path):
    names = os.listdir(path)
    return sum(1 for n in names if not n.startswith(".")), sum(1 for n in names
                                                               if n.startswith("."))

# ------------------------------------------------------------------- cases


def measure(b, opts):
    R = {"machine": machine(), "fs": file_system(b.tmp), "stand_in": "bench/fast-standin (C)",
         "loadavg_start": os.getloadavg()[0], "retries": opts.retries,
         "max_concurrent": MAX_CONCURRENT}
    q = opts.quick
    seq_rounds, seq_per_round = (4, 25) if q else (20, 25)
    par_calls = 1000 if q else 5000
    mem_half = 1000 if q else 5000
    start_runs = 5 if q else 20
    pool = 2 * MAX_CONCURRENT

    b.start_bus()
    standin_proc, b.standin_url = b.start_standin()
    url = b.standin_url

    # Is the Python stand-in fast enough? The same direct load against both.
    if not opts.no_python_standin:
        log("stand-in check: tests/standin/standin.py vs bench/fast-standin, 64 in flight")
        py_proc, py_url = b.start_standin(python=True)
        n = 500 if q else 2000
        py = b.direct(py_url, n, MAX_CONCURRENT, pool, "PYCHK")
        stop_process(py_proc)
        b.procs.remove(py_proc)
        fast = b.direct(url, n, MAX_CONCURRENT, pool, "FASTCHK")
        R["standin_check"] = {"calls": n, "python_per_s": py["per_s"],
                              "fast_per_s": fast["per_s"], "python_errors": py["errors"]}

    # ---- instance A: cases 1, 2, 3, 6 and the peak of case 4
    keystore_a = os.path.join(b.tmp, "keystore-a")
    daemon, conf_a = b.start_daemon(keystore_a)
    pid = daemon.pid
    time.sleep(0.5)
    R["rss_anon_after_start_kib"] = status_kib(pid)["RssAnon"]
    log(f"daemon A pid {pid}: RssAnon after start {R['rss_anon_after_start_kib']} KiB")

    # Warm-up (not measured): connections, the worker thread, the caches.
    warm = b.client(64, 1, 0, "WARM")
    b.direct(url, 64, 1, 0, "DWARM")
    if warm["errors"]:
        raise RuntimeError(f"warm-up calls failed: {warm['first_error']}")
    sample = next(os.path.join(keystore_a, n) for n in sorted(os.listdir(keystore_a))
                  if not n.startswith("."))

    # Case 1: sequential, interleaved in rounds so that the daemon, the
    # direct POST and the floor see the same moment of the disk.
    log(f"case 1: {seq_rounds} x {seq_per_round} sequential calls, direct POSTs, floor stores")
    lat = {"daemon": [], "direct": [], "floor": []}
    errors = 0
    cpu1 = loop1 = floor_cpu1 = 0.0
    for r in range(seq_rounds):
        c0, l0 = cpu_seconds(pid), cpu_seconds(pid, pid)
        res = b.client(seq_per_round, 1, 0, f"C1R{r}X", raw=b.raw_path("c1"))
        cpu1 += cpu_seconds(pid) - c0
        loop1 += cpu_seconds(pid, pid) - l0
        errors += res["errors"]
        lat["daemon"] += b.read_raw(b.raw_path("c1"))
        b.direct(url, seq_per_round, 1, 0, f"D1R{r}X", raw=b.raw_path("d1"))
        lat["direct"] += b.read_raw(b.raw_path("d1"))
        res = b.run("bench-floor", ["--dir", os.path.join(b.tmp, f"floor-seq-{r}"),
                                    "--sample", sample, "--count", seq_per_round,
                                    "--raw", b.raw_path("f1")])
        floor_cpu1 += res["cpu_us_per_store"] / seq_rounds
        lat["floor"] += b.read_raw(b.raw_path("f1"))
    n1 = seq_rounds * seq_per_round
    R["case1"] = {k: summary(v) for k, v in lat.items()}
    R["case1"]["errors"] = errors
    R["case1"]["daemon_cpu_us_per_call"] = cpu1 / n1 * 1e6
    R["case1"]["loop_cpu_us_per_call"] = loop1 / n1 * 1e6
    R["case1"]["floor_cpu_us_per_store"] = floor_cpu1

    # Case 2: 64 in flight over a pool of 128 devices (reprovisioning).
    log(f"case 2: {par_calls} calls, 64 in flight: direct, then the daemon")
    b.standin_control("reset", post=True)
    direct2 = b.direct(url, par_calls, MAX_CONCURRENT, pool, "D2X")
    direct_conns = b.standin_control("stats")["provisioning_connections"]
    b.standin_control("reset", post=True)
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")                     # resets VmHWM: the peak of this case only
    c0, l0, bus0 = cpu_seconds(pid), cpu_seconds(pid, pid), cpu_seconds(b.bus_proc.pid)
    with Sampler(pid) as sampler:
        daemon2 = b.client(par_calls, MAX_CONCURRENT, pool, "C2X")
    c1, l1, bus1 = cpu_seconds(pid), cpu_seconds(pid, pid), cpu_seconds(b.bus_proc.pid)
    st = status_kib(pid)
    stats = b.standin_control("stats")
    R["case2"] = {"direct": direct2, "daemon": daemon2,
                  "ratio": daemon2["per_s"] / direct2["per_s"],
                  "daemon_cpu_us_per_call": (c1 - c0) / par_calls * 1e6,
                  "loop_cpu_us_per_call": (l1 - l0) / par_calls * 1e6,
                  "bus_cpu_us_per_call": (bus1 - bus0) / par_calls * 1e6,
                  "peak_rss_anon_kib": sampler.peak_rss_anon, "vm_hwm_kib": st["VmHWM"],
                  "peak_threads": sampler.peak_threads, "rss_anon_after_kib": st["RssAnon"],
                  "connections": stats["provisioning_connections"],
                  "connections_all": stats["connections"], "requests": stats["requests"],
                  "direct_connections": direct_conns}

    # What the file system allows: durable stores per second with 10
    # writers (GLib's GTask pool), as many as the daemon's writer pool has
    # (MaxConcurrent, at most WRITERS) and as many as calls in flight; the
    # targets compare with the best.
    counts = sorted({10, min(MAX_CONCURRENT, WRITERS), MAX_CONCURRENT})
    log(f"ceiling: durable stores per second from {', '.join(map(str, counts))} threads")
    R["store_ceiling"] = {}
    for threads in counts:
        res = b.run("bench-floor", ["--dir", os.path.join(b.tmp, f"floor-par-{threads}"),
                                    "--sample", sample, "--count", 1000 if q else 3000,
                                    "--pool", pool, "--threads", threads])
        R["store_ceiling"][str(threads)] = res["per_s"]
        R["store_ceiling"][f"cpu_us_per_store_{threads}"] = res["cpu_us_per_store"]

    devices, temporaries = keystore_state(keystore_a)
    R["keystore_a"] = {"devices": devices, "temporaries": temporaries,
                       "expected_devices": 64 + n1 + pool}
    b.stop_daemon(daemon)

    # ---- instance B: memory over 10,000 provisionings
    log(f"case 4: RssAnon over {2 * mem_half} provisionings on a fresh daemon")
    daemon, _ = b.start_daemon(os.path.join(b.tmp, "keystore-b"))
    pid = daemon.pid
    time.sleep(0.5)
    mem = {"start_kib": status_kib(pid)["RssAnon"]}
    c0 = cpu_seconds(pid)
    errors = 0
    for half in ("half", "end"):
        res = b.client(mem_half, MAX_CONCURRENT, pool, "M4X")
        errors += res["errors"]
        # Quiet for KeepConnections, the daemon closes its connections and
        # trims its heap: measure after that.
        time.sleep(KEEP_CONNECTIONS + 1.0)
        mem[f"{half}_kib"] = status_kib(pid)["RssAnon"]
    mem["calls"] = 2 * mem_half
    mem["devices"] = pool
    mem["errors"] = errors
    mem["cpu_us_per_call"] = (cpu_seconds(pid) - c0) / (2 * mem_half) * 1e6
    mem["growth_kib"] = mem["end_kib"] - mem["start_kib"]
    mem["growth_second_half_kib"] = mem["end_kib"] - mem["half_kib"]
    R["memory"] = mem
    if os.environ.get("BENCH_SMAPS"):
        # Where the growth sits, mapping by mapping, for whoever digs into it.
        with open(f"/proc/{pid}/smaps") as src, open(os.environ["BENCH_SMAPS"], "w") as dst:
            dst.write(src.read())
    b.stop_daemon(daemon)

    # ---- case 5: start-up, empty keystore and the one instance A filled
    log(f"case 5: {start_runs} starts, exec to {BUS_NAME} owned")
    R["startup"] = {}
    for label, keystore in (("empty", os.path.join(b.tmp, "keystore-c")), ("filled", keystore_a)):
        conf = os.path.join(b.tmp, f"provisiond-start-{label}.conf")
        with open(conf, "w") as f:
            f.write(b.daemon_config(keystore))
        res = b.run("bench-startup", ["--address", b.address, "--runs", start_runs,
                                      "--raw", b.raw_path("start"), "--", opts.daemon,
                                      "--config", conf, "--log-level=warning"])
        R["startup"][label] = {"median_ms": res["p50_us"] / 1000, "max_ms": res["max_us"] / 1000,
                               "runs": start_runs}
    R["startup"]["filled"]["devices"] = devices

    # What the in-memory index of the keystore costs: RssAnon after start
    # with instance A's keystore.
    daemon, _ = b.start_daemon(keystore_a)
    time.sleep(0.5)
    R["rss_anon_after_start_filled_kib"] = status_kib(daemon.pid)["RssAnon"]
    b.stop_daemon(daemon)
    stop_process(standin_proc)
    R["loadavg_end"] = os.getloadavg()[0]
    return R

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="the source tree")
    ap.add_argument("--daemon", required=True, help="the enapter-provisiond binary")
    ap.add_argument("--bin", required=True, help="where the bench programs are")
    ap.add_argument("--quick", action="store_true", help="fewer calls: a smoke run")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--retries", type=int, default=2,
                    help="[Provisioning] Retries for the daemon (default 2, the daemon's own)")
    ap.add_argument("--no-python-standin", action="store_true",
                    help="skip the throughput check of tests/standin/standin.py")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--callgrind", action="store_true",
                      help="count the daemon's instructions per call instead (callgrind.py)")
    mode.add_argument("--syscalls", action="store_true",
                      help="count the main loop's system calls per call instead (syscalls.py)")
    ap.add_argument("--calls", type=int, default=1000,
                    help="calls counted with --callgrind or --syscalls")
    opts = ap.parse_args()
    counter = callgrind if opts.callgrind else syscalls if opts.syscalls else None
    b = Bench(opts)
    try:
        R = counter.measure(b, opts, log) if counter else measure(b, opts)
    finally:
        b.close()
    (counter.report if counter else report)(R)


if __name__ == "__main__":
    main()
