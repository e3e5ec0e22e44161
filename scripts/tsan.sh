#!/usr/bin/env bash
# ThreadSanitizer run of the tests that exercise threads (docs/design/thread-safety.md).
# Builds fathom_tests (and, with TSAN_SERVER=1, fathom_server_tests and the fathom binary
# its HTTP tests start) in build/tsan at -O1, runs the suites in TSAN_FILTER one process at
# a time, and collects every report, the child processes' too, under build/tsan/reports.
# Exits 1 if any report was written. Not part of `make test`: it takes tens of minutes.
#   make tsan                                  # the default suites
#   TSAN_FILTER='ExecutorTest.*' make tsan     # a subset
#   TSAN_FILTER='*CollectionVectorIndexTest.*' make tsan   # 18 minutes, not in the default
# Third-party races we cannot fix are suppressed in tests/tsan.supp, each with its reason.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS="${JOBS:-2}"
BUILD=build/tsan
: "${TSAN_FILTER:=ConcurrencyTest.*:DatabaseSimulationTest.*:MultiNodeSimulationTest.*:MultiNodeTest.*:MultiNodeS3Test.*:SimulationTest.*:DocumentSimulationTest.*:SparseSimulationTest.*:TextSimulationTest.*:FilterSimulationTest.*:ExecutorTest.*:ThreadPoolTest.*:GroupCommitQueueTest.*:BlockCacheTest.*:CacheStoreTest.*:DatabaseTest.*:DurabilityTest.*:DurabilityDirectoryTest.*:ColdPartDurabilityTest.*:CompactionRetryTest.*:CollectionTest.*:DocumentFaultTest.*:EngineAfterFailedPutTest.*:MemoryBudgetTest.*:*ObjectStoreTest.*:FaultStoreTest.*:LocalStoreTest.*:LocalStoreFaultTest.*:LocalFullDiskTest.*:LocalCrashTest.*:DirectoryLockTest.*:S3StoreFakeTest.*:RandomReaderTest.*:VectorFileTest.*:RealClockTest.*:ManualClockTest.*:RecallMonitorTest.*:RecordTableDocumentsTest.*:RecordTableBuildTest.*:KmeansTest.*:CollectionIndexesTest.*:IvfIndexTest.*:IvfUpdateTest.*}"
: "${TSAN_SERVER_FILTER:=HttpServerTest.*:ApiErrorTest.*:DataDirectoryAccessTest.*:MultiNodeHttpTest.*:RestartHttpTest.*:CollectionsHttpTest.*:ProcessCrashTest.*:ApiRobustnessTest.*}"

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" -DFATHOM_TSAN=ON -DFATHOM_BENCH=OFF >/dev/null
targets=(fathom_tests)
[[ "${TSAN_SERVER:-0}" == 1 ]] && targets+=(fathom fathom_server_tests)
cmake --build "$BUILD" -j"$JOBS" --target "${targets[@]}"

reports="$PWD/$BUILD/reports"
rm -rf "$reports" && mkdir -p "$reports"
chmod 1777 "$reports"  # DataDirectoryAccessTest runs its server as user nobody: it reports here too
# halt_on_error=0: one run shows every race, not the first. log_path: each process (the
# fathom servers HTTP tests start included) writes its reports to its own file.
export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp halt_on_error=0 second_deadlock_stack=1 history_size=4 log_path=$reports/tsan"
status=0
"$BUILD/fathom_tests" --gtest_filter="$TSAN_FILTER" || status=$?
if [[ "${TSAN_SERVER:-0}" == 1 ]]; then
  FATHOM_BINARY="$PWD/$BUILD/fathom" "$BUILD/fathom_server_tests" --gtest_filter="$TSAN_SERVER_FILTER" || status=$?
fi

found=$(grep -l "WARNING: ThreadSanitizer" "$reports"/tsan.* 2>/dev/null | wc -l)
if (( found > 0 )); then
  echo "tsan: reports in $found process(es); the first frame of each:" >&2
  grep -h -A3 "WARNING: ThreadSanitizer" "$reports"/tsan.* | grep -E "^ +#0" | sort | uniq -c | sort -rn >&2
  echo "tsan: full reports in $reports" >&2
  exit 1
fi
echo "tsan: no reports"
exit "$status"
