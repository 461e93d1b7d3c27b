#include "term.h"

#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved;
static bool raw;

const char term_help_text[] = "\r\n"
			      "C-a h    print this help\r\n"
			      "C-a x    exit vmdbg (the guest is stopped)\r\n"
			      "C-a c    switch between the guest console and the vmdbg prompt\r\n"
			      "C-a s    show the run's status line\r\n"
			      "C-a C-a  send C-a to the guest\r\n";

size_t term_filter(struct term_escape *esc, const uint8_t *in, size_t len, uint8_t *out,
		   enum term_action *action, size_t *consumed)
{
	size_t n = 0, i;

	*action = TERM_NONE;
	for (i = 0; i < len; i++) {
		uint8_t c = in[i];

		if (!esc->pending) {
			if (c == TERM_ESCAPE)
				esc->pending = true;
			else
				out[n++] = c;
			continue;
		}
		esc->pending = false;
		switch (c) {
		case 'x': case 'X':
			*action = TERM_QUIT;
			break;
		case 'h': case 'H': case '?':
			*action = TERM_HELP;
			break;
		case 'c': case 'C':
			*action = TERM_SWITCH;
			break;
		case 's': case 'S':
			*action = TERM_STATUS;
			break;
		case TERM_ESCAPE:
			out[n++] = TERM_ESCAPE;
			continue;
		default:
			/* Unknown escape: both bytes are dropped, as QEMU does. */
			continue;
		}
		i++;
		break;
	}
	*consumed = i;
	return n;
}

void term_restore(void)
{
	if (raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		raw = false;
	}
}

void term_raw(void)
{
	struct termios t;

	if (raw || !isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved))
		return;
	t = saved;
	cfmakeraw(&t);
	/* Keep output post-processing so vmdbg's own "\n" lines stay readable. */
	t.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) {
		raw = true;
		atexit(term_restore);
	}
}

bool term_is_raw(void)
{
	return raw;
}
