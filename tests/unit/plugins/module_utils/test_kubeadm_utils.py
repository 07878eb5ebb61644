# -*- coding: utf-8 -*-
"""Unit tests of plugins/module_utils/kubeadm.py."""

import os
import sys

import pytest

from ansible_collections.hakube.cluster.plugins.module_utils import kubeadm as k

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'modules'))
from fakes.harness import make_ca, make_cert, openssl, openssl_pin  # noqa: E402 pylint: disable=wrong-import-position


@pytest.fixture(scope='module')
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp('certs'))
    rsa = make_ca(d, 'rsa-ca', key_type='rsa')
    ec = make_ca(d, 'ec-ca')
    leaf = make_cert(d, 'leaf', ec[0], ec[1], san='DNS:leaf.example.test')
    # A version 1 certificate has no [0] version field: the parser must skip nothing.
    v1_key = os.path.join(d, 'v1.key')
    v1_csr = os.path.join(d, 'v1.csr')
    v1_crt = os.path.join(d, 'v1.crt')
    openssl('req', '-new', '-newkey', 'rsa:1024', '-nodes', '-keyout', v1_key, '-out', v1_csr, '-subj', '/CN=v1')
    openssl('x509', '-req', '-in', v1_csr, '-signkey', v1_key, '-out', v1_crt, '-days', '1')
    return {'rsa': rsa[0], 'ec': ec[0], 'leaf': leaf[0], 'v1': v1_crt}


@pytest.mark.parametrize('name', ['rsa', 'ec', 'leaf', 'v1'])
def test_ca_cert_hash_matches_openssl(certs, name):
    assert k.ca_cert_hash(certs[name]) == openssl_pin(certs[name])


def test_ca_cert_hash_uses_the_first_certificate(certs, tmp_path):
    bundle = tmp_path / 'bundle.crt'
    with open(certs['rsa']) as a, open(certs['ec']) as b:
        bundle.write_text(a.read() + b.read())
    assert k.ca_cert_hash(str(bundle)) == openssl_pin(certs['rsa'])


def test_ca_cert_hash_rejects_garbage(tmp_path):
    bad = tmp_path / 'bad.crt'
    bad.write_text('not a certificate')
    with pytest.raises(ValueError):
        k.ca_cert_hash(str(bad))
    with pytest.raises(ValueError):
        k.spki_from_certificate_der(b'\x02\x01\x00')
    with pytest.raises(ValueError):
        k.spki_from_certificate_der(b'\x30\x05\x30\x03\x02\x01')


@pytest.mark.parametrize('text, seconds', [
    ('2h', 7200), ('30m', 1800), ('1h30m', 5400), ('90s', 90), ('0', 0), ('1.5h', 5400), ('500ms', 0.5),
])
def test_parse_duration(text, seconds):
    assert k.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize('text', ['', '2', 'h', '2 hours', '2d', '-1h'])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        k.parse_duration(text)


def test_redact():
    text = ('kubeadm join 192.0.2.10:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:'
            + 'a' * 64 + ' --control-plane --certificate-key ' + 'b' * 64
            + '\n[upload-certs] Using certificate key:\n' + 'c' * 64 + '\nsecret-word')
    out = k.redact(text, secrets=['secret-word', None])
    for secret in ('abcdef.0123456789abcdef', 'b' * 64, 'c' * 64, 'secret-word'):
        assert secret not in out
    assert 'sha256:' + 'a' * 64 in out, 'the CA pin is public'
    assert k.redact('', ['x']) == ''
    assert k.redact(None) is None


def test_run_success_failure_timeout_and_missing():
    ok = k.run([sys.executable, '-c', 'import sys; print("out"); print("err", file=sys.stderr)'], timeout=30)
    assert (ok.ok, ok.rc, ok.stdout, ok.stderr) == (True, 0, 'out\n', 'err\n')
    bad = k.run([sys.executable, '-c', 'import sys; sys.exit(3)'], timeout=30)
    assert (bad.ok, bad.rc) == (False, 3)
    slow = k.run([sys.executable, '-c', 'import time; print("started", flush=True); time.sleep(10)'], timeout=1)
    assert slow.timed_out and not slow.ok
    assert 'did not finish in time' in k.describe_failure('sleep', slow)
    missing = k.run(['/nonexistent/tool'], timeout=5)
    assert missing.rc == 127 and not missing.ok


def test_describe_failure_quotes_stderr_else_stdout():
    r = k.CommandResult(['x'], 1, 'only stdout', '')
    assert k.describe_failure('x', r) == 'x failed (rc=1): only stdout'
    r = k.CommandResult(['x'], 2, 'stdout', 'line1\nline2 abcdef.0123456789abcdef')
    assert k.describe_failure('x', r) == 'x failed (rc=2): line1\nline2 <redacted>'
    assert k.describe_failure('x', k.CommandResult(['x'], 1, '', '')) == 'x failed (rc=1)'
    many = k.CommandResult(['x'], 1, '', '\n'.join(str(i) for i in range(100)))
    assert k.describe_failure('x', many, lines=3) == 'x failed (rc=1): 97\n98\n99'


def test_detect_state(tmp_path):
    kdir = tmp_path / 'k'
    etcd = tmp_path / 'etcd'
    state = k.detect_state(str(kdir), str(etcd))
    assert state == {'admin_conf': False, 'kubelet_conf': False, 'ca_crt': False, 'manifests': [],
                     'etcd_data': False, 'found': []}
    (kdir / 'manifests').mkdir(parents=True)
    (kdir / 'manifests' / 'kube-apiserver.yaml').write_text('x')
    (kdir / 'manifests' / 'keepalived.yaml').write_text('x')  # not kubeadm's
    (kdir / 'kubelet.conf').write_text('x')
    (etcd / 'member').mkdir(parents=True)
    assert k.detect_state(str(kdir), str(etcd))['etcd_data'] is False, 'an empty member dir is no data'
    (etcd / 'member' / 'snap').mkdir()
    state = k.detect_state(str(kdir), str(etcd))
    assert state['manifests'] == ['kube-apiserver.yaml']
    assert state['found'] == [str(kdir / 'kubelet.conf'), str(kdir / 'manifests' / 'kube-apiserver.yaml'),
                              str(etcd / 'member')]


def test_server_from_kubeconfig(tmp_path):
    conf = tmp_path / 'admin.conf'
    conf.write_text('clusters:\n- cluster:\n    certificate-authority-data: x\n    server: https://[2001:db8::10]:6443\n')
    assert k.server_from_kubeconfig(str(conf)) == '[2001:db8::10]:6443'
    conf.write_text('clusters: []\n')
    assert k.server_from_kubeconfig(str(conf)) is None
    assert k.server_from_kubeconfig(str(tmp_path / 'missing')) is None


@pytest.mark.parametrize('docs, endpoint', [
    ({'ClusterConfiguration': {'controlPlaneEndpoint': 'api.example.test'}}, 'api.example.test:6443'),
    ({'ClusterConfiguration': {'controlPlaneEndpoint': '192.0.2.10:8443'}}, '192.0.2.10:8443'),
    ({'ClusterConfiguration': {'controlPlaneEndpoint': '2001:db8::10'}}, '[2001:db8::10]:6443'),
    ({'ClusterConfiguration': {'controlPlaneEndpoint': '[2001:db8::10]:7443'}}, '[2001:db8::10]:7443'),
    ({'ClusterConfiguration': {'controlPlaneEndpoint': 'vip'},
      'InitConfiguration': {'localAPIEndpoint': {'bindPort': 7443}}}, 'vip:7443'),
    ({'ClusterConfiguration': {},
      'InitConfiguration': {'localAPIEndpoint': {'advertiseAddress': '192.0.2.11'}}}, '192.0.2.11:6443'),
    ({'ClusterConfiguration': {}}, None),
])
def test_endpoint_from_config(docs, endpoint):
    assert k.endpoint_from_config(docs) == endpoint


def test_load_config_documents(tmp_path):
    path = tmp_path / 'c.yaml'
    path.write_text('kind: InitConfiguration\na: 1\n---\n---\nkind: ClusterConfiguration\nb: 2\n---\n[1, 2]\n')
    docs = k.load_config_documents(str(path))
    assert docs == {'InitConfiguration': {'kind': 'InitConfiguration', 'a': 1},
                    'ClusterConfiguration': {'kind': 'ClusterConfiguration', 'b': 2}}


def test_compute_drift():
    wanted = {'apiVersion': 'kubeadm.k8s.io/v1beta4', 'kind': 'ClusterConfiguration',
              'networking': {'podSubnet': '10.244.0.0/16', 'dnsDomain': 'cluster.local'},
              'etcd': {'local': {'dataDir': '/data/etcd'}},
              'apiServer': {'certSANs': ['a', 'b'], 'extraArgs': []},
              'controlPlaneEndpoint': 'vip:6443', 'featureGates': {}}
    current = {'apiVersion': 'kubeadm.k8s.io/v1beta3', 'kind': 'ClusterConfiguration',
               'networking': {'podSubnet': '10.244.0.0/16', 'dnsDomain': 'cluster.local', 'serviceSubnet': 'x'},
               'etcd': {'local': {'dataDir': '/var/lib/etcd'}},
               'apiServer': {'certSANs': ['a']},
               'controlPlaneEndpoint': 'vip:6443'}
    drift, not_in_place = k.compute_drift(wanted, current)
    assert drift == {'apiServer.certSANs': {'wanted': ['a', 'b'], 'current': ['a']},
                     'etcd.local.dataDir': {'wanted': '/data/etcd', 'current': '/var/lib/etcd'}}
    assert not_in_place == ['etcd.local.dataDir']
    assert k.compute_drift(wanted, wanted) == ({}, [])
    drift, not_in_place = k.compute_drift({'etcd': {'external': {'endpoints': ['e']}}}, {})
    assert not_in_place == ['etcd.external.endpoints']


def test_deep_merge_does_not_touch_its_inputs():
    base = {'a': {'b': 1, 'c': [1]}, 'd': 1}
    extra = {'a': {'c': [2], 'e': {'f': 1}}, 'd': {'x': 1}}
    merged = k.deep_merge(base, extra)
    assert merged == {'a': {'b': 1, 'c': [2], 'e': {'f': 1}}, 'd': {'x': 1}}
    assert base == {'a': {'b': 1, 'c': [1]}, 'd': 1}
    merged['a']['e']['f'] = 2
    assert extra['a']['e']['f'] == 1
    assert k.deep_merge(base, None) == base


def test_split_and_join_host_port():
    assert k.split_host_port('h') == ('h', None)
    assert k.split_host_port('h:1') == ('h', '1')
    assert k.split_host_port('[::1]') == ('::1', None)
    assert k.split_host_port('[::1]:2') == ('::1', '2')
    assert k.split_host_port('::1') == ('::1', None)
    assert k.join_host_port('::1', 2) == '[::1]:2'
    assert k.join_host_port('h', 2) == 'h:2'
