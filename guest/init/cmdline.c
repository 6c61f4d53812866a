#include "cmdline.h"

#include <stdio.h>
#include <string.h>

/*
 * Splits the next parameter off *cursor into key/value, honouring double quotes the way the
 * kernel's next_arg() does: quotes may wrap the whole parameter or only the value, and are
 * removed. Returns 0 when no parameter is left.
 */
static int next_param(const char **cursor, char *key, size_t key_len, char *value, size_t value_len,
                      int *truncated)
{
    const char *p = *cursor;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    if (*p == '\0') {
        *cursor = p;
        return 0;
    }
    size_t k = 0, v = 0;
    int in_quote = 0, in_value = 0;
    *truncated = 0;
    for (; *p != '\0'; p++) {
        char c = *p;
        if (c == '"') {
            in_quote = !in_quote;
            continue;
        }
        if (!in_quote && (c == ' ' || c == '\t' || c == '\n'))
            break;
        if (!in_value && c == '=') {
            in_value = 1;
            continue;
        }
        if (in_value) {
            if (v + 1 < value_len)
                value[v++] = c;
            else
                *truncated = 1;
        } else if (k + 1 < key_len) {
            key[k++] = c;
        }
    }
    key[k] = '\0';
    value[v] = '\0';
    *cursor = p;
    return 1;
}

int cmdline_parse(const char *cmdline, struct init_options *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    out->exit_action = EXIT_IDLE;
    char key[128];
    char value[sizeof(out->run) + 1];
    int truncated;
    const char *cursor = cmdline;
    while (next_param(&cursor, key, sizeof(key), value, sizeof(value), &truncated)) {
        if (strcmp(key, "flotilla.exit") == 0) {
            if (strcmp(value, "reboot") == 0)
                out->exit_action = EXIT_REBOOT;
            else if (strcmp(value, "poweroff") == 0)
                out->exit_action = EXIT_POWEROFF;
            else if (strcmp(value, "shell") == 0)
                out->exit_action = EXIT_SHELL;
            else if (strcmp(value, "idle") == 0)
                out->exit_action = EXIT_IDLE;
            else if (strcmp(value, "agent") == 0)
                out->exit_action = EXIT_AGENT;
            else {
                snprintf(err, err_len, "unknown flotilla.exit=%s (expected reboot, poweroff, shell, idle or agent)", value);
                return -1;
            }
        } else if (strcmp(key, "flotilla.run") == 0) {
            if (truncated || strlen(value) >= sizeof(out->run)) {
                snprintf(err, err_len, "flotilla.run is longer than %zu bytes", sizeof(out->run) - 1);
                return -1;
            }
            strcpy(out->run, value);
            out->has_run = 1;
        }
    }
    return 0;
}

const char *exit_action_name(enum exit_action action)
{
    switch (action) {
    case EXIT_IDLE: return "idle";
    case EXIT_REBOOT: return "reboot";
    case EXIT_POWEROFF: return "poweroff";
    case EXIT_SHELL: return "shell";
    case EXIT_AGENT: return "agent";
    }
    return "?";
}
