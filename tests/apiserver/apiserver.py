#!/usr/bin/python3
"""A protocol-faithful test Kubernetes API server (core/v1 ConfigMaps, Pods, Events, Namespaces).

Python 3 standard library only.  It speaks the kube-apiserver HTTP/1.1 protocol closely enough that
the real kubectl and client-go style list+watch clients cannot tell the difference for the features
seccomp-syncd uses, and it adds a control API under /_test/ to inject faults and read counters.
See README.md in this directory for the start-up contract, the control API and the fault kinds.
"""

import argparse
import base64
import bisect
import collections
import copy
import datetime
import json
import os
import random
import re
import secrets
import select
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 3 * 1024 * 1024  # like the real server's request body limit
MAX_CONTROL_BODY = 2 * 1024 * 1024 * 1024
MAX_CONFIGMAP_DATA = 1024 * 1024
MAX_ANNOTATIONS = 256 * 1024
STATS_RING = 1000
LIST_FLUSH = 256 * 1024
GZIP_THRESHOLD = 128 * 1024  # the apiserver compresses responses from this size (level 1)
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def dumps(obj):
    """Compact JSON the way Go's encoding/json writes it (HTML characters escaped)."""
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    if "<" in s or ">" in s or "&" in s or "\u2028" in s or "\u2029" in s:
        s = s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") \
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return s.encode()


META_ORDER = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
              "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
              "labels", "annotations", "ownerReferences", "finalizers", "managedFields")


def canonical(obj, order):
    """Field order of the Go structs, map keys sorted: byte-for-byte what the real server sends."""
    md = obj.get("metadata") or {}
    m = {}
    for k in META_ORDER:
        if k in md:
            v = md[k]
            m[k] = dict(sorted(v.items())) if k in ("labels", "annotations") and \
                isinstance(v, dict) else v
    for k in md:
        if k not in m:
            m[k] = md[k]
    out = {"metadata": m}
    for k in order:
        if k in obj:
            v = obj[k]
            out[k] = dict(sorted(v.items())) if k in ("data", "binaryData") and \
                isinstance(v, dict) else v
    for k in obj:
        if k not in out:
            out[k] = obj[k]
    return out


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(s):
    try:
        return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except (TypeError, ValueError):
        return None


def human_duration(secs):
    """The short form kubectl prints in AGE columns (k8s.io/apimachinery/pkg/util/duration)."""
    secs = int(max(secs, 0))
    if secs < 120:
        return "%ds" % secs
    mins = secs // 60
    if mins < 10:
        s = secs % 60
        return "%dm%ds" % (mins, s) if s else "%dm" % mins
    if mins < 180:
        return "%dm" % mins
    hours = secs // 3600
    if hours < 8:
        m = mins % 60
        return "%dh%dm" % (hours, m) if m else "%dh" % hours
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        h = hours % 24
        return "%dd%dh" % (hours // 24, h) if h else "%dd" % (hours // 24)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    return "%dy" % (hours // 24 // 365)


class ApiError(Exception):
    """An error answered with a Status object (or a plain-text body for APF's 429)."""

    def __init__(self, code, reason, message, details=None, headers=None, plain=False):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.plain = plain

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message}
        if self.reason:
            st["reason"] = self.reason
        if self.details is not None:
            st["details"] = self.details
        st["code"] = self.code
        return st


def err_not_found(res, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (res, name),
                    {"name": name, "kind": res})


def err_already_exists(res, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (res, name),
                    {"name": name, "kind": res})


def err_conflict(res, name):
    return ApiError(409, "Conflict",
                    'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                    "please apply your changes to the latest version and try again" % (res, name),
                    {"name": name, "kind": res})


def err_bad_request(msg):
    return ApiError(400, "BadRequest", msg)


def err_invalid(kind, name, causes, group=""):
    """causes: list of (field, reason, message) as field.ErrorList renders them."""
    msgs = ["%s: %s" % (f, m) if f else m for f, _, m in causes]
    if len(msgs) == 1:
        agg = msgs[0]
    else:
        agg = "[" + ", ".join(msgs) + "]"
    qual = kind + ("." + group if group else "")
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (qual, name, agg),
                    {"name": name, "group": group, "kind": kind,
                     "causes": [{"reason": r, "message": m, "field": f} for f, r, m in causes]}
                    if group else
                    {"name": name, "kind": kind,
                     "causes": [{"reason": r, "message": m, "field": f} for f, r, m in causes]})


def err_expired(msg):
    return ApiError(410, "Expired", msg)


def err_too_large(rv, current, retry=1):
    return ApiError(504, "Timeout",
                    "Timeout: Too large resource version: %s, current: %s" % (rv, current),
                    {"causes": [{"reason": "ResourceVersionTooLarge",
                                 "message": "Too large resource version"}],
                     "retryAfterSeconds": retry},
                    headers={"Retry-After": str(retry)})


def err_list_options(errs):
    """metainternalversionvalidation.ValidateListOptions failures: 422 on ListOptions."""
    return err_invalid("ListOptions", "", errs, group="meta.k8s.io")


# ---------------------------------------------------------------------------------------------
# Validation helpers (k8s.io/apimachinery/pkg/util/validation)

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric character "
                 "(e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
             "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
             "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")


def qv(v):
    return json.dumps(v)


def check_subdomain(field, v, causes):
    if len(v) > 253:
        causes.append((field, "FieldValueInvalid",
                       "Invalid value: %s: must be no more than 253 characters" % qv(v)))
    elif not DNS1123_SUBDOMAIN.match(v):
        causes.append((field, "FieldValueInvalid", "Invalid value: %s: %s" % (qv(v), SUBDOMAIN_MSG)))


def check_label(field, v, causes):
    if len(v) > 63:
        causes.append((field, "FieldValueInvalid",
                       "Invalid value: %s: must be no more than 63 characters" % qv(v)))
    elif not DNS1123_LABEL.match(v):
        causes.append((field, "FieldValueInvalid", "Invalid value: %s: %s" % (qv(v), LABEL_MSG)))


def check_qualified_key(field, k, causes):
    prefix, _, name = k.rpartition("/")
    ok = bool(name) and len(name) <= 63 and QUALIFIED_NAME.match(name)
    if "/" in k:
        ok = ok and bool(prefix) and len(prefix) <= 253 and DNS1123_SUBDOMAIN.match(prefix)
    if not ok:
        causes.append((field, "FieldValueInvalid",
                       "Invalid value: %s: name part must consist of alphanumeric characters, "
                       "'-', '_' or '.', and must start and end with an alphanumeric character" % qv(k)))


def validate_meta(meta, namespaced, causes, name_check):
    name = meta.get("name", "")
    if not name:
        causes.append(("metadata.name", "FieldValueRequired",
                       "Required value: name or generateName is required"))
    else:
        name_check("metadata.name", name, causes)
    labels = meta.get("labels") or {}
    for k, v in labels.items():
        check_qualified_key("metadata.labels", k, causes)
        if not isinstance(v, str) or len(v) > 63 or not LABEL_VALUE.match(v):
            causes.append(("metadata.labels", "FieldValueInvalid",
                           "Invalid value: %s: a valid label must be an empty string or consist of "
                           "alphanumeric characters, '-', '_' or '.', and must start and end with "
                           "an alphanumeric character" % qv(v)))
    ann = meta.get("annotations") or {}
    total = 0
    for k, v in ann.items():
        check_qualified_key("metadata.annotations", k, causes)
        total += len(k) + len(v if isinstance(v, str) else "")
    if total > MAX_ANNOTATIONS:
        causes.append(("metadata.annotations", "FieldValueTooLong",
                       "Too long: must have at most %d bytes" % MAX_ANNOTATIONS))


def check_string_map(obj, field, what):
    m = obj.get(field)
    if m is None:
        return
    if not isinstance(m, dict):
        raise err_bad_request("json: cannot unmarshal %s into Go struct field %s.%s of type "
                              "map[string]string" % (type(m).__name__, what, field))
    for k, v in m.items():
        if not isinstance(v, str):
            raise err_bad_request("json: cannot unmarshal %s into Go struct field %s.%s of type "
                                  "string" % ("number" if isinstance(v, (int, float)) else
                                              type(v).__name__, what, field))


# ---------------------------------------------------------------------------------------------
# Resource kinds

def _cm_validate(obj, old, causes):
    validate_meta(obj["metadata"], True, causes, check_subdomain)
    size = 0
    for field in ("data", "binaryData"):
        for k, v in (obj.get(field) or {}).items():
            if len(k) > 253 or not CONFIGMAP_KEY.match(k):
                causes.append(("%s[%s]" % (field, k), "FieldValueInvalid",
                               "Invalid value: %s: a valid config key must consist of alphanumeric "
                               "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                               "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')" % qv(k)))
            elif k in (".", "..") or k.startswith(".."):
                causes.append(("%s[%s]" % (field, k), "FieldValueInvalid",
                               "Invalid value: %s: must not be '.' or '..' or start with '..'" % qv(k)))
            if field == "binaryData":
                try:
                    size += len(base64.b64decode(v, validate=True))
                except (ValueError, TypeError):
                    causes.append(("binaryData[%s]" % k, "FieldValueInvalid",
                                   "Invalid value: illegal base64 data"))
            else:
                size += len(v.encode())
    for k in (obj.get("binaryData") or {}):
        if k in (obj.get("data") or {}):
            causes.append(("data[%s]" % k, "FieldValueInvalid",
                           "Invalid value: %s: duplicate of key present in binaryData" % qv(k)))
    if size > MAX_CONFIGMAP_DATA:
        causes.append(("", "FieldValueTooLong", "Too long: must have at most %d bytes"
                       % MAX_CONFIGMAP_DATA))
    if old is not None and old.get("immutable"):
        if (obj.get("data") != old.get("data") or obj.get("binaryData") != old.get("binaryData")):
            causes.append(("data", "FieldValueForbidden",
                           "Forbidden: field is immutable when `immutable` is set"))
        if not obj.get("immutable"):
            causes.append(("immutable", "FieldValueForbidden",
                           "Forbidden: field is immutable when `immutable` is set"))


def _cm_decode_check(obj):
    check_string_map(obj, "data", "ConfigMap")
    check_string_map(obj, "binaryData", "ConfigMap")


def _pod_validate(obj, old, causes):
    validate_meta(obj["metadata"], True, causes, check_subdomain)
    spec = obj.get("spec")
    if not isinstance(spec, dict) or not spec.get("containers"):
        causes.append(("spec.containers", "FieldValueRequired", "Required value"))
    else:
        for i, c in enumerate(spec["containers"]):
            if not isinstance(c, dict) or not c.get("name"):
                causes.append(("spec.containers[%d].name" % i, "FieldValueRequired", "Required value"))
            if isinstance(c, dict) and not c.get("image"):
                causes.append(("spec.containers[%d].image" % i, "FieldValueRequired",
                               "Required value"))


def _pod_default(obj):
    spec = obj.setdefault("spec", {})
    if isinstance(spec, dict):
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("dnsPolicy", "ClusterFirst")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("securityContext", {})
    st = obj.setdefault("status", {})
    if isinstance(st, dict):
        st.setdefault("phase", "Pending")
        st.setdefault("qosClass", "BestEffort")


def _event_validate(obj, old, causes):
    validate_meta(obj["metadata"], True, causes, check_subdomain)
    io = obj.get("involvedObject")
    if not isinstance(io, dict):
        causes.append(("involvedObject", "FieldValueRequired", "Required value"))
    else:
        ions = io.get("namespace", "")
        if ions and ions != obj["metadata"].get("namespace"):
            causes.append(("involvedObject.namespace", "FieldValueInvalid",
                           "Invalid value: %s: does not match event.namespace" % qv(ions)))
    t = obj.get("type", "")
    if t and t not in ("Normal", "Warning"):
        causes.append(("type", "FieldValueNotSupported",
                       'Unsupported value: %s: supported values: "Normal", "Warning"' % qv(t)))


def _event_default(obj):
    obj.setdefault("reportingComponent", "")
    obj.setdefault("reportingInstance", "")


def _ns_validate(obj, old, causes):
    validate_meta(obj["metadata"], False, causes, check_label)


def _ns_default(obj):
    name = obj["metadata"].get("name", "")
    labels = obj["metadata"].setdefault("labels", {})
    if isinstance(labels, dict):
        labels["kubernetes.io/metadata.name"] = name
    obj.setdefault("spec", {"finalizers": ["kubernetes"]})
    obj.setdefault("status", {"phase": "Active"})


def _get_path(obj, dotted):
    cur = obj
    for p in dotted.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def _pod_fields(obj):
    f = {"metadata.name": _get_path(obj, "metadata.name"),
         "metadata.namespace": _get_path(obj, "metadata.namespace")}
    for p in ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
              "spec.serviceAccountName", "status.phase", "status.podIP",
              "status.nominatedNodeName"):
        f[p] = _get_path(obj, p)
    f["spec.hostNetwork"] = _get_path(obj, "spec.securityContext.hostNetwork") or \
        _get_path(obj, "spec.hostNetwork") or "false"
    return f


def _event_fields(obj):
    f = {"metadata.name": _get_path(obj, "metadata.name"),
         "metadata.namespace": _get_path(obj, "metadata.namespace")}
    for p in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"):
        f["involvedObject." + p] = _get_path(obj, "involvedObject." + p)
    f["reason"] = _get_path(obj, "reason")
    f["reportingComponent"] = _get_path(obj, "reportingComponent")
    f["source"] = _get_path(obj, "source.component")
    f["type"] = _get_path(obj, "type")
    return f


def _meta_fields(obj):
    return {"metadata.name": _get_path(obj, "metadata.name"),
            "metadata.namespace": _get_path(obj, "metadata.namespace")}


def _ns_fields(obj):
    return {"metadata.name": _get_path(obj, "metadata.name"),
            "status.phase": _get_path(obj, "status.phase")}


def _age(obj, now):
    ts = parse_rfc3339(obj.get("metadata", {}).get("creationTimestamp"))
    return human_duration(now - ts) if ts else "<unknown>"


def _cm_cells(obj, now):
    return [obj["metadata"]["name"], len(obj.get("data") or {}) + len(obj.get("binaryData") or {}),
            _age(obj, now)]


def _pod_cells(obj, now):
    cs = (obj.get("spec") or {}).get("containers") or []
    st = obj.get("status") or {}
    ready = sum(1 for c in st.get("containerStatuses") or [] if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in st.get("containerStatuses") or [])
    return [obj["metadata"]["name"], "%d/%d" % (ready, len(cs)), st.get("phase", ""), restarts,
            _age(obj, now), st.get("podIP") or "<none>",
            (obj.get("spec") or {}).get("nodeName") or "<none>", "<none>", "<none>"]


def _event_cells(obj, now):
    last = parse_rfc3339(obj.get("lastTimestamp") or obj.get("eventTime") or
                         obj["metadata"].get("creationTimestamp"))
    io = obj.get("involvedObject") or {}
    return [human_duration(now - last) if last else "<unknown>", obj.get("type", ""),
            obj.get("reason", ""), "%s/%s" % ((io.get("kind") or "").lower(), io.get("name", "")),
            obj.get("message", ""), obj["metadata"]["name"]]


def _ns_cells(obj, now):
    return [obj["metadata"]["name"], (obj.get("status") or {}).get("phase", ""), _age(obj, now)]


def _col(name, typ, desc, fmt="", prio=0):
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": prio}


NAME_COL = _col("Name", "string", "Name must be unique within a namespace. "
                "More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
                "name")
AGE_COL = _col("Age", "string", "CreationTimestamp is a timestamp representing the server time "
               "when this object was created.")


class Kind:
    def __init__(self, resource, kind, short, namespaced, top_fields, validate, fields, columns,
                 cells, default=None, decode_check=None, return_deleted=False):
        self.resource = resource
        self.kind = kind
        self.list_kind = kind + "List"
        self.short = short
        self.namespaced = namespaced
        self.order = list(top_fields)
        self.top_fields = set(top_fields) | {"kind", "apiVersion", "metadata"}
        self.validate = validate
        self.fields = fields
        self.columns = columns
        self.cells = cells
        self.default = default
        self.decode_check = decode_check
        self.return_deleted = return_deleted
        self.prefix = ('{"kind":"%s","apiVersion":"v1",' % kind).encode()


KINDS = {
    "configmaps": Kind("configmaps", "ConfigMap", "cm", True,
                       ["immutable", "data", "binaryData"], _cm_validate, _meta_fields,
                       [NAME_COL, _col("Data", "string", "Data contains the configuration data."),
                        AGE_COL], _cm_cells, decode_check=_cm_decode_check),
    "pods": Kind("pods", "Pod", "po", True, ["spec", "status"], _pod_validate, _pod_fields,
                 [NAME_COL, _col("Ready", "string", "The aggregate readiness state of this pod "
                                 "for accepting traffic."),
                  _col("Status", "string", "The aggregate status of the containers in this pod."),
                  _col("Restarts", "string", "The number of times the containers in this pod "
                       "have been restarted and when the last container in this pod has restarted."),
                  AGE_COL,
                  _col("IP", "string", "IP address allocated to the pod.", prio=1),
                  _col("Node", "string", "Name of the Node the Pod is assigned to.", prio=1),
                  _col("Nominated Node", "string", "Nominated node name.", prio=1),
                  _col("Readiness Gates", "string", "Readiness gates.", prio=1)],
                 _pod_cells, default=_pod_default, return_deleted=True),
    "events": Kind("events", "Event", "ev", True,
                   ["involvedObject", "reason", "message", "source", "firstTimestamp",
                    "lastTimestamp", "count", "type", "eventTime", "series", "action", "related",
                    "reportingComponent", "reportingInstance"], _event_validate, _event_fields,
                   [_col("Last Seen", "string", "Last seen"), _col("Type", "string", "Type"),
                    _col("Reason", "string", "Reason"), _col("Object", "string", "Object"),
                    _col("Message", "string", "Message"), _col("Name", "string", "Name", "name", 1)],
                   _event_cells, default=_event_default),
    "namespaces": Kind("namespaces", "Namespace", "ns", False, ["spec", "status"], _ns_validate,
                       _ns_fields,
                       [NAME_COL, _col("Status", "string", "The status of the namespace"), AGE_COL],
                       _ns_cells, default=_ns_default),
}
KIND_BY_NAME = {k.kind: k for k in KINDS.values()}
META_FIELDS = {"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
               "generation", "creationTimestamp", "deletionTimestamp",
               "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
               "finalizers", "managedFields"}


# ---------------------------------------------------------------------------------------------
# Selectors (k8s.io/apimachinery/pkg/labels and pkg/fields)

class LabelSelector:
    """Parsed labelSelector: a list of (key, op, values)."""

    TOKEN = re.compile(r"\s*(\(|\)|,|!=|==|=|!|[^\s(),!=]+)")

    def __init__(self, text):
        self.reqs = []
        text = text or ""
        toks = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = self.TOKEN.match(text, pos)
            if not m:
                raise err_bad_request("unable to parse requirement: invalid label selector %s"
                                      % qv(text))
            toks.append(m.group(1))
            pos = m.end()
        i = 0

        def bad(msg):
            return err_bad_request("unable to parse requirement: %s" % msg)

        while i < len(toks):
            neg = False
            if toks[i] == "!":
                neg = True
                i += 1
            if i >= len(toks) or toks[i] in ("(", ")", ",", "=", "==", "!=", "!"):
                raise bad("found '%s', expected: identifier" % (toks[i] if i < len(toks) else ""))
            key = toks[i]
            self._check_key(key, bad)
            i += 1
            if neg:
                self.reqs.append((key, "!", ()))
            elif i >= len(toks) or toks[i] == ",":
                self.reqs.append((key, "exists", ()))
            elif toks[i] in ("=", "==", "!="):
                op = "!=" if toks[i] == "!=" else "="
                i += 1
                val = ""
                if i < len(toks) and toks[i] not in (",", "(", ")", "=", "==", "!=", "!"):
                    val = toks[i]
                    i += 1
                self._check_value(val, bad)
                self.reqs.append((key, op, (val,)))
            elif toks[i] in ("in", "notin"):
                op = toks[i]
                i += 1
                if i >= len(toks) or toks[i] != "(":
                    raise bad("found '%s', expected: '('" % (toks[i] if i < len(toks) else ""))
                i += 1
                vals = []
                while True:
                    if i < len(toks) and toks[i] not in ("(", ")", ",", "=", "==", "!=", "!"):
                        self._check_value(toks[i], bad)
                        vals.append(toks[i])
                        i += 1
                    else:
                        vals.append("")
                    if i < len(toks) and toks[i] == ",":
                        i += 1
                        continue
                    if i < len(toks) and toks[i] == ")":
                        i += 1
                        break
                    raise bad("found '%s', expected: ',', ')' or identifier"
                              % (toks[i] if i < len(toks) else ""))
                self.reqs.append((key, op, tuple(vals)))
            elif toks[i] in ("gt", "lt"):
                op = toks[i]
                i += 1
                if i >= len(toks):
                    raise bad("found '', expected: identifier")
                try:
                    int(toks[i])
                except ValueError:
                    raise bad("for 'Gt', 'Lt' operators, the value must be an integer")
                self.reqs.append((key, op, (toks[i],)))
                i += 1
            else:
                raise bad("found '%s', expected: in, notin, =, ==, !=, gt, lt" % toks[i])
            if i < len(toks):
                if toks[i] != ",":
                    raise bad("found '%s', expected: ','" % toks[i])
                i += 1
                if i >= len(toks):
                    raise bad("found '', expected: identifier after ','")

    @staticmethod
    def _check_key(key, bad):
        c = []
        check_qualified_key("", key, c)
        if c:
            raise bad("%s: Invalid value: %s: name part must consist of alphanumeric characters, "
                      "'-', '_' or '.', and must start and end with an alphanumeric character"
                      % (key, qv(key)))

    @staticmethod
    def _check_value(val, bad):
        if len(val) > 63 or not LABEL_VALUE.match(val):
            raise bad("values[0][key]: Invalid value: %s: a valid label must be an empty string "
                      "or consist of alphanumeric characters, '-', '_' or '.', and must start and "
                      "end with an alphanumeric character" % qv(val))

    def empty(self):
        return not self.reqs

    def matches(self, labels):
        labels = labels or {}
        for key, op, vals in self.reqs:
            has = key in labels
            v = labels.get(key)
            if op == "exists" and not has:
                return False
            if op == "!" and has:
                return False
            if op == "=" and (not has or v != vals[0]):
                return False
            if op == "!=" and has and v == vals[0]:
                return False
            if op == "in" and (not has or v not in vals):
                return False
            if op == "notin" and has and v in vals:
                return False
            if op in ("gt", "lt"):
                try:
                    n = int(v)
                except (TypeError, ValueError):
                    return False
                if (op == "gt" and not n > int(vals[0])) or (op == "lt" and not n < int(vals[0])):
                    return False
        return True


class FieldSelector:
    def __init__(self, text, kind):
        self.reqs = []
        text = (text or "").strip()
        if not text:
            return
        parts = []
        cur = ""
        i = 0
        while i < len(text):  # split on unescaped commas
            ch = text[i]
            if ch == "\\" and i + 1 < len(text):
                cur += text[i:i + 2]
                i += 2
                continue
            if ch == ",":
                parts.append(cur)
                cur = ""
            else:
                cur += ch
            i += 1
        parts.append(cur)
        sample = kind.fields({"metadata": {}})
        for p in parts:
            m = re.match(r"^([^=!]+)(==|!=|=)(.*)$", p)
            if not m:
                raise err_bad_request("invalid selector: '%s'; can't understand '%s'" % (text, p))
            field, op, val = m.group(1).strip(), m.group(2), m.group(3)
            val = re.sub(r"\\(.)", r"\1", val)
            if field not in sample:
                raise err_bad_request('"%s" is not a known field selector: only %s' % (
                    field, ", ".join('"%s"' % f for f in sample)))
            self.reqs.append((field, op != "!=", val))
        self.kind = kind

    def empty(self):
        return not self.reqs

    def matches(self, obj):
        if not self.reqs:
            return True
        f = self.kind.fields(obj)
        for field, eq, val in self.reqs:
            if (f.get(field, "") == val) != eq:
                return False
        return True

    def exact_name(self):
        for field, eq, val in self.reqs:
            if field == "metadata.name" and eq:
                return val
        return None


# ---------------------------------------------------------------------------------------------
# Store

class Rec:
    """One version of one object; immutable once stored, so its encodings are cached."""
    __slots__ = ("obj", "rv", "_item")

    def __init__(self, obj, rv):
        self.obj = obj
        self.rv = rv
        self._item = None

    def item_bytes(self):
        b = self._item
        if b is None:
            b = self._item = dumps(self.obj)
        return b

    def full_bytes(self, kind):
        # a memcpy of the cached list form: not cached too, which would double the memory
        return kind.prefix + self.item_bytes()[1:]


class Event:
    __slots__ = ("rv", "type", "res", "key", "rec", "prev")

    def __init__(self, rv, typ, res, key, rec, prev):
        self.rv = rv
        self.type = typ
        self.res = res
        self.key = key
        self.rec = rec
        self.prev = prev


class Watcher:
    def __init__(self, res, ns, lsel, fsel):
        self.res = res
        self.ns = ns
        self.lsel = lsel
        self.fsel = fsel
        self.items = collections.deque()
        self.cond = threading.Condition()

    def push(self, item):
        with self.cond:
            self.items.append(item)
            self.cond.notify()

    def matches(self, obj):
        if obj is None:
            return False
        md = obj["metadata"]
        if self.ns is not None and md.get("namespace") != self.ns:
            return False
        return self.lsel.matches(md.get("labels")) and self.fsel.matches(obj)


class Store:
    def __init__(self, history, rv_start=0):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.rv = max(int(rv_start), 0)
        self.objects = {r: {} for r in KINDS}
        self.sorted_keys = {r: None for r in KINDS}
        self.history = collections.deque()
        self.history_max = max(int(history), 1)
        self.floor = self.rv  # events with rv > floor are all in history
        self.continue_floor = 0  # continue tokens with rv <= this have expired
        self.watchers = set()
        self.managed = {}  # (res, key) -> {manager: set(paths)} for server-side apply
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.put("namespaces", None, {"metadata": {"name": ns}}, validate=False)

    def keys_sorted(self, res):
        ks = self.sorted_keys[res]
        if ks is None:
            ks = self.sorted_keys[res] = sorted(self.objects[res])
        return ks

    def _commit(self, typ, res, key, obj):
        """Store obj (None: delete) under a new resourceVersion and tell the watchers."""
        self.rv += 1
        prev = self.objects[res].get(key)
        rec = None
        if obj is not None:
            obj["metadata"]["resourceVersion"] = str(self.rv)
            obj = canonical(obj, KINDS[res].order)
            rec = Rec(obj, self.rv)
            if prev is None:
                self.sorted_keys[res] = None
            self.objects[res][key] = rec
            ev = Event(self.rv, typ, res, key, rec, prev)
        else:
            gone = copy.deepcopy(prev.obj)
            gone["metadata"]["resourceVersion"] = str(self.rv)
            del self.objects[res][key]
            self.sorted_keys[res] = None
            self.managed.pop((res, key), None)
            ev = Event(self.rv, "DELETED", res, key, Rec(gone, self.rv), prev)
        if len(self.history) >= self.history_max:
            self.floor = self.history.popleft().rv
        self.history.append(ev)
        for w in list(self.watchers):
            if w.res == res:
                w.push(("ev", ev))
        self.changed.notify_all()
        return rec

    @staticmethod
    def key_of(res, ns, name):
        return (ns or "", name) if KINDS[res].namespaced else ("", name)

    def get(self, res, ns, name):
        with self.lock:
            rec = self.objects[res].get(self.key_of(res, ns, name))
        if rec is None:
            raise err_not_found(res, name)
        return rec

    def put(self, res, ns, obj, validate=True, create_only=True, dry_run=False):
        """Create obj; returns its Rec."""
        kind = KINDS[res]
        md = obj.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise err_bad_request("metadata must be an object")
        with self.lock:
            if not md.get("name") and md.get("generateName"):
                md["name"] = md["generateName"] + "".join(
                    random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            if kind.namespaced:
                md["namespace"] = ns
            else:
                md.pop("namespace", None)
            for f in ("resourceVersion", "selfLink", "deletionTimestamp", "managedFields",
                      "generation"):
                md.pop(f, None)
            md["uid"] = str(uuid.uuid4())
            md["creationTimestamp"] = now_rfc3339()
            if kind.default:
                kind.default(obj)
            if validate:
                causes = []
                kind.validate(obj, None, causes)
                if causes:
                    raise err_invalid(kind.kind, md.get("name", ""), causes)
            if kind.namespaced and ("", ns) not in self.objects["namespaces"]:
                raise err_not_found("namespaces", ns)
            key = self.key_of(res, ns, md["name"])
            if key in self.objects[res]:
                raise err_already_exists(res, md["name"])
            if dry_run:
                md["resourceVersion"] = str(self.rv)
                return Rec(canonical(obj, kind.order), self.rv)
            return self._commit("ADDED", res, key, obj)

    def replace(self, res, ns, name, mutate, dry_run=False, check_rv=None):
        """Read-modify-write under the lock: mutate(old_obj_copy) returns the new object.

        A change that leaves the object equal to the stored one keeps its resourceVersion and
        sends no event, like the real server's no-op updates."""
        kind = KINDS[res]
        with self.lock:
            key = self.key_of(res, ns, name)
            cur = self.objects[res].get(key)
            if cur is None:
                raise err_not_found(res, name)
            new = mutate(copy.deepcopy(cur.obj))
            md = new.setdefault("metadata", {})
            if not isinstance(md, dict):
                raise err_bad_request("metadata must be an object")
            if md.get("name", name) != name:
                raise err_bad_request("the name of the object (%s) does not match the name on "
                                      "the URL (%s)" % (md.get("name"), name))
            if kind.namespaced and md.get("namespace", ns) != ns:
                raise err_bad_request("the namespace of the provided object does not match the "
                                      "namespace sent on the request")
            rv = md.get("resourceVersion") if check_rv is None else check_rv
            if rv not in (None, "") and rv != cur.obj["metadata"]["resourceVersion"]:
                if not str(rv).isdigit():
                    raise err_bad_request("invalid resource version: %s" % rv)
                raise err_conflict(res, name)
            uid = md.get("uid")
            if uid and uid != cur.obj["metadata"]["uid"]:
                raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": '
                               "Precondition failed: UID in precondition: %s, UID in object "
                               "meta: %s" % (res, name, uid, cur.obj["metadata"]["uid"]),
                               {"name": name, "kind": res})
            md["name"] = name
            if kind.namespaced:
                md["namespace"] = ns
            for f in ("uid", "creationTimestamp"):
                md[f] = cur.obj["metadata"][f]
            for f in ("selfLink", "managedFields", "generation"):
                md.pop(f, None)
            md["resourceVersion"] = cur.obj["metadata"]["resourceVersion"]
            if kind.default:
                kind.default(new)
            causes = []
            kind.validate(new, cur.obj, causes)
            if causes:
                raise err_invalid(kind.kind, name, causes)
            if new == cur.obj or dry_run:
                return Rec(canonical(new, kind.order), cur.rv) if dry_run else cur
            return self._commit("MODIFIED", res, key, new)

    def delete(self, res, ns, name, precond=None, dry_run=False):
        with self.lock:
            key = self.key_of(res, ns, name)
            cur = self.objects[res].get(key)
            if cur is None:
                raise err_not_found(res, name)
            if precond:
                puid = precond.get("uid")
                prv = precond.get("resourceVersion")
                if puid and puid != cur.obj["metadata"]["uid"]:
                    raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": '
                                   "Precondition failed: UID in precondition: %s, UID in object "
                                   "meta: %s" % (res, name, puid, cur.obj["metadata"]["uid"]),
                                   {"name": name, "kind": res})
                if prv and prv != cur.obj["metadata"]["resourceVersion"]:
                    raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": '
                                   "Precondition failed: ResourceVersion in precondition: %s, "
                                   "ResourceVersion in object meta: %s" % (
                                       res, name, prv, cur.obj["metadata"]["resourceVersion"]),
                                   {"name": name, "kind": res})
            if dry_run:
                return cur
            if res == "namespaces":
                for r in KINDS:
                    if KINDS[r].namespaced:
                        for k in [k for k in self.objects[r] if k[0] == name]:
                            self._commit("DELETED", r, k, None)
            self._commit("DELETED", res, key, None)
            return self.history[-1].rec

    def snapshot(self, res, at_rv):
        """Objects of res as of at_rv: {key: Rec}, via the history overlay (None = absent)."""
        overlay = {}
        for ev in reversed(self.history):
            if ev.rv <= at_rv:
                break
            if ev.res == res:
                overlay[ev.key] = ev.prev
        return overlay

    def expire_continue(self):
        with self.lock:
            self.continue_floor = self.rv
            self.rv += 1  # RVs are global and sparse; a gap is what clients always see

    def compact(self):
        with self.lock:
            self.history.clear()
            self.floor = self.rv

    def wait_rv(self, rv, timeout):
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.rv < rv:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
            return True


# ---------------------------------------------------------------------------------------------
# JSON patch, merge patch, server-side apply

def merge_patch(target, patch, smp=False):
    """RFC 7386 merge patch; with smp, also the {"$replace": v} marker left by strip_smp_directives."""
    if smp and isinstance(patch, dict) and "$replace" in patch and len(patch) == 1:
        return copy.deepcopy(patch["$replace"])
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v, smp)
    return out


def strip_smp_directives(p):
    """Strategic merge patch for these kinds is a merge patch once the directives are gone."""
    if isinstance(p, dict):
        if p.get("$patch") == "delete":
            return None
        if p.get("$patch") == "replace":
            p = {k: v for k, v in p.items() if k != "$patch"}
            return {"$replace": strip_smp_directives(p)}
        return {k: strip_smp_directives(v) for k, v in p.items()
                if not k.startswith("$setElementOrder/") and not k.startswith("$deleteFromPrimitiveList/")
                and k not in ("$retainKeys", "$patch")}
    if isinstance(p, list):
        return [strip_smp_directives(x) for x in p]
    return p


def smp_apply(target, patch):
    return merge_patch(target, patch, smp=True)


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise err_bad_request("json patch path %s must start with '/'" % qv(path))
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(doc, ops):
    def fail(msg):
        return ApiError(422, "Invalid", msg)

    if not isinstance(ops, list):
        raise err_bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")

    def parent(d, parts):
        cur = d
        for p in parts[:-1]:
            if isinstance(cur, dict) and p in cur:
                cur = cur[p]
            elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
                cur = cur[int(p)]
            else:
                raise fail("doc is missing path: %s" % "/" + "/".join(parts))
        return cur

    def get(d, parts):
        if not parts:
            return d
        par = parent(d, parts)
        last = parts[-1]
        if isinstance(par, dict) and last in par:
            return par[last]
        if isinstance(par, list) and last.isdigit() and int(last) < len(par):
            return par[int(last)]
        raise fail("doc is missing path: /%s" % "/".join(parts))

    def remove(d, parts):
        par = parent(d, parts)
        last = parts[-1]
        if isinstance(par, dict) and last in par:
            return par.pop(last)
        if isinstance(par, list) and last.isdigit() and int(last) < len(par):
            return par.pop(int(last))
        raise fail("Unable to remove nonexistent key: %s: missing value" % last)

    def add(d, parts, val, replace=False):
        if not parts:
            return val
        par = parent(d, parts)
        last = parts[-1]
        if isinstance(par, dict):
            if replace and last not in par:
                raise fail("replace operation does not apply: doc is missing key: /%s: missing "
                           "value" % "/".join(parts))
            par[last] = val
        elif isinstance(par, list):
            if last == "-":
                par.append(val)
            elif last.isdigit() and int(last) <= len(par):
                if replace:
                    if int(last) >= len(par):
                        raise fail("replace operation does not apply: index out of range")
                    par[int(last)] = val
                else:
                    par.insert(int(last), val)
            else:
                raise fail("add operation does not apply: index out of range")
        else:
            raise fail("doc is missing path: /%s" % "/".join(parts))
        return d

    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise err_bad_request("json patch operation is missing 'op'")
        kind = op["op"]
        path = _pointer(op.get("path", ""))
        if kind == "add":
            doc = add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            remove(doc, path)
        elif kind == "replace":
            doc = add(doc, path, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "move":
            v = remove(doc, _pointer(op.get("from", "")))
            doc = add(doc, path, v)
        elif kind == "copy":
            v = copy.deepcopy(get(doc, _pointer(op.get("from", ""))))
            doc = add(doc, path, v)
        elif kind == "test":
            if get(doc, path) != op.get("value"):
                raise fail("testing value /%s failed: test failed" % "/".join(path))
        else:
            raise err_bad_request("Unexpected kind: %s" % kind)
    return doc


def leaf_paths(obj, prefix=()):
    """Field paths an applied configuration sets (leaves and lists are owned whole)."""
    out = set()
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            if prefix == () and k in ("kind", "apiVersion"):
                continue
            if prefix == ("metadata",) and k in ("name", "namespace", "resourceVersion", "uid",
                                                 "managedFields", "creationTimestamp"):
                continue
            out |= leaf_paths(v, prefix + (k,))
    elif prefix:
        out.add(prefix)
    return out


def remove_path(obj, path):
    cur = obj
    for p in path[:-1]:
        if not isinstance(cur, dict) or p not in cur:
            return
        cur = cur[p]
    if isinstance(cur, dict):
        cur.pop(path[-1], None)
    # prune emptied maps (but keep metadata and top-level containers)
    for n in range(len(path) - 1, 1, -1):
        cur = obj
        for p in path[:n - 1]:
            cur = cur.get(p, {}) if isinstance(cur, dict) else {}
        if isinstance(cur, dict) and cur.get(path[n - 1]) == {}:
            del cur[path[n - 1]]


def deep_merge(target, src):
    if not isinstance(src, dict) or not isinstance(target, dict):
        return copy.deepcopy(src)
    out = dict(target)
    for k, v in src.items():
        out[k] = deep_merge(out.get(k), v)
    return out


# ---------------------------------------------------------------------------------------------
# Faults and statistics

class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.http = []  # dicts with count left
        self.garbage = []
        self.truncate = []
        self.slow = []
        self.split = False
        self.watch_list = True
        self.watch_410_http = False

    def clear(self):
        with self.lock:
            self.http, self.garbage, self.truncate, self.slow = [], [], [], []
            self.split = False
            self.watch_410_http = False

    @staticmethod
    def _take(lst, target, verb):
        for f in lst:
            if f["count"] <= 0:
                continue
            if f.get("match") and f["match"] not in target:
                continue
            fv = f.get("verb", "any")
            if fv not in ("any", "", None) and fv != verb:
                continue
            f["count"] -= 1
            lst[:] = [x for x in lst if x["count"] > 0]
            return f
        return None

    def take(self, which, target, verb):
        with self.lock:
            return self._take(getattr(self, which), target, verb)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with getattr(self, "lock"):
            self.clients = {}
            self.ring = collections.deque(maxlen=STATS_RING)

    def begin(self, ua, verb, method, path, query):
        with self.lock:
            c = self.clients.setdefault(ua, {"requests": 0, "bytes_sent": 0, "by_verb": {},
                                             "by_status": {}})
            c["requests"] += 1
            c["by_verb"][verb] = c["by_verb"].get(verb, 0) + 1
            entry = {"method": method, "path": path, "query": query, "status": 0,
                     "user_agent": ua, "bytes": 0, "verb": verb}
            self.ring.append(entry)
            return c, entry

    def status(self, c, entry, code):
        with self.lock:
            entry["status"] = code
            c["by_status"][str(code)] = c["by_status"].get(str(code), 0) + 1

    def sent(self, c, entry, n):
        with self.lock:
            c["bytes_sent"] += n
            entry["bytes"] += n

    def dump(self, watches_open):
        with self.lock:
            return {"clients": copy.deepcopy(self.clients), "watches_open": watches_open,
                    "requests": list(copy.deepcopy(list(self.ring)))}


# ---------------------------------------------------------------------------------------------
# The server

class Abort(Exception):
    """Close the connection at once, without a final chunk."""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, opts, sslctx):
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        super().__init__(addr, handler)
        self.opts = opts
        self.sslctx = sslctx
        self.store = Store(opts.history, opts.rv_start)
        self.faults = Faults()
        self.faults.watch_list = not opts.no_watch_list
        self.stats = Stats()
        self.tokens_lock = threading.Lock()
        self.token = None
        self.old_tokens = {}  # token -> expiry (monotonic)
        self.watches = set()
        self.watches_lock = threading.Lock()
        self.stopping = False
        self.url = None

    def finish_request(self, request, client_address):
        """Peek at the first byte: a TLS ClientHello gets TLS, anything else plain HTTP."""
        sock = request
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request.settimeout(30)
            first = request.recv(1, socket.MSG_PEEK)
            if not first:
                return
            if first[0] == 0x16 and self.sslctx is not None:
                sock = self.sslctx.wrap_socket(request, server_side=True)
                tls = True
            else:
                tls = False
            sock.settimeout(None)
            self.RequestHandlerClass(sock, client_address, self, tls)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            if sock is not request:
                try:
                    sock.close()
                except OSError:
                    pass

    def token_ok(self, tok):
        with self.tokens_lock:
            if secrets.compare_digest(tok, self.token):
                return True
            exp = self.old_tokens.get(tok)
            return exp is not None and time.monotonic() < exp

    def set_token(self, tok, grace):
        with self.tokens_lock:
            if self.token is not None and grace > 0:
                self.old_tokens[self.token] = time.monotonic() + grace
            self.token = tok
        write_atomic(os.path.join(self.opts.dir, "token"), tok + "\n", 0o600)
        write_kubeconfig(self.opts, self.url, tok)

    def add_watch(self, w):
        with self.watches_lock:
            self.watches.add(w)

    def del_watch(self, w):
        with self.watches_lock:
            self.watches.discard(w)

    def all_watches(self):
        with self.watches_lock:
            return list(self.watches)


def write_atomic(path, text, mode=0o644):
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_kubeconfig(opts, url, token):
    ca = os.path.join(os.path.abspath(opts.dir), "ca.crt")
    lines = ["apiVersion: v1", "kind: Config", "clusters:", "- cluster:"]
    if not opts.no_tls:
        lines.append("    certificate-authority: %s" % json.dumps(ca))
    lines += ["    server: %s" % json.dumps(url), "  name: test-apiserver",
              "contexts:", "- context:", "    cluster: test-apiserver",
              "    namespace: default", "    user: test-user", "  name: test-apiserver",
              "current-context: test-apiserver", "preferences: {}", "users:",
              "- name: test-user", "  user:", "    token: %s" % json.dumps(token), ""]
    write_atomic(os.path.join(opts.dir, "kubeconfig"), "\n".join(lines), 0o600)


def make_certs(d):
    """CA and server certificate for 127.0.0.1, ::1 and localhost, made once and cached in d."""
    ca_crt, srv_crt, srv_key = (os.path.join(d, n) for n in ("ca.crt", "server.crt", "server.key"))
    if all(os.path.exists(p) for p in (ca_crt, srv_crt, srv_key)):
        return srv_crt, srv_key
    tmp = tempfile.mkdtemp(prefix=".certs-", dir=d)
    try:
        ext = os.path.join(tmp, "ext.cnf")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,"
                    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n")
        run = lambda *a: subprocess.run(["openssl"] + list(a), check=True, cwd=tmp,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650", "-subj",
            "/CN=seccomp-syncd-test-ca", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=kube-apiserver")
        run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-set_serial", str(random.randrange(1, 2 ** 62)), "-out", "server.crt", "-days",
            "3650", "-extfile", "ext.cnf")
        for n in ("ca.key", "server.key"):
            os.chmod(os.path.join(tmp, n), 0o600)
        for n in ("ca.key", "server.key", "server.crt", "ca.crt"):  # ca.crt last: the marker
            os.rename(os.path.join(tmp, n), os.path.join(d, n))
    finally:
        for n in os.listdir(tmp):
            os.unlink(os.path.join(tmp, n))
        os.rmdir(tmp)
    return srv_crt, srv_key


# ---------------------------------------------------------------------------------------------
# Protobuf request bodies (kubectl's typed clients send application/vnd.kubernetes.protobuf)

PB_MAGIC = b"k8s\x00"
PB_TIME = {1: ("seconds", "int"), 2: ("nanos", "int")}
PB_OWNER = {1: ("kind", "str"), 3: ("name", "str"), 4: ("uid", "str"), 5: ("apiVersion", "str"),
            6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")}
PB_META = {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"),
           4: ("selfLink", "str"), 5: ("uid", "str"), 6: ("resourceVersion", "str"),
           7: ("generation", "int"), 8: ("creationTimestamp", "time"),
           9: ("deletionTimestamp", "time"), 10: ("deletionGracePeriodSeconds", "int"),
           11: ("labels", "map"), 12: ("annotations", "map"),
           13: ("ownerReferences", ("list", PB_OWNER)), 14: ("finalizers", "strs")}
PB_OBJREF = {1: ("kind", "str"), 2: ("namespace", "str"), 3: ("name", "str"), 4: ("uid", "str"),
             5: ("apiVersion", "str"), 6: ("resourceVersion", "str"), 7: ("fieldPath", "str")}
PB_SCHEMAS = {
    "ConfigMap": {1: ("metadata", PB_META), 2: ("data", "map"), 3: ("binaryData", "bmap"),
                  4: ("immutable", "bool")},
    "Namespace": {1: ("metadata", PB_META), 2: ("spec", {1: ("finalizers", "strs")}),
                  3: ("status", {1: ("phase", "str")})},
    "Event": {1: ("metadata", PB_META), 2: ("involvedObject", PB_OBJREF), 3: ("reason", "str"),
              4: ("message", "str"), 5: ("source", {1: ("component", "str"), 2: ("host", "str")}),
              6: ("firstTimestamp", "time"), 7: ("lastTimestamp", "time"), 8: ("count", "int"),
              9: ("type", "str"), 10: ("eventTime", "mtime"), 12: ("action", "str"),
              13: ("related", PB_OBJREF), 14: ("reportingComponent", "str"),
              15: ("reportingInstance", "str")},
}


def _pb_fields(data):
    """Yield (field number, wire type, value) from protobuf bytes."""
    i, n = 0, len(data)

    def varint():
        nonlocal i
        shift = v = 0
        while True:
            if i >= n or shift > 63:
                raise ValueError("truncated varint")
            b = data[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v
    while i < n:
        key = varint()
        num, wt = key >> 3, key & 7
        if wt == 0:
            yield num, wt, varint()
        elif wt == 2:
            ln = varint()
            if i + ln > n:
                raise ValueError("truncated field")
            yield num, wt, data[i:i + ln]
            i += ln
        elif wt == 1:
            i += 8
            yield num, wt, data[i - 8:i]
        elif wt == 5:
            i += 4
            yield num, wt, data[i - 4:i]
        else:
            raise ValueError("unsupported wire type %d" % wt)


def _pb_time(raw, micro=False):
    t = {}
    for num, wt, v in _pb_fields(raw):
        if num == 1 and wt == 0:
            t["s"] = min(v, 253402300799)
        elif num == 2 and wt == 0:
            t["ns"] = v
    dt = datetime.datetime.fromtimestamp(t.get("s", 0), datetime.timezone.utc)
    if micro:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % (t.get("ns", 0) // 1000)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pb_decode(raw, schema):
    out = {}
    for num, wt, v in _pb_fields(raw):
        if num not in schema:
            continue
        name, typ = schema[num]
        if wt != (0 if typ in ("int", "bool") else 2):
            raise ValueError("field %d has wire type %d" % (num, wt))
        if typ == "str":
            if v:  # Go's omitempty
                out[name] = v.decode("utf-8")
        elif typ == "int":
            out[name] = v - (1 << 64) if v >= 1 << 63 else v
        elif typ == "bool":
            out[name] = bool(v)
        elif typ == "strs":
            out.setdefault(name, []).append(v.decode("utf-8"))
        elif typ in ("map", "bmap"):
            kv = {f: val for f, fwt, val in _pb_fields(v) if fwt == 2}
            val = kv.get(2, b"")
            out.setdefault(name, {})[kv.get(1, b"").decode("utf-8")] = \
                base64.b64encode(val).decode() if typ == "bmap" else val.decode("utf-8")
        elif typ == "time":
            out[name] = _pb_time(v)
        elif typ == "mtime":
            out[name] = _pb_time(v, micro=True)
        elif isinstance(typ, tuple):
            out.setdefault(name, []).append(_pb_decode(v, typ[1]))
        else:
            out[name] = _pb_decode(v, typ)
    return out


def decode_protobuf(raw):
    """The runtime.Unknown envelope and the kinds kubectl creates with its typed clients."""
    if not raw.startswith(PB_MAGIC):
        raise err_bad_request("provided protobuf data does not have the k8s magic prefix")
    try:
        env = {num: v for num, wt, v in _pb_fields(raw[len(PB_MAGIC):]) if wt == 2}
        tm = {num: v.decode() for num, wt, v in _pb_fields(env.get(1, b"")) if wt == 2}
        kind = tm.get(2, "")
        if kind not in PB_SCHEMAS:
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media "
                           "types include: application/json, application/yaml", {})
        obj = {"kind": kind, "apiVersion": tm.get(1, "v1")}
        obj.update(_pb_decode(env.get(2, b""), PB_SCHEMAS[kind]))
        return obj
    except (ValueError, UnicodeDecodeError, OverflowError, OSError, TypeError) as ex:
        raise err_bad_request("unable to decode protobuf body: %s" % ex)


# ---------------------------------------------------------------------------------------------
# Discovery and OpenAPI documents

def api_resource_list():
    verbs_ns = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    res = []
    for r in ("configmaps", "events", "namespaces", "pods"):
        k = KINDS[r]
        e = {"name": r, "singularName": k.kind.lower(), "namespaced": k.namespaced,
             "kind": k.kind, "verbs": verbs_ns if r != "namespaces" else
             ["create", "delete", "get", "list", "patch", "update", "watch"],
             "shortNames": [k.short]}
        if r == "pods":
            e["categories"] = ["all"]
        res.append(e)
    res.append({"name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod",
                "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "groupVersion": "v1", "resources": res}


def openapi_v3_index():
    return {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=%s" % OPENAPI_HASH},
                      "api": {"serverRelativeURL": "/openapi/v3/api?hash=%s" % OPENAPI_HASH}}}


def openapi_v3_doc():
    params = {p: {"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
              for p in ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")}
    schemas = {}
    paths = {}
    meta_ref = {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"] = {
        "type": "object", "properties": {
            "name": {"type": "string"}, "namespace": {"type": "string"},
            "generateName": {"type": "string"}, "uid": {"type": "string"},
            "resourceVersion": {"type": "string"}, "creationTimestamp": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string",
                                                                  "default": ""}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string",
                                                                       "default": ""}}}}
    for r, k in KINDS.items():
        name = "io.k8s.api.core.v1." + k.kind
        gvk = [{"group": "", "kind": k.kind, "version": "v1"}]
        props = {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                 "metadata": {"allOf": [meta_ref], "default": {}}}
        for f in sorted(k.top_fields - {"kind", "apiVersion", "metadata"}):
            props[f] = {"type": "object"} if f in ("data", "binaryData", "spec", "status",
                                                   "involvedObject", "source", "series",
                                                   "related") else {}
        if r == "configmaps":
            props["data"] = {"type": "object", "additionalProperties": {"type": "string",
                                                                        "default": ""}}
            props["binaryData"] = {"type": "object", "additionalProperties": {
                "type": "string", "format": "byte"}}
            props["immutable"] = {"type": "boolean"}
        schemas[name] = {"type": "object", "properties": props,
                         "x-kubernetes-group-version-kind": gvk}
        ref = {"$ref": "#/components/schemas/" + name}
        resp = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
        qp = [params[p] for p in params]  # inline: older kubectl does not follow $ref
        item = "/api/v1/namespaces/{namespace}/%s/{name}" % r if k.namespaced else \
            "/api/v1/%s/{name}" % r
        coll = "/api/v1/namespaces/{namespace}/%s" % r if k.namespaced else "/api/v1/%s" % r
        ext = {"x-kubernetes-group-version-kind": gvk[0]}
        paths[item] = {
            "get": dict({"operationId": "read" + k.kind, "responses": resp,
                         "x-kubernetes-action": "get"}, **ext),
            "put": dict({"operationId": "replace" + k.kind, "responses": resp, "parameters": qp,
                         "x-kubernetes-action": "put"}, **ext),
            "patch": dict({"operationId": "patch" + k.kind, "responses": resp, "parameters": qp,
                           "x-kubernetes-action": "patch"}, **ext),
            "delete": dict({"operationId": "delete" + k.kind, "responses": resp,
                            "x-kubernetes-action": "delete"}, **ext)}
        paths[coll] = {"post": dict({"operationId": "create" + k.kind, "responses": resp,
                                     "parameters": qp, "x-kubernetes-action": "post"}, **ext)}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.4"},
            "paths": paths, "components": {"schemas": schemas, "parameters": params}}


OPENAPI_HASH = "5A2C7E1B0D9F4A3C"


# ---------------------------------------------------------------------------------------------
# Request handler

NONRESOURCE_ANON = ("/version", "/healthz", "/readyz", "/livez")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = ""
    sys_version = ""

    def __init__(self, request, client_address, server, tls):
        self.tls = tls
        super().__init__(request, client_address, server)

    def log_message(self, fmt, *args):
        if self.server.opts.verbose:
            sys.stderr.write("apiserver: %s %s\n" % (self.address_string(), fmt % args))

    def version_string(self):
        return ""

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (Abort, ConnectionError, ssl.SSLError, TimeoutError, socket.timeout, OSError):
            self.close_connection = True
            self._abort()

    def _abort(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except (OSError, ValueError):
            pass

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # ---- output helpers ----
    def _write(self, data):
        self.wfile.write(data)
        if self.stat is not None:
            self.server.stats.sent(self.stat[0], self.stat[1], len(data))

    def _start(self, code, ctype, headers=None, length=None, chunked=False, body=b""):
        if self.stat is not None:
            self.server.stats.status(self.stat[0], self.stat[1], code)
        self.status_code = code
        phrase = self.responses.get(code, ("",))[0]
        h = ["HTTP/1.1 %d %s" % (code, phrase),
             "Audit-Id: %s" % uuid.uuid4(),
             "Cache-Control: no-cache, private",
             "Content-Type: %s" % ctype,
             "Date: %s" % self.date_time_string()]
        if self.stat is not None:
            h.append("X-Kubernetes-Pf-Flowschema-Uid: 5bbc2ac1-24cb-4cba-a5d8-4b8c4b4e0b70")
            h.append("X-Kubernetes-Pf-Prioritylevel-Uid: 3b0b4a58-3b5f-4d0a-8f9b-0ef5c7b2bd35")
        for k, v in (headers or {}).items():
            h.append("%s: %s" % (k, v))
        if chunked:
            h.append("Transfer-Encoding: chunked")
        else:
            h.append("Content-Length: %d" % (length or 0))
        if self.close_connection:
            h.append("Connection: close")
        # one write for headers and a small body: no Nagle/delayed-ACK stall, fewer TLS records
        self._write(("\r\n".join(h) + "\r\n\r\n").encode("latin-1") + body)

    def send_body(self, code, body, ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = dumps(body)
        elif isinstance(body, str):
            body = body.encode()
        if ctype == "application/json" and not body.endswith(b"\n"):
            body += b"\n"  # Go's json.Encoder ends every document with a newline
        if len(body) >= GZIP_THRESHOLD and self.gzip_ok():
            z = zlib.compressobj(1, zlib.DEFLATED, 31)
            body = z.compress(body) + z.flush()
            headers = dict(headers or {}, **{"Content-Encoding": "gzip",
                                             "Vary": "Accept-Encoding"})
        if self.command == "HEAD":
            self._start(code, ctype, headers, length=len(body))
        elif self.slow or len(body) > 65536:
            self._start(code, ctype, headers, length=len(body))
            self._trickled(body)
        else:
            self._start(code, ctype, headers, length=len(body), body=body)

    def gzip_ok(self):
        """APIResponseCompression: gzip when asked for, never on watches."""
        if self.params.get("watch") in ("true", "1") or "/watch/" in self.path:
            return False
        for enc in (self.headers.get("Accept-Encoding") or "").split(","):
            parts = [x.strip() for x in enc.split(";")]
            if parts[0].lower() == "gzip" and "q=0" not in parts[1:]:
                return True
        return False

    def send_error_obj(self, e):
        if e.plain:
            self.send_body(e.code, e.message + "\n", "text/plain; charset=utf-8",
                           dict(e.headers, **{"X-Content-Type-Options": "nosniff"}))
        else:
            self.send_body(e.code, e.status(), headers=e.headers)

    def _trickled(self, data):
        """Write data, slowly if a slow fault is armed for this response."""
        slow = self.slow
        if not slow:
            self._write(data)
            return
        piece = max(1, int(slow.get("bytes", 512)))
        for i in range(0, len(data), piece):
            time.sleep(slow["delay_ms"] / 1000.0)
            self._write(data[i:i + piece])

    def chunk(self, data):
        if data:
            self._trickled_chunk(data)

    def _trickled_chunk(self, data):
        if not self.slow:
            self._write(b"%x\r\n%s\r\n" % (len(data), data))
            return
        piece = max(1, int(self.slow.get("bytes", 512)))
        for i in range(0, len(data), piece):
            time.sleep(self.slow["delay_ms"] / 1000.0)
            part = data[i:i + piece]
            self._write(b"%x\r\n%s\r\n" % (len(part), part))

    def end_chunks(self):
        self._write(b"0\r\n\r\n")

    # ---- request reading ----
    def read_body(self, limit):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = bytearray()
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise Abort()
                try:
                    n = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    self.close_connection = True
                    raise err_bad_request("malformed chunked encoding")
                if n == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                if len(out) + n > limit:
                    self.close_connection = True
                    raise ApiError(413, "RequestEntityTooLarge",
                                   "Request entity too large: limit is %d" % limit)
                out += self.rfile.read(n)
                self.rfile.readline(3)
            return bytes(out)
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise err_bad_request("invalid Content-Length")
        if n > limit:
            self.close_connection = True
            left = n
            while 0 < left <= 64 * 1024 * 1024:  # drain, so the client can read the answer
                got = self.rfile.read(min(left, 1024 * 1024))
                if not got:
                    break
                left -= len(got)
            self.body_read = True
            raise ApiError(413, "RequestEntityTooLarge",
                           "Request entity too large: limit is %d" % limit)
        data = self.rfile.read(n) if n > 0 else b""
        if len(data) != n:
            raise Abort()
        return data

    def json_body(self):
        raw = self.read_body(MAX_BODY)
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if ctype == "application/vnd.kubernetes.protobuf":
            return decode_protobuf(raw)
        if ctype not in ("application/json", "application/yaml", "*/*", ""):
            raise ApiError(415, "UnsupportedMediaType",
                           'the body of the request was in an unknown format - accepted media '
                           'types include: application/json, application/yaml')
        return self.parse_doc(raw, ctype == "application/yaml")

    @staticmethod
    def parse_doc(raw, yaml_ok=False):
        try:
            obj = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError) as ex:
            obj = None
            if yaml_ok:
                try:
                    import yaml  # optional: only when a client sends YAML
                    obj = yaml.safe_load(raw)
                except Exception:
                    obj = None
            if obj is None:
                raise err_bad_request("couldn't get version/kind; json parse error: %s" % ex)
        if not isinstance(obj, dict):
            raise err_bad_request("Object 'Kind' is missing in '%s'"
                                  % raw[:200].decode("utf-8", "replace"))
        return obj

    # ---- dispatch ----
    def dispatch(self):
        self.stat = None
        self.slow = None
        self.truncate = None
        self.body_read = False
        self.status_code = 0
        u = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(u.path)  # Go's r.URL.Path is decoded
        query = u.query
        try:
            self.params = {k: v[-1] for k, v in
                           urllib.parse.parse_qs(query, keep_blank_values=True).items()}
        except ValueError:
            self.params = {}
        if path.startswith("/_test/") or path == "/_test":
            try:
                self.control(path)
            except ApiError as e:
                self.send_error_obj(e)
            except (ValueError, TypeError, KeyError, AttributeError) as ex:
                self.send_error_obj(err_bad_request("bad control request: %r" % ex))
            return
        if not self.tls and self.server.sslctx is not None:
            self.close_connection = True
            self.send_body(400, "Client sent an HTTP request to an HTTPS server.\n",
                           "text/plain; charset=utf-8")
            return
        ua = self.headers.get("User-Agent") or ""
        verb, info = self.request_info(path)
        self.stat = self.server.stats.begin(ua, verb, self.command, path, query)
        try:
            self.authenticate(path)
            f = self.server.faults.take("http", self.path, verb)
            if f:
                self.http_fault(f)
                return
            self.slow = self.server.faults.take("slow", self.path, verb)
            self.route(path, verb, info)
        except ApiError as e:
            if self.status_code:
                raise Abort()
            if e.code >= 400 and self.command in ("POST", "PUT", "PATCH"):
                # unread request bodies would corrupt the keep-alive stream
                if not self.body_read and self.headers.get("Content-Length") \
                        not in (None, "0"):
                    self.close_connection = True
            self.send_error_obj(e)
        except (Abort, OSError, ssl.SSLError):
            raise
        except Exception:  # a bug here: say so loudly, answer like the real server would
            traceback.print_exc()
            if self.status_code:
                raise Abort()
            self.close_connection = True
            self.send_error_obj(ApiError(500, "InternalError",
                                         "Internal error occurred: test apiserver bug"))

    def authenticate(self, path):
        if self.server.sslctx is None:
            return
        auth = self.headers.get("Authorization")
        if not auth:
            if path in NONRESOURCE_ANON:
                return
            raise ApiError(401, "Unauthorized", "Unauthorized")
        parts = auth.split(" ", 1)
        if len(parts) != 2 or parts[0].lower() != "bearer" or \
                not self.server.token_ok(parts[1].strip()):
            raise ApiError(401, "Unauthorized", "Unauthorized")

    def http_fault(self, f):
        status = int(f.get("status", 500))
        ra = f.get("retry_after")
        headers = {"Retry-After": str(int(ra))} if ra is not None else {}
        if status == 429:
            headers.setdefault("Retry-After", "1")
            raise ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                           headers=headers, plain=True)
        if status == 504:
            e = err_too_large(self.params.get("resourceVersion") or str(self.server.store.rv + 1),
                              self.server.store.rv, int(ra) if ra is not None else 1)
            raise e
        reasons = {410: ("Expired", "The resourceVersion for the provided list is too old."),
                   500: ("InternalError", "Internal error occurred: injected fault"),
                   503: ("ServiceUnavailable", "The apiserver is shutting down, please try again later."),
                   401: ("Unauthorized", "Unauthorized"),
                   403: ("Forbidden", "forbidden: injected fault"),
                   404: ("NotFound", "the server could not find the requested resource"),
                   409: ("Conflict", "Operation cannot be fulfilled: injected fault")}
        reason, msg = reasons.get(status, ("", "injected fault"))
        if status == 410 and "watch" in (f.get("verb") or "") + self.path:
            msg = "too old resource version: %s (%d)" % (
                self.params.get("resourceVersion", "0"), self.server.store.floor)
        details = None
        if status in (500, 503, 429) or ra is not None:
            details = {"retryAfterSeconds": int(ra) if ra is not None else 1}
            headers.setdefault("Retry-After", str(details["retryAfterSeconds"]))
        raise ApiError(status, reason, msg, details, headers=headers)

    def request_info(self, path):
        """Like the apiserver's RequestInfoFactory: (verb, (res, ns, name, sub)) or (verb, None)."""
        parts = [p for p in path.split("/") if p]
        if len(parts) < 2 or parts[0] != "api" or parts[1] != "v1" or len(parts) == 2:
            return self.command.lower(), None
        rest = parts[2:]
        watch_path = False
        if rest[0] == "watch":
            watch_path = True
            rest = rest[1:]
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns = rest[1]
            rest = rest[2:]
        elif len(rest) >= 1 and rest[0] == "namespaces":
            rest = rest  # namespaces collection or item (cluster scoped)
        res = rest[0] if rest else ""
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if res == "namespaces" and ns is None and len(rest) == 1:
            pass
        m = self.command
        if watch_path and m in ("GET", "HEAD"):
            verb = "watch"
        elif watch_path:
            verb = m.lower()  # routed to 405 below
        elif m in ("GET", "HEAD"):
            if name is None:
                verb = "watch" if self.params.get("watch") in ("true", "1") else "list"
            else:
                verb = "get"
        elif m == "POST":
            verb = "create"
        elif m == "PUT":
            verb = "update"
        elif m == "PATCH":
            verb = "patch"
        elif m == "DELETE":
            verb = "delete" if name is not None else "deletecollection"
        else:
            verb = m.lower()
        return verb, (res, ns, name, sub, watch_path)

    def route(self, path, verb, info):
        if info is None:
            return self.nonresource(path)
        res, ns, name, sub, watch_path = info
        kind = KINDS.get(res)
        if kind is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource",
                           {})
        if kind.namespaced and ns is None and name is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource",
                           {})
        if not kind.namespaced and ns is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource",
                           {})
        if sub not in (None, "status") or (sub == "status" and res != "pods"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource",
                           {})
        if watch_path and verb != "watch":
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource", {})
        if verb == "watch":
            if watch_path and name is not None:
                self.params["fieldSelector"] = ",".join(
                    x for x in (self.params.get("fieldSelector"), "metadata.name=" + name) if x)
            return self.watch(kind, ns)
        if verb == "list":
            return self.list(kind, ns)
        if verb == "get":
            rec = self.server.store.get(res, ns, name)
            return self.send_object(kind, rec)
        if verb == "create":
            if kind.namespaced and ns is None:
                raise ApiError(405, "MethodNotAllowed", 'the server does not allow this method '
                               'on the requested resource', {})
            return self.create(kind, ns)
        if verb == "update":
            return self.update(kind, ns, name)
        if verb == "patch":
            return self.patch(kind, ns, name)
        if verb == "delete":
            return self.delete(kind, ns, name)
        if verb == "deletecollection":
            return self.delete_collection(kind, ns)
        raise ApiError(405, "MethodNotAllowed",
                       "the server does not allow this method on the requested resource", {})

    def nonresource(self, path):
        if self.command not in ("GET", "HEAD"):
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource", {})
        v = self.server.opts.version
        if path == "/version":
            m = re.match(r"^v(\d+)\.(\d+)", v)
            return self.send_body(200, {
                "major": m.group(1) if m else "1", "minor": m.group(2) if m else "32",
                "gitVersion": v, "gitCommit": "0" * 40, "gitTreeState": "clean",
                "buildDate": "2025-04-22T16:00:00Z", "goVersion": "go1.23.8",
                "compiler": "gc", "platform": "linux/amd64"})
        if path in ("/healthz", "/readyz", "/livez"):
            return self.send_body(200, "ok", "text/plain; charset=utf-8",
                                  {"X-Content-Type-Options": "nosniff"})
        if path == "/api":
            return self.send_body(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [{
                                            "clientCIDR": "0.0.0.0/0",
                                            "serverAddress": "%s:%d" % (
                                                self.server.server_address[0],
                                                self.server.server_address[1])}]})
        if path == "/api/v1":
            return self.send_body(200, api_resource_list())
        if path == "/apis":
            return self.send_body(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        if path == "/openapi/v3":
            return self.send_body(200, openapi_v3_index())
        if path == "/openapi/v3/api/v1":
            return self.send_body(200, OPENAPI_DOC_BYTES,
                                  headers={"Etag": '"%s"' % OPENAPI_HASH})
        if path == "/openapi/v3/api":
            return self.send_body(200, {"openapi": "3.0.0", "info": {"title": "Kubernetes",
                                                                     "version": v},
                                        "paths": {}, "components": {}})
        if path == "/":
            return self.send_body(200, {"paths": ["/api", "/api/v1", "/apis", "/healthz",
                                                  "/livez", "/openapi/v3", "/readyz",
                                                  "/version"]})
        raise ApiError(404, "NotFound", "the server could not find the requested resource", {})

    # ---- CRUD ----
    def wants_table(self):
        return "as=Table" in (self.headers.get("Accept") or "")

    def table(self, kind, recs, rv, cont=None, remaining=None, with_columns=True):
        now = time.time()
        rows = []
        for rec in recs:
            md = rec.obj["metadata"]
            rows.append({"cells": kind.cells(rec.obj, now), "object": {
                "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": md}})
        t = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv}}
        if cont:
            t["metadata"]["continue"] = cont
            if remaining is not None:
                t["metadata"]["remainingItemCount"] = remaining
        if with_columns:
            t["columnDefinitions"] = kind.columns
        t["rows"] = rows
        return t

    def send_object(self, kind, rec, code=200, headers=None):
        if self.wants_table():
            return self.send_body(code, self.table(kind, [rec], str(rec.rv)), headers=headers)
        return self.send_body(code, rec.full_bytes(kind), headers=headers)

    def check_kind(self, kind, obj):
        k = obj.get("kind")
        av = obj.get("apiVersion")
        if k not in (None, "", kind.kind):
            raise err_bad_request("the kind in the data (%s) does not match the expected kind "
                                  "(%s)" % (k, kind.kind))
        if av not in (None, "", "v1"):
            raise err_bad_request("the API version in the data (%s) does not match the expected "
                                  "API version (v1)" % av)
        if kind.decode_check:
            kind.decode_check(obj)
        if not isinstance(obj.get("metadata", {}), dict):
            raise err_bad_request("json: cannot unmarshal into Go struct field %s.metadata of "
                                  "type v1.ObjectMeta" % kind.kind)
        unknown = sorted(set(obj) - kind.top_fields) + \
            sorted("metadata." + f for f in set(obj.get("metadata") or {}) - META_FIELDS)
        headers = {}
        mode = self.params.get("fieldValidation", "Warn")
        if mode not in ("Strict", "Warn", "Ignore", ""):
            raise err_bad_request('fieldValidation must be one of "Ignore", "Warn", or "Strict"')
        if unknown and mode == "Strict":
            raise err_bad_request("strict decoding error: " + ", ".join(
                'unknown field "%s"' % f for f in unknown))
        if unknown and mode in ("Warn", ""):
            headers["Warning"] = ", ".join('299 - "unknown field \\"%s\\""' % f for f in unknown)
        for f in unknown:
            if f.startswith("metadata."):
                obj["metadata"].pop(f[9:], None)
            else:
                obj.pop(f, None)
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        return headers

    def dry_run(self):
        d = self.params.get("dryRun")
        if d not in (None, "", "All"):
            raise err_bad_request('Invalid dry run value: %s; must be "All"' % d)
        return d == "All"

    def create(self, kind, ns):
        obj = self.json_body()
        self.body_read = True
        headers = self.check_kind(kind, obj)
        md = obj.get("metadata") or {}
        if kind.namespaced and md.get("namespace") not in (None, "", ns):
            raise err_bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
        rec = self.server.store.put(kind.resource, ns, obj, dry_run=self.dry_run())
        self.send_object(kind, rec, 201, headers)

    def update(self, kind, ns, name):
        obj = self.json_body()
        self.body_read = True
        headers = self.check_kind(kind, obj)

        def mutate(old):
            new = obj
            new.setdefault("metadata", {})
            if kind.resource == "pods" and self.sub_status():
                old["status"] = new.get("status", {})
                old["metadata"]["resourceVersion"] = new["metadata"].get("resourceVersion")
                return old
            return new
        rec = self.server.store.replace(kind.resource, ns, name, mutate, self.dry_run())
        self.send_object(kind, rec, 200, headers)

    def sub_status(self):
        return urllib.parse.urlsplit(self.path).path.rstrip("/").endswith("/status")

    def patch(self, kind, ns, name):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        raw = self.read_body(MAX_BODY)
        self.body_read = True
        store = self.server.store
        if ctype == "application/apply-patch+yaml":
            return self.apply(kind, ns, name, raw)
        if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json",
                         "application/json-patch+json"):
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media "
                           "types include: application/json-patch+json, "
                           "application/merge-patch+json, application/apply-patch+yaml, "
                           "application/strategic-merge-patch+json", {})
        try:
            p = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as ex:
            raise err_bad_request("error decoding patch: %s" % ex)
        headers = {}

        def mutate(old):
            full = dict(old, kind=kind.kind, apiVersion="v1")
            if ctype == "application/json-patch+json":
                new = json_patch(full, p)
            elif ctype == "application/merge-patch+json":
                if not isinstance(p, dict):
                    raise err_bad_request("patch must be a JSON object")
                new = merge_patch(full, p)
            else:
                if not isinstance(p, dict):
                    raise err_bad_request("patch must be a JSON object")
                new = smp_apply(full, strip_smp_directives(p))
            if not isinstance(new, dict):
                raise err_bad_request("patch result is not an object")
            headers.update(self.check_kind(kind, new))
            new.setdefault("metadata", {})
            if self.sub_status() and kind.resource == "pods":
                old["status"] = new.get("status", {})
                return old
            return new
        # a resourceVersion inside the patch is a precondition
        check_rv = None
        if isinstance(p, dict) and isinstance(p.get("metadata"), dict):
            check_rv = p["metadata"].get("resourceVersion")
        rec = store.replace(kind.resource, ns, name, mutate, self.dry_run(), check_rv)
        self.send_object(kind, rec, 200, headers)

    def apply(self, kind, ns, name, raw):
        """Server-side apply: create or merge, removing fields this manager no longer applies."""
        fm = self.params.get("fieldManager")
        if not fm:
            raise err_bad_request("PATCH requests with apply must specify fieldManager")
        obj = self.parse_doc(raw, yaml_ok=True)
        if obj.get("kind") in (None, "") or obj.get("apiVersion") in (None, ""):
            raise err_bad_request("invalid object type: /, Kind=")
        headers = self.check_kind(kind, obj)
        md = obj.setdefault("metadata", {})
        if md.get("name", name) != name:
            raise err_bad_request("the name of the object (%s) does not match the name on the "
                                  "URL (%s)" % (md.get("name"), name))
        md["name"] = name
        store = self.server.store
        paths = leaf_paths(obj)
        force = self.params.get("force") in ("true", "1")
        with store.lock:
            key = Store.key_of(kind.resource, ns, name)
            if key not in store.objects[kind.resource]:
                rec = store.put(kind.resource, ns, copy.deepcopy(obj), dry_run=self.dry_run())
                if not self.dry_run():
                    store.managed[(kind.resource, key)] = {fm: paths}
                return self.send_object(kind, rec, 201, headers)
            owners = store.managed.setdefault((kind.resource, key), {})
            if not force:
                cur = store.objects[kind.resource][key].obj
                conflicts = []
                for other, opaths in owners.items():
                    if other == fm:
                        continue
                    for p in sorted(paths & opaths):
                        v = cur
                        for part in p:
                            v = v.get(part) if isinstance(v, dict) else None
                        nv = obj
                        for part in p:
                            nv = nv.get(part) if isinstance(nv, dict) else None
                        if v != nv:
                            conflicts.append((other, p))
                if conflicts:
                    raise ApiError(409, "Conflict", "Apply failed with %d conflict%s: %s" % (
                        len(conflicts), "s" if len(conflicts) > 1 else "",
                        "\n".join('conflict with "%s": .%s' % (o, ".".join(p))
                                  for o, p in conflicts)),
                        {"causes": [{"reason": "FieldManagerConflict",
                                     "message": 'conflict with "%s"' % o,
                                     "field": "." + ".".join(p)} for o, p in conflicts]})
            old_paths = owners.get(fm, set())
            others = set()
            for other, opaths in owners.items():
                if other != fm:
                    others |= opaths

            def mutate(cur):
                for p in sorted(old_paths - paths - others, key=len, reverse=True):
                    remove_path(cur, p)
                return deep_merge(cur, {k: v for k, v in obj.items()})
            rec = store.replace(kind.resource, ns, name, mutate, self.dry_run(),
                                md.get("resourceVersion") or "")
            if not self.dry_run():
                for other in list(owners):
                    if other != fm and force:
                        owners[other] = owners[other] - paths
                owners[fm] = paths
        self.send_object(kind, rec, 200, headers)

    def delete_options(self):
        raw = self.read_body(MAX_BODY)
        self.body_read = True
        if not raw.strip():
            return {}
        try:
            o = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as ex:
            raise err_bad_request("couldn't get version/kind; json parse error: %s" % ex)
        return o if isinstance(o, dict) else {}

    def delete(self, kind, ns, name):
        opts = self.delete_options()
        rec = self.server.store.delete(kind.resource, ns, name, opts.get("preconditions"),
                                       self.dry_run())
        if kind.return_deleted:
            return self.send_object(kind, rec)
        self.send_body(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                             "status": "Success", "details": {
                                 "name": name, "kind": kind.resource,
                                 "uid": rec.obj["metadata"]["uid"]}})

    def delete_collection(self, kind, ns):
        self.delete_options()
        lsel = LabelSelector(self.params.get("labelSelector"))
        fsel = FieldSelector(self.params.get("fieldSelector"), kind)
        store = self.server.store
        gone = []
        with store.lock:
            for key in list(store.keys_sorted(kind.resource)):
                rec = store.objects[kind.resource].get(key)
                if rec is None or (ns is not None and key[0] != ns):
                    continue
                if lsel.matches(rec.obj["metadata"].get("labels")) and fsel.matches(rec.obj):
                    if not self.dry_run():
                        store.delete(kind.resource, key[0] or None, key[1])
                    gone.append(rec)
            rv = str(store.rv)
        self.send_list(kind, gone, rv, None, None)

    # ---- list ----
    def selectors(self, kind):
        return (LabelSelector(self.params.get("labelSelector")),
                FieldSelector(self.params.get("fieldSelector"), kind))

    def list(self, kind, ns):
        p = self.params
        lsel, fsel = self.selectors(kind)
        store = self.server.store
        rv = p.get("resourceVersion")
        rvm = p.get("resourceVersionMatch") or ""
        cont = p.get("continue") or ""
        try:
            limit = int(p.get("limit") or 0)
        except ValueError:
            raise err_bad_request("limit: Invalid value: %s" % qv(p.get("limit")))
        errs = []
        if rvm:
            if rvm not in ("NotOlderThan", "Exact"):
                errs.append(("resourceVersionMatch", "FieldValueNotSupported",
                             'Unsupported value: %s: supported values: "Exact", "NotOlderThan", '
                             '""' % qv(rvm)))
            elif not rv:
                errs.append(("resourceVersionMatch", "FieldValueForbidden",
                             "Forbidden: resourceVersionMatch is forbidden unless resourceVersion "
                             "is provided"))
            elif cont:
                errs.append(("resourceVersionMatch", "FieldValueForbidden",
                             "Forbidden: resourceVersionMatch is forbidden when continue is "
                             "provided"))
            elif rvm == "Exact" and rv == "0":
                errs.append(("resourceVersionMatch", "FieldValueForbidden",
                             'Forbidden: resourceVersionMatch "exact" is forbidden for '
                             'resourceVersion "0"'))
        if p.get("sendInitialEvents"):
            errs.append(("sendInitialEvents", "FieldValueForbidden",
                         "Forbidden: sendInitialEvents is forbidden for list"))
        if errs:
            raise err_list_options(errs)
        if cont and rv not in (None, "", "0"):
            raise err_bad_request("specifying resource version is not allowed when using continue")
        start = None
        paged = limit > 0
        with store.lock:
            current = store.rv
        if cont:
            try:
                tok = json.loads(base64.urlsafe_b64decode(cont + "=" * (-len(cont) % 4)))
                at = int(tok["rv"])
                start = tok["key"]
                if tok.get("v") != "meta.k8s.io/v1" or not isinstance(start, list) or \
                        len(start) != 2 or not all(isinstance(x, str) for x in start) or at <= 0:
                    raise ValueError("bad token")
                start = tuple(start)
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                raise err_bad_request("continue key is not valid: invalid continue token")
            with store.lock:
                if at <= store.continue_floor or at < store.floor:
                    raise err_expired(
                        "The provided continue parameter is too old to display a consistent list "
                        "result. You can start a new list without the continue parameter, or use "
                        "the continue token in this response to retrieve the remainder of the "
                        "results. Continuing with the provided token results in an inconsistent "
                        "list - objects that were created, modified, or deleted between the time "
                        "the first chunk was returned and now may show up in the list.")
        elif rv in (None, ""):
            at = current
        elif rv == "0":
            at = current
            paged = False  # served from the watch cache, which ignores limit
        else:
            if not rv.isdigit():
                raise err_bad_request("invalid resource version: %s" % rv)
            want = int(rv)
            exact = rvm == "Exact" or (rvm == "" and limit > 0)
            if want > current:
                if exact or not store.wait_rv(want, self.server.opts.too_large_wait):
                    raise err_too_large(want, store.rv)
                current = store.rv
            if exact:
                with store.lock:
                    if want < store.floor:
                        raise err_expired("The resourceVersion for the provided list is too old.")
                at = want
            else:
                at = current
        self.truncate = self.server.faults.take("truncate", self.path, "list")
        # pick the page
        items = []
        cont_out = None
        remaining = None
        with store.lock:
            overlay = store.snapshot(kind.resource, at) if at < store.rv else {}
            objs = store.objects[kind.resource]
            keys = store.keys_sorted(kind.resource)
            if overlay:
                keys = sorted(set(keys) | set(overlay))
            lo = 0
            if start is not None:
                lo = bisect.bisect_right(keys, start)
            elif ns is not None:
                lo = bisect.bisect_left(keys, (ns, ""))
            i = lo
            n = len(keys)
            exact_name = fsel.exact_name()
            last = None
            while i < n:
                key = keys[i]
                i += 1
                if ns is not None and key[0] != ns:
                    if key[0] > ns:
                        i = n
                        break
                    continue
                if exact_name is not None and key[1] != exact_name:
                    continue
                rec = overlay[key] if key in overlay else objs.get(key)
                if rec is None:
                    continue
                if not lsel.matches(rec.obj["metadata"].get("labels")) or not fsel.matches(rec.obj):
                    continue
                items.append(rec)
                last = key
                if paged and len(items) >= limit:
                    break
            if paged and len(items) >= limit and last is not None:
                # is there anything left?
                more = False
                rest = 0
                j = i
                while j < n:
                    key = keys[j]
                    j += 1
                    if ns is not None and key[0] != ns:
                        if key[0] > ns:
                            break
                        continue
                    rec = overlay[key] if key in overlay else objs.get(key)
                    if rec is not None:
                        more = True
                        rest += 1
                        if not lsel.empty() or not fsel.empty():
                            break
                if more:
                    start_s = "%s/%s" % last if kind.namespaced else last[1]
                    cont_out = base64.urlsafe_b64encode(dumps(
                        {"v": "meta.k8s.io/v1", "rv": at, "start": start_s + "\x00",
                         "key": list(last)})).decode().rstrip("=")
                    if lsel.empty() and fsel.empty():
                        remaining = rest
        self.send_list(kind, items, str(at), cont_out, remaining)

    def send_list(self, kind, items, rv, cont, remaining):
        if self.wants_table():
            return self.send_body(200, self.table(kind, items, rv, cont, remaining))
        meta = {"resourceVersion": rv}
        if cont:
            meta["continue"] = cont
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        head = b'{"kind":"%s","apiVersion":"v1","metadata":%s,"items":[' % (
            kind.list_kind.encode(), dumps(meta))
        trunc = self.truncate
        self.truncate = None
        if self.command == "HEAD":
            self._start(200, "application/json", length=0)
            return
        total = len(head) + 2 + sum(len(r.item_bytes()) + 1 for r in items)
        z = None
        if total >= GZIP_THRESHOLD and self.gzip_ok():
            z = zlib.compressobj(1, zlib.DEFLATED, 31)
            self._start(200, "application/json", {"Content-Encoding": "gzip",
                                                  "Vary": "Accept-Encoding"}, chunked=True)
        else:
            self._start(200, "application/json", chunked=True)

        def emit(data, last=False):
            if z is not None:
                data = z.compress(data) + (z.flush() if last else z.flush(zlib.Z_SYNC_FLUSH))
            self.chunk(data)
        cut = total // 2 if trunc else None
        buf = [head]
        size = len(head)
        sent = 0
        for idx, rec in enumerate(items):
            b = rec.item_bytes()
            if idx:
                buf.append(b",")
                size += 1
            buf.append(b)
            size += len(b)
            if size >= LIST_FLUSH:
                data = b"".join(buf)
                if cut is not None and sent + len(data) >= cut:
                    emit(data[:max(cut - sent, 1)])
                    raise Abort()
                emit(data)
                sent += len(data)
                buf, size = [], 0
        buf.append(b"]}\n")
        data = b"".join(buf)
        if cut is not None:
            emit(data[:max(cut - sent, 1)])
            raise Abort()
        emit(data, last=True)
        self.end_chunks()

    # ---- watch ----
    def watch(self, kind, ns):
        p = self.params
        srv = self.server
        store = srv.store
        lsel, fsel = self.selectors(kind)
        rv = p.get("resourceVersion") or ""
        rvm = p.get("resourceVersionMatch") or ""
        sie = p.get("sendInitialEvents")
        bookmarks = p.get("allowWatchBookmarks") in ("true", "1")
        errs = []
        if sie is not None and sie != "":
            if not srv.faults.watch_list:
                errs.append(("sendInitialEvents", "FieldValueForbidden",
                             "Forbidden: sendInitialEvents is forbidden for watch unless the "
                             "WatchList feature gate is enabled"))
            else:
                if rvm != "NotOlderThan":
                    errs.append(("resourceVersionMatch", "FieldValueForbidden",
                                 "Forbidden: sendInitialEvents requires setting "
                                 "resourceVersionMatch to NotOlderThan"))
                if not bookmarks:
                    errs.append(("allowWatchBookmarks", "FieldValueForbidden",
                                 "Forbidden: sendInitialEvents requires allowWatchBookmarks=true"))
        elif rvm:
            errs.append(("resourceVersionMatch", "FieldValueForbidden",
                         "Forbidden: resourceVersionMatch is forbidden for watch unless "
                         "sendInitialEvents is provided"))
        if errs:
            raise err_list_options(errs)
        send_initial = sie in ("true", "1")
        no_initial = sie in ("false", "0")
        try:
            timeout = int(p.get("timeoutSeconds") or 0)
        except ValueError:
            raise err_bad_request("timeoutSeconds: Invalid value: %s" % qv(p.get("timeoutSeconds")))
        if timeout <= 0:
            timeout = random.randint(1800, 3600)
        if rv not in ("", "0") and not rv.isdigit():
            raise err_bad_request("invalid resource version: %s" % rv)
        garbage = srv.faults.take("garbage", self.path, "watch")
        w = Watcher(kind.resource, ns, lsel, fsel)
        initial = []
        backlog = []
        expired = None
        with store.lock:
            if no_initial and rv in ("", "0"):
                start_rv = store.rv  # sendInitialEvents=false: from now, no synthetic ADDED
            elif send_initial or rv in ("", "0"):
                if send_initial and rv not in ("", "0") and int(rv) > store.rv:
                    store.lock.release()
                    try:
                        store.wait_rv(int(rv), srv.opts.too_large_wait)
                    finally:
                        store.lock.acquire()
                objs = store.objects[kind.resource]
                for key in store.keys_sorted(kind.resource):
                    rec = objs[key]
                    if w.matches(rec.obj):
                        initial.append(rec)
                start_rv = store.rv
            else:
                want = int(rv)
                if want < store.floor:
                    expired = store.floor
                else:
                    backlog = [e for e in store.history if e.rv > want and e.res == kind.resource]
                start_rv = want
            if expired is None:
                store.watchers.add(w)
        if expired is not None:
            msg = "too old resource version: %s (%d)" % (rv, expired)
            if srv.faults.watch_410_http:
                raise err_expired(msg)
        srv.add_watch(w)
        try:
            self.serve_watch(kind, w, initial, backlog, start_rv, send_initial, bookmarks,
                             timeout, expired, garbage)
        finally:
            with store.lock:
                store.watchers.discard(w)
            srv.del_watch(w)

    def serve_watch(self, kind, w, initial, backlog, start_rv, send_initial, bookmarks, timeout,
                    expired, garbage):
        srv = self.server
        table = self.wants_table()
        self.table_first = True
        self._start(200, "application/json", chunked=True)
        out = WatchWriter(self, srv)
        if expired is not None:
            st = err_expired("too old resource version: %s (%d)" % (
                self.params.get("resourceVersion"), expired)).status()
            out.send(b'{"type":"ERROR","object":%s}\n' % dumps(st))
            out.flush_all()
            self.end_chunks()
            return
        deadline = time.monotonic() + timeout
        interval = max(float(srv.opts.bookmark_interval), 0.05)
        next_bm = time.monotonic() + interval if bookmarks else None
        pre_timeout_bm = deadline - 2 if bookmarks and timeout > 2 else None
        last_rv = start_rv
        sent_events = 0
        for rec in initial:
            out.send(self.event_line(kind, "ADDED", rec, table))
            sent_events += 1
        if send_initial:
            with srv.store.lock:
                last_rv = max(last_rv, srv.store.rv)
            out.send(self.bookmark_line(kind, last_rv, True, table))
        for ev in backlog:
            line = self.filter_event(kind, w, ev, table)
            last_rv = ev.rv
            if line:
                out.send(line)
                sent_events += 1
        if garbage:
            if not sent_events:
                with w.cond:
                    w.cond.wait_for(lambda: w.items, timeout=0.3)
                    pending = list(w.items)
                    w.items.clear()
                for item in pending:
                    if item[0] == "ev":
                        line = self.filter_event(kind, w, item[1], table)
                        if line:
                            out.send(line)
            out.flush_all()
            out.raw(b'{"type":"MODIFIED","object":{"kind":"ConfigMap","apiVersion":"v1",'
                    b'"metadata":{"name":\x00\xff\xfe garbage ]]]} not json\n\x01\x02')
            raise Abort()
        out.flush_all()
        sock = self.connection
        while True:
            now = time.monotonic()
            wake = deadline
            if next_bm is not None:
                wake = min(wake, next_bm)
            if pre_timeout_bm is not None:
                wake = min(wake, pre_timeout_bm)
            if out.pending():
                wake = min(wake, now + 0.02)
            with w.cond:
                if not w.items:
                    w.cond.wait(timeout=max(0.0, min(wake - now, 1.0)))
                items = list(w.items)
                w.items.clear()
            for item in items:
                if item[0] == "ev":
                    if item[1].rv <= start_rv:
                        continue  # like the cacher: nothing at or before the requested version
                    line = self.filter_event(kind, w, item[1], table)
                    last_rv = item[1].rv
                    if line:
                        out.send(line)
                elif item[0] == "drop":
                    raise Abort()
                elif item[0] == "error":
                    out.send(b'{"type":"ERROR","object":%s}\n' % dumps(item[1]))
                    out.flush_all()
                    self.end_chunks()
                    return
                elif item[0] == "stop":
                    out.flush_all()
                    self.end_chunks()
                    return
            out.tick(bool(items))
            now = time.monotonic()
            with srv.store.lock:
                cur_rv = srv.store.rv
            bm_rv = max(last_rv, cur_rv)
            if next_bm is not None and now >= next_bm:
                next_bm = now + interval
                if bm_rv >= start_rv:
                    out.send(self.bookmark_line(kind, bm_rv, False, table))
                    last_rv = bm_rv
            if pre_timeout_bm is not None and now >= pre_timeout_bm:
                pre_timeout_bm = None
                if bm_rv >= start_rv:
                    out.send(self.bookmark_line(kind, bm_rv, False, table))
            if now >= deadline:
                out.flush_all()
                self.end_chunks()
                return
            if not items and client_gone(sock):
                raise Abort()

    def event_line(self, kind, typ, rec, table):
        if table:
            t = self.table(kind, [rec], str(rec.rv), with_columns=self.table_first)
            self.table_first = False
            return b'{"type":"%s","object":%s}\n' % (typ.encode(), dumps(t))
        return b'{"type":"%s","object":%s}\n' % (typ.encode(), rec.full_bytes(kind))

    def bookmark_line(self, kind, rv, initial_end, table):
        md = {"resourceVersion": str(rv)}
        if initial_end:
            md["annotations"] = {INITIAL_EVENTS_END: "true"}
        if table:
            obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": md, "rows": []}
        else:
            obj = {"kind": kind.kind, "apiVersion": "v1", "metadata": md}
        return b'{"type":"BOOKMARK","object":%s}\n' % dumps(obj)

    def filter_event(self, kind, w, ev, table):
        """Selector transitions: an object that stops matching is DELETED, one that starts ADDED."""
        if ev.type == "DELETED":
            return self.event_line(kind, "DELETED", ev.rec, table) if w.matches(ev.rec.obj) else None
        new = w.matches(ev.rec.obj)
        old = ev.prev is not None and w.matches(ev.prev.obj)
        if new and old:
            return self.event_line(kind, ev.type, ev.rec, table)
        if new:
            return self.event_line(kind, "ADDED", ev.rec, table)
        if old:
            gone = copy.deepcopy(ev.prev.obj)
            gone["metadata"]["resourceVersion"] = str(ev.rv)
            return self.event_line(kind, "DELETED", Rec(gone, ev.rv), table)
        return None

    # ---- control API ----
    def control(self, path):
        srv = self.server
        store = srv.store
        m = self.command
        if path == "/_test/fault" and m == "POST":
            f = self.parse_doc(self.read_body(MAX_BODY))
            return self.send_body(200, self.apply_fault(f))
        if path == "/_test/stats" and m == "GET":
            return self.send_body(200, srv.stats.dump(len(srv.all_watches())))
        if path == "/_test/stats/reset" and m == "POST":
            self.read_body(MAX_BODY)
            srv.stats.reset()
            return self.send_body(200, {"ok": True})
        if path == "/_test/objects" and m == "POST":
            doc = self.parse_doc(self.read_body(MAX_CONTROL_BODY))
            return self.send_body(200, self.bulk_create(doc))
        if path == "/_test/objects" and m == "GET":
            res = self.params.get("kind", "configmaps")
            if res not in KINDS:
                raise err_bad_request("unknown kind %s" % qv(res))
            with store.lock:
                recs = [store.objects[res][k] for k in store.keys_sorted(res)]
                rv = store.rv
            body = b'{"resourceVersion":"%d","items":[%s]}' % (
                rv, b",".join(r.full_bytes(KINDS[res]) for r in recs))
            return self.send_body(200, body)
        if path == "/_test/state" and m == "GET":
            with store.lock:
                return self.send_body(200, {
                    "resourceVersion": str(store.rv), "history": len(store.history),
                    "floor": store.floor, "watchers": len(store.watchers),
                    "token": srv.token, "faults": {
                        "http": srv.faults.http, "garbage": srv.faults.garbage,
                        "truncate": srv.faults.truncate, "slow": srv.faults.slow,
                        "split": srv.faults.split, "watch_list": srv.faults.watch_list,
                        "watch_410_http": srv.faults.watch_410_http}})
        raise ApiError(404, "NotFound", "unknown control path %s" % path)

    def apply_fault(self, f):
        srv = self.server
        faults = srv.faults
        kind = f.get("kind")
        count = int(f.get("count", 1))
        base = {"count": count, "match": f.get("match") or "", "verb": f.get("verb") or "any"}
        if kind == "drop-watches":
            ws = srv.all_watches()
            for w in ws:
                w.push(("drop",))
            return {"ok": True, "watches": len(ws)}
        if kind == "watch-error":
            code = int(f.get("code", 410))
            reason = f.get("reason") or {410: "Expired", 500: "InternalError",
                                         503: "ServiceUnavailable", 504: "Timeout"}.get(code, "")
            msg = f.get("message") or ("too old resource version: %d (%d)" % (
                srv.store.floor, srv.store.rv) if code == 410 else "injected watch error")
            st = ApiError(code, reason, msg).status()
            ws = srv.all_watches()
            for w in ws:
                w.push(("error", st))
            return {"ok": True, "watches": len(ws)}
        if kind == "http":
            status = int(f.get("status", 500))
            if status < 400 or status > 599:
                raise err_bad_request("status must be 4xx or 5xx")
            e = dict(base, status=status)
            if f.get("retry_after") is not None:
                e["retry_after"] = int(f["retry_after"])
            with faults.lock:
                faults.http.append(e)
            return {"ok": True}
        if kind == "garbage":
            with faults.lock:
                faults.garbage.append(base)
            return {"ok": True}
        if kind == "truncate":
            with faults.lock:
                faults.truncate.append(base)
            return {"ok": True}
        if kind == "slow":
            e = dict(base, delay_ms=int(f.get("delay_ms", 50)), bytes=int(f.get("bytes", 512)))
            with faults.lock:
                faults.slow.append(e)
            return {"ok": True}
        if kind == "split":
            faults.split = bool(f.get("enabled", True))
            return {"ok": True}
        if kind == "compact":
            srv.store.compact()
            return {"ok": True, "floor": srv.store.floor}
        if kind == "expire-continue":
            srv.store.expire_continue()
            return {"ok": True}
        if kind == "rotate-token":
            tok = f.get("token") or secrets.token_urlsafe(32)
            srv.set_token(tok, float(f.get("grace_s", 0)))
            return {"ok": True, "token": tok}
        if kind == "watch-list":
            faults.watch_list = bool(f.get("enabled", True))
            return {"ok": True}
        if kind == "watch-410-http":
            faults.watch_410_http = bool(f.get("enabled", True))
            return {"ok": True}
        if kind == "hostile":
            return self.hostile(f)
        if kind == "clear":
            faults.clear()
            return {"ok": True}
        raise err_bad_request("unknown fault kind %s" % qv(kind))

    def hostile(self, f):
        res = f.get("resource", "configmaps")
        if res not in KINDS:
            raise err_bad_request("unknown resource %s" % qv(res))
        kind = KINDS[res]
        obj = copy.deepcopy(f.get("object") or {})
        md = obj.setdefault("metadata", {})
        md["name"] = f.get("name", md.get("name", "../x"))
        ns = f.get("namespace", md.get("namespace", "default"))
        if "data" in f:
            obj["data"] = f["data"]
        if "annotations" in f:
            md["annotations"] = f["annotations"]
        if "labels" in f:
            md["labels"] = f["labels"]
        store = self.server.store
        with store.lock:
            if kind.namespaced and ("", ns) not in store.objects["namespaces"]:
                store._commit("ADDED", "namespaces", ("", ns), {
                    "metadata": {"name": ns, "uid": str(uuid.uuid4()),
                                 "creationTimestamp": now_rfc3339()},
                    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
            key = Store.key_of(res, ns, md["name"])
            md["uid"] = str(uuid.uuid4())
            md["creationTimestamp"] = now_rfc3339()
            if kind.namespaced:
                md["namespace"] = ns
            obj.pop("kind", None)
            obj.pop("apiVersion", None)
            typ = "MODIFIED" if key in store.objects[res] else "ADDED"
            rec = store._commit(typ, res, key, obj)
        return {"ok": True, "object": json.loads(rec.full_bytes(kind))}

    def bulk_create(self, doc):
        """Load objects fast: {"items":[...]} and/or {"template":{...},"count":N,"prefix":"cm-"}."""
        store = self.server.store
        items = doc.get("items") or []
        created = 0
        rv0 = store.rv
        with store.lock:
            todo = list(items)
            tmpl = doc.get("template")
            ntmpl = 0
            if tmpl is not None:
                ntmpl = int(doc.get("count", 0))
                prefix = doc.get("prefix", "obj-")
                for i in range(ntmpl):
                    o = dict(tmpl)
                    o["metadata"] = dict(tmpl.get("metadata") or {}, name="%s%d" % (prefix, i))
                    todo.append(o)
            rest = None
            for idx, it in enumerate(todo):
                kname = it.get("kind", "ConfigMap")
                kind = KIND_BY_NAME.get(kname)
                if kind is None:
                    raise err_bad_request("unknown kind %s" % qv(kname))
                o = {k: v for k, v in it.items() if k not in ("kind", "apiVersion")}
                o["metadata"] = dict(o.get("metadata") or {})
                ns = o["metadata"].get("namespace") or "default" if kind.namespaced else None
                if kind.namespaced and ("", ns) not in store.objects["namespaces"]:
                    store.put("namespaces", None, {"metadata": {"name": ns}})
                rec = store.put(kind.resource, ns, o)
                created += 1
                if idx >= len(items):
                    # copies of one template share everything but metadata: encode that once
                    if rest is None:
                        rest = dumps({k: v for k, v in rec.obj.items() if k != "metadata"})
                    md = dumps(rec.obj["metadata"])
                    rec._item = b'{"metadata":' + md + (b"," + rest[1:] if rest != b"{}" else b"}")
            return {"ok": True, "created": created, "from_rv": str(rv0),
                    "resourceVersion": str(store.rv)}


class WatchWriter:
    """Writes watch event lines as chunks; with the split fault on, at random boundaries."""

    def __init__(self, handler, srv):
        self.h = handler
        self.srv = srv
        self.buf = b""
        self.rng = random.Random()

    def send(self, line):
        if not self.srv.faults.split:
            self.h.chunk(line)
            return
        self.buf += line
        self._split(keep_tail=True)

    def raw(self, data):
        self.h.chunk(data)

    def pending(self):
        return bool(self.buf)

    def _split(self, keep_tail):
        # cut the buffer at random offsets; sometimes hold a tail back so that it is coalesced
        # with the next event
        while self.buf:
            if keep_tail and self.rng.random() < 0.35:
                return
            n = self.rng.randint(1, max(1, min(len(self.buf), 64 if self.rng.random() < 0.7
                                               else len(self.buf))))
            self.h.chunk(self.buf[:n])
            self.buf = self.buf[n:]

    def tick(self, had_items):
        if self.buf and not had_items:
            self._split(keep_tail=False)

    def flush_all(self):
        if self.buf:
            self._split(keep_tail=False)


def client_gone(sock):
    """True if the peer closed its end (readable with EOF) while we wait for events."""
    try:
        r, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    if not r:
        return False
    try:
        if isinstance(sock, ssl.SSLSocket):
            old = sock.gettimeout()
            sock.settimeout(0.01)
            try:
                data = sock.recv(1)
            finally:
                sock.settimeout(old)
        else:
            data = sock.recv(1, socket.MSG_PEEK)
    except (ssl.SSLWantReadError, BlockingIOError, socket.timeout, TimeoutError):
        return False
    except (OSError, ssl.SSLError):
        return True
    return data == b""


OPENAPI_DOC_BYTES = dumps(openapi_v3_doc())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--no-tls", action="store_true")
    ap.add_argument("--version", default="v1.32.4")
    ap.add_argument("--history", type=int, default=1000)
    ap.add_argument("--bookmark-interval", type=float, default=60.0)
    ap.add_argument("--token", action="append", default=[])
    ap.add_argument("--no-watch-list", action="store_true")
    ap.add_argument("--too-large-wait", type=float, default=3.0,
                    help="seconds a list waits for a future resourceVersion before 504")
    ap.add_argument("--rv-start", type=int, default=0,
                    help="first resourceVersion minus one (RVs are opaque to clients)")
    ap.add_argument("--verbose", action="store_true")
    opts = ap.parse_args(argv)
    opts.dir = os.path.abspath(opts.dir)
    os.makedirs(opts.dir, exist_ok=True)
    sslctx = None
    if not opts.no_tls:
        crt, key = make_certs(opts.dir)
        sslctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sslctx.minimum_version = ssl.TLSVersion.TLSv1_2
        sslctx.load_cert_chain(crt, key)
        sslctx.set_alpn_protocols(["http/1.1"])
    srv = Server((opts.host, opts.port), Handler, opts, sslctx)
    port = srv.server_address[1]
    host = "[%s]" % opts.host if ":" in opts.host else opts.host
    srv.url = "%s://%s:%d" % ("http" if opts.no_tls else "https", host, port)
    tokens = opts.token or [secrets.token_urlsafe(32)]
    for extra in tokens[1:]:
        srv.old_tokens[extra] = float("inf")
    srv.set_token(tokens[0], 0)

    def stop(signum, frame):
        if srv.stopping:
            return
        srv.stopping = True
        for w in srv.all_watches():
            w.push(("stop",))
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ready = {"url": srv.url, "port": port,
             "ca": None if opts.no_tls else os.path.join(opts.dir, "ca.crt"),
             "token_file": os.path.join(opts.dir, "token"),
             "kubeconfig": os.path.join(opts.dir, "kubeconfig"), "pid": os.getpid()}
    write_atomic(os.path.join(opts.dir, "ready.json"), json.dumps(ready) + "\n")
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
        try:
            os.unlink(os.path.join(opts.dir, "ready.json"))
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
