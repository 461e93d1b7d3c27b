/* Internals shared by console.c (transport ops, data ports) and console_ctl.c (control queue). */
#ifndef VMDBG_CONSOLE_PRIV_H
#define VMDBG_CONSOLE_PRIV_H

#include "virtio/console.h"

static inline bool con_multiport(const struct console *c)
{
	return virtio_mmio_negotiated(&c->mmio, VIRTIO_CONSOLE_F_MULTIPORT);
}

void con_emit(struct console *c, const struct console_event *ev);
/* Pop from queue Q into c->chain; reports a queue the guest just broke. */
int con_pop(struct console *c, unsigned q);
/* Used-buffer notification for queue Q (honours NO_INTERRUPT), reported as an event. */
void con_signal(struct console *c, unsigned q);
void con_deliver_rx(struct console *c, unsigned port);

/* console_ctl.c */
int con_ctl_queue(struct console *c, uint32_t id, uint16_t event, uint16_t value,
		  const char *name);
void con_deliver_ctl(struct console *c);
void con_process_ctl_tx(struct console *c);
void con_ctl_reset(struct console *c);

#endif
