# -*- coding: utf-8 -*-
"""Unit tests of plugins/module_utils/etcd.py against a local HTTPS etcd gateway stand-in."""

import os
import sys

import pytest

from ansible_collections.hakube.cluster.plugins.module_utils.etcd import (
    EtcdError, EtcdGateway, normalise_member, same_url,
)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'modules'))
from fakes.etcd_gateway import EtcdGatewayServer, EtcdState  # noqa: E402 pylint: disable=wrong-import-position
from fakes.harness import make_ca, make_cert  # noqa: E402 pylint: disable=wrong-import-position


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp('pki'))
    ca = make_ca(d, 'ca')
    return {'ca': ca[0], 'server': make_cert(d, 'server', ca[0], ca[1], san='IP:127.0.0.1'),
            'client': make_cert(d, 'client', ca[0], ca[1], client=True)}


@pytest.fixture
def server(pki):
    members = [{'ID': '18446744073709551615', 'name': 'a', 'peerURLs': ['https://10.0.0.1:2380'],
                'clientURLs': ['https://10.0.0.1:2379']},
               {'ID': '2', 'peerURLs': ['https://10.0.0.2:2380']}]
    with EtcdGatewayServer(EtcdState(members, '18446744073709551615'), pki['server'][0], pki['server'][1],
                           pki['ca']) as s:
        yield s


def gateway(server, pki, **kwargs):
    return EtcdGateway(server.endpoint, pki['ca'], pki['client'][0], pki['client'][1], timeout=5, **kwargs)


def test_member_list(server, pki):
    members, self_id = gateway(server, pki).member_list()
    assert self_id == '18446744073709551615'
    assert members[0] == {'id': '18446744073709551615', 'id_hex': 'ffffffffffffffff', 'name': 'a',
                          'peer_urls': ['https://10.0.0.1:2380'], 'client_urls': ['https://10.0.0.1:2379'],
                          'is_learner': False}
    assert members[1]['name'] == '' and members[1]['client_urls'] == []
    assert server.state.requests[0]['body'] == {'linearizable': True}


def test_member_remove(server, pki):
    left = gateway(server, pki).member_remove('2')
    assert [m['id'] for m in left] == ['18446744073709551615']
    assert server.state.requests[-1]['body'] == {'ID': '2'}


def test_member_remove_unknown(server, pki):
    with pytest.raises(EtcdError) as err:
        gateway(server, pki).member_remove('3')
    assert 'answered 404' in str(err.value)
    assert 'etcdserver: member not found' in str(err.value)


def test_unknown_path(server, pki):
    with pytest.raises(EtcdError) as err:
        gateway(server, pki).call('/v3/nope')
    assert '404' in str(err.value)


def test_missing_certificate(server, pki, tmp_path):
    with pytest.raises(EtcdError) as err:
        EtcdGateway(server.endpoint, pki['ca'], str(tmp_path / 'none.crt'), str(tmp_path / 'none.key'))
    assert 'cannot load the etcd client certificate' in str(err.value)


def test_untrusted_server(server, pki, tmp_path):
    other = make_ca(str(tmp_path), 'other')
    g = EtcdGateway(server.endpoint, other[0], pki['client'][0], pki['client'][1], timeout=5)
    with pytest.raises(EtcdError) as err:
        g.member_list()
    assert 'cannot reach etcd' in str(err.value)
    assert 'CERTIFICATE_VERIFY_FAILED' in str(err.value)


def test_normalise_member_defaults():
    assert normalise_member({}) == {'id': '0', 'id_hex': '0', 'name': '', 'peer_urls': [], 'client_urls': [],
                                    'is_learner': False}
    assert normalise_member({'ID': 'x'})['id_hex'] == 'x'


def test_same_url():
    assert same_url('https://10.0.0.1:2380/', 'HTTPS://10.0.0.1:2380')
    assert not same_url('https://10.0.0.1:2380', 'https://10.0.0.2:2380')
