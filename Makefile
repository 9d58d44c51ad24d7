# Postamt: the two set-up commands are `make run` and `make test`.
#
#   make run      install dependencies, build (release), create ./postamt-data
#                 with a demo account if absent, serve on 127.0.0.1 with
#                 port offset 10000
#   make test     install dependencies, build with ASan+UBSan, run every
#                 unit and integration test
#   make release / make debug   only build
#   make valgrind run the unit tests under valgrind (release build)

DATA        ?= postamt-data
PORT_OFFSET ?= 10000
PYTEST      ?= /usr/bin/python3 -m pytest
RELEASE     := build/release
DEBUG       := build/debug

.PHONY: all deps release debug run test unit integration valgrind bench clean

all: release

deps:
	@sh scripts/deps.sh

$(RELEASE)/build.ninja:
	meson setup $(RELEASE) -Doptimization=2 -Ddebug=false -Db_ndebug=true

$(DEBUG)/build.ninja:
	meson setup $(DEBUG) --buildtype=debug -Db_sanitize=address,undefined \
		-Db_lundef=false
	ln -sf $(DEBUG)/compile_commands.json compile_commands.json

release: deps $(RELEASE)/build.ninja
	ninja -C $(RELEASE)

debug: deps $(DEBUG)/build.ninja
	ninja -C $(DEBUG)

run: release
	@sh scripts/run.sh $(RELEASE)/postamt $(DATA) $(PORT_OFFSET)

# ASan must not stop on leaks in third-party libraries' one-time setup;
# UBSan findings are fatal.
SANITIZE_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

test: debug
	$(SANITIZE_ENV) meson test -C $(DEBUG) --suite unit --print-errorlogs
	$(SANITIZE_ENV) POSTAMT_BIN=$(CURDIR)/$(DEBUG)/postamt \
		$(PYTEST) -q -p no:cacheprovider tests/integration

unit: debug
	$(SANITIZE_ENV) meson test -C $(DEBUG) --suite unit --print-errorlogs

integration: debug
	$(SANITIZE_ENV) POSTAMT_BIN=$(CURDIR)/$(DEBUG)/postamt \
		$(PYTEST) -q -p no:cacheprovider tests/integration

valgrind: release
	meson test -C $(RELEASE) --suite unit \
		--wrapper 'valgrind --error-exitcode=1 --leak-check=full'

bench: release
	@echo "see bench/README.md"

clean:
	rm -rf build compile_commands.json
