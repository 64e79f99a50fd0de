/*
 * Local APIC (xAPIC through MMIO, or x2APIC through MSRs when the CPU has
 * it), IOAPIC routing of legacy IRQs, and the PIT used once to calibrate
 * the local APIC timer (arch/x86_64/apic.c).
 */
#ifndef ARCH_APIC_H
#define ARCH_APIC_H

#include <kernel/acpi.h>
#include <stdbool.h>
#include <stdint.h>

/* Boot CPU: masks the 8259s, maps the local APIC and IOAPICs, calibrates
 * the timer against the PIT. */
void apic_init(const struct acpi_info *ai);
/* Every CPU: enables its local APIC and starts its timer, periodic at HZ
 * (its first interrupt switches it to one-shot if clock_is_hires()). */
void lapic_init_cpu(void);
/* Current CPU, interrupts off: makes its timer fire by deadline_ns (in
 * clock_ns(); at once if past) for a sleeper just added to its run queue.
 * Does nothing while the timer is periodic (sleepers wake at ticks). */
void lapic_timer_wake_by(uint64_t deadline_ns);

uint32_t lapic_id(void);
void lapic_eoi(void);
bool lapic_is_x2apic(void);
void lapic_send_ipi(uint32_t apic_id, uint8_t vector);
void lapic_send_nmi_all_but_self(void);
/* INIT-SIPI-SIPI to start an AP at real-mode page vector. */
void lapic_start_ap(uint32_t apic_id, uint8_t page);
/* Local APIC timer ticks per second (after calibration). */
uint64_t lapic_timer_hz(void);

/* Routes ISA IRQ irq (after ACPI overrides) to vector on CPU apic_id. */
void ioapic_route_isa(unsigned irq, uint8_t vector, uint32_t apic_id);

/* Polls the PIT for at least us microseconds (at most 50 ms). */
void pit_wait_us(unsigned us);

#endif
