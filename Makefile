# Thin wrappers; the scripts are the source of truth.
.PHONY: setup test test-fast test-integration test-e2e lab lab-destroy
setup:
	scripts/setup
test:
	scripts/test
test-fast:
	scripts/test fast
test-integration:
	scripts/test integration
test-e2e:
	scripts/test e2e
lab:
	scripts/lab up
lab-destroy:
	scripts/lab down
