# fathom: top-level commands. CMake does the building; this file is the front door.
#   make          build the release binaries (build/release)
#   make run      install what is missing, build, serve ./data on http://127.0.0.1:8000
#   make test     install what is missing, build with ASan+UBSan (build/asan), run every test
#   make bench    build release benchmarks
JOBS ?= 2
DATA ?= ./data
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: all release asan tsan deps run test bench clean

all: release

deps:
	@bash scripts/install-deps.sh

release: deps
	@cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build/release -j$(JOBS)

asan: deps
	@cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DFATHOM_SANITIZE=ON -DFATHOM_BENCH=OFF >/dev/null
	@cmake --build build/asan -j$(JOBS)

tsan: deps
	@cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFATHOM_TSAN=ON -DFATHOM_BENCH=OFF >/dev/null
	@cmake --build build/tsan -j$(JOBS) --target fathom_tests

run: release
	@echo "fathom: serving $(DATA) at http://$(HOST):$(PORT) (Ctrl-C to stop)"
	@./build/release/fathom run --path $(DATA) --host $(HOST) --port $(PORT)

test: asan
	@cd build/asan && ctest -j$(JOBS) --output-on-failure

bench: release

clean:
	rm -rf build
