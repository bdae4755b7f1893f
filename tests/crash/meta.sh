#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash tier: the plexus meta-plugin with three attachments (the exec'd reference bridge, the
# built-in macvlan and vxlan) killed at every kill point of ADD, then the runtime's DEL; then
# each file plexus wrote (intent log, leases, records) cut to every length, then DEL and GC.
source "$(dirname "$0")/../lib.sh"
need_root
source "$(dirname "$0")/driver.bash"
source "$(dirname "$0")/meta-env.bash"
crash_warmup meta
crash_kill_points meta
crash_power_loss meta
