// Latency probe sockets for `weft-bench latency`: raw AF_PACKET sockets opened
// inside another network namespace (the rig's generator and sink), sending
// timestamped frames and reading them back with the kernel's receive time.
#define _GNU_SOURCE
#include "weft_shims.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/net_tstamp.h>

static int probe_fail(char *err, size_t errlen, int e, const char *what, const char *ifname) {
    snprintf(err, errlen, "%s %s: %s", what, ifname, strerror(e));
    return -e;
}

int weft_probe_open(const char *netns_path, const char *ifname, uint8_t mac[6], char *err, size_t errlen) {
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0) return probe_fail(err, errlen, errno, "opening own netns for", ifname);
    int target = open(netns_path, O_RDONLY | O_CLOEXEC);
    if (target < 0) { int e = errno; close(home); return probe_fail(err, errlen, e, netns_path, ifname); }
    if (setns(target, CLONE_NEWNET) != 0) {
        int e = errno; close(home); close(target);
        return probe_fail(err, errlen, e, "entering netns for", ifname);
    }
    close(target);
    // The socket keeps the namespace it was created in.
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    int e = errno;
    int r = 0;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    if (fd < 0) {
        r = probe_fail(err, errlen, e, "packet socket on", ifname);
    } else if (ioctl(fd, SIOCGIFINDEX, &ifr) != 0) {
        r = probe_fail(err, errlen, errno, "no interface", ifname);
    } else {
        struct sockaddr_ll sll;
        memset(&sll, 0, sizeof sll);
        sll.sll_family = AF_PACKET;
        sll.sll_protocol = htons(ETH_P_ALL);
        sll.sll_ifindex = ifr.ifr_ifindex;
        int on = 1, rcvbuf = 8 << 20;
        if (bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0) {
            r = probe_fail(err, errlen, errno, "bind to", ifname);
        } else if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) {
            r = probe_fail(err, errlen, errno, "reading the MAC of", ifname);
        } else if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0) {
            r = probe_fail(err, errlen, errno, "SO_TIMESTAMPNS on", ifname);
        } else {
            memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
            // Room for bursts while the reader is descheduled; what still
            // overflows is reported (weft_probe_drops), not hidden as loss.
            (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
            // Our own transmissions are not arrivals.
            (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &on, sizeof on);
        }
    }
    if (setns(home, CLONE_NEWNET) != 0) {
        e = errno;
        if (r == 0) r = probe_fail(err, errlen, e, "returning home after opening", ifname);
    }
    close(home);
    if (r != 0 && fd >= 0) close(fd);
    return r != 0 ? r : fd;
}

long weft_probe_send(int fd, const void *frames, size_t len, int count) {
    struct mmsghdr msgs[64];
    struct iovec iov[64];
    if (count > 64) count = 64;
    for (int i = 0; i < count; i++) {
        iov[i].iov_base = (char *)frames + (size_t)i * len;
        iov[i].iov_len = len;
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = sendmmsg(fd, msgs, (unsigned)count, 0);
    return n < 0 ? -errno : n;
}

long weft_probe_recv(int fd, void *buf, size_t len, int timeout_ms, uint64_t *rx_ns) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int ready = poll(&p, 1, timeout_ms);
    if (ready < 0) return -errno;
    if (ready == 0) return 0;
    char control[CMSG_SPACE(sizeof(struct timespec))];
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN ? 0 : -errno;
    *rx_ns = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            *rx_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        }
    }
    return n;
}

uint64_t weft_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

long weft_probe_drops(int fd) {
    struct tpacket_stats st;
    socklen_t len = sizeof st;
    if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) return -errno;
    return st.tp_drops;
}

#include <sys/prctl.h>

int weft_set_timer_slack(unsigned long ns) {
    return prctl(PR_SET_TIMERSLACK, ns, 0, 0, 0) == 0 ? 0 : -errno;
}
