#include "log.h"

#include <stdio.h>

enum log_level log_threshold = LOG_INFO;
void (*log_sink)(enum log_level level, const char *msg);

static const char *const level_prefix[] = {
	[LOG_ERROR] = "vmdbg: error: ",
	[LOG_WARN] = "vmdbg: warning: ",
	[LOG_INFO] = "vmdbg: ",
	[LOG_DEBUG] = "vmdbg: debug: ",
};

void vlog_msg(enum log_level level, const char *fmt, va_list ap)
{
	char line[1024];

	if (level > log_threshold)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_sink) {
		log_sink(level, line);
		return;
	}
	/* Raw-mode terminals need the carriage return to start the next line. */
	fprintf(stderr, "%s%s\r\n", level_prefix[level], line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_msg(level, fmt, ap);
	va_end(ap);
}
