#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job: install dependencies, build, and run the demos: two pods on one node attached
# by plexus-macvlan (scripts/demo-run.sh), then two pods on two nodes over plexus-vxlan
# (scripts/demo-vxlan.sh).
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
make -s -j"$(nproc 2>/dev/null || echo 2)" all
./scripts/demo-run.sh
exec ./scripts/demo-vxlan.sh
