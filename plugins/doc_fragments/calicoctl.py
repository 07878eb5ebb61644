# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see galaxy.yml)
"""Options shared by the modules that run calicoctl."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r'''
options:
  calicoctl_path:
    description:
      - Path or name of the calicoctl binary. By default it is looked up in E(PATH) and
        C(/usr/local/bin).
    type: path
  kubeconfig:
    description:
      - Kubeconfig calicoctl uses with O(datastore_type=kubernetes) (exported as
        E(KUBECONFIG) and E(CALICO_KUBECONFIG)). The default is calicoctl's own
        (E(KUBECONFIG) or C(~/.kube/config)).
    type: path
  datastore_type:
    description:
      - The Calico datastore. With V(etcdv3) give the etcd settings (E(ETCD_ENDPOINTS)
        and friends) through the task's C(environment).
    type: str
    choices: [kubernetes, etcdv3]
    default: kubernetes
  expected_version:
    description:
      - The calicoctl version you expect (V(3.33.1) or V(v3.33.1)). When set, the module
        reads C(calicoctl version) first and fails on a different client version.
    type: str
  allow_version_mismatch:
    description:
      - Pass C(--allow-version-mismatch) to calicoctl and do not fail on a different
        O(expected_version) (the version is still returned).
    type: bool
    default: false
  timeout:
    description:
      - Seconds each calicoctl call may take (through coreutils C(timeout)); V(0) waits
        forever.
    type: int
    default: 60
'''
