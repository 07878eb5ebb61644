#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: kubeadm_etcd_member
short_description: List and remove members of a kubeadm cluster's stacked etcd
version_added: 0.1.0
description:
  - Talks to etcd's v3 JSON gateway (C(POST /v3/cluster/member/list) and
    C(/v3/cluster/member/remove)) on a healthy control plane with the client certificate
    kubeadm made for health checks (C(<kubernetes_dir>/pki/etcd/healthcheck-client.crt),
    C(.key) and C(pki/etcd/ca.crt)). Needs neither etcdctl nor the etcd image.
  - With O(state=absent) it removes the members whose name is O(name) or whose peer URLs
    include O(peer_url). A control plane whose C(kubeadm join) was killed after its etcd
    member was added leaves a member that never started and so has no name; O(peer_url)
    (C(https://<address>:2380)) finds it. Without a matching member nothing changes.
  - The module refuses to remove the member it talks through (the one that answers at
    O(endpoint)); run it on another control plane.
author:
  - hakube maintainers (@hakube)
attributes:
  check_mode:
    support: full
    details: Lists the members and reports which would be removed.
  diff_mode:
    support: none
extends_documentation_fragment:
  - hakube.cluster.attributes
options:
  name:
    description:
      - Member name, which kubeadm sets to the node name.
    type: str
  peer_url:
    description:
      - Peer URL of the member, for example C(https://192.0.2.12:2380); also matches a
        member that never started and so has no name.
    type: str
  state:
    description:
      - C(listed) only lists the members, C(absent) removes the matching ones.
    type: str
    choices: [absent, listed]
    default: listed
  endpoint:
    description:
      - Client URL of the etcd member to talk to.
    type: str
    default: https://127.0.0.1:2379
  kubernetes_dir:
    description:
      - Where kubeadm keeps C(pki/etcd/). Only tests change it.
    type: path
    default: /etc/kubernetes
  ca_cert:
    description:
      - CA that signed the etcd server certificate. Defaults to
        C(<kubernetes_dir>/pki/etcd/ca.crt).
    type: path
  client_cert:
    description:
      - Client certificate. Defaults to C(<kubernetes_dir>/pki/etcd/healthcheck-client.crt).
    type: path
  client_key:
    description:
      - Key of O(client_cert). Defaults to C(<kubernetes_dir>/pki/etcd/healthcheck-client.key).
    type: path
  timeout:
    description:
      - Seconds each request to etcd may take.
    type: int
    default: 30
seealso:
  - module: hakube.cluster.kubeadm_join
  - name: etcd gRPC gateway
    description: The JSON API this module uses.
    link: https://etcd.io/docs/latest/dev-guide/api_grpc_gateway/
'''

EXAMPLES = r'''
- name: Remove the stale etcd member of a control plane about to join again
  hakube.cluster.kubeadm_etcd_member:
    name: cp-2
    peer_url: https://192.0.2.12:2380
    state: absent
  delegate_to: "{{ groups['control_plane'][0] }}"

- name: List the members
  hakube.cluster.kubeadm_etcd_member:
  register: etcd
'''

RETURN = r'''
members:
  description: The members after the run (in check mode, as they would be).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Member ID, a uint64 as a decimal string (as the JSON gateway gives it).
      type: str
      sample: '10501334649042878790'
    id_hex:
      description: The member ID in hexadecimal, as etcdctl prints it.
      type: str
      sample: 91bc3c398fb3c146
    name:
      description: Member name (the node name); empty for a member that never started.
      type: str
      sample: cp-1
    peer_urls:
      description: Peer URLs.
      type: list
      elements: str
      sample: [https://192.0.2.11:2380]
    client_urls:
      description: Client URLs; empty for a member that never started.
      type: list
      elements: str
      sample: [https://192.0.2.11:2379]
    is_learner:
      description: Whether the member is a raft learner.
      type: bool
      sample: false
removed:
  description: The members that were (in check mode would be) removed, in the form of RV(members).
  returned: always
  type: list
  elements: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hakube.cluster.plugins.module_utils.etcd import EtcdError, EtcdGateway, same_url


def matches(member, name, peer_url):
    if name and member['name'] == name:
        return True
    return bool(peer_url) and any(same_url(u, peer_url) for u in member['peer_urls'])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str'),
            peer_url=dict(type='str'),
            state=dict(type='str', choices=['absent', 'listed'], default='listed'),
            endpoint=dict(type='str', default='https://127.0.0.1:2379'),
            kubernetes_dir=dict(type='path', default='/etc/kubernetes'),
            ca_cert=dict(type='path'),
            client_cert=dict(type='path'),
            client_key=dict(type='path', no_log=False),
            timeout=dict(type='int', default=30),
        ),
        required_if=[('state', 'absent', ('name', 'peer_url'), True)],
        supports_check_mode=True,
    )
    p = module.params
    pki = os.path.join(p['kubernetes_dir'], 'pki', 'etcd')
    try:
        gateway = EtcdGateway(
            p['endpoint'],
            p['ca_cert'] or os.path.join(pki, 'ca.crt'),
            p['client_cert'] or os.path.join(pki, 'healthcheck-client.crt'),
            p['client_key'] or os.path.join(pki, 'healthcheck-client.key'),
            timeout=p['timeout'])
        members, self_id = gateway.member_list()
    except EtcdError as exc:
        module.fail_json(msg=str(exc))

    result = dict(changed=False, members=members, removed=[])
    if p['state'] == 'listed':
        module.exit_json(**result)

    doomed = [m for m in members if matches(m, p['name'], p['peer_url'])]
    for member in doomed:
        if member['id'] == self_id:
            module.fail_json(
                msg='refusing to remove etcd member %s (%s): it is the member this module talks '
                    'through at %s; run the task on another control plane'
                    % (member['name'] or '(unstarted)', member['id_hex'], p['endpoint']), **result)
    if not doomed:
        module.exit_json(**result)

    result['changed'] = True
    if module.check_mode:
        result['removed'] = doomed
        result['members'] = [m for m in members if m not in doomed]
        module.exit_json(**result)
    for member in doomed:
        try:
            left = gateway.member_remove(member['id'])
        except EtcdError as exc:
            result['changed'] = bool(result['removed'])
            module.fail_json(msg='removing etcd member %s (%s) failed: %s'
                             % (member['name'] or '(unstarted)', member['id_hex'], exc), **result)
        result['removed'].append(member)
        result['members'] = left or [m for m in result['members'] if m['id'] != member['id']]
    module.exit_json(**result)


if __name__ == '__main__':
    main()
