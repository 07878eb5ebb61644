# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Shared code for the calicoctl modules: running calicoctl, reading its output, and
comparing a declared Calico resource with the live one.

Only the standard library is used, so the modules run on any managed host that has
a Python and a calicoctl binary.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import tempfile

# Kinds that live in a namespace (calicoctl takes -n/--namespace for these only).
NAMESPACED_KINDS = frozenset(
    k.lower()
    for k in (
        "NetworkPolicy",
        "NetworkSet",
        "WorkloadEndpoint",
        "StagedNetworkPolicy",
        "StagedKubernetesNetworkPolicy",
        "LiveMigration",
    )
)

# metadata fields the server sets; they never count as drift and are never sent back.
SERVER_METADATA = frozenset(
    (
        "resourceVersion",
        "uid",
        "creationTimestamp",
        "generation",
        "managedFields",
        "selfLink",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "ownerReferences",
        "finalizers",
    )
)

# What calicoctl (and the Kubernetes client inside it) prints when the datastore cannot
# be reached. Matched case-insensitively on stderr + stdout.
UNREACHABLE_PATTERNS = (
    "connection refused",
    "no such host",
    "i/o timeout",
    "context deadline exceeded",
    "network is unreachable",
    "no route to host",
    "tls handshake timeout",
    "unable to connect to the server",
    "failed to create calico api client",
    "invalid configuration: no configuration has been provided",
    "connection reset by peer",
    "client.timeout exceeded",
)

NOT_FOUND_PATTERN = re.compile(r"resource does not exist", re.IGNORECASE)
VERSION_MISMATCH_PATTERN = re.compile(r"Version mismatch\.", re.IGNORECASE)
CLIENT_VERSION_PATTERN = re.compile(r"^Client Version:\s*(\S+)", re.MULTILINE)
CLUSTER_VERSION_PATTERN = re.compile(r"^Cluster Version:\s*(\S+)", re.MULTILINE)

# Exit code of coreutils timeout(1) when the command ran out of time.
TIMEOUT_RC = 124


class CalicoctlError(Exception):
    """A calicoctl call failed. ``reason`` is one of: missing, unreachable, timeout,
    version_mismatch, not_found, failed."""

    def __init__(self, msg, reason="failed", rc=None, stdout="", stderr="", cmd=None):
        super(CalicoctlError, self).__init__(msg)
        self.msg = msg
        self.reason = reason
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.cmd = cmd

    def fail_kwargs(self):
        """Keyword arguments for module.fail_json()."""
        kwargs = dict(msg=self.msg, reason=self.reason)
        if self.rc is not None:
            kwargs.update(rc=self.rc, stdout=self.stdout, stderr=self.stderr)
        if self.cmd:
            kwargs["cmd"] = self.cmd
        return kwargs


def normalize_version(version):
    """'v3.33.1' -> '3.33.1'; a build suffix ('v3.33.1-0.dev-12') is dropped, as
    calicoctl itself does when it compares client and cluster versions."""
    if version is None:
        return None
    version = str(version).strip()
    if version.startswith("v"):
        version = version[1:]
    return version.split("-", maxsplit=1)[0]


def is_namespaced(kind):
    return str(kind).lower() in NAMESPACED_KINDS


def _scalar_equal(want, have):
    if want == have and type(want) is type(have):
        return True
    if isinstance(want, bool) or isinstance(have, bool):
        return str(want).lower() == str(have).lower()
    if isinstance(want, (int, float, str)) and isinstance(have, (int, float, str)):
        return str(want) == str(have)
    return False


def declared_equal(want, have):
    """True when everything in ``want`` is present and equal in ``have``.

    Dictionaries: only the keys of ``want`` count (server defaults in ``have`` are
    ignored). Lists: same length and order, each element compared the same way.
    Scalars: equal, with "64512" == 64512 and "true" == True (YAML from an inventory
    often carries strings where the server stores numbers).
    """
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return False
        for key, value in want.items():
            if key not in have:
                if value is None or value == {} or value == []:
                    # declared empty; absent on the server is the same thing
                    continue
                return False
            if not declared_equal(value, have[key]):
                return False
        return True
    if isinstance(want, list):
        if not isinstance(have, list) or len(want) != len(have):
            return False
        return all(declared_equal(w, h) for w, h in zip(want, have))
    if want is None:
        return have is None or have == {} or have == [] or have == ""
    return _scalar_equal(want, have)


def declared_view(want, have):
    """The part of ``have`` that ``want`` talks about (for diff 'before')."""
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return have
        out = {}
        for key, value in want.items():
            if key in have:
                out[key] = declared_view(value, have[key])
        return out
    if isinstance(want, list):
        if not isinstance(have, list):
            return have
        out = []
        for i, item in enumerate(have):
            out.append(declared_view(want[i], item) if i < len(want) else item)
        return out
    return have


def deep_merge(base, overlay):
    """``base`` with ``overlay`` laid over it: dicts merge key by key, everything else
    (lists included) is replaced by the overlay's value. A ``None`` in the overlay
    removes that key, as in a JSON merge patch (RFC 7386)."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = dict(base)
        for key, value in overlay.items():
            if value is None:
                out.pop(key, None)
            elif key in base:
                out[key] = deep_merge(base.get(key), value)
            else:
                out[key] = _drop_none(value)
        return out
    return _drop_none(overlay)


def _drop_none(value):
    """``value`` without the dict keys whose value is None (at any depth)."""
    if isinstance(value, dict):
        return dict((k, _drop_none(v)) for k, v in value.items() if v is not None)
    return value


def comparable(obj):
    """The fields of a resource that describe it: kind, apiVersion, metadata without
    server fields (name, namespace, labels, annotations) and spec. Status is dropped."""
    obj = obj or {}
    meta = dict(obj.get("metadata") or {})
    for key in SERVER_METADATA:
        meta.pop(key, None)
    out = {"metadata": meta}
    for key in obj:
        if key not in ("metadata", "status", "apiVersion", "kind"):
            out[key] = obj[key]
    return out


def build_definition(definition=None, kind=None, name=None, namespace=None, spec=None,
                     labels=None, annotations=None, api_version="projectcalico.org/v3"):
    """One resource dict from either a full ``definition`` or the short options.
    Short options that are given override the definition's values."""
    obj = json.loads(json.dumps(definition)) if definition else {}
    obj.setdefault("apiVersion", api_version)
    if kind:
        obj["kind"] = kind
    meta = obj.setdefault("metadata", {}) or {}
    obj["metadata"] = meta
    if name:
        meta["name"] = name
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta.setdefault("labels", {}).update(labels)
    if annotations:
        meta.setdefault("annotations", {}).update(annotations)
    if spec is not None:
        obj["spec"] = spec
    return obj


def split_items(data):
    """Resources from ``calicoctl get -o json`` output: a single object, a
    ``<Kind>List`` object with ``items``, a JSON array, or ``null``."""
    if data is None:
        return []
    if isinstance(data, list):
        out = []
        for item in data:
            out.extend(split_items(item))
        return out
    if isinstance(data, dict):
        if "items" in data and str(data.get("kind", "")).endswith("List"):
            return list(data.get("items") or [])
        if "items" in data and "metadata" in data and "spec" not in data:
            return list(data.get("items") or [])
        return [data]
    return []


class Calicoctl:
    """Runs calicoctl for one module invocation."""

    def __init__(self, module, path=None, kubeconfig=None, datastore_type="kubernetes",
                 timeout=60, allow_version_mismatch=False):
        self.module = module
        self.kubeconfig = kubeconfig
        self.datastore_type = datastore_type
        self.timeout = timeout
        self.allow_version_mismatch = allow_version_mismatch
        self.binary = self._find(path)
        self.timeout_bin = module.get_bin_path("timeout") if timeout else None

    def _find(self, path):
        if path and os.path.sep in path:
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
            raise CalicoctlError(
                "calicoctl not found or not executable at %s; install it (the "
                "hakube.cluster.calico role does) or set calicoctl_path" % path,
                reason="missing")
        found = self.module.get_bin_path(path or "calicoctl", opt_dirs=["/usr/local/bin", "/usr/bin"])
        if not found:
            raise CalicoctlError(
                "calicoctl was not found in PATH or /usr/local/bin; install it (the "
                "hakube.cluster.calico role does) or set calicoctl_path",
                reason="missing")
        return found

    def _env(self):
        env = {}
        if self.datastore_type:
            env["DATASTORE_TYPE"] = self.datastore_type
            env["CALICO_DATASTORE_TYPE"] = self.datastore_type
        if self.kubeconfig:
            env["KUBECONFIG"] = self.kubeconfig
            env["CALICO_KUBECONFIG"] = self.kubeconfig
        return env

    def run(self, args, check=True, mismatch_flag=True):
        cmd = [self.binary] + list(args)
        if mismatch_flag and self.allow_version_mismatch:
            cmd.append("--allow-version-mismatch")
        full = cmd
        if self.timeout_bin:
            full = [self.timeout_bin, str(int(self.timeout))] + cmd
        rc, out, err = self.module.run_command(full, environ_update=self._env())
        if rc == TIMEOUT_RC and self.timeout_bin:
            raise CalicoctlError(
                "calicoctl did not answer within %s seconds (%s); is the datastore "
                "reachable?" % (self.timeout, " ".join(cmd)),
                reason="timeout", rc=rc, stdout=out, stderr=err, cmd=cmd)
        if rc != 0 and check:
            raise self.classify(rc, out, err, cmd)
        return rc, out, err

    def classify(self, rc, out, err, cmd):
        text = "%s\n%s" % (err or "", out or "")
        lower = text.lower()
        if VERSION_MISMATCH_PATTERN.search(text):
            return CalicoctlError(
                "calicoctl refuses to work: its version differs from the cluster's Calico "
                "version (%s). Install the matching calicoctl or set "
                "allow_version_mismatch." % " ".join(text.split()),
                reason="version_mismatch", rc=rc, stdout=out, stderr=err, cmd=cmd)
        for pattern in UNREACHABLE_PATTERNS:
            if pattern in lower:
                return CalicoctlError(
                    "the Calico datastore (%s) cannot be reached with kubeconfig %s: %s"
                    % (self.datastore_type, self.kubeconfig or "(default)", (err or out).strip()),
                    reason="unreachable", rc=rc, stdout=out, stderr=err, cmd=cmd)
        if NOT_FOUND_PATTERN.search(text):
            return CalicoctlError((err or out).strip(), reason="not_found", rc=rc,
                                  stdout=out, stderr=err, cmd=cmd)
        return CalicoctlError(
            "calicoctl failed (rc=%s): %s" % (rc, (err or out).strip()),
            reason="failed", rc=rc, stdout=out, stderr=err, cmd=cmd)

    def client_version(self):
        """The client version from ``calicoctl version`` (which exits non-zero when the
        cluster cannot be reached, after printing the client version)."""
        rc, out, err = self.run(["version"], check=False, mismatch_flag=False)
        match = CLIENT_VERSION_PATTERN.search(out or "")
        if not match:
            raise self.classify(rc, out, err, [self.binary, "version"]) if rc else CalicoctlError(
                "cannot read the client version from 'calicoctl version': %r" % out,
                rc=rc, stdout=out, stderr=err)
        return match.group(1)

    def check_version(self, expected):
        """Fail unless the client version equals ``expected`` (ignoring a leading v)."""
        have = self.client_version()
        if expected and normalize_version(have) != normalize_version(expected):
            raise CalicoctlError(
                "calicoctl at %s is version %s, expected %s; install the calicoctl that "
                "matches the cluster's Calico (the hakube.cluster.calico role installs "
                "calico_version) or set allow_version_mismatch"
                % (self.binary, have, expected),
                reason="version_mismatch")
        return have

    @staticmethod
    def _ns_args(kind, namespace):
        if namespace and is_namespaced(kind):
            return ["--namespace", namespace]
        return []

    def get(self, kind, name, namespace=None):
        """The live resource, or None when it does not exist."""
        args = ["get", kind, name, "-o", "json"] + self._ns_args(kind, namespace)
        try:
            _rc, out, _err = self.run(args)
        except CalicoctlError as exc:
            if exc.reason == "not_found":
                return None
            raise
        items = split_items(self._json(out, args))
        if not items:
            return None
        return items[0]

    def list(self, kind, selector=None, namespace=None, all_namespaces=False):
        args = ["get", kind, "-o", "json"]
        if selector:
            args += ["--selector", selector]
        if all_namespaces and is_namespaced(kind):
            args.append("--all-namespaces")
        else:
            args += self._ns_args(kind, namespace)
        _rc, out, _err = self.run(args)
        return split_items(self._json(out, args))

    def _json(self, out, args):
        text = (out or "").strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise CalicoctlError("calicoctl %s printed no JSON: %r" % (" ".join(args), text[:500]))

    def write(self, action, obj):
        """``calicoctl create|apply -f <tmpfile>``; returns stdout."""
        fd, path = tempfile.mkstemp(prefix="hakube-calicoctl-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(obj, handle)
            _rc, out, _err = self.run([action, "-f", path])
        finally:
            os.unlink(path)
        return out

    def delete(self, kind, name, namespace=None):
        args = ["delete", kind, name] + self._ns_args(kind, namespace)
        try:
            _rc, out, _err = self.run(args)
        except CalicoctlError as exc:
            if exc.reason == "not_found":
                return None
            raise
        return out


CALICOCTL_COMMON_ARGS = dict(
    calicoctl_path=dict(type="path"),
    kubeconfig=dict(type="path"),
    datastore_type=dict(type="str", default="kubernetes", choices=["kubernetes", "etcdv3"]),
    expected_version=dict(type="str"),
    allow_version_mismatch=dict(type="bool", default=False),
    timeout=dict(type="int", default=60),
)


def calicoctl_from_module(module):
    """A Calicoctl built from the common options; version checked when asked."""
    params = module.params
    ctl = Calicoctl(
        module,
        path=params.get("calicoctl_path"),
        kubeconfig=params.get("kubeconfig"),
        datastore_type=params.get("datastore_type"),
        timeout=params.get("timeout"),
        allow_version_mismatch=params.get("allow_version_mismatch"),
    )
    version = None
    if params.get("expected_version"):
        if params.get("allow_version_mismatch"):
            version = ctl.client_version()
        else:
            version = ctl.check_version(params["expected_version"])
    return ctl, version
