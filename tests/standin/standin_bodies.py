"""The request bodies the Enapter API stand-in (standin.py beside this file)
accepts: each provisioning endpoint's exact body and generate_config's, their
checks, and the documents of POST /_standin/faults and /_standin/settings. A
problem with an API request body is an error object of the API's shape
(error()). The contract is README.md beside this file. Python 3 standard
library only.
"""

import json
import math
import re

PROTOCOLS = ("MQTT", "MQTTS")
DEVICE_TYPES = ("ELECTROLYSER", "DRYER", "WATER_TANK")
NUMBER = float              # marker: any JSON number (int or float, never bool)

# The exact request body of each endpoint: field -> str, a tuple of the allowed
# strings, NUMBER, or a dict describing a nested object.
SCHEMAS = {
    "ucm": {"site_id": str, "hardware_id": str, "name": str, "protocol": PROTOCOLS},
    "vucm": {"site_id": str, "hardware_id": str, "name": str},
    "embedded": {"device_type": DEVICE_TYPES, "site_id": str, "hardware_id": str,
                 "name": str, "protocol": PROTOCOLS},
    "link_master": {"site_id": str, "hardware_id": str, "name": str},
    "link_slave": {"site_id": str, "hardware_id": str, "name": str, "master_device_id": str},
    "standalone": {"site_id": str, "name": str},
    "lua_device": {"runtime_id": str, "blueprint_id": str, "name": str, "slug": str},
    "gateway": {"site_id": str, "hardware_id": str, "gateway_version": str,
                "site_name": str, "site_timezone": str,
                "site_location": {"latitude": NUMBER, "longitude": NUMBER}},
}
# The exact body of POST /v3/devices/<device_id>/generate_config.
GENERATE_CONFIG = {"protocol": PROTOCOLS}

# POST /_standin/settings: where a config states its protocol, and the bounds
# of the certificates' times (seconds), which keep every date within X.509's.
PROTOCOL_PLACES = ("credentials", "config", "both")
MAX_LIFETIME = 1000 * 365 * 86400
MAX_OFFSET = 100 * 365 * 86400

# Fault fields and their JSON types (bool is checked apart: it is an int in Python).
FAULT_FIELDS = {"path": (str,), "delay": (int, float), "status": (int,), "body": (str,),
                "headers": (dict,), "drop": (bool,), "trickle": (bool,),
                "silence": (int, float), "count": (int,)}


def error(code, message, **details):
    """One error object of an API "errors" array."""
    return {"code": code, "message": message, "details": details}


# --------------------------------------------------------- provisioning bodies

def reject_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def check_fields(schema, obj, prefix=""):
    """One error per missing, unknown or mistyped field (nested objects too)."""
    problems = [error("invalid_request", f"unknown field {prefix}{name}", field=prefix + name)
                for name in sorted(set(obj) - set(schema))]
    for name, want in schema.items():
        field, value = prefix + name, obj.get(name)
        problem = None
        if name not in obj:
            problem = "is missing"
        elif isinstance(want, dict):
            if isinstance(value, dict):
                problems += check_fields(want, value, field + ".")
            else:
                problem = "must be an object"
        elif want is NUMBER:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problem = "must be a number"
        elif not isinstance(value, str):
            problem = "must be a string"
        elif isinstance(want, tuple) and value not in want:
            problem = "must be one of " + ", ".join(want)
        if problem:
            problems.append(error("invalid_request", f"{field} {problem}", field=field))
    return problems


def parse_body(schema, content_type, raw):
    """Decodes and checks an API request body against @schema (one of
    SCHEMAS, or GENERATE_CONFIG); returns (object, [error, ...])."""
    if (content_type or "").split(";")[0].strip().lower() != "application/json":
        return None, [error("invalid_request", "Content-Type must be application/json",
                            header="Content-Type")]
    try:
        obj = json.loads(raw.decode("utf-8"), parse_constant=reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, [error("invalid_request", f"body is not valid JSON: {exc}")]
    if not isinstance(obj, dict):
        return None, [error("invalid_request", "body must be a JSON object")]
    return obj, check_fields(schema, obj)


def loads_or_none(raw):
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


# ------------------------------------------------------------ fault documents

def check_fault(fault):
    """Validates one fault object; returns a normalised copy or raises ValueError."""
    if not isinstance(fault, dict):
        raise ValueError("a fault must be a JSON object")
    for key, value in fault.items():
        types = FAULT_FIELDS.get(key)
        if types is None:
            raise ValueError(f"unknown fault field {key!r}")
        if isinstance(value, bool) != (bool in types) or not isinstance(value, types):
            raise ValueError(f"fault field {key!r} has the wrong type")
    for key in ("delay", "silence"):
        if key in fault and not 0 <= fault[key] < math.inf:
            raise ValueError(f"fault field {key!r} must be a number of seconds >= 0")
    if not 200 <= fault.get("status", 200) <= 599:
        raise ValueError("fault status must be within 200..599")
    fault = dict(fault, count=fault.get("count", 1))
    if fault["count"] < 1 and fault["count"] != -1:
        raise ValueError("fault count must be >= 1, or -1 for ever")
    headers = fault.get("headers", {})
    for name, value in headers.items():
        # Strings or numbers only, and no CR/LF: a header must not forge the response framing.
        if isinstance(value, (bool, dict, list, type(None))) or \
                not re.fullmatch(r"[!-9;-~]+", name) or re.search(r"[\r\n]", str(value)):
            raise ValueError(f"fault header {name!r} is not a valid header")
    fault["headers"] = {name: str(value) for name, value in headers.items()}
    return fault


def parse_faults(raw):
    doc = loads_or_none(raw)
    if doc is None:
        raise ValueError("the body must be a JSON fault object or a list of them")
    return [check_fault(f) for f in (doc if isinstance(doc, list) else [doc])]


# ------------------------------------------------------------ settings

def whole_seconds(low, high):
    """A check: a JSON integer (never a boolean or a float) within low..high."""
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


# Each setting: its check and what the check wants.
SETTINGS = {
    "cert_lifetime": (whole_seconds(1, MAX_LIFETIME),
                      f"an integer number of seconds within 1..{MAX_LIFETIME}"),
    "not_before_offset": (whole_seconds(-MAX_OFFSET, MAX_OFFSET),
                          f"an integer number of seconds within -{MAX_OFFSET}..{MAX_OFFSET}"),
    "protocol_at": (lambda v: isinstance(v, str) and v in PROTOCOL_PLACES,
                    "one of " + ", ".join(PROTOCOL_PLACES)),
}


def parse_settings(raw):
    """The changes a POST /_standin/settings body asks for, all checked, or
    ValueError naming the first problem."""
    doc = loads_or_none(raw)
    if not isinstance(doc, dict):
        raise ValueError("the body must be a JSON object of settings")
    for key, value in doc.items():
        if key not in SETTINGS:
            raise ValueError(f"unknown setting {key!r}")
        ok, wanted = SETTINGS[key]
        if not ok(value):
            raise ValueError(f"{key} must be {wanted}")
    return doc
