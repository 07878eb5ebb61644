# -*- coding: utf-8 -*-
"""Unit tests of hakube.cluster.kubeadm_etcd_member against a local HTTPS etcd gateway stand-in."""

import os
import shutil

import pytest

from fakes.etcd_gateway import EtcdGatewayServer, EtcdState
from fakes.harness import FakeHost, make_ca, make_cert

SELF_ID = '10501334649042878790'          # > 2**63: must survive as a string
CP2_ID = '1609003496385417463'
UNSTARTED_ID = '17294144581473409040'
MEMBERS = [
    {'ID': SELF_ID, 'name': 'cp-1', 'peerURLs': ['https://192.0.2.11:2380'], 'clientURLs': ['https://192.0.2.11:2379']},
    {'ID': CP2_ID, 'name': 'cp-2', 'peerURLs': ['https://192.0.2.12:2380'], 'clientURLs': ['https://192.0.2.12:2379']},
    {'ID': UNSTARTED_ID, 'peerURLs': ['https://192.0.2.13:2380'], 'isLearner': True},
]


@pytest.fixture(scope='session')
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp('etcd-pki'))
    ca_crt, ca_key = make_ca(d, 'etcd-ca')
    server = make_cert(d, 'server', ca_crt, ca_key, san='IP:127.0.0.1,DNS:localhost')
    client = make_cert(d, 'healthcheck-client', ca_crt, ca_key, client=True)
    other_ca = make_ca(d, 'other-ca')
    stranger = make_cert(d, 'stranger', other_ca[0], other_ca[1], client=True)
    return {'ca': ca_crt, 'server': server, 'client': client, 'stranger': stranger}


@pytest.fixture
def host(tmp_path, pki):
    h = FakeHost(tmp_path / 'host', pki['ca'])
    etcd_pki = h.path('pki', 'etcd')
    os.makedirs(etcd_pki)
    shutil.copy(pki['ca'], os.path.join(etcd_pki, 'ca.crt'))
    shutil.copy(pki['client'][0], os.path.join(etcd_pki, 'healthcheck-client.crt'))
    shutil.copy(pki['client'][1], os.path.join(etcd_pki, 'healthcheck-client.key'))
    return h


@pytest.fixture
def etcd(pki):
    state = EtcdState(MEMBERS, SELF_ID)
    with EtcdGatewayServer(state, pki['server'][0], pki['server'][1], pki['ca']) as server:
        yield server


def args(host, etcd, **extra):
    out = dict(kubernetes_dir=host.kdir, endpoint=etcd.endpoint)
    out.update(extra)
    return out


def removals(etcd):
    return [r['body'] for r in etcd.state.requests if r['path'] == '/v3/cluster/member/remove']


def test_list(host, etcd):
    result = host.run('kubeadm_etcd_member', args(host, etcd))
    assert result.get('failed') is not True, result
    assert result['changed'] is False
    assert result['removed'] == []
    assert result['members'] == [
        {'id': SELF_ID, 'id_hex': '91bc3c398fb3c146', 'name': 'cp-1', 'peer_urls': ['https://192.0.2.11:2380'],
         'client_urls': ['https://192.0.2.11:2379'], 'is_learner': False},
        {'id': CP2_ID, 'id_hex': '%x' % int(CP2_ID), 'name': 'cp-2', 'peer_urls': ['https://192.0.2.12:2380'],
         'client_urls': ['https://192.0.2.12:2379'], 'is_learner': False},
        {'id': UNSTARTED_ID, 'id_hex': '%x' % int(UNSTARTED_ID), 'name': '', 'peer_urls': ['https://192.0.2.13:2380'],
         'client_urls': [], 'is_learner': True},
    ]
    assert all(r['client_cert'] for r in etcd.state.requests)


def test_remove_by_name(host, etcd):
    result = host.run('kubeadm_etcd_member', args(host, etcd, name='cp-2', state='absent'))
    assert result['changed'] is True
    assert [m['name'] for m in result['removed']] == ['cp-2']
    assert [m['id'] for m in result['members']] == [SELF_ID, UNSTARTED_ID]
    assert removals(etcd) == [{'ID': CP2_ID}]
    assert [m['ID'] for m in etcd.state.members] == [SELF_ID, UNSTARTED_ID]

    again = host.run('kubeadm_etcd_member', args(host, etcd, name='cp-2', state='absent'))
    assert again['changed'] is False
    assert again['removed'] == []
    assert len(removals(etcd)) == 1


def test_remove_unstarted_member_by_peer_url(host, etcd):
    result = host.run('kubeadm_etcd_member', args(host, etcd, name='cp-3', peer_url='https://192.0.2.13:2380/',
                                                  state='absent'))
    assert result['changed'] is True
    assert [m['id'] for m in result['removed']] == [UNSTARTED_ID]
    assert removals(etcd) == [{'ID': UNSTARTED_ID}]


def test_check_mode_removes_nothing(host, etcd):
    result = host.run('kubeadm_etcd_member', args(host, etcd, name='cp-2', state='absent'), check=True)
    assert result['changed'] is True
    assert [m['name'] for m in result['removed']] == ['cp-2']
    assert [m['id'] for m in result['members']] == [SELF_ID, UNSTARTED_ID]
    assert removals(etcd) == []
    assert len(etcd.state.members) == 3


def test_refuses_to_remove_itself(host, etcd):
    result = host.run('kubeadm_etcd_member', args(host, etcd, name='cp-1', state='absent'))
    assert result['failed'] is True
    assert 'refusing to remove etcd member cp-1 (91bc3c398fb3c146)' in result['msg']
    assert removals(etcd) == []


def test_absent_needs_name_or_peer_url(host, etcd):
    result = host.run('kubeadm_etcd_member', args(host, etcd, state='absent'))
    assert result['failed'] is True
    assert 'name, peer_url' in result['msg']
    assert etcd.state.requests == []


def test_remove_error_is_quoted(host, etcd):
    # The member disappears between list and remove: etcd answers 404 "member not found".
    original = etcd.state.wire_members

    def vanishing():
        listed = original()
        etcd.state.members = [m for m in etcd.state.members if m['ID'] != CP2_ID]
        return listed
    etcd.state.wire_members = vanishing
    result = host.run('kubeadm_etcd_member', args(host, etcd, name='cp-2', state='absent'))
    assert result['failed'] is True
    assert 'removing etcd member cp-2' in result['msg']
    assert '404' in result['msg'] and 'etcdserver: member not found' in result['msg']
    assert result['changed'] is False


def test_client_certificate_from_another_ca_is_rejected(host, etcd, pki):
    result = host.run('kubeadm_etcd_member', args(host, etcd, client_cert=pki['stranger'][0],
                                                  client_key=pki['stranger'][1]))
    assert result['failed'] is True
    assert 'cannot reach etcd at %s' % etcd.endpoint in result['msg']


def test_missing_client_certificate(host, etcd):
    os.unlink(host.path('pki', 'etcd', 'healthcheck-client.key'))
    result = host.run('kubeadm_etcd_member', args(host, etcd))
    assert result['failed'] is True
    assert 'cannot load the etcd client certificate' in result['msg']


def test_etcd_down(host, etcd):
    endpoint = etcd.endpoint
    etcd.__exit__(None, None, None)
    result = host.run('kubeadm_etcd_member', dict(kubernetes_dir=host.kdir, endpoint=endpoint, timeout=5))
    assert result['failed'] is True
    assert 'cannot reach etcd' in result['msg']


def test_partial_removal_is_reported_honestly(host, etcd):
    # Two members match; the second disappears before it can be removed.
    original = etcd.state.wire_members

    def vanishing():
        listed = original()
        etcd.state.members = [m for m in etcd.state.members if m['ID'] != UNSTARTED_ID]
        return listed
    etcd.state.wire_members = vanishing
    result = host.run('kubeadm_etcd_member', args(host, etcd, name='cp-2', peer_url='https://192.0.2.13:2380',
                                                  state='absent'))
    assert result['failed'] is True
    assert result['changed'] is True
    assert [m['id'] for m in result['removed']] == [CP2_ID]
    assert 'removing etcd member (unstarted)' in result['msg']
