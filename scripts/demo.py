#!/usr/bin/env python3
"""The demo: a private system bus with the repo's policy, the stand-in API in
its cloud and gateway roles, and the daemon; one device of each kind
provisioned with busctl; the replies, enapter-provisionctl's status, list and
check, and the keystore shown; all stopped."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("EP_SOURCE_ROOT", ROOT)
import harness  # noqa: E402  (needs the path above)

CTL = os.environ.get("EP_CTL", os.path.join(ROOT, "build", "client", "enapter-provisionctl"))
TARGET = ["com.enapter.Provisioning1", "/com/enapter/Provisioning1",
          "com.enapter.Provisioning1"]


def busctl(h, *args, show=True):
    """Runs busctl on the private bus, printing the command as a person types it."""
    words = [a if a and " " not in a else repr(a) for a in args]
    print(f"\n$ busctl call $P {' '.join(words)}")
    out = subprocess.run(["busctl", "--address", h.address, "call", *TARGET, *args],
                         capture_output=True, text=True)
    text = (out.stdout or out.stderr).strip()
    if show:
        print(text)
    return text


def ctl(h, *args):
    """Runs enapter-provisionctl on the private bus, as an operator would."""
    print(f"\n$ enapter-provisionctl {' '.join(args)}")
    out = subprocess.run([CTL, "--address", h.address, *args], capture_output=True, text=True)
    print((out.stdout + out.stderr).rstrip())


def main():
    h = harness.Harness(log_level="info").start()
    try:
        print(f"private system bus: {h.address}")
        print(f"stand-in API: cloud {h.cloud.url}, gateway {h.gateway.url}")
        print("P='com.enapter.Provisioning1 /com/enapter/Provisioning1 "
              "com.enapter.Provisioning1'")
        busctl(h, "ProvisionUcm", "ssss", "my-site", "C8795CBA5375484E829105E959663C8B",
               "My UCM", "MQTTS")
        busctl(h, "ProvisionVucm", "sss", "my-site", "V8795CBA5375484E829105E959663C8B",
               "My VUCM")
        busctl(h, "ProvisionEmbedded", "sssss", "ELECTROLYSER", "my-site",
               "BCC415CBA5375484E829105E959663C8B", "My Electrolyser", "MQTT")
        master = busctl(h, "ProvisionLinkMaster", "sss", "my-site",
                        "AAC415CBA5375484E829105E959663C8B", "Enapter Link 1").split('"')[1]
        busctl(h, "ProvisionLinkSlave", "ssss", "my-site", "435840FFE5CD4E9DA93545DDF7E6D5FB",
               "ENP-AO6 BCC4", master)
        standalone = busctl(h, "ProvisionStandalone", "ss", "my-site",
                            "My Device").split('"')[1]
        busctl(h, "ProvisionLuaDevice", "ssss", "ucmbbba0-79f2-4e9e-a6f0-69a310ab110b",
               "bluepri1-50n3-4t9d-e6v0-69i310cb110e", "Gas sensor", "gas-sensor-1")
        busctl(h, "ProvisionGateway", "sssssdd", "my-site", "B27925CBA5375484E829105E959663C8B",
               "3.0.0", "My Site", "Europe/Berlin", "52.520008", "13.404954")
        print("\n# Reprovisioning the UCM: same device, fresh credentials, reprovisioned=true")
        busctl(h, "ProvisionUcm", "ssss", "my-site", "C8795CBA5375484E829105E959663C8B",
               "My UCM", "MQTTS")
        print("\n# A standalone device gets its credentials afterwards: a verified MQTTS set")
        busctl(h, "GenerateCredentials", "ss", standalone, "MQTTS")
        print("\n# A Lua device cannot be reprovisioned; bad input is refused before any request")
        busctl(h, "ProvisionLuaDevice", "ssss", "ucmbbba0-79f2-4e9e-a6f0-69a310ab110b",
               "bluepri1-50n3-4t9d-e6v0-69i310cb110e", "Gas sensor", "gas-sensor-1")
        busctl(h, "ProvisionUcm", "ssss", "my/site", "HW1", "My UCM", "MQTTS")

        print("\n# The operator's view: the daemon's state, its devices, its health")
        ctl(h, "status")
        ctl(h, "list")
        ctl(h, "check")

        print(f"\n# The keystore ({h.keystore}):")
        listing = subprocess.run(["find", h.keystore, "-printf", "%M %8s  keystore/%P\n"],
                                 capture_output=True, text=True).stdout
        print(listing.rstrip())
    finally:
        h.close()
    print("\nstopped the daemon, the stand-ins and the bus")


if __name__ == "__main__":
    main()
