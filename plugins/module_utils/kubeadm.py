# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Shared code of the hakube.cluster kubeadm_* modules.

Standard library only (PyYAML through ansible's own guarded wrapper):

* running kubeadm and kubectl with a timeout, and error messages that quote the
  tool's own stderr with secrets taken out;
* what a node has on disk under ``kubernetes_dir`` (kubelet.conf, admin.conf, static
  pod manifests, pki/ca.crt) and in the etcd data directory;
* the ``sha256:<hex>`` pin of the cluster CA's public key that ``kubeadm join``
  expects (SHA-256 of the DER SubjectPublicKeyInfo, RFC 7469), parsed from the
  certificate with a small DER reader;
* Go duration strings (``2h``, ``30m``, ``1h30m``), kubeadm config documents, and
  the drift between a wanted ClusterConfiguration and the cluster's;
* whether a Kubernetes API server already answers at an endpoint (``GET /version``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import hashlib
import json
import os
import re
import ssl
import subprocess

from ansible.module_utils.six.moves import http_client

from ansible.module_utils.common.yaml import HAS_YAML, yaml_load, yaml_load_all

CONTROL_PLANE_MANIFESTS = (
    'etcd.yaml',
    'kube-apiserver.yaml',
    'kube-controller-manager.yaml',
    'kube-scheduler.yaml',
)

# ClusterConfiguration fields that kubeadm cannot change on a running cluster.
NOT_IN_PLACE = (
    'networking.podSubnet',
    'networking.serviceSubnet',
    'networking.dnsDomain',
    'etcd.local.dataDir',
    'etcd.external',
    'controlPlaneEndpoint',
    'certificatesDir',
    'clusterName',
)

# A bootstrap token: [a-z0-9]{6}.[a-z0-9]{16}
TOKEN_RE = re.compile(r'\b[a-z0-9]{6}\.[a-z0-9]{16}\b')
# The certificate key kubeadm prints after "Using certificate key:" or passes
# as --certificate-key: 32 bytes, hex encoded.
CERT_KEY_RE = re.compile(r'(certificate[ -]key:?\s*)[0-9a-fA-F]{64}\b', re.IGNORECASE)
REDACTED = '<redacted>'


class CommandResult:
    """What a finished command left behind."""

    def __init__(self, argv, rc, stdout, stderr, timed_out=False):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out

    @property
    def ok(self):
        return self.rc == 0 and not self.timed_out


# Options of every module that runs kubeadm (documented in doc_fragments/kubeadm.py).
KUBEADM_COMMON_ARGS = dict(
    kubernetes_dir=dict(type='path', default='/etc/kubernetes'),
    kubeadm_path=dict(type='str', default='kubeadm'),
)


def redact(text, secrets=()):
    """Remove bootstrap tokens, certificate keys and any given secret from text."""
    if not text:
        return text
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = TOKEN_RE.sub(REDACTED, text)
    return CERT_KEY_RE.sub(lambda m: m.group(1) + REDACTED, text)


def run(argv, timeout, data=None):
    """Run argv (a list, no shell) and wait at most timeout seconds."""
    env = dict(os.environ)
    env['LC_ALL'] = 'C'
    try:
        proc = subprocess.run(
            argv, input=data, capture_output=True, timeout=timeout,
            env=env, check=False, text=True, errors='replace')
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ''
        err = exc.stderr or ''
        if isinstance(out, bytes):
            out = out.decode('utf-8', 'replace')
        if isinstance(err, bytes):
            err = err.decode('utf-8', 'replace')
        return CommandResult(argv, None, out, err, timed_out=True)
    except OSError as exc:
        return CommandResult(argv, 127, '', '%s: %s' % (argv[0], exc))
    return CommandResult(argv, proc.returncode, proc.stdout, proc.stderr)


def find_tool(module, path, required=True):
    """Absolute path of a tool given by name or path, None if absent and not required."""
    if os.path.sep in path:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        if required:
            module.fail_json(msg='%s is not an executable file' % path)
        return None
    return module.get_bin_path(path, required=required)


def describe_failure(what, result, secrets=(), lines=25):
    """A message that quotes the failed command's own words (stderr, else stdout)."""
    if result.timed_out:
        head = '%s did not finish in time and was stopped' % what
    else:
        head = '%s failed (rc=%s)' % (what, result.rc)
    text = (result.stderr or '').strip() or (result.stdout or '').strip()
    if text:
        text = '\n'.join(text.splitlines()[-lines:])
        return '%s: %s' % (head, redact(text, secrets))
    return head


def fail_command(module, what, result, secrets=(), **extra):
    module.fail_json(msg=describe_failure(what, result, secrets), rc=result.rc,
                     stderr=redact(result.stderr, secrets),
                     stdout=redact(result.stdout, secrets), **extra)


# ---------------------------------------------------------------- host state

def reset_keeping_manifests(argv, kubernetes_dir, timeout):
    """Run ``kubeadm reset`` (argv) but keep the static pods that kubeadm did not make.

    kubeadm reset empties <kubernetes_dir>/manifests. Manifests of other static pods there
    (the apiserver load balancer's haproxy and keepalived) are read first and written back
    after the reset, whatever its outcome, with their modes, so a node that is reset to be
    initialised or joined again keeps its part of the VIP. Returns reset's result.
    """
    manifests_dir = os.path.join(kubernetes_dir, 'manifests')
    kept = {}
    if os.path.isdir(manifests_dir):
        for name in sorted(os.listdir(manifests_dir)):
            path = os.path.join(manifests_dir, name)
            if name in CONTROL_PLANE_MANIFESTS or not os.path.isfile(path) or os.path.islink(path):
                continue
            with open(path, 'rb') as handle:
                kept[name] = (handle.read(), os.stat(path).st_mode & 0o7777)
    result = run(argv, timeout=timeout)
    if kept:
        if not os.path.isdir(manifests_dir):
            os.makedirs(manifests_dir, 0o755)
        for name, (data, mode) in kept.items():
            path = os.path.join(manifests_dir, name)
            tmp = path + '.hakube-tmp'
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, 'wb') as handle:
                handle.write(data)
            os.chmod(tmp, mode)
            os.rename(tmp, path)
    return result


def detect_state(kubernetes_dir, etcd_data_dir):
    """What kubeadm leaves on a host, as booleans and a list of human words."""
    manifests_dir = os.path.join(kubernetes_dir, 'manifests')
    manifests = sorted(
        m for m in CONTROL_PLANE_MANIFESTS
        if os.path.isfile(os.path.join(manifests_dir, m)))
    etcd_member = os.path.join(etcd_data_dir, 'member')
    state = {
        'admin_conf': os.path.isfile(os.path.join(kubernetes_dir, 'admin.conf')),
        'kubelet_conf': os.path.isfile(os.path.join(kubernetes_dir, 'kubelet.conf')),
        'ca_crt': os.path.isfile(os.path.join(kubernetes_dir, 'pki', 'ca.crt')),
        'manifests': manifests,
        'etcd_data': os.path.isdir(etcd_member) and bool(os.listdir(etcd_member)),
    }
    found = []
    if state['admin_conf']:
        found.append(os.path.join(kubernetes_dir, 'admin.conf'))
    if state['kubelet_conf']:
        found.append(os.path.join(kubernetes_dir, 'kubelet.conf'))
    if state['ca_crt']:
        found.append(os.path.join(kubernetes_dir, 'pki', 'ca.crt'))
    found.extend(os.path.join(manifests_dir, m) for m in manifests)
    if state['etcd_data']:
        found.append(etcd_member)
    state['found'] = found
    return state


def server_from_kubeconfig(path):
    """host:port of the first cluster server in a kubeconfig file, or None."""
    try:
        with open(path) as f:
            text = f.read()
    except (IOError, OSError):
        return None
    match = re.search(r'^\s*server:\s*["\']?https?://([^\s"\'/]+)', text, re.MULTILINE)
    return match.group(1) if match else None


# ---------------------------------------------------------------- CA pin

def _der_read(data, pos):
    """Read one DER TLV at pos: (tag, start of value, end of value)."""
    if pos + 2 > len(data):
        raise ValueError('truncated DER')
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7f
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError('unsupported DER length')
        length = int.from_bytes(data[pos:pos + count], 'big')
        pos += count
    if pos + length > len(data):
        raise ValueError('truncated DER')
    return tag, pos, pos + length


def spki_from_certificate_der(der):
    """The DER bytes of a certificate's SubjectPublicKeyInfo."""
    tag, start, end = _der_read(der, 0)          # Certificate
    if tag != 0x30:
        raise ValueError('not a certificate')
    tag, start, end = _der_read(der, start)      # TBSCertificate
    if tag != 0x30:
        raise ValueError('not a certificate')
    pos = start
    fields = []
    while pos < end:
        tag, vstart, vend = _der_read(der, pos)
        fields.append((tag, pos, vend))
        pos = vend
    if fields and fields[0][0] == 0xa0:          # [0] EXPLICIT version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    if len(fields) < 6 or fields[5][0] != 0x30:
        raise ValueError('certificate without a SubjectPublicKeyInfo')
    return der[fields[5][1]:fields[5][2]]


def pem_to_der(pem_text):
    match = re.search(r'-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----', pem_text, re.DOTALL)
    if not match:
        raise ValueError('no PEM certificate found')
    return base64.b64decode(''.join(match.group(1).split()))


def ca_cert_hash(path):
    """'sha256:<hex>' of the public key of the (first) certificate in a PEM file."""
    with open(path) as f:
        der = pem_to_der(f.read())
    return 'sha256:' + hashlib.sha256(spki_from_certificate_der(der)).hexdigest()


# ---------------------------------------------------------------- durations

_DURATION_UNITS = {'ns': 1e-9, 'us': 1e-6, 'µs': 1e-6, 'ms': 1e-3, 's': 1, 'm': 60, 'h': 3600}
_DURATION_RE = re.compile(r'(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)')


def parse_duration(text):
    """Seconds in a Go duration string ('2h', '1h30m', '90s', '0')."""
    text = str(text).strip()
    if text in ('0', '0s'):
        return 0.0
    if not text or _DURATION_RE.sub('', text) != '':
        raise ValueError('%r is not a duration such as 2h, 30m or 1h30m' % text)
    return sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_RE.findall(text))


# ---------------------------------------------------------------- kubeadm configs

def load_config_documents(path):
    """The documents of a kubeadm config file, keyed by kind."""
    with open(path) as f:
        text = f.read()
    docs = {}
    for doc in yaml_load_all(text):
        if isinstance(doc, dict) and doc.get('kind'):
            docs[doc['kind']] = doc
    return docs


def load_yaml(text):
    return yaml_load(text)


def split_host_port(endpoint):
    """('host', 'port' or None) of host, host:port, [v6] or [v6]:port."""
    if endpoint.startswith('['):
        host, _sep, rest = endpoint[1:].partition(']')
        return host, (rest[1:] if rest.startswith(':') else None)
    if endpoint.count(':') == 1:
        host, port = endpoint.split(':')
        return host, port
    return endpoint, None


def join_host_port(host, port):
    if ':' in host:
        return '[%s]:%s' % (host, port)
    return '%s:%s' % (host, port)


def endpoint_from_config(docs):
    """The controlPlaneEndpoint host:port the cluster is reached at, or None."""
    init = docs.get('InitConfiguration') or {}
    bind_port = (init.get('localAPIEndpoint') or {}).get('bindPort') or 6443
    endpoint = (docs.get('ClusterConfiguration') or {}).get('controlPlaneEndpoint')
    if endpoint:
        host, port = split_host_port(str(endpoint))
        return join_host_port(host, port or bind_port)
    address = (init.get('localAPIEndpoint') or {}).get('advertiseAddress')
    if address:
        return join_host_port(address, bind_port)
    return None


def flatten(value, prefix=''):
    """{'a.b.c': leaf} for nested dicts; lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        out = {}
        for key, sub in value.items():
            out.update(flatten(sub, '%s.%s' % (prefix, key) if prefix else str(key)))
        return out
    return {prefix: value}


def compute_drift(wanted, current):
    """How the wanted ClusterConfiguration differs from the cluster's.

    Only fields the wanted document sets are compared: kubeadm fills in defaults
    for the rest, which are not drift. apiVersion and kind are ignored.
    Returns (drift, not_in_place): drift maps a dotted path to
    {'wanted': ..., 'current': ...}; not_in_place lists the paths kubeadm
    cannot change on a running cluster.
    """
    wanted = dict(wanted or {})
    current = dict(current or {})
    for key in ('apiVersion', 'kind'):
        wanted.pop(key, None)
        current.pop(key, None)
    flat_current = flatten(current)
    drift = {}
    for path, value in sorted(flatten(wanted).items()):
        if not path:
            continue
        have = flat_current.get(path)
        if have is None and isinstance(value, (dict, list)) and not value:
            continue
        if have != value:
            drift[path] = {'wanted': value, 'current': have}
    not_in_place = sorted(
        path for path in drift
        if any(path == p or path.startswith(p + '.') for p in NOT_IN_PLACE))
    return drift, not_in_place


def deep_merge(base, extra):
    """base with extra merged in: dicts merge recursively, anything else replaces."""
    result = copy.deepcopy(base)
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def kubernetes_api_at(endpoint, timeout):
    """What answers ``GET /version`` over TLS at ``endpoint`` (host:port), certificate not
    verified: the ``gitVersion`` of a Kubernetes API server; ``'unknown version'`` when a
    Kubernetes API server answers but refuses /version anonymously (a 401 or 403 with a
    ``Status`` body); None when nothing answers within ``timeout`` seconds, the TLS
    handshake fails (a TCP load balancer with no backend up closes the connection), or
    what answers is not Kubernetes."""
    host, port = split_host_port(endpoint)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = http_client.HTTPSConnection(host, int(port or 6443), timeout=timeout, context=context)
    try:
        connection.request('GET', '/version', headers={'Accept': 'application/json'})
        response = connection.getresponse()
        status, body = response.status, response.read(65536)
    except (OSError, ssl.SSLError, http_client.HTTPException, ValueError):
        return None
    finally:
        connection.close()
    try:
        doc = json.loads(body.decode('utf-8'))
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    if status == 200 and doc.get('gitVersion'):
        return str(doc['gitVersion'])
    if status in (401, 403) and doc.get('kind') == 'Status':
        return 'unknown version'
    return None


__all__ = [
    'CONTROL_PLANE_MANIFESTS', 'NOT_IN_PLACE', 'HAS_YAML', 'CommandResult', 'redact', 'run',
    'find_tool', 'describe_failure', 'fail_command', 'detect_state', 'server_from_kubeconfig',
    'spki_from_certificate_der', 'pem_to_der', 'ca_cert_hash', 'parse_duration',
    'load_config_documents', 'load_yaml', 'split_host_port', 'join_host_port',
    'endpoint_from_config', 'flatten', 'compute_drift', 'deep_merge', 'kubernetes_api_at',
]
