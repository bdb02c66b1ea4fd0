#!/usr/bin/env python3
"""enapter-provisionctl loses no memory: status (whose Targets is a nested
dictionary) and monitor (whose signals carry details dictionaries), run
under valgrind against the real daemon (the integration harness), must end
without a definite leak. In a build with AddressSanitizer, valgrind cannot
run it: LeakSanitizer checks the same at exit instead. GLib's slice
allocator would hide a lost JsonObject in its caches: G_SLICE=always-malloc.

EP_CTL names the client; see ctl_util.py."""

import os
import shutil
import signal
import subprocess
import tempfile
import threading

from ctl_util import clean_env, CTL, CtlTestCase, default_args, main, wait_until

VALGRIND = shutil.which("valgrind")
LEAK_STATUS = 99


def sanitized(path):
    """Whether the program at @path was built with AddressSanitizer."""
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


class Leaks(CtlTestCase):

    def setUp(self):
        super().setUp()
        self.asan = sanitized(CTL)
        if not self.asan and VALGRIND is None:
            self.skipTest("no valgrind")
        self.tmp = tempfile.mkdtemp(prefix="ep-ctl-leaks-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        super().tearDown()

    def checked(self, *argv):
        """(argv, env) running the client under the leak checker."""
        env = clean_env(G_SLICE="always-malloc", G_DEBUG="gc-friendly")
        full = [CTL, "--address", self.H.address, *argv]
        if self.asan:
            env["ASAN_OPTIONS"] = f"detect_leaks=1:exitcode={LEAK_STATUS}"
            env["LSAN_OPTIONS"] = f"exitcode={LEAK_STATUS}"
            return full, env
        self.log = os.path.join(self.tmp, "valgrind.log")
        return [VALGRIND, "--quiet", "--leak-check=full", "--show-leak-kinds=definite",
                "--errors-for-leak-kinds=definite", f"--error-exitcode={LEAK_STATUS}",
                f"--log-file={self.log}", *full], env

    def report(self):
        if self.asan or not os.path.exists(self.log):
            return ""
        with open(self.log) as f:
            return f.read()

    def test_commands(self):
        self.provision("ucm", default_args("ucm", protocol="MQTTS"))
        for argv in (["status"], ["--json", "status"], ["list"], ["--json", "list"]):
            with self.subTest(argv=argv):
                full, env = self.checked(*argv)
                proc = subprocess.run(full, capture_output=True, text=True, timeout=120,
                                      env=env)
                self.assertEqual(proc.returncode, 0, proc.stderr + self.report())

    def test_monitor(self):
        for mode in ("--json=off", "--json"):
            with self.subTest(mode=mode):
                full, env = self.checked(mode, "--verbose", "monitor")
                proc = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env=env)
                lines = []
                reader = threading.Thread(target=lambda: lines.extend(proc.stdout),
                                          daemon=True)
                try:
                    err = []
                    for line in proc.stderr:
                        err.append(line)
                        if "monitoring" in line:
                            break
                    self.assertIsNone(proc.poll(), "".join(err))
                    reader.start()
                    # DeviceProvisioned and CredentialsChanged: details each.
                    self.provision("ucm", default_args("ucm", protocol="MQTTS"))
                    wait_until(lambda: len(lines) >= 2, 60, what="two monitor lines")
                    proc.send_signal(signal.SIGINT)
                    rc = proc.wait(60)
                    err.append(proc.stderr.read())
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
                    reader.join(10)
                    proc.stdout.close()
                    proc.stderr.close()
                self.assertEqual(rc, 0, "".join(err) + self.report())


if __name__ == "__main__":
    main()
