# Thin wrappers; the scripts are the source of truth.
.PHONY: setup test test-fast test-integration lab lab-destroy
setup:
	scripts/setup
test:
	scripts/test
test-fast:
	scripts/test fast
test-integration:
	scripts/test integration
lab:
	scripts/lab up
lab-destroy:
	scripts/lab down
