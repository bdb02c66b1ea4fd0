"""A running stand-in of the Enapter API (tests/standin/standin.py) and its
control API."""

import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

from .constants import CANARY, STANDIN, TLS_CERT, TLS_KEY
from .processes import clean_env, stop_process, wait_until


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

    def _control(self, method, name, body=None, parse=json.loads):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/_standin/" + name, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with self.opener.open(req, timeout=10) as resp:
                return parse(resp.read())
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

    def settings(self, **changes):
        """Changes the stand-in's settings until its next reset (cert_lifetime,
        not_before_offset: seconds; protocol_at: "credentials", "config" or
        "both"); returns all the settings now in force."""
        return self._control("POST", "settings", changes)

    def ca_pem(self):
        """The stand-in's CA certificate (PEM): the ca_chain of its MQTTS sets."""
        return self._control("GET", "ca", parse=bytes.decode)

    def close(self):
        return stop_process(self.proc, timeout=5)
