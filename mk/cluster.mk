# Cluster tests and the fabric benchmark: fabricd plus several QEMU VMs on
# this host (DESIGN.md section 8, layer 3; docs/fabric.md). Included by the
# top Makefile; BUILD, CC, PYTHON, Q, DEPS_STAMP, IMAGES, RESULTS and
# SUBMAKE come from there and mk/test.mk, FABRICD from mk/tools.mk.
#
#   make cluster-test  fabricd + 3 VMs running the in-kernel cluster tests
#                      (net/fabric_cluster.c) under injected faults;
#                      KTAP -> $(RESULTS)/cluster-fabric.tap, logs in
#                      $(RESULTS)/cluster-fabric/ (CLUSTER_TIMEOUT seconds)
#   make bench-fabric  guest-measured RPC latency (8 B, 4 KiB: median, p99)
#                      and 4 KiB throughput at queue depth 1 and 16, next to
#                      the host floor (eventfd ping-pong) measured in the
#                      same run; prints ratios, never pass/fail

CLUSTER_TIMEOUT ?= 170
EVENTFD_PINGPONG := $(BUILD)/bench/eventfd_pingpong

$(EVENTFD_PINGPONG): tests/bench/eventfd_pingpong.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  HOSTCC  $<")
	$(Q)$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -o $@ $<

.PHONY: cluster-test bench-fabric
cluster-test: $(DEPS_STAMP)
	+$(Q)$(SUBMAKE) $(IMAGES) $(FABRICD)
	@mkdir -p $(RESULTS)
	$(Q)$(PYTHON) tests/cluster/fabric_test.py --build-dir $(BUILD) \
		--timeout $(CLUSTER_TIMEOUT)

bench-fabric: $(DEPS_STAMP)
	+$(Q)$(SUBMAKE) $(IMAGES) $(FABRICD) $(EVENTFD_PINGPONG)
	$(Q)$(PYTHON) scripts/bench_fabric.py --build-dir $(BUILD) \
		--pingpong $(EVENTFD_PINGPONG)
