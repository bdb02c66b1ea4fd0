"""bench/run --callgrind: the instructions the daemon spends per call at 64
in flight, counted by valgrind's callgrind, which gives the same counts
from run to run however busy the machine is (CPU times do not).

The daemon runs under callgrind with collection off; its keystore is
filled as case 1 leaves instance A of bench.py (64 + 500 devices, then the
128 of the pool), and only case 2's calls are counted: N calls (--calls,
1000) at 64 in flight over a pool of 128 devices. Prints the instructions
per call of the main loop thread and of all threads, and one line
`CALLGRIND_JSON {...}`. valgrind runs the threads one at a time and slowly:
calls/s here mean nothing."""

import glob
import json
import os
import shutil
import subprocess

MAX_CONCURRENT = 64


def totals(path):
    """The "totals:" of one callgrind output file."""
    with open(path) as f:
        for line in f:
            if line.startswith("totals:"):
                return int(line.split()[1])
    return 0


def measure(b, opts, log):
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (Debian package valgrind)")
    out = os.path.join(b.tmp, "callgrind.out")
    b.wrapper = ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--instr-atstart=no",
                 f"--callgrind-out-file={out}.%p"]
    pool = 2 * MAX_CONCURRENT
    log("starting the daemon under callgrind")
    daemon = b.start_filled_daemon(log, pool)
    log(f"counting {opts.calls} calls, {MAX_CONCURRENT} in flight")
    control = ["callgrind_control", "--instr=on", str(daemon.pid)]
    subprocess.run(control, check=True, capture_output=True)
    res = b.client(opts.calls, MAX_CONCURRENT, pool, "C2X")
    control[1] = "--instr=off"
    subprocess.run(control, check=True, capture_output=True)
    b.stop_daemon(daemon)       # callgrind writes its files at exit
    files = sorted(glob.glob(f"{out}.{daemon.pid}-*"))
    if not files:
        raise RuntimeError("callgrind wrote no output; see the daemon's log")
    threads = {os.path.basename(f).rsplit("-", 1)[1]: totals(f) for f in files}
    main = threads.get("01", 0)
    return {"calls": opts.calls, "errors": res["errors"], "threads": len(threads),
            "main_loop_instructions_per_call": main / opts.calls,
            "all_threads_instructions_per_call": sum(threads.values()) / opts.calls}


def report(R):
    print(f"callgrind, {R['calls']} calls at {MAX_CONCURRENT} in flight ({R['errors']} errors, "
          f"{R['threads']} threads counted):")
    print(f"  main loop thread   {R['main_loop_instructions_per_call'] / 1e3:8.0f} k "
          f"instructions per call")
    print(f"  all threads        {R['all_threads_instructions_per_call'] / 1e3:8.0f} k "
          f"instructions per call")
    print("CALLGRIND_JSON " + json.dumps(R, separators=(",", ":"), sort_keys=True))
