# -*- coding: utf-8 -*-
"""Test helpers: certificates made with openssl, a fake host root, and running a module.

Modules run as they do under Ansible: ``python -m ansible_collections.hakube.cluster.plugins.modules.<name>``
in a subprocess, the arguments as ``{"ANSIBLE_MODULE_ARGS": ...}`` JSON on stdin, the result
read back from stdout. ``kubeadm`` and ``kubectl`` on PATH are small wrappers around
fake_kubeadm.py and fake_kubectl.py.
"""

import json
import os
import subprocess
import sys

FAKES = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(FAKES, '..', '..', '..', '..', '..'))
COLLECTIONS = os.path.join(TOP, '.collections')
MODULE_PREFIX = 'ansible_collections.hakube.cluster.plugins.modules.'


def run_module(module, args, check=False, diff=True, env=None, cwd=None, wrap=()):
    """Run a module as Ansible does, its arguments as JSON on stdin; returns its JSON result
    with the raw output in result['_raw']. ENV is the whole environment (default: this
    process's, with the collection on PYTHONPATH); WRAP a command prefix for the module's
    process. On its own for modules that need no fake host (no kubeadm, kubectl or etcd)."""
    params = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    proc = subprocess.run(list(wrap) + [sys.executable, '-m', MODULE_PREFIX + module],
                          input=json.dumps({'ANSIBLE_MODULE_ARGS': params}), capture_output=True, text=True,
                          env=env if env is not None else dict(os.environ, PYTHONPATH=COLLECTIONS),
                          cwd=cwd, check=False)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError('module %s printed no JSON:\nstdout: %s\nstderr: %s' % (module, proc.stdout, proc.stderr))
    result['_raw'] = proc.stdout + proc.stderr
    return result


def openssl(*args, **kwargs):
    return subprocess.run(['openssl'] + list(args), check=True, capture_output=True, **kwargs)


def make_ca(directory, name, key_type='ec'):
    key = os.path.join(directory, name + '.key')
    crt = os.path.join(directory, name + '.crt')
    if key_type == 'rsa':
        newkey = ['-newkey', 'rsa:2048']
    else:
        newkey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1']
    openssl('req', '-x509', *newkey, '-nodes', '-keyout', key, '-out', crt, '-days', '2',
            '-subj', '/CN=%s' % name, '-addext', 'basicConstraints=critical,CA:TRUE',
            '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    return crt, key


def make_cert(directory, name, ca_crt, ca_key, san=None, client=False):
    key = os.path.join(directory, name + '.key')
    csr = os.path.join(directory, name + '.csr')
    crt = os.path.join(directory, name + '.crt')
    ext = os.path.join(directory, name + '.ext')
    openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
            '-keyout', key, '-out', csr, '-subj', '/CN=%s' % name)
    with open(ext, 'w') as f:
        f.write('extendedKeyUsage=%s\n' % ('clientAuth' if client else 'serverAuth,clientAuth'))
        if san:
            f.write('subjectAltName=%s\n' % san)
    openssl('x509', '-req', '-in', csr, '-CA', ca_crt, '-CAkey', ca_key, '-CAcreateserial', '-out', crt,
            '-days', '2', '-extfile', ext)
    return crt, key


def openssl_pin(crt):
    """The pin the way the kubeadm docs compute it."""
    pub = openssl('x509', '-pubkey', '-noout', '-in', crt).stdout
    der = openssl('pkey', '-pubin', '-outform', 'der', input=pub).stdout
    digest = openssl('dgst', '-sha256', '-hex', input=der).stdout.decode()
    return 'sha256:' + digest.strip().split()[-1]


class FakeHost:
    """A temporary host root with fake kubeadm/kubectl on PATH and a fake cluster."""

    def __init__(self, root, ca_crt):
        self.root = str(root)
        self.kdir = os.path.join(self.root, 'etc', 'kubernetes')
        self.etcd = os.path.join(self.root, 'var', 'lib', 'etcd')
        self.bin = os.path.join(self.root, 'bin')
        self.cluster_file = os.path.join(self.root, 'cluster.json')
        self.kubeadm_log = os.path.join(self.root, 'kubeadm.log')
        self.kubectl_log = os.path.join(self.root, 'kubectl.log')
        self.ca_crt = ca_crt
        self.env = {}
        os.makedirs(self.kdir)
        os.makedirs(self.bin)
        for tool in ('kubeadm', 'kubectl'):
            path = os.path.join(self.bin, tool)
            with open(path, 'w') as f:
                f.write('#!/bin/sh\nexec "%s" "%s" "$@"\n' % (sys.executable, os.path.join(FAKES, 'fake_%s.py' % tool)))
            os.chmod(path, 0o755)
        self.set_cluster({'apiserver_ready': False, 'tokens': [], 'nodes': [], 'certificate_keys': [],
                          'endpoint': '192.0.2.10:6443'})

    # -- cluster state shared by the fakes
    def cluster(self):
        with open(self.cluster_file) as f:
            return json.load(f)

    def set_cluster(self, cluster):
        with open(self.cluster_file, 'w') as f:
            json.dump(cluster, f)

    def update_cluster(self, **changes):
        cluster = self.cluster()
        cluster.update(changes)
        self.set_cluster(cluster)

    def kubeadm_calls(self):
        if not os.path.exists(self.kubeadm_log):
            return []
        with open(self.kubeadm_log) as f:
            return [json.loads(line) for line in f]

    def kubeadm_commands(self):
        """The first word(s) of each kubeadm call: 'init', 'reset', 'token list', ..."""
        out = []
        for call in self.kubeadm_calls():
            argv = call['argv']
            if argv[0] == 'token' or argv[:3] == ['init', 'phase', 'upload-certs']:
                out.append(' '.join(argv[:2]) if argv[0] == 'token' else 'upload-certs')
            else:
                out.append(argv[0])
        return out

    def path(self, *parts):
        return os.path.join(self.kdir, *parts)

    def touch(self, *parts, **kwargs):
        path = kwargs.get('path') or self.path(*parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(kwargs.get('text', 'x'))
        return path

    def install_ca(self):
        with open(self.ca_crt) as f:
            self.touch('pki', 'ca.crt', text=f.read())

    def run(self, module, args, check=False, diff=False, env=None, wrap=()):
        """Run a module; returns its JSON result with the raw output in result['_raw'].

        ``wrap`` is a command prefix for the module's process, e.g.
        ``['ip', 'netns', 'exec', NAME]`` to run it in a network namespace."""
        full_env = dict(os.environ)
        full_env.update({
            'PYTHONPATH': COLLECTIONS,
            'PATH': self.bin + os.pathsep + os.environ.get('PATH', ''),
            'FAKE_KUBERNETES_DIR': self.kdir,
            'FAKE_ETCD_DATA_DIR': self.etcd,
            'FAKE_CLUSTER': self.cluster_file,
            'FAKE_CA_CERT': self.ca_crt,
            'FAKE_KUBEADM_LOG': self.kubeadm_log,
            'FAKE_KUBECTL_LOG': self.kubectl_log,
        })
        full_env.update(self.env)
        full_env.update(env or {})
        return run_module(module, args, check=check, diff=diff, env=full_env, cwd=self.root, wrap=wrap)
