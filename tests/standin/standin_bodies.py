"""The request bodies the Enapter API stand-in (standin.py beside this file)
accepts: each provisioning endpoint's exact body and its checks, and the
fault documents of POST /_standin/faults. A problem with a provisioning body
is an error object of the API's shape (error()). The contract is README.md
beside this file. Python 3 standard library only.
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


def parse_body(kind, content_type, raw):
    """Decodes and checks a provisioning body; returns (object, [error, ...])."""
    if (content_type or "").split(";")[0].strip().lower() != "application/json":
        return None, [error("invalid_request", "Content-Type must be application/json",
                            header="Content-Type")]
    try:
        obj = json.loads(raw.decode("utf-8"), parse_constant=reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, [error("invalid_request", f"body is not valid JSON: {exc}")]
    if not isinstance(obj, dict):
        return None, [error("invalid_request", "body must be a JSON object")]
    return obj, check_fields(SCHEMAS[kind], obj)


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
