/* Console messages, each a line prefixed with "flotilla-init: ". */
#ifndef FLOTILLA_LOG_H
#define FLOTILLA_LOG_H

void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
