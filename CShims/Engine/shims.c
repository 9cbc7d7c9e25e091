#define _GNU_SOURCE
#include "weft_shims.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <net/if.h>
#include <arpa/inet.h>

int weft_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    return rc == 0 ? 0 : -rc;
}

uint64_t weft_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t weft_tsc_hz(void) {
    static uint64_t hz;
    if (hz) return hz;
    uint64_t t0 = weft_monotonic_ns(), c0 = weft_rdtsc();
    struct timespec d = {0, 20 * 1000 * 1000};
    nanosleep(&d, NULL);
    uint64_t t1 = weft_monotonic_ns(), c1 = weft_rdtsc();
    hz = (uint64_t)((double)(c1 - c0) * 1e9 / (double)(t1 - t0));
    return hz;
}

static int fail(char *err, size_t errlen, const char *ifname, const char *step, int e) {
    snprintf(err, errlen, "af-packet %s: %s: %s", ifname, step, strerror(e));
    return -e;
}

int weft_afp_prepare(int version, uint32_t rx_block_size, uint32_t rx_block_count,
                     uint32_t retire_ms, uint32_t tx_frame_count,
                     struct weft_afp_ring *ring, char *err, size_t errlen) {
    memset(ring, 0, sizeof(*ring));
    ring->fd = -1;
    const char *what = "(unbound)";
    int e;
    // Protocol 0: the socket receives nothing until bind names an interface.
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(err, errlen, what, "socket(AF_PACKET)", errno);

    // `version` is the number users know (2, 3); the kernel's enum starts at V1 = 0.
    if (version != 2 && version != 3) { close(fd); return fail(err, errlen, what, "ring version (2 or 3)", EINVAL); }
    int kversion = version == 3 ? TPACKET_V3 : TPACKET_V2;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &kversion, sizeof kversion) < 0) { e = errno; close(fd); return fail(err, errlen, what, "PACKET_VERSION", e); }
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0) { e = errno; close(fd); return fail(err, errlen, what, "PACKET_QDISC_BYPASS", e); }
#ifdef PACKET_IGNORE_OUTGOING
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) { e = errno; close(fd); return fail(err, errlen, what, "PACKET_IGNORE_OUTGOING", e); }
#endif

    // V2: every frame carries a virtio-net header (GSO type and size, partial
    // checksum start), and a frame too large for its slot (a GSO super-frame
    // from a kernel with offloads on, up to 64 KB) is also queued whole on the
    // socket for recv (TP_STATUS_COPY) instead of only being cut to the slot.
    // Both must be set before the rings exist. The receive buffer bounds how
    // many such copies may wait (the kernel cuts, and marks no copy, beyond it).
    if (version == 2) {
        if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) { e = errno; close(fd); return fail(err, errlen, what, "PACKET_VNET_HDR", e); }
        int thresh = 1;
        if (setsockopt(fd, SOL_PACKET, PACKET_COPY_THRESH, &thresh, sizeof thresh) < 0) { e = errno; close(fd); return fail(err, errlen, what, "PACKET_COPY_THRESH", e); }
        int rcvbuf = 4 << 20;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
            (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        ring->vnet_hdr_len = WEFT_VNET_HDR_LEN;
    }

    // Both versions take a tpacket_req3-shaped request; V2 reads only its first four fields.
    struct tpacket_req3 rx = {0};
    rx.tp_block_size = rx_block_size;
    rx.tp_block_nr = rx_block_count;
    rx.tp_frame_size = 2048;
    rx.tp_frame_nr = (rx_block_size / 2048) * rx_block_count;
    if (version == 3) rx.tp_retire_blk_tov = retire_ms;
    socklen_t reqlen = version == 3 ? sizeof(struct tpacket_req3) : sizeof(struct tpacket_req);
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &rx, reqlen) < 0) { e = errno; close(fd); return fail(err, errlen, what, "PACKET_RX_RING", e); }

    // Transmit is frame-based in both versions: fixed 2048-byte slots, one
    // page per block (order-0 allocations are the cheapest to find).
    struct tpacket_req3 tx = {0};
    tx.tp_block_size = 4096;
    tx.tp_frame_size = 2048;
    uint32_t per_block = tx.tp_block_size / tx.tp_frame_size;
    tx.tp_block_nr = (tx_frame_count + per_block - 1) / per_block;
    tx.tp_frame_nr = tx.tp_block_nr * per_block;
    if (setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &tx, reqlen) < 0) { e = errno; close(fd); return fail(err, errlen, what, "PACKET_TX_RING", e); }

    size_t rx_len = (size_t)rx_block_size * rx_block_count;
    size_t tx_len = (size_t)tx.tp_block_size * tx.tp_block_nr;
    uint8_t *map = mmap(NULL, rx_len + tx_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) {
        map = mmap(NULL, rx_len + tx_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
        if (map == MAP_FAILED) { e = errno; close(fd); return fail(err, errlen, what, "mmap rings", e); }
    }
    ring->fd = fd;
    ring->version = version;
    ring->map = map;
    ring->map_len = rx_len + tx_len;
    ring->rx_ring = map;
    ring->rx_block_size = rx_block_size;
    ring->rx_block_count = rx_block_count;
    ring->rx_frame_size = rx.tp_frame_size;
    ring->rx_frame_count = rx.tp_frame_nr;
    ring->tx_ring = map + rx_len;
    ring->tx_frame_size = tx.tp_frame_size;
    ring->tx_frame_count = tx.tp_frame_nr;
    ring->tx_data_offset = version == 3 ? TPACKET3_HDRLEN - sizeof(struct sockaddr_ll)
                                        : TPACKET2_HDRLEN - sizeof(struct sockaddr_ll);
    return 0;
}

long weft_afp_recv_copy(int fd, void *buf, size_t cap) {
    ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC);
    return n < 0 ? -errno : (long)n;
}

int weft_afp_bind(struct weft_afp_ring *ring, const char *ifname, char *err, size_t errlen) {
    unsigned idx = if_nametoindex(ifname);
    if (idx == 0) return fail(err, errlen, ifname, "no such interface", errno ? errno : ENODEV);
    struct sockaddr_ll sll = {0};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = (int)idx;
    if (bind(ring->fd, (struct sockaddr *)&sll, sizeof sll) < 0) return fail(err, errlen, ifname, "bind", errno);

    // Frames for other MACs must reach us: we are the switch behind this port.
    struct packet_mreq mreq = {0};
    mreq.mr_ifindex = (int)idx;
    mreq.mr_type = PACKET_MR_PROMISC;
    if (setsockopt(ring->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0)
        return fail(err, errlen, ifname, "PACKET_ADD_MEMBERSHIP promisc", errno);

    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
    if (ioctl(ring->fd, SIOCGIFHWADDR, &ifr) == 0) memcpy(ring->mac, ifr.ifr_hwaddr.sa_data, 6);
    if (ioctl(ring->fd, SIOCGIFMTU, &ifr) == 0) ring->mtu = ifr.ifr_mtu;
    ring->ifindex = (int)idx;
    return 0;
}

int weft_afp_open(const char *ifname, int version, uint32_t rx_block_size, uint32_t rx_block_count,
                  uint32_t retire_ms, uint32_t tx_frame_count,
                  struct weft_afp_ring *ring, char *err, size_t errlen) {
    int rc = weft_afp_prepare(version, rx_block_size, rx_block_count, retire_ms, tx_frame_count, ring, err, errlen);
    if (rc != 0) return rc;
    rc = weft_afp_bind(ring, ifname, err, errlen);
    if (rc != 0) weft_afp_close(ring);
    return rc;
}

void weft_afp_close(struct weft_afp_ring *ring) {
    if (ring->map) munmap(ring->map, ring->map_len);
    if (ring->fd >= 0) close(ring->fd);
    ring->map = NULL;
    ring->fd = -1;
}

int weft_afp_kick_tx(int fd) {
    ssize_t n = sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
    return n < 0 ? -errno : 0;
}

int weft_afp_large_socket(char *err, size_t errlen) {
    const char *what = "(large-frame sender)";
    int e, one = 1;
    // Protocol 0 and never bound: it receives nothing; every send names its interface.
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(err, errlen, what, "socket(AF_PACKET)", errno);
    if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) { e = errno; close(fd); return fail(err, errlen, what, "PACKET_VNET_HDR", e); }
    // No PACKET_QDISC_BYPASS here: the bypass (dev_direct_xmit) drops any frame the device
    // needs segmented or checksummed in software (validate_xmit_skb returns new skbs), so a
    // super-frame to a device without TSO or tx checksumming would be lost. Through
    // dev_queue_xmit the kernel segments it when the device must.
    return fd;
}

long weft_afp_send_large(int fd, int ifindex, const struct iovec *v, int count) {
    struct sockaddr_ll sll = {0};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = ifindex;
    sll.sll_protocol = htons(ETH_P_ALL);
    struct msghdr msg = {0};
    msg.msg_name = &sll;
    msg.msg_namelen = sizeof sll;
    msg.msg_iov = (struct iovec *)v;
    msg.msg_iovlen = (size_t)count;
    ssize_t n = sendmsg(fd, &msg, MSG_DONTWAIT);
    return n < 0 ? -errno : (long)n;
}

long weft_fd_readv(int fd, const struct iovec *v, int count) {
    ssize_t n = readv(fd, v, count);
    return n < 0 ? -errno : (long)n;
}

uint32_t weft_afp_rx_drops(int fd) {
    struct tpacket_stats_v3 st = {0};
    socklen_t len = sizeof st;
    if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0) return 0;
    return st.tp_drops;
}

int weft_wake_fd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
void weft_wake(int fd) { uint64_t one = 1; ssize_t n = write(fd, &one, sizeof one); (void)n; }
void weft_wake_drain(int fd) { uint64_t v; ssize_t n = read(fd, &v, sizeof v); (void)n; }

int weft_poll_readable(const int *fds, int nfds, int timeout_ms) {
    // Every descriptor is watched: an earlier fixed array of 64 silently left
    // out the rest, so a worker with more ports slept its whole timeout through
    // their traffic and through barrier wake-ups (attach took up to 10 ms more).
    // Only the idle worker calls this, so the heap array past 256 costs nothing
    // on the packet path.
    struct pollfd on_stack[256];
    struct pollfd *p = on_stack;
    if (nfds > 256) {
        p = malloc((size_t)nfds * sizeof *p);
        if (!p) return -ENOMEM;
    }
    for (int i = 0; i < nfds; i++) { p[i].fd = fds[i]; p[i].events = POLLIN; p[i].revents = 0; }
    int rc = poll(p, (nfds_t)nfds, timeout_ms);
    if (rc < 0) rc = -errno;
    // poll reports POLLERR/POLLHUP whether asked or not: a packet socket whose
    // device vanished (its container's netns was deleted) holds ENETDOWN until
    // someone reads it, and a TAP queue whose device is gone stays in error.
    // Left in the set, they would end every idle wait at once and the worker
    // would spin until the attachment watch removes the port. So: read socket
    // errors (clearing them), take error-only fds out of this wait (poll skips
    // negative fds) and wait on the rest; every healthy port stays watched.
    for (int round = 0; rc > 0; round++) {
        int readable = 0;
        for (int i = 0; i < nfds; i++) {
            if (p[i].fd < 0) continue;
            if (p[i].revents & POLLIN) { readable++; continue; }
            if (p[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                int e = 0;
                socklen_t len = sizeof e;
                (void)getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &e, &len);
                p[i].fd = ~p[i].fd;  // negative, also for fd 0
            }
            p[i].revents = 0;
        }
        if (readable > 0) { rc = readable; break; }
        if (round == 3) { rc = 0; break; }  // errors kept coming: a timeout for the caller
        rc = poll(p, (nfds_t)nfds, timeout_ms);
        if (rc < 0) rc = -errno;
    }
    if (p != on_stack) free(p);
    return rc;
}

// MARK: TAP

#include <fcntl.h>
#include <linux/if_tun.h>

int weft_tap_open(const char *name, int queues, int persist, int *fds, char *err, size_t errlen) {
    if (queues < 1 || queues > WEFT_TAP_MAX_QUEUES) {
        snprintf(err, errlen, "tap %s: %d queues (1...%d)", name, queues, WEFT_TAP_MAX_QUEUES);
        return -EINVAL;
    }
    if (strlen(name) >= IFNAMSIZ) {
        snprintf(err, errlen, "tap %s: name longer than %d characters", name, IFNAMSIZ - 1);
        return -EINVAL;
    }
    int opened = 0, created = 0, rc = 0;
    const char *step = "";
    for (; opened < queues; opened++) {
        int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) { rc = -errno; step = "open /dev/net/tun"; goto fail; }
        fds[opened] = fd;
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
        int existed = opened > 0 || if_nametoindex(name) != 0;
        if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
            rc = -errno;
            step = errno == EINVAL ? "TUNSETIFF (a link of that name exists and is not a multi-queue TAP)" : "TUNSETIFF";
            close(fd);
            goto fail;
        }
        if (!existed) created = 1;
        int hdr = WEFT_VNET_HDR_LEN;
        if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) { rc = -errno; step = "TUNSETVNETHDRSZ"; opened++; goto fail; }
        // Checksum offload and TCPv4 segmentation: the pod's TCP hands over 64 KB super-frames
        // (tap-input reads them into buffer chains; tap-output writes them whole, l2-output
        // has gso-segment cut them for any other port). No TSO6 or USO yet: nothing here
        // segments those, so the pod's kernel keeps doing it.
        if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4)) < 0) { rc = -errno; step = "TUNSETOFFLOAD"; opened++; goto fail; }
        if (opened == 0 && ioctl(fd, TUNSETPERSIST, (unsigned long)(persist ? 1 : 0)) < 0) {
            rc = -errno; step = "TUNSETPERSIST"; opened++; goto fail;
        }
    }
    return 0;
fail:
    snprintf(err, errlen, "tap %s queue %d: %s: %s", name, opened, step, strerror(-rc));
    if (created && opened > 0) ioctl(fds[0], TUNSETPERSIST, 0UL);
    for (int i = 0; i < opened; i++) close(fds[i]);
    return rc;
}

int weft_tap_unpersist(int fd) {
    return ioctl(fd, TUNSETPERSIST, 0UL) < 0 ? -errno : 0;
}
