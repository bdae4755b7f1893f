#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job: install dependencies, build, and run the demo (scripts/demo-run.sh).
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
make -s -j"$(nproc 2>/dev/null || echo 2)" all
exec ./scripts/demo-run.sh
