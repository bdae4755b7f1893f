#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job: install dependencies, build, and run the demo (scripts/demo-meta.sh): two pods
# on two simulated nodes get a cluster network plus macvlan and vxlan attachments through the
# plexus meta-plugin, against a local Kubernetes API server, and talk over all of them.
# scripts/demo-run.sh (plexus-macvlan alone) and scripts/demo-vxlan.sh (the overlay alone) are
# smaller demos of single plugins.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
make -s -j"$(nproc 2>/dev/null || echo 2)" all
exec ./scripts/demo-meta.sh
