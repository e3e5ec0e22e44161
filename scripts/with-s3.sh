#!/usr/bin/env bash
# Runs a command with the Ceph RGW test server up (../shared/s3/README.md, "In CI"):
# starts it (installing Ceph the first time, about 30 s), makes a fresh bucket, exports
# FATHOM_S3_ENDPOINT / AWS_* / FATHOM_S3_BUCKET and FATHOM_REQUIRE_S3=1 (so S3 tests fail
# rather than skip), runs the command, and stops the server with --wipe however the
# command ends. Exits with the command's status.
#   scripts/with-s3.sh ctest --test-dir build/asan --output-on-failure
# CEPH_DIR / RGW_PORT / CEPH_MON_PORT from the environment pick another server instance.
set -euo pipefail

S3=shared/s3; [[ -d "$S3" ]] || S3=../shared/s3   # wherever shared/ sits
if [[ ! -x "$S3/start-ceph-rgw.sh" ]]; then
  echo "with-s3: no Ceph RGW scripts at shared/s3 or ../shared/s3" >&2
  exit 1
fi
trap '"$S3"/stop-ceph-rgw.sh --wipe' EXIT             # stops it even if the command fails
s3env="$("$S3"/start-ceph-rgw.sh)"; eval "$s3env"    # assigned first: a failed start is not lost
bucket="$("$S3"/start-ceph-rgw.sh create-bucket)"; eval "$bucket"
export FATHOM_REQUIRE_S3=1
"$@"
