/*
 * The test guest's multiport virtio-console driver (virtio 1.2 §5.3), following
 * Linux's drivers/char/virtio_console.c: DRIVER_OK before any buffer, control
 * rx filled with PAGE_SIZE buffers, DEVICE_READY(0xffffffff, 1), add_port on
 * PORT_ADD (fill the port's rx queue, PORT_READY(id, 1)), CONSOLE_PORT(id, 1)
 * answered by PORT_OPEN(id, 1), PORT_NAME taken once, a duplicate PORT_ADD
 * answered by PORT_READY(id, 1) again, messages for unknown ids dropped.
 */
#ifndef TG_VCON_H
#define TG_VCON_H

#include "virtio.h"

#define VIRTIO_CONSOLE_F_SIZE 0
#define VIRTIO_CONSOLE_F_MULTIPORT 1

#define VIRTIO_CONSOLE_DEVICE_READY 0
#define VIRTIO_CONSOLE_PORT_ADD 1
#define VIRTIO_CONSOLE_PORT_REMOVE 2
#define VIRTIO_CONSOLE_PORT_READY 3
#define VIRTIO_CONSOLE_CONSOLE_PORT 4
#define VIRTIO_CONSOLE_RESIZE 5
#define VIRTIO_CONSOLE_PORT_OPEN 6
#define VIRTIO_CONSOLE_PORT_NAME 7
#define VIRTIO_CONSOLE_BAD_ID 0xffffffffu

#define VCON_MAX_PORTS 4 /* ports with queues; QEMU's max_nr_ports above this is cut */
#define VCON_NQ (2 * (VCON_MAX_PORTS + 1))
#define VCON_RXBUF 4096  /* PAGE_SIZE, as Linux */
#define VCON_VEC 0x40

struct vcon_port {
	bool added, named, console, host_open, guest_open, filled;
	char name[64];
	struct tg_vq *rx, *tx;
	/* The rx buffer being consumed. */
	uint8_t *cur;
	uint32_t cur_len, cur_off;
	uint64_t rx_bytes, tx_bytes;
};

struct vcon {
	struct tg_vdev dev;
	bool multiport;
	uint32_t max_nr_ports; /* from config (1 without MULTIPORT) */
	uint32_t nports;       /* ports with queues: min(max_nr_ports, VCON_MAX_PORTS) */
	struct tg_vq vq[VCON_NQ];
	struct vcon_port port[VCON_MAX_PORTS];
	struct tg_vq *c_ivq, *c_ovq;
	uint8_t *ctl_out; /* Linux's portdev->cpkt */
	uint64_t ctl_in_count, ctl_out_count;
	uint64_t last_ctl_us;
	bool verbose_ctl;
};

extern struct vcon tg_vcon;

const char *vcon_event_name(uint16_t ev);
/* Reset, features, queues, DRIVER_OK, control rx, DEVICE_READY. 0 or -1 (reason printed). */
int vcon_probe(struct vcon *v, bool use_irq);
/* The device handshake up to PORT_NAME for WANT ports, or TIMEOUT_US. Returns ports added. */
int vcon_handshake(struct vcon *v, uint32_t want, uint64_t timeout_us);
/* Handle every control message waiting. Returns how many. */
int vcon_poll_ctl(struct vcon *v);
/* Send a control message and spin until the device returns it (Linux's __send_control_msg). */
int vcon_send_ctl(struct vcon *v, uint32_t id, uint16_t event, uint16_t value);
void vcon_idle(struct vcon *v);
/* Open a port as a process opening /dev/vportNpM does: PORT_OPEN(id, 1). */
void vcon_open_port(struct vcon *v, unsigned id, bool open);
/*
 * Write LEN bytes from BUF on port ID in chains of at most CHUNK bytes, kicking after each
 * (Linux's write path); waits for ring space. Returns 0 or -1 on timeout.
 */
int vcon_write(struct vcon *v, unsigned id, const void *buf, uint64_t len, uint32_t chunk);
/* Reclaim used tx chains of port ID. Returns how many. */
int vcon_reclaim_tx(struct vcon *v, unsigned id);
/* Next received bytes on port ID: *P and the count (0: none now). Consumed with vcon_rx_done. */
uint32_t vcon_rx_peek(struct vcon *v, unsigned id, const uint8_t **p);
void vcon_rx_done(struct vcon *v, unsigned id, uint32_t n, bool kick);
/* Post (again) rx buffers on port ID until its ring is full. */
void vcon_fill_rx(struct vcon *v, unsigned id);

int tg_vcon_main(const char *mode); /* vcon_modes.c */

#endif
