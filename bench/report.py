"""The table and the BENCH_JSON line of the benchmark (bench/bench.py).

The targets compare the daemon with what this machine allows in the same
run: throughput with the durable-store ceiling (bench/floor.c with GLib's 10
threads, with as many as the daemon's writer pool and with one per call in
flight: the best of them), latency with the floor of one durable store. What no service that fsyncs
before it answers can meet (a ratio to a direct POST, which writes nothing;
CPU per call including the file system's work) is shown for information."""

import json

# The targets of README "Performance".
CEILING_SHARE = 0.95       # case 2 calls/s, of the best durable-store ceiling
LOOP_US = 150              # main loop CPU per call at 64 in flight
ADDED_MS = 0.5             # sequential p50 over the floor's
RSS_ANON_KIB = 2048        # after start
STARTUP_MS = 20            # median, empty keystore


def verdict(ok):
    """The result column of a row with a target."""
    return "PASS" if ok else "FAIL"


def table(R):
    """The aligned table of the results @R, and its rows."""
    rows = []
    c1 = R["case1"]
    d, r, fl = c1["daemon"], c1["direct"], c1["floor"]
    added = d["p50_ms"] - r["p50_ms"]
    limit = fl["p50_ms"] + ADDED_MS
    n1 = d["n"]
    rows.append(("1", f"p50 latency, sequential ({n1})", f"{d['p50_ms']:.3f} ms",
                 f"direct {r['p50_ms']:.3f} ms", f"+{added:.3f} ms",
                 f"added <= floor+{ADDED_MS} = {limit:.3f} ms",
                 verdict(added <= limit and c1["errors"] == 0)))
    rows.append(("1", "p99 latency, sequential", f"{d['p99_ms']:.3f} ms",
                 f"direct {r['p99_ms']:.3f} ms", f"+{d['p99_ms'] - r['p99_ms']:.3f} ms",
                 "-", "info"))
    rows.append(("1", "floor: durable store of the set", f"p50 {fl['p50_ms']:.3f} ms",
                 f"p99 {fl['p99_ms']:.3f} ms", "-", "-", "info"))
    c2 = R["case2"]
    d2, r2 = c2["daemon"], c2["direct"]
    ceil = R["store_ceiling"]
    threads = sorted(int(k) for k in ceil if k.isdigit())
    best = max(ceil[str(t)] for t in threads)
    share = d2["per_s"] / best
    rows.append(("2", f"calls/s, 64 in flight ({d2['n']})", f"{d2['per_s']:.0f}/s",
                 f"ceiling {best:.0f}/s", f"{share * 100:.1f} %",
                 f">= {CEILING_SHARE * 100:.0f} % of ceiling",
                 verdict(share >= CEILING_SHARE and d2["errors"] == 0)))
    rows.append(("2", "ceiling: durable stores/s (" + " | ".join(map(str, threads)) + " thr)",
                 "-", " | ".join(f"{ceil[str(t)]:.0f}" for t in threads) + "/s", "best counts",
                 "-", "info"))
    rows.append(("2", "calls/s against a direct POST", f"{d2['per_s']:.0f}/s",
                 f"direct {r2['per_s']:.0f}/s", f"{c2['ratio'] * 100:.1f} %", "-", "info"))
    rows.append(("2", "latency p50 / p99, 64 in flight",
                 f"{d2['p50_us'] / 1000:.2f} / {d2['p99_us'] / 1000:.2f} ms",
                 f"{r2['p50_us'] / 1000:.2f} / {r2['p99_us'] / 1000:.2f} ms", "-", "-", "info"))
    # The daemon's CPU includes the file system's work for each store (the
    # floor's CPU per store, alone often above 250 us): information. The
    # main loop thread is what bounds the calls one core can take.
    rows.append(("3", "main loop CPU per call, 64 in flight",
                 f"{c2['loop_cpu_us_per_call']:.0f} us", "-", "-", f"<= {LOOP_US} us",
                 verdict(c2["loop_cpu_us_per_call"] <= LOOP_US)))
    rows.append(("3", "main loop CPU per call, sequential",
                 f"{c1['loop_cpu_us_per_call']:.0f} us", "-", "-", "-", "info"))
    floor_key = f"cpu_us_per_store_{max(threads)}"
    for label, cpu, floor in (
            ("64 in flight", c2["daemon_cpu_us_per_call"], ceil[floor_key]),
            ("sequential", c1["daemon_cpu_us_per_call"], c1["floor_cpu_us_per_store"])):
        rows.append(("3", f"daemon CPU per call, {label}", f"{cpu:.0f} us",
                     f"floor {floor:.0f} us/store", f"+{cpu - floor:.0f} us", "-", "info"))
    rows.append(("3", "dbus-daemon CPU per call, 64 in flight",
                 f"{c2['bus_cpu_us_per_call']:.0f} us", "-", "-", "-", "info"))
    m = R["memory"]
    rows.append(("4", "RssAnon after start", f"{R['rss_anon_after_start_kib']} KiB", "-", "-",
                 f"<= {RSS_ANON_KIB} KiB",
                 verdict(R["rss_anon_after_start_kib"] <= RSS_ANON_KIB)))
    rows.append(("4", f"RssAnon growth after {m['calls']}", f"{m['growth_kib']:+d} KiB",
                 f"{m['start_kib']} -> {m['end_kib']} KiB", "-", "-", "info"))
    rows.append(("4", f"  of which the second {m['calls'] // 2}",
                 f"{m['growth_second_half_kib']:+d} KiB", "-", "-", "-", "info"))
    rows.append(("4", "peak during case 2: RssAnon / VmHWM",
                 f"{c2['peak_rss_anon_kib']} KiB", f"VmHWM {c2['vm_hwm_kib']} KiB",
                 f"{c2['peak_threads']} threads", "-", "info"))
    filled = R["rss_anon_after_start_filled_kib"]
    per_device = (filled - R["rss_anon_after_start_kib"]) * 1024 / max(R["keystore_a"]["devices"], 1)
    rows.append(("4", f"RssAnon after start, {R['keystore_a']['devices']} devices",
                 f"{filled} KiB", "-", f"{per_device:.0f} B/device", "-", "info"))
    index = per_device * m["devices"] / 1024
    rows.append(("4", f"  growth less the index of {m['devices']} devices",
                 f"{m['growth_kib'] - index:+.0f} KiB", f"index ~{index:.0f} KiB", "-", "-",
                 "info"))
    s = R["startup"]
    rows.append(("5", f"start-up median of {s['empty']['runs']}, empty",
                 f"{s['empty']['median_ms']:.1f} ms", f"max {s['empty']['max_ms']:.1f} ms", "-",
                 f"<= {STARTUP_MS} ms", verdict(s["empty"]["median_ms"] <= STARTUP_MS)))
    rows.append(("5", f"start-up, {s['filled']['devices']} devices in keystore",
                 f"{s['filled']['median_ms']:.1f} ms", f"max {s['filled']['max_ms']:.1f} ms", "-",
                 "-", "info"))
    rows.append(("6", "connections accepted in case 2", f"{c2['connections']}",
                 f"direct {c2['direct_connections']}", "-", f"<= {R['max_concurrent']}",
                 verdict(c2["connections"] <= R["max_concurrent"])))

    head = ("case", "metric", "daemon", "reference", "delta/ratio", "target", "result")
    widths = [max(len(str(row[i])) for row in rows + [head]) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()
             for row in [head] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines), rows


def report(R):
    """Prints the run's conditions, the table and the BENCH_JSON line."""
    m, fs = R["machine"], R["fs"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['mem_gib']} GiB, {m['os']}, "
          f"kernel {m['kernel']}; load average {R['loadavg_start']:.1f} at the start, "
          f"{R['loadavg_end']:.1f} at the end")
    journal = {True: ", with a journal", False: ", WITHOUT a journal"}.get(fs.get("journal"), "")
    print(f"keystore file system: {fs['type']} on {fs['source']}{journal} ({fs['options']})")
    print(f"daemon: MaxConcurrent={R['max_concurrent']}, Retries={R['retries']}, log level info to a "
          f"file; keystore in a temporary directory on that file system")
    print(f"stand-in: {R['stand_in']}", end="")
    if "standin_check" in R:
        sc = R["standin_check"]
        print(f"; tests/standin/standin.py does {sc['python_per_s']:.0f} direct calls/s at 64 in "
              f"flight, fast-standin {sc['fast_per_s']:.0f}/s: the Python one would be the "
              f"bottleneck", end="")
    print()
    ks = R["keystore_a"]
    print(f"check: keystore A holds {ks['devices']} devices (expected "
          f"{ks['expected_devices']}), {ks['temporaries']} temporaries; call errors: case 1 "
          f"{R['case1']['errors']}, case 2 {R['case2']['daemon']['errors']}, case 4 "
          f"{R['memory']['errors']}")
    if R["case2"]["daemon"]["errors"]:
        print(f"first error in case 2: {R['case2']['daemon']['first_error']}")
    print()
    text, rows = table(R)
    print(text)
    R["results"] = [{"case": r[0], "metric": r[1], "result": r[6]} for r in rows
                    if r[6] != "info"]
    R["failed"] = sum(1 for r in rows if r[6] == "FAIL")
    print()
    print("BENCH_JSON " + json.dumps(R, separators=(",", ":"), sort_keys=True))
