/*
 * The console's part of a snapshot: the virtio-mmio transport registers,
 * every virtqueue's device-side state (sizes, ring addresses, last_avail_idx,
 * used_idx, counters), and the console's ports (pending host input, guest
 * output the host has not read yet, open/ready flags) and its outbound
 * control queue. The control-message log is the session's history and is
 * not rewound.
 */
#ifndef VMDBG_CONSOLE_SNAP_H
#define VMDBG_CONSOLE_SNAP_H

#include "emu/snapfile.h"
#include "virtio/console.h"

/* Sections VIRT and VCON with INDEX (the device's number on the bus). */
void console_snap_save(struct console *c, struct snap_writer *w, uint32_t index);
/* Whether the sections are present and consistent with C: 0 or -EINVAL with ERR. */
int console_snap_check(struct console *c, const struct snap_file *f, uint32_t index, char *err,
		       size_t errlen);
/* Apply (after console_snap_check). The host side is woken for any output waiting. */
int console_snap_restore(struct console *c, const struct snap_file *f, uint32_t index);

/*
 * Per port of a saved console: guest output the host had not read (HOST_TX),
 * host input the guest had not taken (PENDING_RX), and all the guest had
 * written (TX_BYTES). 0 or -ENOENT. For `snapshot info`.
 */
int console_snap_describe(const struct snap_file *f, uint32_t index, uint64_t host_tx[],
			  uint64_t pending_rx[], uint64_t tx_bytes[]);

#endif
