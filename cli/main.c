/* vmdbg: a KVM VMM for debugging virtio driver handshakes. */
#include <stdio.h>

#include "emu/log.h"
#include "emu/snapfile.h"
#include "options.h"
#include "session.h"

#define VMDBG_VERSION "0.1"

int main(int argc, char **argv)
{
	struct options opts;
	char err[512];

	if (options_parse(argc, argv, &opts, err, sizeof(err))) {
		fprintf(stderr, "vmdbg: %s\n", err);
		return EXIT_USAGE;
	}
	if (opts.help) {
		options_usage(stdout);
		return EXIT_OK;
	}
	if (opts.version) {
		printf("vmdbg %s (snapshot format %d)\n", VMDBG_VERSION, SNAP_VERSION);
		return EXIT_OK;
	}
	if (opts.verbose)
		log_threshold = opts.verbose > 1 ? LOG_DEBUG : LOG_INFO;
	return session_run(&opts);
}
