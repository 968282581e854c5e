# The two commands of the README. Both set everything up first and are idempotent.
.PHONY: run test
run:
	@scripts/run.sh
test:
	@scripts/test.sh
