/*
 * mode=profile: every CPU spends known shares of its time in known functions, for the
 * profiler's tests (tests/integration/guest/profile.t): of each cycle ~60% in tg_prof_hot,
 * ~30% in tg_prof_warm called from tg_prof_warm_caller, ~10% in tg_prof_rest, all called
 * from tg_prof_run. Shares are by TSC, so an emulated (slower) CPU keeps them. The cycle is
 * not a whole number of milliseconds: a 1 kHz sampler does not lock onto one phase of it.
 */
#include "tg.h"
#include "io.h"

#define CYCLE_US 7300

/*
 * Spin until the TSC reaches UNTIL, in the caller's own frame: GCC 12 gives a leaf no frame
 * despite -fno-omit-frame-pointer (and -mno-omit-leaf-frame-pointer), and a frame-pointer walk
 * from a frameless leaf skips its caller. Taking the frame's address makes the frame.
 */
static inline __attribute__((always_inline)) void spin_until(uint64_t until)
{
	__asm__ volatile("" : : "r"(__builtin_frame_address(0)));
	while (rdtsc() < until)
		cpu_relax();
}

__attribute__((noinline, noipa)) void tg_prof_hot(uint64_t until)
{
	spin_until(until);
}

__attribute__((noinline, noipa)) void tg_prof_warm(uint64_t until)
{
	spin_until(until);
}

/* The known caller: the barrier after the call keeps it a call, not a tail jump. */
__attribute__((noinline, noipa)) void tg_prof_warm_caller(uint64_t until)
{
	tg_prof_warm(until);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline, noipa)) void tg_prof_rest(uint64_t until)
{
	spin_until(until);
}

/* Runs the cycle until END_TSC (0: for ever). */
__attribute__((noinline, noipa)) void tg_prof_run(uint64_t end_tsc)
{
	uint64_t cycle = tg_tsc_khz * CYCLE_US / 1000;

	while (!end_tsc || rdtsc() < end_tsc) {
		uint64_t t = rdtsc();

		tg_prof_hot(t + cycle * 60 / 100);
		tg_prof_warm_caller(t + cycle * 90 / 100);
		tg_prof_rest(t + cycle);
	}
	__asm__ volatile("" ::: "memory");
}
