/*
 * Adaptive poll windows: how long a waiter polls for an event before it
 * goes to sleep, learnt from the waits that ended asleep (KVM's halt
 * polling adapts the same way).
 *
 * Why. Under TCG a sleep costs an interrupt and a chain of vCPU and
 * thread wake-ups (150-250 us on a loaded 2-core host), so an event that
 * comes soon is cheaper to poll for; one that comes late wastes the CPU
 * polled away (other guests and fabricd share the host's cores). Users:
 * net/verbs.c's CQ thread (the window after its last completion) and the
 * RPC caller (net/rpc.c: the window after sending, per peer).
 *
 * The policy, one rule for all users. Only a wait that outlasted its
 * window (it polled all of it, then went to sleep) teaches anything:
 *  - the event came within max_ns of the wait's start (polling time
 *    included): polling up to max_ns would have saved the sleep, so the
 *    window doubles (at most max_ns);
 *  - it came later, or not at all (the sleep timed out): polling does not
 *    pay for these waits, so the window halves (at least min_ns).
 * A wait that ended while polling changes nothing: polling stopped at the
 * event, so a window longer than the event's delay cost nothing, and a
 * shorter one cannot be told from it. So the window only shrinks when
 * events stop coming within max_ns, and the CPU a wait can burn is
 * bounded by max_ns.
 *
 * Header only (static inline), so the host unit tests use it as is.
 */
#ifndef KERNEL_POLLWIN_H
#define KERNEL_POLLWIN_H

#include <stdbool.h>
#include <stdint.h>

struct pollwin {
	/* atomic (relaxed): waiters of one window may adapt it at once; a
	 * lost update loses one step of a heuristic, nothing else */
	uint64_t ns;
	uint64_t min_ns, max_ns; /* fixed by pollwin_init */
};

/* Sets up w with bounds min_ns <= max_ns (min_ns > 0); it starts at min_ns. */
static inline void pollwin_init(struct pollwin *w, uint64_t min_ns, uint64_t max_ns)
{
	w->min_ns = min_ns;
	w->max_ns = max_ns < min_ns ? min_ns : max_ns;
	__atomic_store_n(&w->ns, min_ns, __ATOMIC_RELAXED);
}

/* How long the next wait polls before it sleeps (ns). */
static inline uint64_t pollwin_ns(const struct pollwin *w)
{
	return __atomic_load_n(&w->ns, __ATOMIC_RELAXED);
}

/*
 * Feeds back one wait that outlasted its window (polled all of it, then
 * went to sleep, or found the event just as it was about to). waited:
 * ns from the start of the wait (polling included) to the event, when
 * arrived; arrived false: the sleep ended without it (a timeout). Returns
 * the new window.
 */
static inline uint64_t pollwin_slept(struct pollwin *w, uint64_t waited, bool arrived)
{
	uint64_t ns = __atomic_load_n(&w->ns, __ATOMIC_RELAXED);

	if (arrived && waited <= w->max_ns)
		ns = ns < w->max_ns / 2 ? ns * 2 : w->max_ns;
	else
		ns = ns / 2 > w->min_ns ? ns / 2 : w->min_ns;
	__atomic_store_n(&w->ns, ns, __ATOMIC_RELAXED);
	return ns;
}

#endif
