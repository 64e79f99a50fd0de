# Host tools (tools/): the fabric daemon and its end-to-end test. Included
# by the top Makefile after mk/test.mk; BUILD, CC, PYTHON, Q and DEPS_STAMP
# come from there.
#
#   make fabricd       $(FABRICD): the fabric daemon (also built by `make`)
#   make fabric-test   builds fabricd with ASan/UBSan ($(FABRICD_SAN)) and
#                      tests/fabric/fabric_host_test.c, runs it through
#                      tests/fabric/run.py (fake guests speaking to fabricd
#                      exactly like QEMU), KTAP -> $(RESULTS)/fabric-host.tap
#
# fabricd is plain C11 against libc only. Its pure parts (check.c, exec.c,
# wire.c) are also linked into the unit tests and the fuzzer
# (mk/unittest.mk).

TOOLS_DIR      := $(BUILD)/tools
FABRICD        := $(TOOLS_DIR)/fabricd
FABRICD_SAN    := $(TOOLS_DIR)/fabricd-san
FABRIC_TEST    := $(TOOLS_DIR)/fabric-host-test
FABRICD_SRCS   := $(wildcard tools/fabricd/*.c)
FABRIC_T_SRCS  := tests/fabric/fabric_host_test.c tests/unit/unit.c \
		  tools/fabricd/check.c

TOOL_CFLAGS    := -std=c11 -O2 -g -Wall -Wextra -Werror \
		  -Iinclude -MMD -MP
TOOL_SAN       := -fsanitize=address,undefined -fno-sanitize-recover=all \
		  -fno-omit-frame-pointer
FABRIC_T_FLAGS := -std=gnu11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror \
		  -Iinclude -Itools -Itests/unit -MMD -MP $(TOOL_SAN)

$(TOOLS_DIR)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  HOSTCC  $<")
	$(Q)$(CC) $(TOOL_CFLAGS) -c $< -o $@

$(TOOLS_DIR)/san/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  HOSTCC  $< (sanitized)")
	$(Q)$(CC) $(TOOL_CFLAGS) $(TOOL_SAN) -O1 -c $< -o $@

$(TOOLS_DIR)/test/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  HOSTCC  $<")
	$(Q)$(CC) $(FABRIC_T_FLAGS) -c $< -o $@

$(FABRICD): $(patsubst %.c,$(TOOLS_DIR)/obj/%.o,$(FABRICD_SRCS))
	@$(if $(Q),echo "  HOSTLD  $@")
	$(Q)$(CC) -o $@ $^

$(FABRICD_SAN): $(patsubst %.c,$(TOOLS_DIR)/san/%.o,$(FABRICD_SRCS))
	@$(if $(Q),echo "  HOSTLD  $@")
	$(Q)$(CC) $(TOOL_SAN) -o $@ $^

$(FABRIC_TEST): $(patsubst %.c,$(TOOLS_DIR)/test/%.o,$(FABRIC_T_SRCS))
	@$(if $(Q),echo "  HOSTLD  $@")
	$(Q)$(CC) $(TOOL_SAN) -o $@ $^

# `make` builds fabricd along with the kernel images.
all: $(FABRICD)

.PHONY: fabricd fabric-test
fabricd: $(FABRICD)

fabric-test: $(DEPS_STAMP)
	+$(Q)$(MAKE) --no-print-directory $(FABRICD) $(FABRICD_SAN) $(FABRIC_TEST)
	@mkdir -p $(BUILD)/results
	$(Q)$(PYTHON) tests/fabric/run.py --test $(FABRIC_TEST) --fabricd $(FABRICD_SAN) \
		--out $(BUILD)/results/fabric-host.tap

-include $(shell find $(TOOLS_DIR) -name '*.d' 2>/dev/null)
