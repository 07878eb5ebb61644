"""Fixtures of the preflight tests; the helpers live in preflight_helpers.py (a unique
module name, so that other test directories' conftest modules never shadow it)."""
import preflight_helpers

run_phase1 = preflight_helpers.run_phase1
