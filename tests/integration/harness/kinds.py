"""The provisioning kinds: their D-Bus methods and arguments, the endpoint each
goes to, valid arguments with fresh ids, and the request body they make."""

import collections
import uuid


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
