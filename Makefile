# driver-flavour: build, install, test, demo.
#   make build                              release binaries (static Swift stdlib, RELR)
#   make install DESTDIR=/tmp/root PREFIX=/usr
#   make deb                                the Debian packages, checked by lintian (scripts/package)
#   make test                               the whole suite (scripts/test)
#   make vm-test                            only the real-kernel suite in a QEMU guest
#   make demo                               boots a guest and walks through the tool
# SCRATCH selects swift's build dir (scripts/package builds in its copy of the tree, .build/deb/work).

SWIFT      ?= swift
SCRATCH    ?= .build
# Packed relative relocations (RELR, lld): flavourd's 0.6 MiB of .rela.dyn becomes a few
# KiB, which the loader no longer pages in at start. Needs glibc >= 2.36 where it runs, so
# only where the build machine has it (a binary built here runs on this glibc or newer).
GLIBC_MINOR := $(shell getconf GNU_LIBC_VERSION 2>/dev/null | sed -n 's/^glibc 2\.\([0-9]*\).*/\1/p')
RELR       := $(shell [ "$(GLIBC_MINOR)" -ge 36 ] 2>/dev/null && echo -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs)
# With lld, also: the functions flavourd runs placed together at the start of .text
# (scripts/flavourd.order, written by scripts/link-order; each Swift function in a section of
# its own so lld can move it), which keeps 0.7-1.2 MiB less of the binary resident in the guest; and no
# dynamic symbol table of flavourd's own (SwiftPM links executables with -export-dynamic; nothing
# looks flavourd's symbols up, and the loader's lookups paged in 0.3 MiB of it).
LINKFLAGS  := $(if $(RELR),-Xswiftc -Xfrontend -Xswiftc -function-sections \
	-Xlinker --symbol-ordering-file=$(CURDIR)/scripts/flavourd.order -Xlinker --no-warn-symbol-ordering \
	-Xlinker --no-export-dynamic)
SWIFTFLAGS ?= -c release --static-swift-stdlib $(RELR) $(LINKFLAGS)
DESTDIR    ?=
PREFIX     ?= /usr
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
# Debian's systemd 252 and udev read both /lib and /usr/lib; /usr/lib is the merged-/usr path.
UNITDIR    ?= $(PREFIX)/lib/systemd/system
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d
SYSCONFDIR ?= /etc

UNITS := $(wildcard systemd/*.service systemd/*.socket systemd/*.path)
RULES := $(wildcard udev-rules/*.rules)
# Manual pages: written in docs/NAME.SECTION.md, made roff by scripts/md2man (go-md2man).
MANS  := $(patsubst docs/%.md,$(SCRATCH)/man/%,$(wildcard docs/*.1.md docs/*.5.md docs/*.8.md))

.PHONY: all build man print-swiftflags install deb test vm-test demo vm-clean

all: build

build:
# SwiftPM does not relink when only the order file changed: remove binaries older than it.
	@bin=$$($(SWIFT) build $(SWIFTFLAGS) --scratch-path $(SCRATCH) --show-bin-path) && \
	for binary in "$$bin/flavourd" "$$bin/flavourctl"; do \
		[ ! -e "$$binary" ] || [ "$$binary" -nt scripts/flavourd.order ] || rm -f "$$binary"; done
	$(SWIFT) build $(SWIFTFLAGS) --scratch-path $(SCRATCH) --product flavourd
	$(SWIFT) build $(SWIFTFLAGS) --scratch-path $(SCRATCH) --product flavourctl

man: $(MANS)

# The release build's flags, for scripts that build as `make build` does (scripts/link-order).
print-swiftflags:
	@echo $(SWIFTFLAGS)

$(SCRATCH)/man/%: docs/%.md scripts/md2man
	scripts/md2man $< $@

install: build man
	bin=$$($(SWIFT) build $(SWIFTFLAGS) --scratch-path $(SCRATCH) --show-bin-path) && \
	install -D -m 755 "$$bin/flavourd" "$(DESTDIR)$(SBINDIR)/flavourd" && \
	install -D -m 755 "$$bin/flavourctl" "$(DESTDIR)$(BINDIR)/flavourctl"
	install -d -m 755 "$(DESTDIR)$(SYSCONFDIR)/driver-flavour.d"
# The commented example, unless there is one already (an admin may have edited it).
	[ -e "$(DESTDIR)$(SYSCONFDIR)/driver-flavour.d/00-example.conf" ] || \
		install -m 644 config/00-example.conf "$(DESTDIR)$(SYSCONFDIR)/driver-flavour.d/00-example.conf"
	$(if $(UNITS),install -D -m 644 -t "$(DESTDIR)$(UNITDIR)" $(UNITS))
	$(if $(RULES),install -D -m 644 -t "$(DESTDIR)$(UDEVRULESDIR)" $(RULES))
	$(foreach m,$(MANS),install -D -m 644 $(m) "$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))";)

deb:
	scripts/package

test:
	scripts/test

vm-test:
	scripts/vm/test

demo:
	scripts/demo

vm-clean:
	rm -rf .build/vm
