#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void set_sockaddr(struct sockaddr *sa, uint32_t address)
{
    struct sockaddr_in *in = (struct sockaddr_in *)sa;
    memset(in, 0, sizeof(*in));
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = address;
}

/* Address, netmask, MTU and IFF_UP for one interface, through the classic ioctls (no netlink
 * needed for a single address per interface). */
static int configure_interface(int sock, const char *name, uint32_t address, uint32_t netmask, uint32_t mtu,
                               struct agent_error *err)
{
    struct ifreq ifr;
    if (strlen(name) == 0 || strlen(name) >= IFNAMSIZ)
        return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "interface name '%s' is empty or too long", name);
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0)
        return errno == ENODEV ? fail(err, flotilla_agent_v1_ErrorCode_NOT_FOUND, "the guest has no network interface %s", name)
                               : fail_errno(err, "SIOCGIFFLAGS on %s", name);
    short flags = ifr.ifr_flags;
    set_sockaddr(&ifr.ifr_addr, address);
    if (ioctl(sock, SIOCSIFADDR, &ifr) != 0)
        return fail_errno(err, "cannot set the address of %s", name);
    set_sockaddr(&ifr.ifr_netmask, netmask);
    if (ioctl(sock, SIOCSIFNETMASK, &ifr) != 0)
        return fail_errno(err, "cannot set the netmask of %s", name);
    if (mtu != 0) {
        ifr.ifr_mtu = (int)mtu;
        if (ioctl(sock, SIOCSIFMTU, &ifr) != 0)
            return fail_errno(err, "cannot set MTU %u on %s", mtu, name);
    }
    ifr.ifr_flags = (short)(flags | IFF_UP | IFF_RUNNING);
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) != 0)
        return fail_errno(err, "cannot bring %s up", name);
    return 0;
}

int net_loopback_up(struct agent_error *err)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return fail_errno(err, "socket(AF_INET)");
    int rc = configure_interface(sock, "lo", htonl(INADDR_LOOPBACK), htonl(0xff000000u), 0, err);
    close(sock);
    return rc;
}

static int add_default_route(int sock, const char *gateway, struct agent_error *err)
{
    struct in_addr gw;
    if (inet_pton(AF_INET, gateway, &gw) != 1)
        return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "gateway '%s' is not an IPv4 address", gateway);
    struct rtentry route;
    memset(&route, 0, sizeof(route));
    set_sockaddr(&route.rt_dst, INADDR_ANY);
    set_sockaddr(&route.rt_genmask, INADDR_ANY);
    set_sockaddr(&route.rt_gateway, gw.s_addr);
    route.rt_flags = RTF_UP | RTF_GATEWAY;
    if (ioctl(sock, SIOCADDRT, &route) != 0 && errno != EEXIST)
        return fail_errno(err, "cannot add the default route via %s", gateway);
    return 0;
}

static int write_resolv_conf(const flotilla_agent_v1_CreateSandbox *s, struct agent_error *err)
{
    char text[1024];
    size_t n = 0;
    text[0] = '\0';
    for (pb_size_t i = 0; i < s->dns_servers_count; i++) {
        struct in_addr a4;
        struct in6_addr a6;
        if (inet_pton(AF_INET, s->dns_servers[i], &a4) != 1 && inet_pton(AF_INET6, s->dns_servers[i], &a6) != 1)
            return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "DNS server '%s' is not an IP address", s->dns_servers[i]);
        n += (size_t)snprintf(text + n, sizeof(text) - n, "nameserver %s\n", s->dns_servers[i]);
    }
    if (s->dns_search_count > 0) {
        n += (size_t)snprintf(text + n, sizeof(text) - n, "search");
        for (pb_size_t i = 0; i < s->dns_search_count; i++) {
            if (strpbrk(s->dns_search[i], " \t\n") != NULL || s->dns_search[i][0] == '\0')
                return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "DNS search domain '%s' is empty or has blanks", s->dns_search[i]);
            n += (size_t)snprintf(text + n, sizeof(text) - n, " %s", s->dns_search[i]);
        }
        snprintf(text + n, sizeof(text) - n, "\n");
    }
    int rc = write_file("/etc/resolv.conf", text, 1);
    return rc == 0 ? 0 : fail(err, flotilla_agent_v1_ErrorCode_SYSTEM_ERROR, "cannot write /etc/resolv.conf: %s", strerror(-rc));
}

int sandbox_configure(const flotilla_agent_v1_CreateSandbox *s, struct agent_error *err)
{
    const char *hostname = s->hostname[0] != '\0' ? s->hostname : "sandbox";
    if (strpbrk(hostname, " \t\n/") != NULL)
        return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "hostname '%s' has blanks or slashes", hostname);
    if (sethostname(hostname, strlen(hostname)) != 0)
        return fail_errno(err, "sethostname(%s)", hostname);
    char hosts[256];
    snprintf(hosts, sizeof(hosts), "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n", hostname);
    write_file("/etc/hosts", hosts, 1);
    char line[80];
    snprintf(line, sizeof(line), "%s\n", hostname);
    write_file("/etc/hostname", line, 1);

    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return fail_errno(err, "socket(AF_INET)");
    int rc = 0;
    for (pb_size_t i = 0; rc == 0 && i < s->interfaces_count; i++) {
        const flotilla_agent_v1_Interface *itf = &s->interfaces[i];
        uint32_t address, netmask;
        if (parse_ipv4_cidr(itf->ipv4_cidr, &address, &netmask) != 0)
            rc = fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "'%s' (interface %s) is not an IPv4 address/prefix", itf->ipv4_cidr, itf->name);
        else
            rc = configure_interface(sock, itf->name, address, netmask, itf->mtu, err);
    }
    if (rc == 0 && s->ipv4_gateway[0] != '\0')
        rc = add_default_route(sock, s->ipv4_gateway, err);
    close(sock);
    if (rc == 0)
        rc = write_resolv_conf(s, err);
    return rc;
}
