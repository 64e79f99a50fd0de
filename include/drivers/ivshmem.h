/*
 * The fabric NIC: QEMU's ivshmem-doorbell device served by fabricd
 * (drivers/ivshmem.c, DESIGN.md section 3, include/proto/fabric.h).
 *
 * BAR0 holds four registers (interrupt mask and status, unused with MSI-X;
 * our position = fabric node id; the doorbell), BAR2 the node's window,
 * mapped write-back. MSI-X vector 0 is fabricd's "completions for you".
 *
 * One device per node at most. Without one (a standalone boot, the ktest
 * harness) every call is harmless: ivshmem_probe() logs once and returns
 * -ENODEV, and the fabric is unavailable.
 */
#ifndef DRIVERS_IVSHMEM_H
#define DRIVERS_IVSHMEM_H

#include <stddef.h>
#include <stdint.h>

#define IVSHMEM_VENDOR 0x1af4
#define IVSHMEM_DEVICE 0x1110

/* BAR0 registers (byte offsets). */
#define IVSHMEM_INTR_MASK   0
#define IVSHMEM_INTR_STATUS 4
#define IVSHMEM_IV_POSITION 8
#define IVSHMEM_DOORBELL    12

struct ivshmem {
	void *window;		 /* BAR2, write-back */
	uint64_t window_phys;	 /* BAR2's physical address */
	uint64_t window_size;	 /* bytes (the BAR size) */
	uint16_t position;	 /* IVPosition: our fabric node id */
	volatile uint32_t *regs; /* BAR0, uncached */
	int vector;		 /* CPU vector of MSI-X entry 0 */
};

/*
 * Finds and sets up the device once (later calls return the first
 * result): maps both BARs, enables MSI-X and routes entry 0 to
 * ivshmem_irq, which calls the handler set with ivshmem_set_handler.
 * Returns 0 and fills *dev, or -ENODEV (no device: logged once), -ENXIO
 * (a BAR is missing or cannot be mapped), or the MSI-X error. Thread
 * context; may be called concurrently.
 */
int ivshmem_probe(struct ivshmem *dev);

/*
 * Sets the function MSI-X vector 0 calls, in interrupt context (keep it
 * short: no sleeping, only spinlocks). NULL stops the calls. The handler
 * and arg are published together; an interrupt racing with the change
 * runs either the old or the new pair.
 */
void ivshmem_set_handler(void (*fn)(void *arg), void *arg);

/* Rings the doorbell of peer (fabricd is peer 0), raising its vector. */
void ivshmem_doorbell(const struct ivshmem *dev, uint16_t peer, uint16_t vector);

#endif
