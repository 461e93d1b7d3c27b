/*
 * The command line: whitespace-separated "key=value" words. Keys the guest
 * does not know are reported and ignored, so a loader that appends its own
 * words (console=, virtio_mmio.device=) does not stop the guest. To add an
 * option, add its key to known_keys.
 */
#include "tg.h"

#define CMDLINE_MAX 1024
#define MAX_ARGS 32

static const char *const known_keys[] = {
	"mode",  /* hello | triple | loop | echo | panic | fault | profile | vcon | vcon-wake | vcon-stay | vcon-bench | vcon-reset | vcon-reboot | vcon-soak */
	"cpus",  /* at most this many CPUs, the BSP included */
	"ticks", /* timer interrupts each CPU takes in hello mode */
	"hz",    /* LAPIC timer frequency */
	"timer", /* periodic | deadline (TSC-deadline one-shot ticks) */
	"softint", /* loop: 1 = the BSP also runs its own int3 once per tick (tg_int_here) */
	"ms",    /* profile: run this long, then power off (0: for ever) */
	/* virtio-console modes (vcon_modes.c) */
	"bytes", "expect", "frames", "count", "timeout", "bad", "port", "dir", "seed", "chunk",
	"irq", "ports", "crc_max", "linger", "kick", "reset_at", "held",
	"reboot_at", "payload", /* vcon-reboot (vcon_reboot.c) */
	"tx_every", /* vcon-soak (vcon_soak.c): ms between records on each port */
};

static char cmdline[CMDLINE_MAX]; /* as given */
static char words[CMDLINE_MAX];   /* split copy: keys and values NUL-terminated */
static struct {
	const char *key, *value;
} args[MAX_ARGS];
static int nargs;

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool known(const char *key)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(known_keys); i++)
		if (!strcmp(key, known_keys[i]))
			return true;
	return false;
}

void tg_cmdline_init(const char *src)
{
	size_t n = 0;

	if (src)
		while (src[n] && n < CMDLINE_MAX - 1)
			n++;
	if (src && src[n])
		tg_printf("tg: cmdline longer than %d bytes, cut\n", CMDLINE_MAX - 1);
	if (n)
		memcpy(cmdline, src, n);
	cmdline[n] = '\0';
	memcpy(words, cmdline, n + 1);
	tg_printf("tg: cmdline: %s\n", cmdline);

	nargs = 0;
	for (char *p = words; *p;) {
		while (is_space(*p))
			*p++ = '\0';
		if (!*p)
			break;
		char *word = p, *eq = NULL;
		while (*p && !is_space(*p)) {
			if (*p == '=' && !eq)
				eq = p;
			p++;
		}
		if (*p)
			*p++ = '\0';
		if (!eq) {
			tg_printf("tg: unknown option '%s' ignored\n", word);
			continue;
		}
		*eq = '\0';
		if (!known(word)) {
			tg_printf("tg: unknown option '%s=%s' ignored\n", word, eq + 1);
			continue;
		}
		if (nargs == MAX_ARGS) {
			tg_printf("tg: too many options, '%s' ignored\n", word);
			continue;
		}
		args[nargs].key = word;
		args[nargs].value = eq + 1;
		nargs++;
	}
}

const char *tg_cmdline(void)
{
	return cmdline;
}

const char *tg_arg_str(const char *key, const char *def)
{
	/* The last occurrence wins, as on Linux's command line. */
	for (int i = nargs - 1; i >= 0; i--)
		if (!strcmp(args[i].key, key))
			return args[i].value;
	return def;
}

uint64_t tg_arg_num(const char *key, uint64_t def)
{
	const char *v = tg_arg_str(key, NULL);
	uint64_t n;

	if (!v)
		return def;
	if (tg_parse_u64(v, strlen(v), &n) < 0) {
		tg_printf("tg: bad number '%s' for %s, using %lu\n", v, key, def);
		return def;
	}
	return n;
}
