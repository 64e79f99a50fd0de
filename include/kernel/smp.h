/* Starting the other CPUs (arch/x86_64/smp.c). */
#ifndef KERNEL_SMP_H
#define KERNEL_SMP_H

/* Starts every CPU listed in the ACPI tables; returns when each is online
 * or has been given up on (reported). Needs the scheduler on the boot CPU. */
void smp_init(void);

#endif
