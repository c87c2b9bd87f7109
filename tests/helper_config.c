/*
 * helper_config.c - print the configuration this process reads
 * (sg_config_get) and whether it runs in secure mode (AT_SECURE), for
 * test_config.c.
 */
#include <stdio.h>
#include <sys/auxv.h>

#include "sg_config.h"

int main(void)
{
    const struct sg_config *c = sg_config_get();
    printf("secure=%lu mode=%s sink=%d debug=%d ledger=%s log=%s problems=%s\n",
           getauxval(AT_SECURE), sg_mode_name(c->mode), (int)c->sink, c->debug, c->ledger_dir,
           c->sink == SG_SINK_FILE ? c->log_path : "-", c->problems);
    return 0;
}
