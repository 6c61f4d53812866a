/* The sandbox: the VM's hostname, network interfaces, default route and DNS. */
#ifndef FLOTILLA_AGENT_NET_H
#define FLOTILLA_AGENT_NET_H

#include "util.h"

/* Brings lo up with 127.0.0.1/8 (at boot). 0 or -1 with err. */
int net_loopback_up(struct agent_error *err);
int sandbox_configure(const flotilla_agent_v1_CreateSandbox *sandbox, struct agent_error *err);

#endif
