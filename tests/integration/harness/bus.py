"""The private system bus: its configuration (BUS_CONFIG, also used by
bench/ and tests/package/run.sh) and a Listener of the service's signals."""

import json
import subprocess
import threading
import time

from .constants import BUS_CLIENT
from .processes import clean_env, stop_process


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
  <!-- As there: root may monitor the bus (dbus-monitor). -->
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <include>{policy}</include>
{extra}
</busconfig>
"""


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
