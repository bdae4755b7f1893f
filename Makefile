# SPDX-License-Identifier: Apache-2.0
# plexus: one non-recursive Makefile. Outputs only under $(B)/ (build/, or build/san with SANITIZE=1).

PREFIX      ?= /usr/local
CNI_BIN_DIR ?= /opt/cni/bin
DESTDIR     ?=
CC          ?= cc
FUZZ_CC     ?= clang
comma := ,
PKG_CONFIG  ?= pkg-config

ifeq ($(SANITIZE),1)
B ?= build/san
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
B ?= build
SAN_FLAGS :=
endif

PKGS      := libnl-3.0 libnl-route-3.0 libcjson yaml-0.1 libcurl libprotobuf-c libnghttp2
TEST_PKGS := cmocka libcurl
VERSION   := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)

WARN := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wold-style-definition -Wno-missing-field-initializers
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -D_GNU_SOURCE $(WARN) -MMD -MP -I. -I$(B)/gen $(SAN_FLAGS) \
	-DPLEXUS_VERSION='"$(VERSION)"' $(shell $(PKG_CONFIG) --cflags $(PKGS))
LDFLAGS += $(SAN_FLAGS)
# Debug info names the checkout as '.', so the GNU build ID (a hash over it) and with it the
# binaries and `make image` do not depend on where the tree is checked out.
CFLAGS  += -ffile-prefix-map=$(CURDIR)=.
# libcurl is dlopen'ed by lib/kube/curl.c when the API is first needed (startup cost): its
# headers are used, its library is not linked. The other small libraries are linked
# statically: the binaries are copied onto hosts that may not have them, and a process that
# starts for every pod saves ~0.9 ms and ~600 KiB of RSS without five more shared objects to
# map and relocate (docs/benchmarks.md). cJSON (Debian ships no archive) and libc stay shared.
STATIC_PKGS := libnl-3.0 libnl-route-3.0 yaml-0.1 libprotobuf-c libnghttp2
LDLIBS  := -Wl,-Bstatic $(shell $(PKG_CONFIG) --libs-only-l $(STATIC_PKGS)) -Wl,-Bdynamic \
	$(shell $(PKG_CONFIG) --libs libcjson) -lpthread -lm
TEST_LDLIBS := $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)

# Plain 'make' builds every binary (the plugin rules below would otherwise be the default).
.DEFAULT_GOAL := all

ifneq ($(V),1)
Q := @
quiet = @printf '  %-6s %s\n' $(1) $(2);
else
Q :=
quiet =
endif

# ---- generated protobuf-c code: lib/grpc/proto/*.proto -> $(B)/gen/ (never committed) --------
PROTOC_C   ?= protoc-c
PROTO_SRCS := $(sort $(wildcard lib/grpc/proto/*.proto))
PROTO_C    := $(PROTO_SRCS:%.proto=$(B)/gen/%.pb-c.c)
PROTO_H    := $(PROTO_SRCS:%.proto=$(B)/gen/%.pb-c.h)
PROTO_OBJS := $(PROTO_SRCS:%.proto=$(B)/obj/gen/%.pb-c.o)
# Generated code is not ours to fix: same flags minus the prototype/style warnings.
GEN_CFLAGS  = $(filter-out -Wmissing-prototypes -Wshadow -Wold-style-definition,$(CFLAGS)) \
	-Wno-unused-parameter

# ---- the core library ---------------------------------------------------------------------
LIB_SRCS := $(sort $(wildcard lib/*/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/obj/%.o)
LIB      := $(B)/libplexus.a

# ---- plugins: one directory each, main.c is the standalone entry ----------------------------
# hostlocal, staticipam and whereabouts are IPAM plugins: every plugin binary links them to run in-process.
PLUGINS := macvlan ipvlan vxlan sriov hostlocal staticipam whereabouts
IPAM_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(filter-out %/main.c,$(sort $(wildcard hostlocal/*.c staticipam/*.c whereabouts/*.c))))
define plugin_rules
$(1)_SRCS := $$(filter-out $(1)/main.c,$$(sort $$(wildcard $(1)/*.c)))
$(1)_OBJS := $$($(1)_SRCS:%.c=$(B)/obj/%.o)
$(B)/bin/plexus-$(1): $(B)/obj/$(1)/main.o $$($(1)_OBJS) $$(IPAM_OBJS) $(LIB)
	$$(call quiet,LINK,$$@)mkdir -p $$(@D) && $$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach p,$(PLUGINS),$(eval $(call plugin_rules,$(p))))
PLUGIN_OBJS := $(foreach p,$(PLUGINS),$($(p)_OBJS))

# ---- delegates/: the dispatch layer the meta-plugin links (built-ins in-process, else exec) ---
DLG_SRCS := $(sort $(wildcard delegates/*.c))
DLG_OBJS := $(DLG_SRCS:%.c=$(B)/obj/%.o)

# ---- meta/: the meta-plugin (main.c is its entry) -----------------------------------------
META_SRCS := $(filter-out meta/main.c,$(sort $(wildcard meta/*.c)))
META_OBJS := $(META_SRCS:%.c=$(B)/obj/%.o)
BINS := $(PLUGINS:%=$(B)/bin/plexus-%) $(B)/bin/plexus

$(B)/bin/plexus: $(B)/obj/meta/main.o $(META_OBJS) $(DLG_OBJS) $(PLUGIN_OBJS) $(LIB)
	$(call quiet,LINK,$@)mkdir -p $(@D) && $(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- install/: plexus-install, the DaemonSet's node installer (docs/install.md) --------------
INSTALL_SRCS := $(sort $(wildcard install/*.c))
INSTALL_OBJS := $(INSTALL_SRCS:%.c=$(B)/obj/%.o)
BINS += $(B)/bin/plexus-install

$(B)/bin/plexus-install: $(INSTALL_OBJS) $(LIB)
	$(call quiet,LINK,$@)mkdir -p $(@D) && $(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- apid/: plexus-apid, the node's Kubernetes API relay for the meta-plugin (docs/kube.md) ---
BINS += $(B)/bin/plexus-apid
# The reconciler (apid/reclaim.c) links whereabouts' codec and node journal.
APID_WB_OBJS := $(patsubst %,$(B)/obj/whereabouts/%.o,pool range journal)
$(B)/bin/plexus-apid: $(B)/obj/apid/main.o $(B)/obj/apid/events.o $(B)/obj/apid/attach.o \
		$(B)/obj/apid/vxpeers.o $(B)/obj/apid/vxpeers_state.o $(B)/obj/apid/vxpeers_events.o \
		$(B)/obj/apid/hotplug.o \
		$(B)/obj/apid/reclaim.o $(B)/obj/apid/reclaim_lease.o $(APID_WB_OBJS) $(LIB)
	$(call quiet,LINK,$@)mkdir -p $(@D) && $(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- device-plugin/: plexus-device-plugin, the kubelet device plugin daemon (docs/device-plugin.md)
# VF discovery, pool selectors, link health and device-info files are the library both VF
# daemons link (DP_CORE, also plexus-dra); they alone link libpci (device names for logging).
# The device plugin's tests link DP_OBJS (rule below).
DP_CORE_SRCS := $(addprefix device-plugin/,config.c devices.c devinfo.c health.c pools.c)
DP_CORE := $(B)/libdpcore.a
DP_SRCS := $(filter-out device-plugin/main.c $(DP_CORE_SRCS),$(sort $(wildcard device-plugin/*.c)))
DP_OBJS := $(DP_SRCS:%.c=$(B)/obj/%.o) $(DP_CORE)
DP_LDLIBS := $(shell $(PKG_CONFIG) --libs libpci)
BINS += $(B)/bin/plexus-device-plugin
$(B)/obj/device-plugin/%.o: CFLAGS += $(shell $(PKG_CONFIG) --cflags libpci)

$(DP_CORE): $(DP_CORE_SRCS:%.c=$(B)/obj/%.o)
	$(call quiet,AR,$@)mkdir -p $(@D) && rm -f $@ && $(AR) rcs $@ $^

$(B)/bin/plexus-device-plugin: $(B)/obj/device-plugin/main.o $(DP_OBJS) $(LIB)
	$(call quiet,LINK,$@)mkdir -p $(@D) && $(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(DP_LDLIBS)

# ---- dra/: plexus-dra, the kubelet DRA driver for SR-IOV VFs (docs/dra.md) ------------------
DRA_SRCS := $(filter-out dra/main.c,$(sort $(wildcard dra/*.c)))
DRA_OBJS := $(DRA_SRCS:%.c=$(B)/obj/%.o)
BINS += $(B)/bin/plexus-dra

$(B)/bin/plexus-dra: $(B)/obj/dra/main.o $(DRA_OBJS) $(DP_CORE) $(LIB)
	$(call quiet,LINK,$@)mkdir -p $(@D) && $(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(DP_LDLIBS)

# ---- unit tests: tests/<dir>/test_<unit>.c -> $(B)/tests/<dir>/test_<unit> -------------------
TEST_SRCS := $(sort $(wildcard tests/*/test_*.c tests/*/*/test_*.c))
TEST_BINS := $(TEST_SRCS:%.c=$(B)/%)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/fuzz/%)

.PHONY: all test check check-netns crash chaos bench install uninstall clean format check-format fuzz demo
all: $(BINS)

$(B)/obj/%.o: %.c | $(PROTO_H)
	$(call quiet,CC,$@)mkdir -p $(@D) && $(CC) $(CFLAGS) -c -o $@ $<

# Both outputs come from one protoc-c run (a grouped pattern rule).
$(B)/gen/%.pb-c.c $(B)/gen/%.pb-c.h: %.proto
	$(call quiet,PROTOC,$<)mkdir -p $(B)/gen && $(PROTOC_C) --c_out=$(B)/gen -I. $<

.SECONDARY: $(PROTO_C) $(PROTO_H)
$(B)/obj/gen/%.pb-c.o: $(B)/gen/%.pb-c.c $(PROTO_H)
	$(call quiet,CC,$@)mkdir -p $(@D) && $(CC) $(GEN_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS) $(PROTO_OBJS)
	$(call quiet,AR,$@)mkdir -p $(@D) && rm -f $@ && $(AR) rcs $@ $^

$(B)/tests/%: tests/%.c $(META_OBJS) $(DLG_OBJS) $(PLUGIN_OBJS) $(LIB) | $(PROTO_H)
	$(call quiet,LINK,$@)mkdir -p $(@D) && $(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(META_OBJS) $(DLG_OBJS) $(PLUGIN_OBJS) $(LIB) $(LDLIBS) $(TEST_LDLIBS)

# tests/device-plugin/ also link the daemon's objects (a more specific pattern wins).
$(B)/tests/device-plugin/%: tests/device-plugin/%.c $(DP_OBJS) $(LIB) | $(PROTO_H)
	$(call quiet,LINK,$@)mkdir -p $(@D) && $(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(DP_OBJS) $(LIB) $(LDLIBS) $(DP_LDLIBS) $(TEST_LDLIBS)

# tests/dra/ link the DRA driver's objects and the shared VF library.
$(B)/tests/dra/%: tests/dra/%.c $(DRA_OBJS) $(DP_CORE) $(LIB) | $(PROTO_H)
	$(call quiet,LINK,$@)mkdir -p $(@D) && $(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(DRA_OBJS) $(DP_CORE) $(LIB) $(LDLIBS) $(DP_LDLIBS) $(TEST_LDLIBS)

# tests/apid/ link the relay daemon's attachment metrics and the VXLAN peers' pure half.
$(B)/tests/apid/%: tests/apid/%.c $(B)/obj/apid/attach.o $(B)/obj/apid/vxpeers_state.o $(LIB) \
		| $(PROTO_H)
	$(call quiet,LINK,$@)mkdir -p $(@D) && $(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(B)/obj/apid/attach.o $(B)/obj/apid/vxpeers_state.o $(LIB) $(LDLIBS) $(TEST_LDLIBS)

# Unit tier only: no privileges needed.
check: $(TEST_BINS)
	$(Q)PLEXUS_BUILD=$(B) tests/run.sh unit

# Netns tier: real links in real network namespaces (root).
check-netns: $(BINS) $(TEST_BINS)
	$(Q)PLEXUS_BUILD=$(B) tests/run.sh netns

# Crash tier: ADD killed at every kill point, then DEL; power loss; randomized (CRASH_SECONDS).
crash: $(BINS)
	$(Q)PLEXUS_BUILD=$(B) tests/run.sh crash

# The long randomized crash run: CHAOS_CYCLES (default 1000) cycles of the meta-plugin.
chaos: $(BINS)
	$(Q)PLEXUS_BUILD=$(B) CHAOS_CYCLES=$${CHAOS_CYCLES:-1000} bash tests/crash/random.sh

# Everything: the README's test command runs this.
test: $(BINS) $(TEST_BINS)
	$(Q)PLEXUS_BUILD=$(B) tests/run.sh all

# macvlan vs the reference, vxlan first/next pod, the meta-plugin, the device plugin and the
# DRA driver at 1,024 VFs, ADD+DEL with the attachment-report sink up vs down, whereabouts (3
# nodes x 20 pods, and the real whereabouts where present), hot-plug latency, then ipvlan vs the
# reference inside the VM.
bench: $(BINS)
	$(Q)PLEXUS_BUILD=$(B) bench/run.sh && PLEXUS_BUILD=$(B) bench/vxlan.sh && \
		PLEXUS_BUILD=$(B) bench/meta.sh && PLEXUS_BUILD=$(B) bench/device-plugin.sh && \
		PLEXUS_BUILD=$(B) bench/dra.sh && \
		PLEXUS_BUILD=$(B) bench/metrics.sh && PLEXUS_BUILD=$(B) bench/whereabouts.sh && \
		PLEXUS_BUILD=$(B) bench/hotplug.sh && \
		PLEXUS_BUILD=$(B) bench/vm.sh

demo: $(BINS)
	$(Q)PLEXUS_BUILD=$(B) scripts/demo-meta.sh

# The container image the manifests in crds/ run, as an OCI archive (docs/install.md). Its last
# output line is the image name.
IMAGE ?= localhost/plexus:$(VERSION)
.PHONY: image
image: $(BINS)
	$(Q)install/image.sh $(B)/bin $(B)/image.tar '$(IMAGE)' '$(VERSION)'

# libFuzzer harnesses: clang compiles the library sources they need once, instrumented
# (fuzzer-no-link), and links each harness against those objects.
FUZZ_FLAGS := -std=gnu11 -D_GNU_SOURCE -g -O1 -I. -I$(B)/gen -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined \
	-DPLEXUS_VERSION='"$(VERSION)"' \
	$(shell $(PKG_CONFIG) --cflags $(PKGS))
FUZZ_OBJ_FLAGS := $(subst -fsanitize=fuzzer$(comma),-fsanitize=fuzzer-no-link$(comma),$(FUZZ_FLAGS)) \
	-MMD -MP $(shell $(PKG_CONFIG) --cflags libpci)
FUZZ_DEPS := $(LIB_SRCS) $(PROTO_C) $(PLUGIN_OBJS:$(B)/obj/%.o=%.c) $(DLG_SRCS) $(META_SRCS)
fuzz_objs = $(patsubst %.c,$(B)/fuzz/obj/%.o,$(1))
$(B)/fuzz/obj/%.o: %.c | $(PROTO_H)
	$(call quiet,CC,$@)mkdir -p $(@D) && $(FUZZ_CC) $(FUZZ_OBJ_FLAGS) -c -o $@ $<
# The VXLAN peers agent's annotation parser lives in apid/; the DRA driver's parsers also need
# its sources and the shared VF library (libpci).
FUZZ_VXP_BINS := $(filter $(B)/fuzz/fuzz_vxpeers,$(FUZZ_BINS))
FUZZ_DRA_BINS := $(filter $(B)/fuzz/fuzz_dra_%,$(FUZZ_BINS))
FUZZ_LIB_BINS := $(filter-out $(FUZZ_VXP_BINS) $(FUZZ_DRA_BINS),$(FUZZ_BINS))
$(FUZZ_LIB_BINS): $(B)/fuzz/%: tests/fuzz/%.c $(call fuzz_objs,$(FUZZ_DEPS))
	$(call quiet,FUZZ,$@)mkdir -p $(@D) && $(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS)
$(FUZZ_VXP_BINS): $(B)/fuzz/%: tests/fuzz/%.c $(call fuzz_objs,apid/vxpeers_state.c $(FUZZ_DEPS))
	$(call quiet,FUZZ,$@)mkdir -p $(@D) && $(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS)
$(FUZZ_DRA_BINS): $(B)/fuzz/%: tests/fuzz/%.c \
		$(call fuzz_objs,$(FUZZ_DEPS) $(DRA_SRCS) $(DP_CORE_SRCS))
	$(call quiet,FUZZ,$@)mkdir -p $(@D) && $(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS) $(DP_LDLIBS)
fuzz: $(FUZZ_BINS)
	$(Q)PLEXUS_BUILD=$(B) tests/run.sh fuzz

install: $(BINS)
	install -d $(DESTDIR)$(CNI_BIN_DIR)
	install -m 0755 $(BINS) $(DESTDIR)$(CNI_BIN_DIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(CNI_BIN_DIR)/,$(notdir $(BINS)))

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)
check-format:
	clang-format --dry-run -Werror $(FORMAT_SRCS)

clean:
	rm -rf build

-include $(shell find $(B)/obj $(B)/tests $(B)/fuzz/obj -name '*.d' 2>/dev/null)
