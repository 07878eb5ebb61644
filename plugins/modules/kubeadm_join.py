#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: kubeadm_join
short_description: Join a host to a kubeadm cluster as a worker or a control plane, once
version_added: 0.1.0
description:
  - Joins the host with C(kubeadm join --config <file>). The file is a
    C(kubeadm.k8s.io/v1beta4) JoinConfiguration the module writes with mode 0600 to a
    temporary file and removes afterwards, so that the token and the certificate key never
    appear on a command line.
  - "B(Already joined) (C(kubelet.conf) present, the Node object exists, and for a control
    plane all four static pod manifests are present and the Node carries the
    C(node-role.kubernetes.io/control-plane) label that kubeadm's last join phase sets):
    nothing runs, C(changed=false).
    Whether the Node exists is asked with C(kubectl --kubeconfig kubelet.conf get node),
    through O(api_server_endpoint) when it is given: on a control plane kubeadm points
    C(kubelet.conf) at the host's own API server (ControlPlaneKubeletLocalMode, on by
    default since Kubernetes 1.33), which cannot answer once the host's stale etcd member
    has been removed. A failure to connect is asked again twice, 5 s apart (the load
    balancer may still send the first request to such an API server). When the API server
    cannot be asked (unreachable, or no kubectl on the host) the module fails rather than
    reset a node that may be healthy (or, without kubectl, trusts the files and warns)."
  - "B(Stale) (C(kubelet.conf), C(pki/ca.crt), static pod manifests or etcd data present,
    but the node is not registered, or is a worker where a control plane is wanted, or a
    control plane without its label, or C(kubelet.conf) names a client certificate that
    does not exist because the join was killed before the kubelet's TLS bootstrap): the
    module runs C(kubeadm reset -f) first, then joins (RV(state=rejoined)). The reset keeps
    the static pod manifests that kubeadm did not write (the apiserver load balancer's)."
  - In check mode nothing runs; RV(joined) tells whether the host is already joined, so a
    role can decide before the real join (for example to remove a stale etcd member with
    M(hakube.cluster.kubeadm_etcd_member) first).
author:
  - hakube maintainers (@hakube)
requirements:
  - kubeadm on the host.
  - kubectl on the host to check that the Node is registered (without it the module trusts
    kubelet.conf and the manifests, and warns).
attributes:
  check_mode:
    support: full
    details: Reports whether the host is joined and what a join would find; runs nothing
      that changes the host.
  diff_mode:
    support: none
options:
  api_server_endpoint:
    description:
      - host:port of the cluster's API server (the controlPlaneEndpoint). Required unless
        the host is already joined or in check mode. Also where the module asks whether the
        Node is registered.
    type: str
  token:
    description:
      - Bootstrap token for discovery and TLS bootstrap. Required unless the host is already
        joined or in check mode.
    type: str
  discovery_token_ca_cert_hash:
    description:
      - C(sha256:<hex>) pin of the cluster CA public key. Required unless the host is
        already joined or in check mode.
    type: str
  control_plane:
    description:
      - Join as a control plane (a stacked etcd member and API server) instead of a worker.
    type: bool
    default: false
  certificate_key:
    description:
      - Key to decrypt the control plane certificates that C(kubeadm init phase
        upload-certs) stored. Required to join a control plane.
    type: str
  node_name:
    description:
      - Name of the Node object. Defaults to the host name in lower case, as kubeadm does.
    type: str
  advertise_address:
    description:
      - Address the new API server advertises (control plane only).
    type: str
  bind_port:
    description:
      - Port the new API server listens on (control plane only).
    type: int
  cri_socket:
    description:
      - CRI socket kubeadm and the kubelet use, for example
        C(unix:///run/containerd/containerd.sock). Also passed to a stale-state reset.
    type: str
  extra_config:
    description:
      - "Dictionary deep-merged into the JoinConfiguration the module writes, for example
        C({nodeRegistration: {kubeletExtraArgs: [{name: node-ip, value: 192.0.2.21}]}}).
        Dictionaries merge, anything else replaces."
    type: dict
    default: {}
  ignore_preflight_errors:
    description:
      - Preflight checks whose errors kubeadm treats as warnings
        (C(nodeRegistration.ignorePreflightErrors)).
    type: list
    elements: str
    default: []
  etcd_data_dir:
    description:
      - Data directory of the stacked etcd, looked at for leftovers of an earlier join.
    type: path
    default: /var/lib/etcd
  kubectl_path:
    description:
      - Name or path of the kubectl executable.
    type: str
    default: kubectl
  timeout:
    description:
      - Seconds that C(kubeadm join) (and C(kubeadm reset)) may take.
    type: int
    default: 900
extends_documentation_fragment:
  - hakube.cluster.attributes
  - hakube.cluster.kubeadm
seealso:
  - module: hakube.cluster.kubeadm_token
  - module: hakube.cluster.kubeadm_etcd_member
  - name: kubeadm join
    description: The command this module runs.
    link: https://kubernetes.io/docs/reference/setup-tools/kubeadm/kubeadm-join/
  - name: kubeadm configuration (v1beta4)
    description: The JoinConfiguration fields.
    link: https://kubernetes.io/docs/reference/config-api/kubeadm-config.v1beta4/
'''

EXAMPLES = r'''
- name: Join a worker
  hakube.cluster.kubeadm_join:
    api_server_endpoint: "{{ join.api_server_endpoint }}"
    token: "{{ join.token }}"
    discovery_token_ca_cert_hash: "{{ join.discovery_token_ca_cert_hash }}"
    cri_socket: unix:///run/containerd/containerd.sock
    extra_config:
      nodeRegistration:
        kubeletExtraArgs:
          - name: node-ip
            value: "{{ ansible_default_ipv4.address }}"

- name: Is this control plane joined already?
  hakube.cluster.kubeadm_join:
    control_plane: true
  check_mode: true
  register: cp_join_check

- name: Join a control plane
  hakube.cluster.kubeadm_join:
    api_server_endpoint: "{{ join.api_server_endpoint }}"
    token: "{{ join.token }}"
    discovery_token_ca_cert_hash: "{{ join.discovery_token_ca_cert_hash }}"
    control_plane: true
    certificate_key: "{{ join.certificate_key }}"
    advertise_address: "{{ ansible_default_ipv4.address }}"
  when: not cp_join_check.joined
'''

RETURN = r'''
state:
  description:
    - C(joined) after a join, C(rejoined) after a reset of stale state and a join,
      C(already_joined) when nothing had to be done, C(would_join) in check mode when a join
      (with a reset first if RV(stale_state_found) is not empty) would run.
  returned: always
  type: str
  sample: joined
joined:
  description:
    - Whether the host is joined after the run; in check mode whether it already was.
  returned: always
  type: bool
  sample: true
stale_state_found:
  description:
    - Leftovers of an earlier join that was reset (or in check mode would be) before joining.
  returned: always
  type: list
  elements: str
  sample: [/etc/kubernetes/kubelet.conf, /var/lib/etcd/member]
node_name:
  description: Name of the Node object the module looked for.
  returned: always
  type: str
  sample: cp-2
stdout:
  description: Output of kubeadm join, with bootstrap tokens and certificate keys redacted.
  returned: when kubeadm join ran
  type: str
'''

import json
import os
import platform
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hakube.cluster.plugins.module_utils.kubeadm import (
    KUBEADM_COMMON_ARGS, CONTROL_PLANE_MANIFESTS, deep_merge, describe_failure, detect_state, fail_command,
    find_tool, load_yaml, redact, reset_keeping_manifests, run,
)


CONTROL_PLANE_LABEL = 'node-role.kubernetes.io/control-plane'


def missing_client_certificate(kubelet_conf):
    """The client certificate file kubelet.conf names when it does not exist, else ''.

    kubeadm join writes kubelet.conf pointing at the kubelet's client certificate before
    the kubelet's TLS bootstrap has made it; a join killed in between (seen in the lab)
    leaves a kubelet.conf that can never authenticate: stale, not unknown.
    """
    try:
        with open(kubelet_conf) as handle:
            conf = load_yaml(handle.read()) or {}
    except Exception:  # pylint: disable=broad-except
        return ''
    if not isinstance(conf, dict):
        return ''
    for entry in conf.get('users') or []:
        user = entry.get('user') if isinstance(entry, dict) else None
        path = user.get('client-certificate') if isinstance(user, dict) else None
        if path and not os.path.exists(path):
            return path
    return ''


def node_registered(module, kubectl, kubelet_conf, node_name, secrets, endpoint=None, pause=5, attempts=3):
    """(registered, labels): True/False whether the Node exists and its labels; (None, {})
    when kubectl is missing; fails when unsure.

    Asked with the kubelet's credentials through ENDPOINT (the control-plane endpoint)
    when given, not the server kubelet.conf names: on a control plane that is the host's
    own API server (kubeadm's ControlPlaneKubeletLocalMode), which hangs once the host's
    stale etcd member is gone (seen in the lab after a killed join). Connection failures
    are asked again ATTEMPTS - 1 times, PAUSE seconds apart."""
    if kubectl is None:
        return None, {}
    argv = [kubectl, '--kubeconfig', kubelet_conf]
    if endpoint:
        argv += ['--server', 'https://%s' % endpoint]
    argv += ['get', 'node', node_name, '-o', 'json', '--request-timeout=15s']
    for attempt in range(attempts):
        result = run(argv, timeout=60)
        if result.ok or 'Unable to connect to the server' not in result.stderr + result.stdout:
            break
        if attempt + 1 < attempts:
            time.sleep(pause)
    if result.ok:
        try:
            labels = (json.loads(result.stdout).get('metadata') or {}).get('labels') or {}
        except ValueError:
            module.fail_json(msg='kubectl get node %s -o json printed no JSON: %s' % (node_name, result.stdout[:200]))
        return True, labels
    if 'NotFound' in result.stderr or 'not found' in result.stderr:
        return False, {}
    module.fail_json(msg=describe_failure(
        'asking the API server whether node %s is registered (the host has a kubelet.conf, so it '
        'is not reset while this cannot be told)' % node_name, result, secrets))
    return None, {}


def join_configuration(p, node_name):
    bootstrap = {
        'apiServerEndpoint': p['api_server_endpoint'],
        'token': p['token'],
        'caCertHashes': [p['discovery_token_ca_cert_hash']],
    }
    registration = {'name': node_name}
    if p['cri_socket']:
        registration['criSocket'] = p['cri_socket']
    if p['ignore_preflight_errors']:
        registration['ignorePreflightErrors'] = list(p['ignore_preflight_errors'])
    config = {
        'apiVersion': 'kubeadm.k8s.io/v1beta4',
        'kind': 'JoinConfiguration',
        'discovery': {'bootstrapToken': bootstrap, 'tlsBootstrapToken': p['token']},
        'nodeRegistration': registration,
    }
    if p['control_plane']:
        endpoint = {}
        if p['advertise_address']:
            endpoint['advertiseAddress'] = p['advertise_address']
        if p['bind_port']:
            endpoint['bindPort'] = p['bind_port']
        config['controlPlane'] = {'certificateKey': p['certificate_key']}
        if endpoint:
            config['controlPlane']['localAPIEndpoint'] = endpoint
    return deep_merge(config, p['extra_config'])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            KUBEADM_COMMON_ARGS,
            api_server_endpoint=dict(type='str'),
            token=dict(type='str', no_log=True),
            discovery_token_ca_cert_hash=dict(type='str', no_log=False),
            control_plane=dict(type='bool', default=False),
            certificate_key=dict(type='str', no_log=True),
            node_name=dict(type='str'),
            advertise_address=dict(type='str'),
            bind_port=dict(type='int'),
            cri_socket=dict(type='str'),
            extra_config=dict(type='dict', default={}),
            ignore_preflight_errors=dict(type='list', elements='str', default=[]),
            etcd_data_dir=dict(type='path', default='/var/lib/etcd'),
            kubectl_path=dict(type='str', default='kubectl'),
            timeout=dict(type='int', default=900),
        ),
        supports_check_mode=True,
    )
    p = module.params
    secrets = [p['token'], p['certificate_key']]
    node_name = p['node_name'] or platform.node().split('.')[0].lower()
    kdir = p['kubernetes_dir']
    kubelet_conf = os.path.join(kdir, 'kubelet.conf')
    kubectl = find_tool(module, p['kubectl_path'], required=False)

    result = dict(changed=False, joined=False, stale_state_found=[], node_name=node_name)
    host = detect_state(kdir, p['etcd_data_dir'])
    # admin.conf alone (a copied kubeconfig) is no sign of a join.
    found = [f for f in host['found'] if f != os.path.join(kdir, 'admin.conf')]

    if host['kubelet_conf']:
        if missing_client_certificate(kubelet_conf):
            registered, labels = False, {}
        else:
            registered, labels = node_registered(module, kubectl, kubelet_conf, node_name, secrets,
                                                 endpoint=p['api_server_endpoint'])
        if registered is None:
            module.warn('kubectl not found: cannot ask the API server whether node %s is registered; '
                        'trusting %s' % (node_name, kubelet_conf))
            registered = True
            labels = {CONTROL_PLANE_LABEL: ''}
        # A control plane is joined once kubeadm's last join phase, mark-control-plane, gave
        # the Node its label: a join killed after the kubelet registered and etcd grew has
        # the manifests and the Node, but not the label (seen in the lab).
        complete = not p['control_plane'] or (
            len(host['manifests']) == len(CONTROL_PLANE_MANIFESTS) and CONTROL_PLANE_LABEL in labels)
        if registered and complete:
            result.update(state='already_joined', joined=True)
            module.exit_json(**result)

    result['stale_state_found'] = found
    result['changed'] = True
    if module.check_mode:
        result['state'] = 'would_join'
        module.exit_json(**result)

    missing = [n for n in ('api_server_endpoint', 'token', 'discovery_token_ca_cert_hash') if not p[n]]
    if p['control_plane'] and not p['certificate_key']:
        missing.append('certificate_key')
    if missing:
        result['changed'] = False
        module.fail_json(msg='the host is not joined, and joining needs: %s' % ', '.join(missing), **result)

    kubeadm = find_tool(module, p['kubeadm_path'])
    if found:
        argv = [kubeadm, 'reset', '-f']
        if p['cri_socket']:
            argv += ['--cri-socket', p['cri_socket']]
        reset = reset_keeping_manifests(argv, kdir, p['timeout'])
        if not reset.ok:
            fail_command(module, 'kubeadm reset -f (to clear a stale earlier join)', reset, secrets, **result)

    fd, path = tempfile.mkstemp(prefix='hakube-join-', suffix='.yaml')
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, 'w') as f:
            # JSON is YAML: kubeadm reads it as a config document.
            json.dump(join_configuration(p, node_name), f, indent=2, sort_keys=True)
        joined = run([kubeadm, 'join', '--config', path], timeout=p['timeout'])
    finally:
        os.unlink(path)
    if not joined.ok:
        # Honest changed: a preflight failure leaves the host as it was, a later one does not.
        after = detect_state(kdir, p['etcd_data_dir'])['found']
        result['changed'] = bool(found) or after != host['found']
        fail_command(module, 'kubeadm join', joined, secrets, **result)
    result.update(state='rejoined' if found else 'joined', joined=True,
                  stdout=redact(joined.stdout, secrets))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
