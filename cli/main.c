/* vmdbg: a KVM VMM for debugging virtio driver handshakes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "emu/kvm_probe.h"
#include "emu/log.h"
#include "emu/snapfile.h"
#include "options.h"
#include "reference.h"
#include "script.h"
#include "session.h"

#define VMDBG_VERSION "0.1"

/* --probe-kvm: the probe's findings on stdout, or one line on stderr and EXIT_USAGE. */
static int probe_kvm(void)
{
	struct kvm_probe p;
	char buf[2048];
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "vmdbg: cannot open /dev/kvm: %s\n", strerror(errno));
		return EXIT_USAGE;
	}
	kvm_probe_run(fd, &p);
	close(fd);
	if (p.err) {
		fprintf(stderr, "vmdbg: cannot probe KVM: %s\n", p.err_what);
		return EXIT_USAGE;
	}
	kvm_probe_format(&p, buf, sizeof(buf));
	fputs(buf, stdout);
	return EXIT_OK;
}

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
	if (opts.probe_kvm)
		return probe_kvm();
	if (opts.reference)
		return reference_print(opts.reference, VMDBG_VERSION, stdout) ? EXIT_USAGE : EXIT_OK;
	if (opts.verbose)
		log_threshold = opts.verbose > 1 ? LOG_DEBUG : LOG_INFO;
	/* A mistake anywhere in a script is reported before the guest runs an instruction. */
	if (opts.check_script || opts.script) {
		const char *path = opts.check_script ? opts.check_script : opts.script;
		int n = script_check(&opts, path, err, sizeof(err));

		if (n < 0) {
			/* FILE:LINE: first, as compilers print it, for editors to jump to. */
			fprintf(stderr, "%s%s\n", n == -EINVAL ? "" : "vmdbg: ", err);
			return EXIT_USAGE;
		}
		if (opts.check_script) {
			printf("%s: %d command(s), no mistakes found\n", path, n);
			return EXIT_OK;
		}
	}
	return session_run(&opts);
}
