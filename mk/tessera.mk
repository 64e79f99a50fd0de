# The `tessera` command (tools/tessera/, docs/cli.md): a host program in C11
# against libc, libyaml (manifests) and libjansson (fabricd's stats JSON).
# Included by the top Makefile after mk/tools.mk; BUILD, CC, Q, DEPS_STAMP,
# TOOLS_DIR, TOOL_CFLAGS and the $(TOOLS_DIR)/obj/%.o rule come from there.
#
#   make tessera   $(TESSERA) (also built by `make`)
#
# The binary must stay at $(BUILD)/tools/tessera: it finds the build
# directory (kernel images, fabricd) and the source tree (for `make` of
# stale images) from its own path (tools/tessera/build.c). The cli-test
# layer (tests/cli/test_cli.py) is wired in mk/test.mk.

TESSERA      := $(TOOLS_DIR)/tessera
TESSERA_SRCS := $(wildcard tools/tessera/*.c)
TESSERA_LIBS := -lyaml -ljansson -lm

$(TESSERA): $(patsubst %.c,$(TOOLS_DIR)/obj/%.o,$(TESSERA_SRCS))
	@$(if $(Q),echo "  HOSTLD  $@")
	$(Q)$(CC) -o $@ $^ $(TESSERA_LIBS)

all: $(TESSERA)

.PHONY: tessera
tessera: $(TESSERA)
