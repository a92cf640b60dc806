# hybridsearch: PGXS build.
#
#   make [PG_CONFIG=...] && make install && make installcheck
#
# USE_CUDA selects whether the CUDA module (cuda/, loaded only by the GPU
# worker) is built; it defaults to on when nvcc is found.  The main library
# never links CUDA, so it loads on machines without it.

EXTENSION = hybridsearch
MODULE_big = hybridsearch
DATA = $(wildcard sql/hybridsearch--*.sql)

SRCS = $(wildcard src/*.c src/*/*.c)
OBJS = $(SRCS:.c=.o)

REGRESS = $(patsubst sql/%.sql,%,$(filter-out sql/hybridsearch--%,$(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

PG_CONFIG ?= pg_config
PG_CPPFLAGS += -I$(srcdir)/src -I$(srcdir)/cuda -isystem $(shell $(PG_CONFIG) --includedir-server)
PG_CFLAGS += -Wall -Wextra \
	-ftree-vectorize -fno-math-errno -MMD -MP
SHLIB_LINK += -lm

NVCC ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
USE_CUDA ?= $(if $(NVCC),1,0)

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Header dependencies, written by -MMD: a changed header rebuilds its users.
-include $(OBJS:.o=.d)

# The CUDA module: its own shared object, which only the GPU worker loads.
ifeq ($(USE_CUDA),1)
CUDA_MODULE = cuda/libhybridsearch_cuda.so

all: $(CUDA_MODULE)

# Every source and header of it, so that any change rebuilds it (cuda/Makefile
# knows which objects each one touches).
CUDA_SOURCES = $(wildcard cuda/*.cu cuda/*.h cuda/*/*.cu cuda/*/*.cuh cuda/*/*.h)

$(CUDA_MODULE): $(CUDA_SOURCES) cuda/Makefile
	$(MAKE) -C cuda libhybridsearch_cuda.so NVCC=$(NVCC)

install: install-cuda
.PHONY: install-cuda
install-cuda: $(CUDA_MODULE)
	$(INSTALL_SHLIB) $(CUDA_MODULE) '$(DESTDIR)$(pkglibdir)/'

clean: clean-cuda
.PHONY: clean-cuda
clean-cuda:
	$(MAKE) -C cuda clean
endif

# Whatever USE_CUDA says now: a build with CUDA may have installed it.
uninstall: uninstall-cuda
.PHONY: uninstall-cuda
uninstall-cuda:
	rm -f '$(DESTDIR)$(pkglibdir)/libhybridsearch_cuda.so'

# The optional alias extension "vector" (sql/vector-alias): never part of
# `make install`, since its control file would replace pgvector's.
.PHONY: install-vector-alias uninstall-vector-alias
install-vector-alias:
	$(MAKE) -C sql/vector-alias install PG_CONFIG='$(PG_CONFIG)'
uninstall-vector-alias:
	$(MAKE) -C sql/vector-alias uninstall PG_CONFIG='$(PG_CONFIG)'

# Stand-alone programs over the same distance code the server runs.
test/bench_distance: test/bench_distance.c src/type/distance.c src/type/distance.h
	$(CC) -O2 -ftree-vectorize -fno-math-errno -Wall -Wextra -Isrc -o $@ \
		test/bench_distance.c src/type/distance.c -lm

.PHONY: bench-distance
bench-distance: test/bench_distance
	./test/bench_distance

# libFuzzer targets (test/fuzz/fuzz_*.c) over the parsers in
# src/type/vector_parse.c and src/type/sparsevec_parse.c, with AddressSanitizer and UndefinedBehaviorSanitizer;
# vector_out's float formatting comes from PostgreSQL's libpgcommon (and
# libpgport), as in the server.  test/fuzz/run-fuzz runs them.
FUZZ_CC ?= clang
FUZZ_CFLAGS = -g -O1 -Wall -Wextra -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SRCS = $(filter-out test/fuzz/fuzz_common.c,$(wildcard test/fuzz/fuzz_*.c))
FUZZ_TARGETS = $(FUZZ_SRCS:test/fuzz/fuzz_%.c=test/fuzz/%_fuzzer)
EXTRA_CLEAN += $(FUZZ_TARGETS)

FUZZ_PARSERS = src/type/vector_parse.c src/type/sparsevec_parse.c

test/fuzz/%_fuzzer: test/fuzz/fuzz_%.c test/fuzz/fuzz_common.c \
		test/fuzz/fuzz_common.h $(FUZZ_PARSERS) $(FUZZ_PARSERS:.c=.h)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc -isystem $(includedir_server) -o $@ \
		$< test/fuzz/fuzz_common.c $(FUZZ_PARSERS) \
		$(pkglibdir)/libpgcommon_shlib.a $(pkglibdir)/libpgport_shlib.a -lm

.PHONY: fuzz
fuzz: $(FUZZ_TARGETS)

# TAP tests (PostgreSQL::Test::Cluster) against the installed extension.
PROVE_TESTS = test/t/*.pl
.PHONY: prove-installcheck
prove-installcheck:
	$(prove_installcheck)
