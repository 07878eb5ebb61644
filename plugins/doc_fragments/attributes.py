# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see galaxy.yml)
"""What check mode and diff mode mean, for every module that supports them.

A module extends this fragment and gives, per attribute, only its C(support) and the
C(details) that are its own; Ansible merges the two.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return the changes it would make without making them.
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) in diff mode.
'''
