#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void log_msg(const char *fmt, ...)
{
    /* Formatted into one buffer and written with one write(2), so lines from init and from its
     * children never interleave mid-line on the serial console. */
    char line[1024];
    int n = snprintf(line, sizeof(line), "flotilla-init: ");
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t ignored = write(STDOUT_FILENO, line, (size_t)n);
    (void)ignored;
}
