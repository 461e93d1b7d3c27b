/* Snapshots of a session: save, load, --restore, --snapshot-at and --snapshot-at-symbol. */
#include "snapshot.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu/debug.h"
#include "emu/log.h"
#include "emu/vm_snap.h"
#include "session.h"
#include "virtio/console_snap.h"

#define LINE_MAX_BYTES 4096

struct snap_state {
	/* --restore */
	struct snap_file file;
	bool file_open;
	struct vm_snap_config cfg;

	/* --snapshot-at */
	regex_t re;
	bool re_compiled, re_armed;
	char line[LINE_MAX_BYTES + 1];
	size_t line_len;

	/* --snapshot-at-symbol */
	uint64_t sym_addr;
	bool sym_armed, listening;
};

static struct snap_state *state(struct session *s)
{
	if (!s->snap)
		s->snap = calloc(1, sizeof(struct snap_state));
	return s->snap;
}

static uint64_t ms_since(uint64_t t0)
{
	return (now_ns() - t0) / 1000000;
}

int snapshot_save(struct session *s, const char *path, struct snapshot_result *res, char *msg,
		  size_t n)
{
	struct snap_writer w;
	struct vm_snap_stats st;
	uint64_t t0 = now_ns();
	int r;

	memset(res, 0, sizeof(*res));
	if (!s->vm.vcpus[0].run)
		return snprintf(msg, n, "the machine has not started yet"), -EAGAIN;
	r = snap_write_begin(&w, path);
	if (r)
		return snprintf(msg, n, "cannot create %s: %s", path, strerror(-r)), r;
	/* Every vCPU parked with its I/O completed: the state is one instant. */
	vm_pause(&s->vm);
	r = vm_snap_save(&s->vm, &w, &st, msg, n);
	if (!r)
		console_snap_save(&s->console, &w, 0);
	vm_resume(&s->vm);
	res->file_bytes = w.bytes + SNAP_SECTION_HEADER_SIZE;
	if (!r) {
		r = snap_write_finish(&w);
		if (r)
			snprintf(msg, n, "cannot write %s: %s", path, strerror(-r));
	} else {
		snap_write_abort(&w);
	}
	res->ram_bytes = st.ram_bytes;
	res->ram_total = st.ram_total;
	res->ncpus = s->vm.ncpus;
	res->ms = ms_since(t0);
	return r;
}

/* Every check before anything changes: a bad file leaves the machine as it was. */
static int check_file(struct session *s, const struct snap_file *f, char *msg, size_t n)
{
	int r = vm_snap_check(&s->vm, f, msg, n);

	return r ? r : console_snap_check(&s->console, f, 0, msg, n);
}

static void fill_result(const struct snap_file *f, struct snapshot_result *res, int ncpus)
{
	const struct snap_section *ram = snap_find(f, SNAP_RAM, 0);
	uint64_t off = 0;

	res->file_bytes = f->size;
	res->ncpus = ncpus;
	while (ram && off + 16 <= ram->length) {
		uint64_t h[2];

		memcpy(h, ram->data + off, sizeof(h));
		res->ram_bytes += h[1];
		off += 16 + h[1];
	}
}

int snapshot_load(struct session *s, const char *path, struct snapshot_result *res, char *msg,
		  size_t n)
{
	struct snap_file *f = malloc(sizeof(*f));
	uint64_t t0 = now_ns();
	int r;

	memset(res, 0, sizeof(*res));
	if (!f)
		return snprintf(msg, n, "out of memory"), -ENOMEM;
	r = snap_open(f, path, msg, n);
	if (r) {
		free(f);
		return r;
	}
	r = check_file(s, f, msg, n);
	if (!r) {
		vm_pause(&s->vm);
		r = vm_snap_restore(&s->vm, f, msg, n);
		if (!r && console_snap_restore(&s->console, f, 0))
			r = -ENOMEM, snprintf(msg, n, "out of memory restoring the console");
		vm_resume(&s->vm);
	}
	fill_result(f, res, s->vm.ncpus);
	res->ram_total = s->vm.mem.size;
	res->ms = ms_since(t0);
	snap_close(f);
	free(f);
	return r;
}

/* --- --restore ------------------------------------------------------------------- */

/*
 * The kernel names symbols and is what --reboot boots again: it must be the one the
 * snapshot was saved with. --kernel FILE (the kernel moved) or the recorded path, checked
 * against the recorded id; a missing kernel only costs the symbols.
 */
static int pick_kernel(struct snap_state *st, struct vm_config *cfg, char *err, size_t errlen)
{
	const char *saved = st->cfg.kernel, *saved_id = st->cfg.kernel_id;
	char id[KERNEL_ID_MAX], why[256];

	if (cfg->kernel) {
		if (kernel_id(cfg->kernel, id, sizeof(id), why, sizeof(why)))
			return snprintf(err, errlen, "--kernel: %s", why), -ENOENT;
		if (saved_id[0] && strcmp(id, saved_id))
			return snprintf(err, errlen, "--kernel %s is not the snapshot's kernel: it has "
					"%s, the snapshot was saved with %s (%s)", cfg->kernel, id,
					saved_id, saved[0] ? saved : "?"), -EINVAL;
		return 0;
	}
	if (!saved[0])
		return 0;
	if (kernel_id(saved, id, sizeof(id), why, sizeof(why))) {
		log_info("the snapshot's kernel %s is not readable: no symbols (--kernel FILE names "
			 "it)", saved);
		return 0;
	}
	if (saved_id[0] && strcmp(id, saved_id))
		return snprintf(err, errlen, "the snapshot's kernel %s has changed: it has %s, the "
				"snapshot was saved with %s (--kernel FILE names that kernel)", saved,
				id, saved_id), -EINVAL;
	cfg->kernel = saved;
	return 0;
}

int snapshot_restore_config(struct session *s, struct vm_config *cfg, char *err, size_t errlen)
{
	struct snap_state *st = state(s);
	int r;

	if (!st)
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	r = snap_open(&st->file, s->opts.restore, err, errlen);
	if (r)
		return r;
	st->file_open = true;
	r = vm_snap_read_config(&st->file, &st->cfg, err, errlen);
	if (r)
		return r;
	cfg->mem_size = st->cfg.mem_size;
	cfg->ncpus = (int)st->cfg.ncpus;
	cfg->pvm_workarounds = st->cfg.pvm_workarounds;
	/* Not loaded (RAM comes from the file): named again in new snapshots, loaded by --reboot. */
	cfg->initrd = st->cfg.initrd[0] ? st->cfg.initrd : NULL;
	cfg->append = NULL;
	cfg->cpuid_filter = NULL;
	return pick_kernel(st, cfg, err, errlen);
}

int snapshot_restore_machine(struct session *s, char *err, size_t errlen)
{
	struct snap_state *st = s->snap;
	uint64_t t0 = now_ns();
	int r = console_snap_check(&s->console, &st->file, 0, err, errlen);

	if (!r)
		r = vm_restore_load(&s->vm, &st->file, err, errlen);
	if (!r && console_snap_restore(&s->console, &st->file, 0))
		r = -ENOMEM, snprintf(err, errlen, "out of memory restoring the console");
	if (!r)
		log_info("restored %s (%u vCPUs, %llu MiB, saved by vmdbg %s) in %llu ms",
			 s->opts.restore, st->cfg.ncpus,
			 (unsigned long long)(st->cfg.mem_size >> 20),
			 st->cfg.version[0] ? st->cfg.version : "?", (unsigned long long)ms_since(t0));
	snap_close(&st->file);
	st->file_open = false;
	return r;
}

/* --- --snapshot-at / --snapshot-at-symbol ------------------------------------------ */

static void save_at(struct session *s, const char *why)
{
	struct snapshot_result res;
	char msg[512];

	if (snapshot_save(s, s->opts.snapshot_file, &res, msg, sizeof(msg))) {
		session_print(s, "vmdbg: --snapshot-at: %s", msg);
		return;
	}
	session_print(s, "vmdbg: snapshot saved to %s at %s (%llu MiB of RAM, %llu ms)",
		      s->opts.snapshot_file, why, (unsigned long long)(res.ram_bytes >> 20),
		      (unsigned long long)res.ms);
	if (s->opts.snapshot_exit)
		vm_end(&s->vm, VM_END_USER, "snapshot saved to %s (--snapshot-exit)",
		       s->opts.snapshot_file);
}

void snapshot_console_output(struct session *s, const uint8_t *buf, size_t len)
{
	struct snap_state *st = s->snap;

	if (!st || !st->re_armed)
		return;
	/* Matched against whole lines (CR dropped), so an anchored pattern means what it says. */
	for (size_t i = 0; i < len && st->re_armed; i++) {
		bool eol = buf[i] == '\n' || st->line_len == LINE_MAX_BYTES;

		if (buf[i] != '\n' && buf[i] != '\r' && buf[i] && st->line_len < LINE_MAX_BYTES)
			st->line[st->line_len++] = (char)buf[i];
		if (!eol)
			continue;
		st->line[st->line_len] = 0;
		st->line_len = 0;
		if (regexec(&st->re, st->line, 0, NULL, 0) == 0) {
			st->re_armed = false;
			save_at(s, "the console's match");
		}
	}
}

static void on_debug_stop(void *opaque)
{
	struct session *s = opaque;
	struct snap_state *st = s->snap;
	struct debug_event ev;
	char sym[160], why[200];

	if (!st->sym_armed || !debug_take_event_at(&s->vm, st->sym_addr, &ev))
		return;
	st->sym_armed = false;
	symtab_format(&s->vm.syms, ev.pc, sym, sizeof(sym));
	snprintf(why, sizeof(why), "vCPU %d reaching %s", ev.cpu, sym);
	save_at(s, why);
	debug_hw_remove(&s->vm, DEBUG_HW_EXEC, st->sym_addr, 1, DEBUG_OWNER_REPL);
	debug_resume(&s->vm, NULL);
}

int snapshot_at_start(struct session *s, char *err, size_t errlen)
{
	const struct options *o = &s->opts;
	struct snap_state *st;
	int r;

	if (!o->snapshot_at && !o->snapshot_at_symbol)
		return 0;
	st = state(s);
	if (!st)
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	if (o->snapshot_at) {
		if (regcomp(&st->re, o->snapshot_at, REG_EXTENDED | REG_NOSUB))
			return snprintf(err, errlen, "--snapshot-at: bad regular expression"), -EINVAL;
		st->re_compiled = st->re_armed = true;
	}
	if (o->snapshot_at_symbol) {
		if (symtab_lookup_name(&s->vm.syms, o->snapshot_at_symbol, &st->sym_addr))
			return snprintf(err, errlen, "--snapshot-at-symbol: no symbol '%s' in the kernel's "
					"symbols", o->snapshot_at_symbol), -ENOENT;
		r = debug_init(&s->vm);
		if (!r)
			r = debug_attach_evloop(&s->vm, &s->loop);
		if (!r)
			r = debug_add_listener(&s->vm, on_debug_stop, s);
		st->listening = !r;
		if (!r)
			r = debug_hw_insert(&s->vm, DEBUG_HW_EXEC, st->sym_addr, 1, DEBUG_OWNER_REPL);
		if (r == -EOPNOTSUPP) {
			char why[384];

			debug_refusal(&s->vm, true, DEBUG_HW_EXEC, why, sizeof(why));
			return snprintf(err, errlen, "--snapshot-at-symbol %s: %s", o->snapshot_at_symbol,
					why), r;
		}
		if (r)
			return snprintf(err, errlen, "--snapshot-at-symbol %s: cannot set a hardware "
					"breakpoint: %s", o->snapshot_at_symbol, strerror(-r)), r;
		st->sym_armed = true;
	}
	return 0;
}

void snapshot_free(struct session *s)
{
	struct snap_state *st = s->snap;

	if (!st)
		return;
	if (st->file_open)
		snap_close(&st->file);
	if (st->re_compiled)
		regfree(&st->re);
	if (st->listening)
		debug_remove_listener(&s->vm, on_debug_stop, s);
	free(st);
	s->snap = NULL;
}
