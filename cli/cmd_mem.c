/* Memory and symbols: x, xp, translate, writemem, writepmem, sym, symbols load. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_priv.h"
#include "emu/debug.h"
#include "emu/disasm.h"
#include "emu/pagewalk.h"
#include "emu/srcline.h"
#include "session.h"

static int cpu_ctx(struct session *s, int cpu, struct pw_ctx *ctx)
{
	struct kvm_sregs sr;
	int r = vm_get_sregs(&s->vm, cpu, &sr);

	if (r)
		return r;
	*ctx = (struct pw_ctx){ sr.cr0, sr.cr3, sr.cr4, sr.efer };
	return 0;
}

int arg_addr(struct cmd_ctx *c, const char *s, uint64_t *addr)
{
	char name[256];
	const char *plus;
	uint64_t off = 0;

	if (parse_number(s, addr))
		return 0;
	if (s[0] == '$') {
		int r;

		if (!cmd_reg_known(s + 1))
			return cmd_error(c, "%s: unknown register '%s' (%s)", c->def->name, s, CMD_REG_LIST);
		/* A check knows the register's name, not its value. */
		if (c->check) {
			*addr = 0;
			return 0;
		}
		if (c->s->vm.ncpus <= c->cs->cur_cpu)
			return cmd_error(c, "%s: no vCPU to read %s from", c->def->name, s);
		cmd_pause_brief(c);
		r = cmd_read_reg(c->s, c->cs->cur_cpu, s + 1, addr);
		cmd_resume_brief(c);
		if (r)
			return cmd_error(c, "%s: unknown register '%s'", c->def->name, s);
		return 0;
	}
	plus = strchr(s, '+');
	if (plus && !parse_number(plus + 1, &off))
		return cmd_error(c, "%s: offset in '%s' is not a number", c->def->name, s);
	snprintf(name, sizeof(name), "%.*s", plus ? (int)(plus - s) : (int)strlen(s), s);
	if (!isalpha((unsigned char)name[0]) && name[0] != '_' && name[0] != '.')
		return cmd_error(c, "%s: '%s' is not an address, a symbol or $reg", c->def->name, s);
	/* A check without the kernel's symbols (--check-script alone) takes any name. */
	if (c->check && !c->s->vm.syms.nr) {
		*addr = off;
		return 0;
	}
	if (symtab_lookup_name(&c->s->vm.syms, name, addr))
		return cmd_error(c, "%s: no symbol '%s'%s", c->def->name, name,
				 c->s->vm.syms.nr ? "" : " (no symbols loaded: `symbols load FILE`)");
	*addr += off;
	return 0;
}

uint64_t cmd_mem_read(void *opaque, uint64_t addr, void *dst, uint64_t len)
{
	const struct cmd_mem_src *m = opaque;
	struct pw_ctx ctx;
	uint64_t got = 0;

	if (m->phys) {
		while (got < len && gm_read(&m->s->vm.mem, addr + got, (uint8_t *)dst + got, 1) == 0)
			got++;
		return got;
	}
	if (m->s->vm.debug)
		return debug_read_virt(&m->s->vm, m->cpu, addr, dst, len);
	if (cpu_ctx(m->s, m->cpu, &ctx))
		return 0;
	return pw_read_virt(&m->s->vm.mem, &ctx, addr, dst, len);
}

struct xfmt {
	unsigned count;
	char format; /* x d u o c s i */
	unsigned size;
};

static int parse_fmt(struct cmd_ctx *c, const char *f, struct xfmt *x)
{
	*x = (struct xfmt){ 1, 'x', 4 };
	if (*f == '/')
		f++;
	if (isdigit((unsigned char)*f)) {
		unsigned long n = strtoul(f, (char **)&f, 10);

		if (n == 0 || n > 65536)
			return cmd_error(c, "%s: count %lu out of range (1..65536)", c->def->name, n);
		x->count = (unsigned)n;
	}
	for (; *f; f++) {
		switch (*f) {
		case 'x': case 'd': case 'u': case 'o': case 'c': case 's': case 'i': x->format = *f; break;
		case 'b': x->size = 1; break;
		case 'h': x->size = 2; break;
		case 'w': x->size = 4; break;
		case 'g': x->size = 8; break;
		default:
			return cmd_error(c, "%s: unknown format letter '%c' (count, then x d u o c s i, "
					    "then b h w g)",
					 c->def->name, *f);
		}
	}
	if (x->format == 'c' || x->format == 's')
		x->size = 1;
	if (x->format == 'i' && x->count > DISASM_MAX_COUNT)
		return cmd_error(c, "%s: count %u out of range for instructions (1..%d)", c->def->name,
				 x->count, DISASM_MAX_COUNT);
	return 0;
}

static void print_insns(struct cmd_ctx *c, const struct disasm *d, bool mark, uint64_t pc)
{
	for (unsigned i = 0; i < d->nr; i++) {
		const struct disasm_line *l = &d->lines[i];
		char bytes[3 * INSN_MAX_LEN + 1] = "";

		for (unsigned k = 0; k < l->len; k++)
			snprintf(bytes + 3 * k, sizeof(bytes) - 3 * k, "%02x ", l->bytes[k]);
		bytes[l->len ? 3 * l->len - 1 : 0] = 0;
		if (c->json) {
			jw_obj(c->out, NULL);
			jw_u64(c->out, "addr", l->addr);
			jw_str(c->out, "bytes", bytes);
			jw_str(c->out, "text", l->text);
			jw_str(c->out, "symbol", l->symbol);
			if (l->has_target)
				jw_u64(c->out, "target", l->target);
			else
				jw_null(c->out, "target");
			jw_str(c->out, "target_symbol", l->target_symbol);
			jw_bool(c->out, "at_pc", mark && l->addr == pc);
			jw_end(c->out);
			continue;
		}
		/* gdb's `x/i` with raw bytes (/r): `=> 0x... <sym+off>:\tbytes\tinsn`. */
		OUT("%s0x%016llx", mark && l->addr == pc ? "=> " : "   ", (unsigned long long)l->addr);
		if (l->symbol[0])
			OUT(" <%s>", l->symbol);
		OUT(":\t%s\t%s", bytes, l->text);
		if (l->has_target && l->target_symbol[0])
			OUT(" <%s>", l->target_symbol);
		if (l->has_ref) {
			OUT("\t# 0x%llx", (unsigned long long)l->ref);
			if (l->ref_symbol[0])
				OUT(" <%s>", l->ref_symbol);
		}
		OUT("\n");
	}
}

/*
 * x/Ni [ADDR]: N instructions. Without ADDR: on after the last x/i while its vCPU has not run
 * nor stopped since (an empty line does the same), else at the vCPU's pc, which `=>` marks
 * as gdb does.
 */
static int cmd_x_insns(struct cmd_ctx *c, const struct xfmt *x, bool phys, const char *arg)
{
	struct cmd_state *cs = c->cs;
	struct vm *vm = &c->s->vm;
	struct cmd_mem_src src = { c->s, cs->cur_cpu, phys };
	bool have_cpu = cs->cur_cpu < vm->ncpus;
	struct cmd_here here = { .cpu = cs->cur_cpu };
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint64_t addr = 0;
	int mode = 64, r;
	struct disasm d;

	if (arg && arg_addr(c, arg, &addr))
		return CMD_ERR;
	if (c->check)
		return CMD_OK;
	if (!phys && cmd_check_vm(c))
		return CMD_ERR;
	/* The pc is a virtual address: xp/i needs its physical one. */
	if (!arg && phys)
		return cmd_error(c, "%s: missing address (usage: %s)", c->def->name, c->def->syntax);
	if (have_cpu) {
		cmd_pause_brief(c);
		if (vm_get_regs(vm, cs->cur_cpu, &regs) == 0 &&
		    vm_get_sregs(vm, cs->cur_cpu, &sregs) == 0) {
			mode = insn_mode_bits(&sregs);
			/* The linear address: outside long mode CS has a base. */
			here.pc = regs.rip + (mode == 64 ? 0 : sregs.cs.base);
			here.valid = true;
		}
		here.unparks = vm_vcpu_unparks(vm, cs->cur_cpu);
	}
	if (!arg && !here.valid) {
		if (have_cpu)
			cmd_resume_brief(c);
		return cmd_error(c, "%s: cannot read cpu %d's pc", c->def->name, cs->cur_cpu);
	}
	/* The vCPU has not run since the last x/i: go on where it ended, as an empty line does. */
	if (!arg)
		addr = !cs->x_phys && cmd_here_same(&cs->x_here, &here) ? cs->x_next : here.pc;
	/* Code above 4 GiB is 64-bit code, whatever the vCPU runs now (a 32-bit boot stub). */
	if (addr > UINT32_MAX)
		mode = 64;
	r = disasm_build(cmd_mem_read, &src, phys ? NULL : &vm->syms, mode, addr, x->count, &d);
	if (have_cpu)
		cmd_resume_brief(c);
	if (r)
		return cmd_error(c, "%s: cannot disassemble: %s", c->def->name, strerror(-r));
	if (d.nr == 0) {
		uint64_t at = d.unreadable_at;

		disasm_free(&d);
		if (at != addr)
			return cmd_error(c, "%s: the instruction at 0x%llx runs on into 0x%llx, which is "
					    "not readable", c->def->name, (unsigned long long)addr,
					 (unsigned long long)at);
		return cmd_error(c, "%s: cannot read 0x%llx: %s", c->def->name, (unsigned long long)addr,
				 phys ? "not guest RAM"
				      : "not mapped by the CPU's page tables (see translate)");
	}
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_u64(c->out, "addr", addr);
		jw_arr(c->out, "values");
	}
	/* The pc is virtual: a physical listing marks nothing. */
	print_insns(c, &d, here.valid && !phys, here.pc);
	if (c->json) {
		jw_end(c->out);
		jw_u64(c->out, "next", d.next);
		if (d.unreadable)
			jw_u64(c->out, "unreadable", d.unreadable_at);
		else
			jw_null(c->out, "unreadable");
		jw_end(c->out);
	} else if (d.unreadable) {
		OUT("(stopped at 0x%llx: ", (unsigned long long)d.next);
		if (d.unreadable_at == d.next)
			OUT("not readable)\n");
		else
			OUT("the instruction runs on into 0x%llx, which is not readable)\n",
			    (unsigned long long)d.unreadable_at);
	}
	cs->x_next = d.next;
	snprintf(cs->x_fmt, sizeof(cs->x_fmt), "/%ui", x->count);
	cs->x_phys = phys;
	cs->x_here = here;
	disasm_free(&d);
	return CMD_OK;
}

static int cmd_x(struct cmd_ctx *c)
{
	bool phys = !strcmp(c->def->name, "xp");
	struct cmd_mem_src src = { c->s, c->cs->cur_cpu, phys };
	struct xfmt x;
	uint64_t addr, got, total;
	uint8_t *buf;
	int ai = 0;

	if (c->argc == 2 || (c->argc == 1 && c->argv[0][0] == '/')) {
		if (parse_fmt(c, c->argv[0], &x))
			return CMD_ERR;
		ai = 1;
	} else {
		x = (struct xfmt){ 1, 'x', 4 };
	}
	if (x.format == 'i')
		return cmd_x_insns(c, &x, phys, ai < c->argc ? c->argv[ai] : NULL);
	if (ai >= c->argc)
		return cmd_error(c, "%s: missing address (usage: %s)", c->def->name, c->def->syntax);
	if (arg_addr(c, c->argv[ai], &addr))
		return CMD_ERR;
	if (c->check)
		return CMD_OK;
	if (!phys && (cmd_check_vm(c) || src.cpu >= c->s->vm.ncpus))
		return CMD_ERR;
	total = (uint64_t)x.count * x.size;
	if (x.format == 's')
		total = x.count * 256ULL;
	buf = calloc(1, total + 1);
	if (!buf)
		return cmd_error(c, "%s: out of memory", c->def->name);
	if (!phys)
		cmd_pause_brief(c);
	got = cmd_mem_read(&src, addr, buf, total);
	if (!phys)
		cmd_resume_brief(c);
	if (got == 0) {
		free(buf);
		return cmd_error(c, "%s: cannot read 0x%llx: %s", c->def->name,
				 (unsigned long long)addr,
				 phys ? "not guest RAM" : "not mapped by the CPU's page tables (see translate)");
	}
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_u64(c->out, "addr", addr);
		jw_u64(c->out, "size", x.size);
		jw_arr(c->out, "values");
	}
	if (x.format == 's') {
		size_t off = 0;

		for (unsigned i = 0; i < x.count && off < got; i++) {
			size_t l = strnlen((char *)buf + off, got - off);

			if (c->json) {
				jw_strn(c->out, NULL, (char *)buf + off, l);
			} else {
				OUT("0x%016llx: \"", (unsigned long long)(addr + off));
				for (size_t k = 0; k < l; k++) {
					uint8_t ch = buf[off + k];

					if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
						OUT("%c", ch);
					else
						OUT("\\x%02x", ch);
				}
				OUT("\"\n");
			}
			off += l + 1;
		}
		c->cs->x_next = addr + off;
	} else {
		unsigned per = x.size == 8 ? 2 : x.size == 4 ? 4 : x.size == 2 ? 8 : 16;
		uint64_t n = got / x.size;

		for (uint64_t i = 0; i < n; i++) {
			uint64_t v = 0;

			memcpy(&v, buf + i * x.size, x.size);
			if (c->json) {
				jw_u64(c->out, NULL, v);
				continue;
			}
			if (i % per == 0)
				OUT("%s0x%016llx:", i ? "\n" : "", (unsigned long long)(addr + i * x.size));
			switch (x.format) {
			case 'x': OUT(" 0x%0*llx", (int)x.size * 2, (unsigned long long)v); break;
			case 'u': OUT(" %llu", (unsigned long long)v); break;
			case 'o': OUT(" 0%llo", (unsigned long long)v); break;
			case 'd': {
				int64_t sv = x.size == 1 ? (int8_t)v : x.size == 2 ? (int16_t)v
								      : x.size == 4 ? (int32_t)v : (int64_t)v;
				OUT(" %lld", (long long)sv);
				break;
			}
			case 'c':
				if (v >= 0x20 && v < 0x7f)
					OUT(" '%c'", (int)v);
				else
					OUT(" '\\x%02x'", (unsigned)v);
				break;
			}
		}
		if (!c->json)
			OUT("\n");
		c->cs->x_next = addr + n * x.size;
	}
	if (got < total && !c->json)
		OUT("(stopped at 0x%llx: not readable)\n", (unsigned long long)(addr + got));
	if (c->json) {
		jw_end(c->out);
		jw_u64(c->out, "read", got);
		jw_end(c->out);
	}
	snprintf(c->cs->x_fmt, sizeof(c->cs->x_fmt), "/%u%c%c", x.count, x.format,
		 x.size == 1 ? 'b' : x.size == 2 ? 'h' : x.size == 4 ? 'w' : 'g');
	c->cs->x_phys = phys;
	c->cs->x_here.valid = false;
	free(buf);
	return CMD_OK;
}

static int cmd_translate(struct cmd_ctx *c)
{
	uint64_t addr;
	int cpu, r;
	struct pw_ctx ctx;
	struct pw_result res;

	if (arg_addr(c, c->argv[0], &addr) || arg_cpu(c, c->argc > 1 ? c->argv[1] : NULL, &cpu))
		return CMD_ERR;
	if (c->check)
		return CMD_OK;
	cmd_pause_brief(c);
	r = cpu_ctx(c->s, cpu, &ctx);
	cmd_resume_brief(c);
	if (r)
		return cmd_error(c, "translate: cpu %d registers: %s", cpu, strerror(-r));
	memset(&res, 0, sizeof(res));
	r = pw_translate(&c->s->vm.mem, &ctx, addr, &res);
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_u64(c->out, "gva", addr);
		jw_arr(c->out, "levels");
		for (int i = 0; i < res.nr_levels; i++) {
			jw_obj(c->out, NULL);
			jw_str(c->out, "level", pw_level_name(res.levels[i].level));
			jw_u64(c->out, "entry_gpa", res.levels[i].entry_gpa);
			jw_u64(c->out, "entry", res.levels[i].entry);
			jw_end(c->out);
		}
		jw_end(c->out);
		if (r) {
			jw_str(c->out, "fault", res.fault ? res.fault : strerror(-r));
		} else {
			jw_u64(c->out, "gpa", res.gpa);
			jw_u64(c->out, "page_size", res.page_size);
			jw_bool(c->out, "writable", res.writable);
			jw_bool(c->out, "user", res.user);
			jw_bool(c->out, "nx", res.nx);
		}
		jw_end(c->out);
		return CMD_OK;
	}
	if (!(ctx.cr0 & PW_CR0_PG))
		OUT("paging is off: gpa = gva\n");
	for (int i = 0; i < res.nr_levels; i++) {
		uint64_t e = res.levels[i].entry;

		OUT("  %-5s at 0x%010llx = 0x%016llx %s%s%s%s%s\n", pw_level_name(res.levels[i].level),
		    (unsigned long long)res.levels[i].entry_gpa, (unsigned long long)e,
		    e & PW_PTE_P ? "P" : "-", e & PW_PTE_RW ? " RW" : " RO", e & PW_PTE_US ? " US" : " S",
		    e & PW_PTE_PS ? " PS" : "", e & PW_PTE_NX ? " NX" : "");
	}
	if (r)
		OUT("0x%llx: fault: %s\n", (unsigned long long)addr, res.fault ? res.fault : strerror(-r));
	else
		OUT("0x%llx -> gpa 0x%llx (%llu KiB page%s%s%s)\n", (unsigned long long)addr,
		    (unsigned long long)res.gpa, (unsigned long long)res.page_size / 1024,
		    res.writable ? ", writable" : ", read-only", res.user ? ", user" : "",
		    res.nx ? ", nx" : "");
	return CMD_OK;
}

static int cmd_writemem(struct cmd_ctx *c)
{
	bool phys = !strcmp(c->def->name, "writepmem");
	uint64_t addr, done;
	uint8_t bytes[4096];
	size_t n;
	struct pw_ctx ctx;

	if (arg_addr(c, c->argv[0], &addr))
		return CMD_ERR;
	if (cmd_parse_hex(c->argv[1], bytes, sizeof(bytes), &n))
		return cmd_error(c, "%s: '%s' is not hex bytes (e.g. 90 90 or 9090, at most %zu)",
				 c->def->name, c->argv[1], sizeof(bytes));
	if (c->check)
		return CMD_OK;
	if (phys) {
		if (gm_write(&c->s->vm.mem, addr, bytes, n))
			return cmd_error(c, "writepmem: 0x%llx+%zu is not guest RAM",
					 (unsigned long long)addr, n);
		done = n;
	} else {
		if (cmd_check_vm(c))
			return CMD_ERR;
		cmd_pause_brief(c);
		if (cpu_ctx(c->s, c->cs->cur_cpu, &ctx))
			done = 0;
		else
			done = c->s->vm.debug ? debug_write_virt(&c->s->vm, c->cs->cur_cpu, addr, bytes, n)
					      : pw_write_virt(&c->s->vm.mem, &ctx, addr, bytes, n);
		cmd_resume_brief(c);
		if (done < n)
			return cmd_error(c, "writemem: wrote %llu of %zu bytes: 0x%llx is not mapped",
					 (unsigned long long)done, n, (unsigned long long)(addr + done));
	}
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_u64(c->out, "written", done);
		jw_end(c->out);
	} else {
		OUT("wrote %llu bytes at 0x%llx\n", (unsigned long long)done, (unsigned long long)addr);
	}
	return CMD_OK;
}

static int cmd_sym(struct cmd_ctx *c)
{
	uint64_t addr, off = 0;
	char buf[256], at[600];
	const struct symbol *sym;
	struct src_loc loc = { 0 };
	const char *arg = c->argv[0];
	bool is_reg = arg[0] == '$';

	/* A register is an expression: its value first, then the symbol that value is in. */
	if (is_reg && arg_addr(c, arg, &addr))
		return CMD_ERR;
	if (!c->s->vm.syms.nr) {
		/* A check without the kernel's: the run may well have them. */
		if (c->check)
			return CMD_OK;
		if (!is_reg)
			return cmd_error(c, "sym: no symbols loaded (`symbols load FILE`)");
		buf[0] = 0;
		sym = NULL;
	} else if (is_reg || parse_number(arg, &addr)) {
		if (c->check)
			return CMD_OK; /* which addresses are covered depends on the slide */
		sym = symtab_lookup_addr(&c->s->vm.syms, addr, &off);
		if (!sym && !is_reg)
			return cmd_error(c, "sym: no symbol covers 0x%llx", (unsigned long long)addr);
		symtab_format(&c->s->vm.syms, addr, buf, sizeof(buf));
	} else {
		if (arg_addr(c, arg, &addr))
			return CMD_ERR;
		if (c->check)
			return CMD_OK;
		sym = symtab_lookup_addr(&c->s->vm.syms, addr, &off);
		snprintf(buf, sizeof(buf), "%s", arg);
	}
	if (c->s->vm.syms.nr)
		cmd_src_lookup(c->s, addr, false, &loc);
	cmd_src_text(&loc, at, sizeof(at));
	if (c->json) {
		jw_obj(c->out, NULL);
		if (is_reg) {
			jw_str(c->out, "register", arg + 1);
			jw_i64(c->out, "cpu", c->cs->cur_cpu);
		}
		jw_u64(c->out, "addr", addr);
		jw_str(c->out, "name", sym ? sym->name : "");
		jw_u64(c->out, "offset", off);
		jw_u64(c->out, "size", sym ? sym->size : 0);
		jw_str(c->out, "type", sym ? (char[2]){ sym->type, 0 } : "");
		cmd_src_json(c, &loc);
		jw_end(c->out);
	} else if (is_reg) {
		OUT("%s = 0x%016llx = %s", arg, (unsigned long long)addr,
		    sym ? buf : c->s->vm.syms.nr ? "no symbol" : "no symbols loaded");
		if (sym)
			OUT(" (%c, size %llu)", sym->type, (unsigned long long)sym->size);
		OUT("%s (cpu %d)\n", at, c->cs->cur_cpu);
	} else {
		OUT("0x%016llx %s", (unsigned long long)addr, buf);
		if (sym)
			OUT(" (%c, size %llu)", sym->type, (unsigned long long)sym->size);
		OUT("%s\n", at);
	}
	return CMD_OK;
}

static int cmd_symbols_load(struct cmd_ctx *c)
{
	char err[256] = "";
	int64_t slide = 0;
	bool have_slide = false, park;
	int n;

	if (c->argc == 2) {
		char *end;

		errno = 0;
		slide = strtoll(c->argv[1], &end, 0);
		if (errno || *end)
			return cmd_error(c, "symbols load: slide '%s' is not a number", c->argv[1]);
		have_slide = true;
	}
	/* A check loads FILE too, into its stand-in: the names after it are checked against it.
	 * vCPU threads name addresses (the profiler's samples): the table and its slide change with
	 * them parked, and the slide's MSR is read then too. */
	park = !c->check && c->s->vm.ncpus > 0;
	if (park)
		cmd_pause_brief(c);
	n = symtab_load(&c->s->vm.syms, c->argv[0], err, sizeof(err));
	if (n >= 0 && !c->check) {
		int64_t s;

		if (have_slide) {
			c->s->vm.syms.slide = slide;
		} else if (park && debug_kaslr_slide(&c->s->vm, &s) == 0) {
			c->s->vm.syms.slide = s;
			have_slide = true;
		}
	}
	if (park)
		cmd_resume_brief(c);
	if (n < 0)
		return cmd_error(c, "symbols load: %s", err[0] ? err : strerror(-n));
	if (c->check)
		return CMD_OK;
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_str(c->out, "file", c->argv[0]);
		jw_i64(c->out, "symbols", n);
		jw_i64(c->out, "slide", c->s->vm.syms.slide);
		jw_end(c->out);
	} else {
		OUT("%d symbols from %s, slide %s0x%llx%s\n", n, c->argv[0],
		    c->s->vm.syms.slide < 0 ? "-" : "",
		    (unsigned long long)llabs(c->s->vm.syms.slide),
		    have_slide && c->argc < 2 ? " (found from MSR_LSTAR)" : "");
	}
	return CMD_OK;
}

const struct cmd_def cmd_mem_table[] = {
	{ "x", NULL, "x/FMT ADDR",
	  "memory at a guest-virtual address through the current CPU's page tables",
	  "x/8xg $rsp",
	  "    FMT = count, format (x d u o c s, i for instructions), size (b h w g), as in gdb and\n"
	  "    QEMU; ADDR is a number, a symbol[+off] or $reg. An empty line continues after the\n"
	  "    last dump. `x/8i $pc` disassembles (AT&T syntax, as gdb and objdump print it): per\n"
	  "    instruction its address <symbol+off>, bytes, mnemonic and operands, a direct jump's\n"
	  "    or call's target <symbol>; `=>` marks the vCPU's pc. `x/Ni` without ADDR starts at the\n"
	  "    pc, or goes on after the last x/i when the vCPU has not run (nor paused) since.",
	  1, 2, "sym", CMD_F_REPEAT | CMD_F_CHECK, cmd_x },
	{ "xp", NULL, "xp/FMT ADDR", "memory at a guest-physical address", "xp/16xb 0x1000", NULL, 1,
	  2, "sym", CMD_F_REPEAT | CMD_F_CHECK, cmd_x },
	{ "translate", "gva2gpa", "translate ADDR [CPU]",
	  "the page walk for ADDR: each level's entry and flags, or where and why it faults",
	  "translate 0xffffffff81000000", NULL, 1, 2, "sym|cpu", CMD_F_VM | CMD_F_CHECK, cmd_translate },
	{ "writemem", NULL, "writemem ADDR HEXBYTES", "patch memory at a guest-virtual address",
	  "writemem tg_counter 00000000", NULL, 2, 2, "sym", CMD_F_VM | CMD_F_CHECK, cmd_writemem },
	{ "writepmem", NULL, "writepmem ADDR HEXBYTES", "patch memory at a guest-physical address",
	  "writepmem 0x100000 90", NULL, 2, 2, NULL, CMD_F_CHECK, cmd_writemem },
	{ "sym", "info symbol", "sym ADDR|NAME|$REG", "symbol lookup both ways (name+0xoff)",
	  "sym handle_control_message",
	  "    $REG is the current vCPU's register: `sym $rdi` prints `$rdi = 0x... = name+0xoff`.\n"
	  "    With the kernel's DWARF the address's source line follows (` at FILE:LINE`).",
	  1, 1, "sym", CMD_F_CHECK, cmd_sym },
	{ "list", NULL, "list [SYMBOL|ADDR|FILE:LINE]",
	  "source lines from the kernel's DWARF around a function, an address or a line",
	  "list tg_break_here",
	  "    Ten numbered lines, `=>` at the current vCPU's pc. Without an argument: around the pc,\n"
	  "    or on after the last listing while the vCPU has not run since (an empty line too).\n"
	  "    SYMBOL: around the line that names the function (one inlined everywhere too); FILE:\n"
	  "    a path the DWARF names or its tail (main.c:40). The DWARF is read from the symbols'\n"
	  "    ELF when first asked; its paths are the build's, so the sources must be where they\n"
	  "    were compiled. sym, bt, info cpus and breakpoint stops add ` at FILE:LINE` with it.",
	  0, 1, "sym", CMD_F_REPEAT | CMD_F_CHECK, cmd_list },
	{ "symbols load", "symbol-file", "symbols load FILE [SLIDE]",
	  "symbols from an ELF (vmlinux, module, test guest) or a System.map",
	  "symbols load build/guest/System.map",
	  "    Without SLIDE the KASLR slide is found from MSR_LSTAR when the guest set it.", 1, 2,
	  NULL, CMD_F_CHECK, cmd_symbols_load },
};
const int cmd_mem_count = sizeof(cmd_mem_table) / sizeof(cmd_mem_table[0]);
