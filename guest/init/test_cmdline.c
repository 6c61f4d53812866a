/* Host-side unit tests of the command-line parser and CPU-list counting (run by guest/test.sh). */
#include "cmdline.h"
#include "platform.h"

#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond, name)                                                                          \
    do {                                                                                           \
        if (cond) {                                                                                \
            printf("PASS init: %s\n", name);                                                       \
        } else {                                                                                   \
            printf("FAIL init: %s\n", name);                                                       \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

int main(void)
{
    struct init_options o;
    char err[256];

    CHECK(cmdline_parse("console=ttyS0 reboot=k panic=1", &o, err, sizeof(err)) == 0 && !o.has_run &&
              o.exit_action == EXIT_IDLE,
          "cmdline_withoutFlotillaParams_idlesWithoutCommand");

    CHECK(cmdline_parse("console=ttyS0 flotilla.exit=reboot quiet", &o, err, sizeof(err)) == 0 &&
              o.exit_action == EXIT_REBOOT,
          "cmdline_exitReboot_selectsReboot");

    CHECK(cmdline_parse("a=1 flotilla.run=\"echo hello; ls -l /\" flotilla.exit=poweroff", &o, err, sizeof(err)) == 0 &&
              o.has_run && strcmp(o.run, "echo hello; ls -l /") == 0 && o.exit_action == EXIT_POWEROFF,
          "cmdline_quotedRunValue_keepsSpaces");

    CHECK(cmdline_parse("\"flotilla.run=uname -a\"", &o, err, sizeof(err)) == 0 && strcmp(o.run, "uname -a") == 0,
          "cmdline_wholeParamQuoted_parsesValue");

    CHECK(cmdline_parse("flotilla.run=x=1", &o, err, sizeof(err)) == 0 && strcmp(o.run, "x=1") == 0,
          "cmdline_valueWithEquals_keepsRest");

    CHECK(cmdline_parse("flotilla.exit=explode", &o, err, sizeof(err)) == -1 && strstr(err, "explode") != NULL,
          "cmdline_unknownExit_failsNamingValue");

    static char longline[6000];
    strcpy(longline, "flotilla.run=");
    memset(longline + strlen(longline), 'x', 5000);
    CHECK(cmdline_parse(longline, &o, err, sizeof(err)) == -1 && strstr(err, "longer") != NULL,
          "cmdline_overlongRun_failsInsteadOfTruncating");

    CHECK(cmdline_parse("flotilla.run=true flotilla.exit=agent", &o, err, sizeof(err)) == 0 && o.exit_action == EXIT_AGENT &&
              strcmp(exit_action_name(o.exit_action), "agent") == 0,
          "cmdline_exitAgent_selectsAgent");

    CHECK(cmdline_parse("", &o, err, sizeof(err)) == 0 && o.exit_action == EXIT_IDLE, "cmdline_empty_idles");

    CHECK(platform_count_cpu_list("0\n") == 1, "cpuList_single_countsOne");
    CHECK(platform_count_cpu_list("0-3,8,10-11\n") == 7, "cpuList_rangesAndSingles_countsAll");
    CHECK(platform_count_cpu_list("3-1") == -1, "cpuList_reversedRange_rejected");
    CHECK(platform_count_cpu_list("0,a") == -1, "cpuList_garbage_rejected");

    return failures == 0 ? 0 : 1;
}
