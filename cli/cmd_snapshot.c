/* snapshot save | load | info: the command side of cli/snapshot.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cmd_priv.h"
#include "cli/session.h"
#include "cli/snapshot.h"
#include "gdbstub/gdbstub.h"
#include "emu/vm_snap.h"
#include "virtio/console_snap.h"

static void print_result(struct cmd_ctx *c, const char *verb, const char *path,
			 const struct snapshot_result *r)
{
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_str(c->out, "file", path);
		jw_u64(c->out, "file_bytes", r->file_bytes);
		jw_u64(c->out, "ram_bytes", r->ram_bytes);
		jw_u64(c->out, "ram_total", r->ram_total);
		jw_i64(c->out, "cpus", r->ncpus);
		jw_u64(c->out, "ms", r->ms);
		jw_end(c->out);
		return;
	}
	OUT("%s %s: %.1f MiB of %.0f MiB RAM, %d vCPU(s), file %.1f MiB, %llu ms\n", verb, path,
	    r->ram_bytes / 1048576.0, r->ram_total / 1048576.0, r->ncpus,
	    r->file_bytes / 1048576.0, (unsigned long long)r->ms);
}

static int cmd_snapshot_save(struct cmd_ctx *c)
{
	struct snapshot_result r;
	char msg[512];

	if (c->check)
		return CMD_OK; /* shape only: FILE may be written by an earlier `snapshot save` */
	if (snapshot_save(c->s, c->argv[0], &r, msg, sizeof(msg)))
		return cmd_error(c, "snapshot save: %s", msg);
	print_result(c, "saved", c->argv[0], &r);
	return CMD_OK;
}

static int cmd_snapshot_load(struct cmd_ctx *c)
{
	struct snapshot_result r;
	char msg[512], peer[64];
	bool gdb_stopped;

	if (c->check)
		return CMD_OK; /* shape only: FILE may be written by an earlier `snapshot save` */
	/*
	 * gdb caches the registers and memory of the stop it holds: a load behind its back
	 * would leave it showing the old machine. From gdb's own `monitor` it goes ahead, and
	 * the reply tells the user how to make gdb read the new state.
	 */
	gdb_stopped = gdb_holds_stop(c->s->gdb, peer, sizeof(peer));
	if (gdb_stopped && !c->cs->in_monitor)
		return cmd_error(c, "snapshot load: gdb (%s) holds this stop; load from gdb (`monitor "
				 "snapshot load FILE`) or `detach` it first", peer);
	if (snapshot_load(c->s, c->argv[0], &r, msg, sizeof(msg)))
		return cmd_error(c, "snapshot load: %s", msg);
	/* Waits and `handshake` look at what the restored guest does from now on. */
	cmd_marks_now(c->cs);
	cmd_note_snapshot_loaded(c->s, c->argv[0]);
	print_result(c, "loaded", c->argv[0], &r);
	if (gdb_stopped)
		OUT("gdb still shows the registers and memory it read before: `maint flush "
		    "register-cache` and `maint flush dcache` make it read the loaded machine\n");
	snprintf(msg, sizeof(msg), "snapshot %s loaded: registers, memory and devices replaced",
		 c->argv[0]);
	gdb_note_change(c->s->gdb, msg);
	return CMD_OK;
}

static int cmd_snapshot_info(struct cmd_ctx *c)
{
	struct snap_file *f = calloc(1, sizeof(*f));
	struct vm_snap_config cfg;
	char msg[512], when[64];
	uint64_t host_tx[CONSOLE_NR_PORTS], pending_rx[CONSOLE_NR_PORTS], tx_bytes[CONSOLE_NR_PORTS];
	bool have_con;
	time_t t;
	int r;

	if (c->check) {
		free(f);
		return CMD_OK; /* shape only: FILE may be written by an earlier `snapshot save` */
	}
	if (!f)
		return cmd_error(c, "snapshot info: out of memory");
	if (snap_open(f, c->argv[0], msg, sizeof(msg)) ||
	    vm_snap_read_config(f, &cfg, msg, sizeof(msg))) {
		free(f);
		return cmd_error(c, "snapshot info: %s", msg);
	}
	have_con = console_snap_describe(f, 0, host_tx, pending_rx, tx_bytes) == 0;
	t = (time_t)f->created;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_str(c->out, "file", c->argv[0]);
		jw_u64(c->out, "version", f->version);
		jw_str(c->out, "created", when);
		jw_u64(c->out, "mem", cfg.mem_size);
		jw_u64(c->out, "cpus", cfg.ncpus);
		jw_str(c->out, "kernel", cfg.kernel);
		jw_str(c->out, "kernel_id", cfg.kernel_id);
		jw_str(c->out, "initrd", cfg.initrd);
		jw_str(c->out, "cmdline", cfg.cmdline);
		jw_arr(c->out, "ports");
		for (int i = 0; have_con && i < CONSOLE_NR_PORTS; i++) {
			jw_obj(c->out, NULL);
			jw_u64(c->out, "tx_bytes", tx_bytes[i]);
			jw_u64(c->out, "host_tx", host_tx[i]);
			jw_u64(c->out, "pending_rx", pending_rx[i]);
			jw_end(c->out);
		}
		jw_end(c->out);
		jw_arr(c->out, "sections");
		for (unsigned i = 0; i < f->nsec; i++) {
			jw_obj(c->out, NULL);
			jw_str(c->out, "tag", f->sec[i].tag);
			jw_u64(c->out, "index", f->sec[i].index);
			jw_u64(c->out, "bytes", f->sec[i].length);
			jw_end(c->out);
		}
		jw_end(c->out);
		jw_end(c->out);
	} else {
		OUT("%s: vmdbg snapshot version %u, written %s by vmdbg %s\n", c->argv[0], f->version,
		    when, cfg.version[0] ? cfg.version : "?");
		OUT("machine: %llu MiB, %u vCPU(s), %u virtio device(s)\n",
		    (unsigned long long)(cfg.mem_size >> 20), cfg.ncpus, cfg.nr_mmio);
		OUT("kernel:  %s (%s)\n", cfg.kernel[0] ? cfg.kernel : "?",
		    cfg.kernel_id[0] ? cfg.kernel_id : "no id: saved by an older vmdbg");
		if (cfg.initrd[0])
			OUT("initrd:  %s\n", cfg.initrd);
		OUT("cmdline: %s\n", cfg.cmdline);
		for (int i = 0; have_con && i < CONSOLE_NR_PORTS; i++)
			OUT("port %d: guest wrote %llu bytes, %llu not read by the host yet; "
			    "%llu bytes of host input waiting\n", i, (unsigned long long)tx_bytes[i],
			    (unsigned long long)host_tx[i], (unsigned long long)pending_rx[i]);
		for (unsigned i = 0; i < f->nsec; i++)
			OUT("  section %-4s %-3u %12llu bytes\n", f->sec[i].tag, f->sec[i].index,
			    (unsigned long long)f->sec[i].length);
	}
	snap_close(f);
	free(f);
	r = CMD_OK;
	return r;
}

const struct cmd_def cmd_snapshot_table[] = {
	{ "snapshot save", NULL, "snapshot save FILE",
	  "save the whole machine (RAM, vCPUs, irqchip, devices, console buffers) to FILE",
	  "snapshot save before-probe.snap",
	  "    The guest is paused while the file is written, then runs on as before.\n"
	  "    Only RAM pages that are not all zero are written. The file appears\n"
	  "    only once complete (written beside it, then renamed).",
	  1, 1, "path", CMD_F_VM | CMD_F_CHECK, cmd_snapshot_save },
	{ "snapshot load", "snapshot restore", "snapshot load FILE",
	  "rewind the running machine to snapshot FILE (checked whole before anything changes)",
	  "snapshot load before-probe.snap",
	  "    Port backends, the gdb stub and breakpoints stay attached; a paused\n"
	  "    machine stays paused. The snapshot must be of the same machine (memory,\n"
	  "    vCPUs, devices) and kernel (build id); `vmdbg --restore FILE` starts a new\n"
	  "    session from one. `ctl log` and the trace show a `--- snapshot loaded FILE ---`\n"
	  "    line where the new timeline begins.",
	  1, 1, "path", CMD_F_VM | CMD_F_INJECT | CMD_F_CHECK, cmd_snapshot_load },
	{ "snapshot info", NULL, "snapshot info FILE",
	  "describe snapshot FILE: format version, machine, kernel (path, build id), command "
	  "line, sections",
	  "snapshot info before-probe.snap", NULL, 1, 1, "path", CMD_F_CHECK, cmd_snapshot_info },
};
const int cmd_snapshot_count = sizeof(cmd_snapshot_table) / sizeof(cmd_snapshot_table[0]);
