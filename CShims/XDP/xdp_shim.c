// AF_XDP setup and teardown through libxdp. See weft_xdp.h.
#define _GNU_SOURCE
#include "weft_xdp.h"

#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <xdp/libxdp.h>

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) {
    if (err && errlen) {
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(err, errlen, "af-xdp: %s: %s (errno %d)", msg, strerror(-rc), -rc);
    }
    return rc;
}

/// libbpf/libxdp print warnings to stderr by default; keep only errors
/// (the mode fallback makes expected failures that are not worth a line).
static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
    (void)level; (void)fmt; (void)ap; return 0;
}
static int quiet_xdp_print(enum libxdp_print_level level, const char *fmt, va_list ap) {
    (void)level; (void)fmt; (void)ap; return 0;
}

int weft_xsk_raise_memlock(char *err, size_t errlen) {
    struct rlimit r = {RLIM_INFINITY, RLIM_INFINITY};
    if (setrlimit(RLIMIT_MEMLOCK, &r) == 0) return 0;
    // Without CAP_SYS_RESOURCE the hard limit stays: raise the soft one to it.
    // That is enough where the UMEM is not charged to RLIMIT_MEMLOCK (CAP_IPC_LOCK,
    // as root has); otherwise UMEM registration fails with ENOBUFS, named there.
    int e = errno;
    if (getrlimit(RLIMIT_MEMLOCK, &r) != 0) return fail(err, errlen, -errno, "getrlimit(RLIMIT_MEMLOCK)");
    r.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_MEMLOCK, &r) != 0) return fail(err, errlen, -e, "setrlimit(RLIMIT_MEMLOCK, infinity)");
    return 0;
}

void weft_xsk_umem_init(struct weft_xsk_umem *u, void *area, uint64_t size, uint32_t frame_size,
                        uint32_t fill_size, uint32_t comp_size) {
    memset(u, 0, sizeof *u);
    u->area = area;
    u->size = size;
    u->frame_size = frame_size;
    u->fill_size = fill_size;
    u->comp_size = comp_size;
}

static int umem_register(struct weft_xsk_umem *u, char *err, size_t errlen) {
    libbpf_set_print(quiet_print);
    libxdp_set_print(quiet_xdp_print);
    struct xsk_umem_config cfg = {
        .fill_size = u->fill_size, .comp_size = u->comp_size, .frame_size = u->frame_size,
        .frame_headroom = 0, .flags = 0,
    };
    u->umem = NULL;
    int rc = xsk_umem__create(&u->umem, u->area, u->size, &u->fill0, &u->comp0, &cfg);
    if (rc != 0) {
        u->umem = NULL;
        return fail(err, errlen, rc < 0 ? rc : -rc, "xsk_umem__create (register %llu bytes as UMEM, frames of %u)",
                    (unsigned long long)u->size, u->frame_size);
    }
    return 0;
}

static void umem_unregister(struct weft_xsk_umem *u) {
    if (u->umem && u->sockets == 0 && xsk_umem__delete(u->umem) == 0) u->umem = NULL;
}

static void link_info(struct weft_xsk_port *p, const char *ifname) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    if (ioctl(s, SIOCGIFHWADDR, &ifr) == 0) memcpy(p->mac, ifr.ifr_hwaddr.sa_data, 6);
    if (ioctl(s, SIOCGIFMTU, &ifr) == 0) p->mtu = ifr.ifr_mtu;
    close(s);
}

uint32_t weft_xdp_attached_prog(int ifindex) {
    LIBBPF_OPTS(bpf_xdp_query_opts, opts);
    if (bpf_xdp_query(ifindex, 0, &opts) != 0) return 0;
    return opts.prog_id;
}

static const char *mode_name(int mode) { return mode == WEFT_XSK_MODE_NATIVE ? "native" : "generic"; }

/// Loads libxdp's default AF_XDP program (xsk_def_xdp_prog.o: redirect to the
/// socket in xsks_map at the frame's rx queue, XDP_PASS otherwise) and
/// attaches it to `ifindex`, native first when `mode` allows, then generic.
/// Attaching before any socket exists makes the fallback clean: a mode the
/// link refuses fails at attach time, with no bound socket to undo (undoing a
/// bound socket is asynchronous in the kernel, and an immediate retry on the
/// same queue gets EBUSY: measured on 6.18).
/// What is attached to `ifindex`: 0 nothing, 1 libxdp's default AF_XDP program
/// (xsk_def_prog), -1 anything else.
static int attached_kind(int ifindex) {
    uint32_t id = weft_xdp_attached_prog(ifindex);
    if (id == 0) return 0;
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) return -1;
    struct bpf_prog_info info;
    uint32_t len = sizeof info;
    memset(&info, 0, sizeof info);
    int rc = bpf_obj_get_info_by_fd(fd, &info, &len);
    close(fd);
    return rc == 0 && strcmp(info.name, "xsk_def_prog") == 0 ? 1 : -1;
}

/// A link weftd is told to open may still carry the default AF_XDP program
/// of a weftd that was killed (kill -9 leaves XDP programs attached; the
/// program's map then pins the dead socket and its UMEM). Take that one off;
/// refuse anything else: it is not ours.
static int clear_stale_program(int ifindex, const char *ifname, char *err, size_t errlen) {
    int kind = attached_kind(ifindex);
    if (kind == 0) return 0;
    if (kind < 0) return fail(err, errlen, -EBUSY, "link %s already has an XDP program attached (not ours: left alone)", ifname);
    struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
    long e = libxdp_get_error(mp);
    int rc = e ? (int)e : (mp ? xdp_multiprog__detach(mp) : -ENOENT);
    if (!e && mp) xdp_multiprog__close(mp);
    if (rc != 0) return fail(err, errlen, rc < 0 ? rc : -rc, "detach the stale xsk_def_prog from %s", ifname);
    return 0;
}

static int attach_program(struct weft_xsk_port *p, const char *ifname, int mode, char *err, size_t errlen) {
    int first = mode == WEFT_XSK_MODE_GENERIC ? 1 : 0, last = mode == WEFT_XSK_MODE_NATIVE ? 0 : 1;
    int modes[2] = {WEFT_XSK_MODE_NATIVE, WEFT_XSK_MODE_GENERIC};
    char tried[160] = "";
    int rc = -EINVAL;
    for (int m = first; m <= last; m++) {
        struct xdp_program *prog = xdp_program__find_file("xsk_def_xdp_prog.o", NULL, NULL);
        long perr = libxdp_get_error(prog);
        if (perr) {
            rc = perr < 0 ? (int)perr : -(int)perr;
            return fail(err, errlen, rc, "libxdp program xsk_def_xdp_prog.o not found or not loadable "
                        "(LIBXDP_OBJECT_PATH or /usr/lib/x86_64-linux-gnu/bpf)");
        }
        struct bpf_map *map = bpf_object__find_map_by_name(xdp_program__bpf_obj(prog), "xsks_map");
        if (map) bpf_map__set_max_entries(map, 64);
        rc = xdp_program__attach(prog, p->ifindex, modes[m] == WEFT_XSK_MODE_NATIVE ? XDP_MODE_NATIVE : XDP_MODE_SKB, 0);
        if (rc == 0) {
            map = bpf_object__find_map_by_name(xdp_program__bpf_obj(prog), "xsks_map");
            int map_fd = map ? bpf_map__fd(map) : -1;
            if (map_fd < 0) {
                xdp_program__detach(prog, p->ifindex, modes[m] == WEFT_XSK_MODE_NATIVE ? XDP_MODE_NATIVE : XDP_MODE_SKB, 0);
                xdp_program__close(prog);
                return fail(err, errlen, -ENOENT, "xsk_def_xdp_prog.o on %s has no xsks_map", ifname);
            }
            p->prog = prog;
            p->map_fd = map_fd;
            p->mode = modes[m];
            p->prog_id = xdp_program__id(prog);
            return 0;
        }
        xdp_program__close(prog);
        if (rc > 0) rc = -rc;
        size_t n = strlen(tried);
        snprintf(tried + n, sizeof tried - n, "%s%s: %s", n ? "; " : "", mode_name(modes[m]), strerror(-rc));
        if (rc == -EPERM || rc == -EBUSY || rc == -EEXIST) break;  // no other mode will do better
    }
    if (err && errlen) snprintf(err, errlen, "af-xdp: attach XDP program to %s failed (%s) (errno %d)", ifname, tried, -rc);
    return rc;
}

static void detach_program(struct weft_xsk_port *p) {
    if (!p->prog) return;
    xdp_program__detach(p->prog, p->ifindex, p->mode == WEFT_XSK_MODE_NATIVE ? XDP_MODE_NATIVE : XDP_MODE_SKB, 0);
    xdp_program__close(p->prog);
    p->prog = NULL;
}

int weft_xsk_open(struct weft_xsk_port *p, struct weft_xsk_umem *u, const char *ifname, int mode, int zerocopy,
                  uint32_t rx_size, uint32_t tx_size, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    p->fd = -1;
    p->map_fd = -1;
    p->rx_size = rx_size;
    p->tx_size = tx_size;
    libbpf_set_print(quiet_print);
    libxdp_set_print(quiet_xdp_print);
    int ifindex = (int)if_nametoindex(ifname);
    if (ifindex == 0) return fail(err, errlen, -errno, "link %s (if_nametoindex)", ifname);
    p->ifindex = ifindex;
    int stale = clear_stale_program(ifindex, ifname, err, errlen);
    if (stale != 0) return stale;
    int rc = attach_program(p, ifname, mode, err, errlen);
    if (rc != 0) return rc;
    char tried[160] = "";
    for (int zc = zerocopy ? 1 : 0; zc >= 0; zc--) {
        if (!u->umem) {
            rc = umem_register(u, err, errlen);
            if (rc != 0) { detach_program(p); return rc; }
        }
        struct xsk_socket_config cfg = {
            .rx_size = rx_size, .tx_size = tx_size,
            .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,  // attached above
            .xdp_flags = 0,
            .bind_flags = XDP_USE_NEED_WAKEUP | (zc ? XDP_ZEROCOPY : XDP_COPY),
        };
        rc = xsk_socket__create_shared(&p->xsk, ifname, 0, u->umem, &p->rx, &p->tx, &p->fill, &p->comp, &cfg);
        // A socket closed on this queue moments ago is released by the kernel
        // asynchronously (a work item frees its buffer pool); until then a new
        // bind gets EBUSY. Measured on 6.18: remove + re-add at once hits it.
        for (int wait = 0; rc == -EBUSY && wait < 100; wait++) {
            p->xsk = NULL;
            umem_unregister(u);
            usleep(10000);
            if (!u->umem && (rc = umem_register(u, err, errlen)) != 0) { detach_program(p); return rc; }
            rc = xsk_socket__create_shared(&p->xsk, ifname, 0, u->umem, &p->rx, &p->tx, &p->fill, &p->comp, &cfg);
        }
        if (rc == 0) {
            u->sockets++;
            p->fd = xsk_socket__fd(p->xsk);
            rc = xsk_socket__update_xskmap(p->xsk, p->map_fd);
            if (rc != 0) {
                weft_xsk_close(p, u);
                return fail(err, errlen, rc < 0 ? rc : -rc, "insert the socket of %s into xsks_map", ifname);
            }
            // The kernel decides: a socket sharing another device's UMEM gets the
            // UMEM's mode whatever it asked for. Record what it got.
            struct xdp_options opt = {0};
            socklen_t len = sizeof opt;
            p->zerocopy = getsockopt(p->fd, SOL_XDP, XDP_OPTIONS, &opt, &len) == 0 && (opt.flags & XDP_OPTIONS_ZEROCOPY) ? 1 : 0;
            p->fill_size = p->fill.size;
            p->comp_size = p->comp.size;
            link_info(p, ifname);
            return 0;
        }
        if (rc > 0) rc = -rc;
        p->xsk = NULL;
        size_t n = strlen(tried);
        snprintf(tried + n, sizeof tried - n, "%s%s: %s", n ? "; " : "", zc ? "zero-copy" : "copy", strerror(-rc));
        // A failed first socket leaves the UMEM's own descriptor with rings
        // libxdp cannot set up again: the next attempt gets a fresh UMEM.
        umem_unregister(u);
    }
    detach_program(p);
    if (err && errlen)
        snprintf(err, errlen, "af-xdp: xsk_socket__create_shared on %s queue 0 (%s mode) failed (%s) (errno %d)",
                 ifname, mode_name(p->mode), tried, -rc);
    return rc;
}

void weft_xsk_close(struct weft_xsk_port *p, struct weft_xsk_umem *u) {
    if (p->xsk) {
        // The map holds a reference to the socket: drop it first, so the
        // socket is released with our close, not whenever the map is freed.
        if (p->map_fd >= 0) { int key = 0; bpf_map_delete_elem(p->map_fd, &key); }
        xsk_socket__delete(p->xsk);
        if (u->sockets > 0) u->sockets--;
    }
    detach_program(p);
    p->xsk = NULL;
    p->fd = -1;
    umem_unregister(u);
}

int weft_xsk_owns_umem(const struct weft_xsk_port *p, const struct weft_xsk_umem *u) {
    return p->xsk && u->umem && xsk_socket__fd(p->xsk) == xsk_umem__fd(u->umem);
}

void weft_xsk_park(struct weft_xsk_port *p) {
    if (p->map_fd >= 0) { int key = 0; bpf_map_delete_elem(p->map_fd, &key); }
    detach_program(p);
    p->map_fd = -1;
    p->prog_id = 0;
}

int weft_xsk_unpark(struct weft_xsk_port *p, const char *ifname, int mode, char *err, size_t errlen) {
    int ifindex = (int)if_nametoindex(ifname);
    if (ifindex == 0) return fail(err, errlen, -errno, "link %s (if_nametoindex)", ifname);
    if (ifindex != p->ifindex) return fail(err, errlen, -ENODEV, "link %s is not the link the parked socket is bound to", ifname);
    int stale = clear_stale_program(ifindex, ifname, err, errlen);
    if (stale != 0) return stale;
    int rc = attach_program(p, ifname, mode, err, errlen);
    if (rc != 0) return rc;
    rc = xsk_socket__update_xskmap(p->xsk, p->map_fd);
    if (rc != 0) {
        weft_xsk_park(p);
        return fail(err, errlen, rc < 0 ? rc : -rc, "insert the socket of %s into xsks_map", ifname);
    }
    link_info(p, ifname);
    return 0;
}

int weft_xsk_statistics(int fd, struct xdp_statistics *out) {
    socklen_t len = sizeof *out;
    memset(out, 0, sizeof *out);
    if (getsockopt(fd, SOL_XDP, XDP_STATISTICS, out, &len) != 0) return -errno;
    return 0;
}

int weft_xsk_kick_tx(int fd) {
    if (sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0) return 0;
    return -errno;
}

int weft_xsk_kick_rx(int fd) {
    if (recvfrom(fd, NULL, 0, MSG_DONTWAIT, NULL, NULL) >= 0) return 0;
    return -errno;
}
