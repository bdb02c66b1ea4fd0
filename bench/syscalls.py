"""bench/run --syscalls: the system calls the daemon's main loop thread
makes per call, counted by strace, sequentially and at 64 in flight. Like
--callgrind's instructions, the counts hardly depend on the machine, and
on a VM where each system call is dear they are most of the main loop's
CPU time (callgrind does not see the kernel).

The keystore is filled as case 1 leaves instance A of bench.py; then
strace attaches to the main thread alone (not -f: the keystore's threads
are not counted) for --calls calls at 64 in flight over a pool of 128
devices, and again for a quarter of them one at a time. Prints a table of
the calls per provisioning by system call and one line
`SYSCALLS_JSON {...}`. strace slows the thread it traces: calls/s here
mean nothing."""

import json
import os
import shutil
import signal
import subprocess
import time

MAX_CONCURRENT = 64


def parse_summary(path):
    """{syscall: calls} from `strace -c`'s table."""
    counts = {}
    with open(path) as f:
        for line in f:
            fields = line.split()
            # % time, seconds, usecs/call, calls, [errors,] syscall
            if len(fields) >= 5 and fields[3].isdigit() and fields[-1] != "total":
                counts[fields[-1]] = int(fields[3])
    return counts


def count(b, pid, calls, inflight, pool, prefix):
    out = os.path.join(b.tmp, f"strace-{prefix}.txt")
    tracer = subprocess.Popen(["strace", "-c", "-o", out, "-p", str(pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)       # attached before the first call
        res = b.client(calls, inflight, pool, prefix)
    finally:
        # strace detaches, writes its table, then ends by the signal it was sent.
        tracer.send_signal(signal.SIGINT)
        rc = tracer.wait(30)
    if rc not in (0, -signal.SIGINT):
        raise RuntimeError(f"strace exited with {rc}")
    if res["errors"]:
        raise RuntimeError(f"calls failed while counted: {res['first_error']}")
    counts = parse_summary(out)
    if not counts:
        raise RuntimeError(f"strace counted nothing; see {out}")
    return {name: n / calls for name, n in counts.items()}


def measure(b, opts, log):
    if shutil.which("strace") is None:
        raise RuntimeError("strace is not installed (Debian package strace)")
    pool = 2 * MAX_CONCURRENT
    daemon = b.start_filled_daemon(log, pool)
    log(f"counting {opts.calls} calls, {MAX_CONCURRENT} in flight")
    burst = count(b, daemon.pid, opts.calls, MAX_CONCURRENT, pool, "SYSB")
    log(f"counting {opts.calls // 4} calls, one at a time")
    sequential = count(b, daemon.pid, opts.calls // 4, 1, pool, "SYSS")
    b.stop_daemon(daemon)
    return {"calls": opts.calls, "inflight": {"64": burst, "1": sequential}}


def report(R):
    burst, sequential = R["inflight"]["64"], R["inflight"]["1"]
    names = sorted(set(burst) | set(sequential),
                   key=lambda n: -(burst.get(n, 0) + sequential.get(n, 0)))
    print(f"system calls of the main loop thread per call ({R['calls']} calls at "
          f"{MAX_CONCURRENT} in flight, {R['calls'] // 4} one at a time):")
    print(f"  {'syscall':<16} {'64 in flight':>12} {'sequential':>12}")
    for n in names:
        print(f"  {n:<16} {burst.get(n, 0):12.2f} {sequential.get(n, 0):12.2f}")
    print(f"  {'total':<16} {sum(burst.values()):12.2f} {sum(sequential.values()):12.2f}")
    print("SYSCALLS_JSON " + json.dumps(R, separators=(",", ":"), sort_keys=True))
