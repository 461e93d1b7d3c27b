/* Diagnostics shared by every layer: one line per message, to stderr. */
#ifndef VMDBG_LOG_H
#define VMDBG_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages above this level are dropped; `-v` raises it. */
extern enum log_level log_threshold;

/* Tests capture messages through this hook instead of stderr (NULL: stderr). */
extern void (*log_sink)(enum log_level level, const char *msg);

/*
 * Where whole message lines go (NULL: stderr). A session routes them through its main
 * thread, so a message never lands inside a guest console line (cli/termout.h).
 */
extern void (*log_writer)(const char *line);

/* One line as it is (no prefix, never filtered): crash reports. */
__attribute__((format(printf, 1, 2))) void log_line(const char *fmt, ...);

void vlog_msg(enum log_level level, const char *fmt, va_list ap);
__attribute__((format(printf, 2, 3))) void log_msg(enum log_level level, const char *fmt, ...);

#define log_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
