#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: kubeadm_reset
short_description: Undo kubeadm init or join on a host, when there is something to undo
version_added: 0.1.0
description:
  - Runs C(kubeadm reset -f) when the host holds anything kubeadm leaves behind
    (C(admin.conf), C(kubelet.conf), C(pki/ca.crt), static pod manifests, etcd data), then
    removes O(cleanup_paths), which kubeadm reset leaves alone on purpose (CNI configuration,
    the admin kubeconfig copied to a home directory).
  - A host with none of that, and no O(cleanup_paths) to remove, is left alone
    (C(changed=false)).
  - kubeadm reset does not remove the node from the cluster's etcd or API; on a control
    plane, remove its etcd member with M(hakube.cluster.kubeadm_etcd_member) and its Node
    object with kubectl.
author:
  - hakube maintainers (@hakube)
requirements:
  - kubeadm on the host (only when there is something to reset).
attributes:
  check_mode:
    description: Can run in check mode and return the changes it would make without making them.
    support: full
    details: Reports what would be reset and removed; nothing runs.
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) in diff mode.
    support: none
options:
  cri_socket:
    description:
      - CRI socket whose Kubernetes containers kubeadm reset removes
        (C(--cri-socket)); kubeadm detects one when not given.
    type: str
  cleanup_paths:
    description:
      - Files and directories to remove after kubeadm reset; the contents of a directory
        are removed, the directory stays. C(~) is the home directory of the user the module
        runs as. An empty directory or a missing path is nothing to clean up.
    type: list
    elements: path
    default: [/etc/cni/net.d, ~/.kube/config]
  etcd_data_dir:
    description:
      - Data directory of the stacked etcd, looked at to decide whether there is anything
        to reset.
    type: path
    default: /var/lib/etcd
  timeout:
    description:
      - Seconds that kubeadm reset may take.
    type: int
    default: 300
extends_documentation_fragment:
  - hakube.cluster.kubeadm
seealso:
  - module: hakube.cluster.kubeadm_etcd_member
  - name: kubeadm reset
    description: The command this module runs.
    link: https://kubernetes.io/docs/reference/setup-tools/kubeadm/kubeadm-reset/
'''

EXAMPLES = r'''
- name: Reset a node
  hakube.cluster.kubeadm_reset:
    cri_socket: unix:///run/containerd/containerd.sock

- name: Reset, and also clean the CNI state of Calico
  hakube.cluster.kubeadm_reset:
    cleanup_paths:
      - /etc/cni/net.d
      - /var/lib/calico
      - ~/.kube/config
'''

RETURN = r'''
found:
  description: What kubeadm had left on the host before the reset.
  returned: always
  type: list
  elements: str
  sample: [/etc/kubernetes/kubelet.conf, /etc/kubernetes/pki/ca.crt]
removed_paths:
  description: Entries of O(cleanup_paths) whose files were (in check mode would be) removed.
  returned: always
  type: list
  elements: str
  sample: [/etc/cni/net.d]
stdout:
  description: Output of kubeadm reset.
  returned: when kubeadm reset ran
  type: str
'''

import os
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hakube.cluster.plugins.module_utils.kubeadm import (
    KUBEADM_COMMON_ARGS, detect_state, fail_command, find_tool, redact, run,
)


def has_content(path):
    if os.path.islink(path) or os.path.isfile(path):
        return True
    if os.path.isdir(path):
        return bool(os.listdir(path))
    return False


def remove(path):
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
        return
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            KUBEADM_COMMON_ARGS,
            cri_socket=dict(type='str'),
            cleanup_paths=dict(type='list', elements='path', default=['/etc/cni/net.d', '~/.kube/config']),
            etcd_data_dir=dict(type='path', default='/var/lib/etcd'),
            timeout=dict(type='int', default=300),
        ),
        supports_check_mode=True,
    )
    p = module.params
    host = detect_state(p['kubernetes_dir'], p['etcd_data_dir'])
    cleanup = p['cleanup_paths']  # type path: ~ and $VARS are already expanded
    to_clean = [c for c in cleanup if has_content(c)]
    result = dict(changed=False, found=host['found'], removed_paths=to_clean)
    if not host['found'] and not to_clean:
        module.exit_json(**result)

    result['changed'] = True
    if module.check_mode:
        module.exit_json(**result)

    if host['found']:
        argv = [find_tool(module, p['kubeadm_path']), 'reset', '-f']
        if p['cri_socket']:
            argv += ['--cri-socket', p['cri_socket']]
        reset = run(argv, timeout=p['timeout'])
        if not reset.ok:
            result['removed_paths'] = []
            fail_command(module, 'kubeadm reset -f', reset, **result)
        result['stdout'] = redact(reset.stdout)
    for path in to_clean:
        try:
            remove(path)
        except (IOError, OSError) as exc:
            module.fail_json(msg='kubeadm reset ran, but %s could not be removed: %s' % (path, exc), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
