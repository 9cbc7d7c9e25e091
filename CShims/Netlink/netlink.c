// Implementation of weft_netlink.h. See the header for the conventions.
#define _GNU_SOURCE
#include "weft_netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>

#include <netlink/netlink.h>
#include <netlink/errno.h>
#include <netlink/socket.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>

// MARK: errors

// Writes "<context>: <strerror(errnum)>" to err and returns -errnum.
__attribute__((format(printf, 4, 5)))
static int fail(char *err, size_t errlen, int errnum, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < errlen)
            snprintf(err + n, errlen - (size_t)n, ": %s", strerror(errnum));
    }
    return -errnum;
}

// libnl folds kernel errnos into coarser NLE_* codes; this maps back for the
// cases where the kernel's own errno was not captured (local libnl failures).
static int nle_to_errno(int nle) {
    switch (nle < 0 ? -nle : nle) {
    case NLE_BAD_SOCK: return EBADF;
    case NLE_EXIST: return EEXIST;
    case NLE_NOADDR: return EADDRNOTAVAIL;
    case NLE_OBJ_NOTFOUND: return ENOENT;
    case NLE_INTR: return EINTR;
    case NLE_AGAIN: return EAGAIN;
    case NLE_NOACCESS: return EACCES;
    case NLE_INVAL: return EINVAL;
    case NLE_NOMEM: return ENOMEM;
    case NLE_AF_NOSUPPORT: return EAFNOSUPPORT;
    case NLE_PROTO_MISMATCH: return EPROTONOSUPPORT;
    case NLE_OPNOTSUPP: return EOPNOTSUPP;
    case NLE_PERM: return EPERM;
    case NLE_BUSY: return EBUSY;
    case NLE_RANGE: return ERANGE;
    case NLE_NODEV: return ENODEV;
    case NLE_MSGSIZE: return EMSGSIZE;
    default: return EIO;
    }
}

// MARK: netlink socket per call

// A route socket plus the errno of the last kernel NLMSG_ERROR it received.
struct nlc {
    struct nl_sock *sk;
    int kerr; // negative errno from the kernel, 0 if none
};

static int record_kernel_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg) {
    (void)nla;
    ((struct nlc *)arg)->kerr = e->error;
    return NL_STOP; // libnl then returns its NLE_* code; we keep the errno
}

static int nlc_open(struct nlc *c, char *err, size_t errlen, const char *what) {
    c->kerr = 0;
    c->sk = nl_socket_alloc();
    if (!c->sk)
        return fail(err, errlen, ENOMEM, "%s: allocating netlink socket", what);
    errno = 0;
    int r = nl_connect(c->sk, NETLINK_ROUTE);
    if (r < 0) {
        // libnl folds socket()'s EMFILE/ENFILE into a generic failure (EIO):
        // keep the real cause, it tells the operator what to raise.
        int e = (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) ? errno : nle_to_errno(r);
        nl_socket_free(c->sk);
        c->sk = NULL;
        return fail(err, errlen, e, "%s: connecting netlink socket", what);
    }
    nl_socket_modify_err_cb(c->sk, NL_CB_CUSTOM, record_kernel_error, c);
    return 0;
}

static void nlc_close(struct nlc *c) {
    if (c->sk) {
        nl_close(c->sk);
        nl_socket_free(c->sk);
        c->sk = NULL;
    }
}

// errno for a failed libnl call: the kernel's if it answered, else mapped.
static int nlc_errno(struct nlc *c, int nle) {
    int e = c->kerr ? -c->kerr : nle_to_errno(nle);
    c->kerr = 0;
    return e;
}

// Looks up `name` in the socket's netns; ENODEV if absent. `what` names the
// link already, so the message needs no more than the errno.
static int get_link(struct nlc *c, const char *name, struct rtnl_link **out,
                    char *err, size_t errlen, const char *what) {
    int r = rtnl_link_get_kernel(c->sk, 0, name, out);
    return r < 0 ? fail(err, errlen, nlc_errno(c, r), "%s", what) : 0;
}

// MARK: namespaces

int weft_netns_open(const char *path, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errlen, errno, "opening network namespace %s", path);
    // A /var/run/netns entry whose bind mount is gone is a plain empty file.
    int type = ioctl(fd, NS_GET_NSTYPE);
    if (type != CLONE_NEWNET) {
        close(fd);
        return fail(err, errlen, EINVAL, "opening network namespace %s: not a network namespace", path);
    }
    return fd;
}

int weft_netns_enter(int fd, const char *label, char *err, size_t errlen) {
    if (setns(fd, CLONE_NEWNET) < 0)
        return fail(err, errlen, errno, "entering network namespace %s", label);
    return 0;
}

// MARK: links

int weft_veth_create(const char *name, const char *peer, int mtu,
                     int peer_nsfd, const char *peer_nslabel, const uint8_t *peer_mac,
                     char *err, size_t errlen) {
    char what[352];
    snprintf(what, sizeof what, "creating veth %s (peer %s%s%s)", name, peer,
             peer_nsfd >= 0 ? " in " : "", peer_nsfd >= 0 && peer_nslabel ? peer_nslabel : "");
    struct nlc c;
    int r = nlc_open(&c, err, errlen, what);
    if (r < 0)
        return r;
    struct rtnl_link *link = rtnl_link_veth_alloc();
    struct nl_addr *lladdr = peer_mac ? nl_addr_build(AF_LLC, peer_mac, 6) : NULL;
    if (!link || (peer_mac && !lladdr)) {
        if (link)
            rtnl_link_veth_release(link);
        nlc_close(&c);
        return fail(err, errlen, ENOMEM, "%s", what);
    }
    struct rtnl_link *p = rtnl_link_veth_get_peer(link);
    rtnl_link_set_name(link, name);
    rtnl_link_set_name(p, peer);
    if (mtu > 0) {
        rtnl_link_set_mtu(link, (unsigned)mtu);
        rtnl_link_set_mtu(p, (unsigned)mtu);
    }
    // IFLA_NET_NS_FD in the peer's own ifinfomsg (IFLA_INFO_DATA /
    // VETH_INFO_PEER): the kernel registers the peer straight in that netns.
    // Moving it afterwards (dev_change_net_namespace) would cost an RCU grace
    // period, most of an attach.
    if (peer_nsfd >= 0)
        rtnl_link_set_ns_fd(p, peer_nsfd);
    if (lladdr)
        rtnl_link_set_addr(p, lladdr);
    rtnl_link_put(p);
    // NLM_F_EXCL: an existing link of either name must fail, not be reused.
    r = rtnl_link_add(c.sk, link, NLM_F_CREATE | NLM_F_EXCL);
    if (r < 0)
        r = fail(err, errlen, nlc_errno(&c, r), "%s", what);
    if (lladdr)
        nl_addr_put(lladdr);
    rtnl_link_veth_release(link);
    nlc_close(&c);
    return r;
}

// Applies `changes` to the existing link `name` in one RTM_NEWLINK. Returns
// the link's ifindex.
static int change_link(const char *name, struct rtnl_link *changes,
                       char *err, size_t errlen, const char *what) {
    struct nlc c;
    int r = nlc_open(&c, err, errlen, what);
    if (r < 0)
        return r;
    struct rtnl_link *orig = NULL;
    r = get_link(&c, name, &orig, err, errlen, what);
    if (r == 0) {
        int nr = rtnl_link_change(c.sk, orig, changes, 0);
        r = nr < 0 ? fail(err, errlen, nlc_errno(&c, nr), "%s", what) : rtnl_link_get_ifindex(orig);
        rtnl_link_put(orig);
    }
    nlc_close(&c);
    return r;
}

int weft_link_configure(const char *name, const char *newname, const uint8_t *mac,
                        int mtu, int up, char *err, size_t errlen) {
    char what[96];
    snprintf(what, sizeof what, "configuring link %s%s%s", name,
             newname ? " as " : "", newname ? newname : "");
    struct rtnl_link *changes = rtnl_link_alloc();
    if (!changes)
        return fail(err, errlen, ENOMEM, "%s", what);
    struct nl_addr *lladdr = NULL;
    if (newname)
        rtnl_link_set_name(changes, newname);
    if (mac) {
        lladdr = nl_addr_build(AF_LLC, mac, 6);
        if (!lladdr) {
            rtnl_link_put(changes);
            return fail(err, errlen, ENOMEM, "%s", what);
        }
        rtnl_link_set_addr(changes, lladdr);
    }
    if (mtu > 0)
        rtnl_link_set_mtu(changes, (unsigned)mtu);
    if (up)
        rtnl_link_set_flags(changes, IFF_UP);
    int r = change_link(name, changes, err, errlen, what);
    if (lladdr)
        nl_addr_put(lladdr);
    rtnl_link_put(changes);
    return r;
}

int weft_link_delete(const char *name, char *err, size_t errlen) {
    char what[48];
    snprintf(what, sizeof what, "deleting link %s", name);
    struct nlc c;
    int r = nlc_open(&c, err, errlen, what);
    if (r < 0)
        return r;
    struct rtnl_link *link = rtnl_link_alloc();
    if (!link) {
        nlc_close(&c);
        return fail(err, errlen, ENOMEM, "%s", what);
    }
    rtnl_link_set_name(link, name); // deletes by IFLA_IFNAME: no lookup race
    r = rtnl_link_delete(c.sk, link);
    if (r < 0)
        r = fail(err, errlen, nlc_errno(&c, r), "%s", what);
    rtnl_link_put(link);
    nlc_close(&c);
    return r;
}

int weft_link_ifindex(const char *name, char *err, size_t errlen) {
    char what[48];
    snprintf(what, sizeof what, "finding link %s", name);
    struct nlc c;
    int r = nlc_open(&c, err, errlen, what);
    if (r < 0)
        return r;
    struct rtnl_link *link = NULL;
    r = get_link(&c, name, &link, err, errlen, what);
    if (r == 0) {
        r = rtnl_link_get_ifindex(link);
        rtnl_link_put(link);
    }
    nlc_close(&c);
    return r;
}

int weft_link_mac(const char *name, uint8_t mac[6], char *err, size_t errlen) {
    char what[48];
    snprintf(what, sizeof what, "reading MAC of %s", name);
    struct nlc c;
    int r = nlc_open(&c, err, errlen, what);
    if (r < 0)
        return r;
    struct rtnl_link *link = NULL;
    r = get_link(&c, name, &link, err, errlen, what);
    if (r == 0) {
        struct nl_addr *a = rtnl_link_get_addr(link);
        if (a && nl_addr_get_len(a) == 6) {
            memcpy(mac, nl_addr_get_binary_addr(a), 6);
            r = rtnl_link_get_ifindex(link);
        } else
            r = fail(err, errlen, EINVAL, "%s: no 6-byte address", what);
        rtnl_link_put(link);
    }
    nlc_close(&c);
    return r;
}

// MARK: addresses and routes

static int parse_ipv4(const char *s, struct nl_addr **out, char *err, size_t errlen,
                      const char *what) {
    struct in_addr in;
    if (inet_pton(AF_INET, s, &in) != 1)
        return fail(err, errlen, EINVAL, "%s: bad IPv4 address '%s'", what, s);
    *out = nl_addr_build(AF_INET, &in, sizeof in);
    return *out ? 0 : fail(err, errlen, ENOMEM, "%s", what);
}

int weft_addr_add_ipv4(const char *ifname, int ifindex, const char *addr, int prefixlen,
                       char *err, size_t errlen) {
    char what[96];
    snprintf(what, sizeof what, "adding address %s/%d to %s", addr, prefixlen, ifname);
    if (prefixlen < 0 || prefixlen > 32)
        return fail(err, errlen, EINVAL, "%s: bad prefix length", what);
    struct nl_addr *local = NULL;
    int r = parse_ipv4(addr, &local, err, errlen, what);
    if (r < 0)
        return r;
    nl_addr_set_prefixlen(local, prefixlen);
    int idx = ifindex > 0 ? ifindex : weft_link_ifindex(ifname, err, errlen);
    if (idx < 0) {
        nl_addr_put(local);
        return idx;
    }
    struct nlc c;
    r = nlc_open(&c, err, errlen, what);
    if (r < 0) {
        nl_addr_put(local);
        return r;
    }
    struct rtnl_addr *a = rtnl_addr_alloc();
    if (!a) {
        r = fail(err, errlen, ENOMEM, "%s", what);
    } else {
        rtnl_addr_set_ifindex(a, idx);
        rtnl_addr_set_family(a, AF_INET);
        rtnl_addr_set_local(a, local);
        rtnl_addr_set_prefixlen(a, prefixlen);
        int nr = rtnl_addr_add(c.sk, a, NLM_F_EXCL);
        if (nr < 0)
            r = fail(err, errlen, nlc_errno(&c, nr), "%s", what);
        rtnl_addr_put(a);
    }
    nl_addr_put(local);
    nlc_close(&c);
    return r;
}

int weft_route_add_default_ipv4(const char *ifname, int ifindex, const char *gateway,
                                char *err, size_t errlen) {
    char what[96];
    snprintf(what, sizeof what, "adding default route via %s dev %s", gateway, ifname);
    struct nl_addr *gw = NULL, *dst = NULL;
    int r = parse_ipv4(gateway, &gw, err, errlen, what);
    if (r < 0)
        return r;
    struct in_addr any = { 0 };
    dst = nl_addr_build(AF_INET, &any, sizeof any);
    int idx = ifindex > 0 ? ifindex : weft_link_ifindex(ifname, err, errlen);
    struct rtnl_route *route = rtnl_route_alloc();
    struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
    struct nlc c = { 0 };
    if (idx < 0) {
        r = idx;
    } else if (!dst || !route || !nh) {
        r = fail(err, errlen, ENOMEM, "%s", what);
    } else if ((r = nlc_open(&c, err, errlen, what)) == 0) {
        nl_addr_set_prefixlen(dst, 0);
        rtnl_route_set_family(route, AF_INET);
        rtnl_route_set_dst(route, dst);
        rtnl_route_set_table(route, RT_TABLE_MAIN);
        rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
        rtnl_route_set_protocol(route, RTPROT_STATIC);
        rtnl_route_set_type(route, RTN_UNICAST);
        rtnl_route_nh_set_ifindex(nh, idx);
        rtnl_route_nh_set_gateway(nh, gw);
        rtnl_route_add_nexthop(route, nh); // route owns nh from here
        nh = NULL;
        int nr = rtnl_route_add(c.sk, route, NLM_F_EXCL);
        if (nr < 0)
            r = fail(err, errlen, nlc_errno(&c, nr), "%s", what);
    }
    if (nh)
        rtnl_route_nh_free(nh);
    if (route)
        rtnl_route_put(route);
    if (dst)
        nl_addr_put(dst);
    nl_addr_put(gw);
    nlc_close(&c);
    return r;
}

// MARK: ethtool

// Segmentation features to clear, by kernel feature-string name.
static int is_segmentation_feature(const char *name) {
    return strncmp(name, "tx-", 3) == 0 &&
           (strstr(name, "segmentation") || strcmp(name, "tx-gso-list") == 0 ||
            strcmp(name, "tx-gso-partial") == 0);
}

// TSO and GSO proper: these must end up inactive or the call fails.
static int is_required_off(const char *name) {
    return strcmp(name, "tx-tcp-segmentation") == 0 ||
           strcmp(name, "tx-tcp6-segmentation") == 0 ||
           strcmp(name, "tx-generic-segmentation") == 0;
}

static int ethtool(int fd, const char *ifname, void *cmd) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    ifr.ifr_data = cmd;
    return ioctl(fd, SIOCETHTOOL, &ifr);
}

int weft_ethtool_segmentation_off(const char *ifname, char *err, size_t errlen) {
    char what[64];
    snprintf(what, sizeof what, "turning off TSO/GSO on %s", ifname);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(err, errlen, errno, "%s: socket", what);

    int r = 0;
    struct ethtool_gstrings *names = NULL;
    struct ethtool_gfeatures *get = NULL;
    struct ethtool_sfeatures *set = NULL;

    // Feature bits are numbered per kernel; learn the numbering by name.
    union { struct ethtool_sset_info hdr; uint8_t raw[sizeof(struct ethtool_sset_info) + 4]; } info;
    memset(&info, 0, sizeof info);
    info.hdr.cmd = ETHTOOL_GSSET_INFO;
    info.hdr.sset_mask = 1ULL << ETH_SS_FEATURES;
    if (ethtool(fd, ifname, &info) < 0) {
        r = fail(err, errlen, errno, "%s: ETHTOOL_GSSET_INFO", what);
        goto out;
    }
    uint32_t n = info.hdr.sset_mask ? info.hdr.data[0] : 0;
    uint32_t blocks = (n + 31) / 32;
    names = calloc(1, sizeof *names + (size_t)n * ETH_GSTRING_LEN);
    get = calloc(1, sizeof *get + blocks * sizeof get->features[0]);
    set = calloc(1, sizeof *set + blocks * sizeof set->features[0]);
    if (!names || !get || !set) {
        r = fail(err, errlen, ENOMEM, "%s", what);
        goto out;
    }
    names->cmd = ETHTOOL_GSTRINGS;
    names->string_set = ETH_SS_FEATURES;
    names->len = n;
    get->cmd = ETHTOOL_GFEATURES;
    get->size = blocks;
    if (ethtool(fd, ifname, names) < 0 || ethtool(fd, ifname, get) < 0) {
        r = fail(err, errlen, errno, "%s: reading features", what);
        goto out;
    }

    // Only changeable ("available") bits may be in `valid`, else EINVAL-ish
    // partial results; requested stays 0 = off.
    set->cmd = ETHTOOL_SFEATURES;
    set->size = blocks;
    for (uint32_t i = 0; i < n; i++) {
        const char *name = (const char *)names->data + (size_t)i * ETH_GSTRING_LEN;
        uint32_t bit = 1u << (i % 32);
        if (is_segmentation_feature(name) && (get->features[i / 32].available & bit))
            set->features[i / 32].valid |= bit;
    }
    if (ethtool(fd, ifname, set) < 0) { // > 0 = ETHTOOL_F_* partial, checked below
        r = fail(err, errlen, errno, "%s: ETHTOOL_SFEATURES", what);
        goto out;
    }
    if (ethtool(fd, ifname, get) < 0) {
        r = fail(err, errlen, errno, "%s: re-reading features", what);
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        const char *name = (const char *)names->data + (size_t)i * ETH_GSTRING_LEN;
        if (is_required_off(name) && (get->features[i / 32].active & (1u << (i % 32)))) {
            r = fail(err, errlen, EOPNOTSUPP, "%s: %s is still on", what, name);
            goto out;
        }
    }
out:
    free(names);
    free(get);
    free(set);
    close(fd);
    return r;
}

// MARK: sysctl

int weft_ipv6_disable(const char *ifname, char *err, size_t errlen) {
    if (access("/proc/sys/net/ipv6", F_OK) != 0)
        return 0; // kernel without IPv6: nothing to silence
    char path[96];
    snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errlen, errno, "disabling IPv6 on %s: opening %s", ifname, path);
    int r = 0;
    if (write(fd, "1\n", 2) != 2)
        r = fail(err, errlen, errno ? errno : EIO, "disabling IPv6 on %s: writing %s", ifname, path);
    close(fd);
    return r;
}

int weft_link_wait_running(const char *name, int timeout_ms, char *err, size_t errlen) {
    // Operstate UP, asked over netlink: SIOCGIFFLAGS' IFF_RUNNING also counts
    // operstate UNKNOWN, which a new veth shows before the link watcher has
    // run. The watcher sets UP and activates the qdisc in the same pass.
    char what[64];
    snprintf(what, sizeof what, "waiting for %s to run", name);
    struct nlc c;
    int r = nlc_open(&c, err, errlen, what);
    if (r < 0)
        return r;
    struct timespec start, now, step = {0, 200 * 1000};  // 0.2 ms between looks
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct rtnl_link *link = NULL;
        r = get_link(&c, name, &link, err, errlen, what);
        if (r < 0)
            break;
        uint8_t state = rtnl_link_get_operstate(link);
        rtnl_link_put(link);
        clock_gettime(CLOCK_MONOTONIC, &now);
        long waited_ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (state == 6 /* IF_OPER_UP, RFC 2863; <linux/if.h> clashes with <net/if.h> */) { r = (int)waited_ms; break; }
        if (waited_ms >= timeout_ms) {
            r = fail(err, errlen, ETIMEDOUT, "%s: operstate still %u after %d ms", what, state, timeout_ms);
            break;
        }
        nanosleep(&step, NULL);
    }
    nlc_close(&c);
    return r;
}
