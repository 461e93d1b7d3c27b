#include "log.h"

#include <stdio.h>

enum log_level log_threshold = LOG_INFO;
void (*log_sink)(enum log_level level, const char *msg);
void (*log_writer)(const char *line);

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
	log_line("%s%s", level_prefix[level], line);
}

void log_line(const char *fmt, ...)
{
	char line[1100];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_sink) {
		log_sink(LOG_ERROR, line);
		return;
	}
	if (log_writer) {
		log_writer(line);
		return;
	}
	/* Raw-mode terminals need the carriage return to start the next line. */
	fprintf(stderr, "%s\r\n", line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_msg(level, fmt, ap);
	va_end(ap);
}
