# fathom: top-level commands. CMake does the building; this file is the front door.
#   make          build the release binaries (build/release)
#   make server   build only the release `fathom` binary (what `make run` needs)
#   make run      install what is missing, build the server, serve ./data on http://127.0.0.1:8000
#   make test     install what is missing, build with ASan+UBSan (build/asan), run every test
#                 (with the Ceph RGW test server of ../shared/s3 up, for the S3Store tests)
#   make tsan     build with ThreadSanitizer (build/tsan), run the concurrent tests
#   make bench    build release benchmarks
JOBS ?= 2
DATA ?= ./data
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: all release server asan tsan fuzz deps run test bench clean

all: release

deps:
	@bash scripts/install-deps.sh

release: deps
	@cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build/release -j$(JOBS)

server: deps
	@cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build/release -j$(JOBS) --target fathom

asan: deps
	@cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DFATHOM_SANITIZE=ON -DFATHOM_BENCH=OFF >/dev/null
	@cmake --build build/asan -j$(JOBS)

# ThreadSanitizer: build (build/tsan, -O1) and run the tests that exercise threads; fails on
# any report. Tens of minutes, so not part of `make test` (docs/design/thread-safety.md).
# TSAN_FILTER picks the suites, TSAN_SERVER=1 adds the HTTP server's.
tsan: deps
	@JOBS=$(JOBS) bash scripts/tsan.sh

# libFuzzer targets for every decoder, FUZZ_SECONDS each; crashes land in build/fuzz/ and
# belong in tests/fuzz/corpus/<target>/ once fixed.
FUZZ_SECONDS ?= 60
fuzz: deps
	@CXX=clang++ cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFATHOM_FUZZ=ON -DFATHOM_BENCH=OFF >/dev/null
	@cmake --build build/fuzz -j$(JOBS) --target wal_fuzzer segment_fuzzer segment_reader_fuzzer manifest_fuzzer catalog_fuzzer drop_record_fuzzer cache_page_fuzzer vector_index_fuzzer vector_index_envelope_fuzzer vector_file_fuzzer postings_fuzzer analyzer_fuzzer s3_xml_fuzzer metadata_values_fuzzer text_index_fuzzer sparse_index_fuzzer
	@for t in wal segment manifest catalog drop_record cache_page vector_index vector_index_envelope vector_file postings analyzer s3_xml metadata_values text_index sparse_index; do \
	  mkdir -p build/fuzz/corpus/$$t && cp -n tests/fuzz/corpus/$$t/* build/fuzz/corpus/$$t/ 2>/dev/null; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	  (cd build/fuzz && ./$${t}_fuzzer -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 corpus/$$t) || exit 1; \
	done

run: server
	@echo "fathom: serving $(DATA) at http://$(HOST):$(PORT) (Ctrl-C to stop)"
	@./build/release/fathom run --path $(DATA) --host $(HOST) --port $(PORT)

# The S3 tests need the Ceph RGW test server: scripts/with-s3.sh starts it for the run and
# stops (and wipes) it after, whatever the outcome.
test: asan
	@bash scripts/with-s3.sh ctest --test-dir build/asan -j$(JOBS) --output-on-failure

bench: release

clean:
	rm -rf build
