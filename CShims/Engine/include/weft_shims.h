// C glue for the engine: things Swift cannot say directly or cheaply.
// Everything here is static inline or a thin, documented syscall wrapper.
#ifndef WEFT_SHIMS_H
#define WEFT_SHIMS_H

#include <stdint.h>
#include <stddef.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <errno.h>
#include <unistd.h>
#include <sys/uio.h>

/// Time-stamp counter: per-node clocks in `show runtime`.
static inline uint64_t weft_rdtsc(void) {
#if defined(__x86_64__)
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
#else
    return 0;
#endif
}

static inline void weft_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
static inline void weft_prefetch_store(const void *p) { __builtin_prefetch(p, 1, 3); }
static inline void weft_cpu_relax(void) {
#if defined(__x86_64__)
    __asm__ __volatile__("pause");
#endif
}

/// Ring status words are shared with the kernel: read with acquire, write with
/// release, so packet bytes are never read before the status says they are ours.
static inline uint32_t weft_load_acquire_u32(const volatile uint32_t *p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void weft_store_release_u32(volatile uint32_t *p, uint32_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/// TPACKET_V3 ring accessors. The block descriptor's fields sit in a union
/// Swift imports as computed properties (copies), so they are reached here.
static inline uint32_t weft_v3_block_status(const void *blk) {
    return __atomic_load_n(&((const struct tpacket_block_desc *)blk)->hdr.bh1.block_status, __ATOMIC_ACQUIRE);
}
static inline void weft_v3_block_release(void *blk) {
    __atomic_store_n(&((struct tpacket_block_desc *)blk)->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
}
static inline uint32_t weft_v3_block_packets(const void *blk) {
    return ((const struct tpacket_block_desc *)blk)->hdr.bh1.num_pkts;
}
static inline uint32_t weft_v3_block_first(const void *blk) {
    return ((const struct tpacket_block_desc *)blk)->hdr.bh1.offset_to_first_pkt;
}
static inline uint32_t weft_v3_pkt_next(const void *h) { return ((const struct tpacket3_hdr *)h)->tp_next_offset; }
static inline uint32_t weft_v3_pkt_snaplen(const void *h) { return ((const struct tpacket3_hdr *)h)->tp_snaplen; }
static inline uint32_t weft_v3_pkt_len(const void *h) { return ((const struct tpacket3_hdr *)h)->tp_len; }
static inline uint32_t weft_v3_pkt_mac(const void *h) { return ((const struct tpacket3_hdr *)h)->tp_mac; }
static inline uint32_t weft_v3_pkt_status(const void *h) { return ((const struct tpacket3_hdr *)h)->tp_status; }
static inline uint16_t weft_v3_pkt_vlan_tci(const void *h) { return (uint16_t)((const struct tpacket3_hdr *)h)->hv1.tp_vlan_tci; }
static inline uint16_t weft_v3_pkt_vlan_tpid(const void *h) { return (uint16_t)((const struct tpacket3_hdr *)h)->hv1.tp_vlan_tpid; }

/// Transmit slots (V3 tx is frame-based, one tpacket3_hdr per slot).
static inline uint32_t weft_v3_tx_status(const void *slot) {
    return __atomic_load_n(&((const struct tpacket3_hdr *)slot)->tp_status, __ATOMIC_ACQUIRE);
}
static inline void weft_v3_tx_submit(void *slot, uint32_t len) {
    struct tpacket3_hdr *h = (struct tpacket3_hdr *)slot;
    h->tp_len = len;
    h->tp_snaplen = len;
    h->tp_next_offset = 0;
    __atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
}

/// virtio-net header (TAP queues, and AF_PACKET with PACKET_VNET_HDR): flags,
/// gso_type, hdr_len, gso_size, csum_start, csum_offset.
enum {
    WEFT_VNET_HDR_LEN = 10, WEFT_VNET_F_NEEDS_CSUM = 1,
    WEFT_VNET_GSO_NONE = 0, WEFT_VNET_GSO_TCPV4 = 1, WEFT_VNET_GSO_UDP = 3, WEFT_VNET_GSO_TCPV6 = 4,
    WEFT_VNET_GSO_UDP_L4 = 5, WEFT_VNET_GSO_ECN = 0x80,
};

/// TPACKET_V2 slots: one tpacket2_hdr per fixed-size frame, status first.
static inline uint32_t weft_v2_status(const void *h) {
    return __atomic_load_n(&((const struct tpacket2_hdr *)h)->tp_status, __ATOMIC_ACQUIRE);
}
static inline void weft_v2_release(void *h) {
    __atomic_store_n(&((struct tpacket2_hdr *)h)->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
}
static inline uint32_t weft_v2_snaplen(const void *h) { return ((const struct tpacket2_hdr *)h)->tp_snaplen; }
static inline uint32_t weft_v2_len(const void *h) { return ((const struct tpacket2_hdr *)h)->tp_len; }
static inline uint32_t weft_v2_mac(const void *h) { return ((const struct tpacket2_hdr *)h)->tp_mac; }
static inline uint16_t weft_v2_vlan_tci(const void *h) { return ((const struct tpacket2_hdr *)h)->tp_vlan_tci; }
static inline uint16_t weft_v2_vlan_tpid(const void *h) { return ((const struct tpacket2_hdr *)h)->tp_vlan_tpid; }
/// The virtio-net header the kernel writes in front of each frame when the
/// socket has PACKET_VNET_HDR (`ring->vnet_hdr_len` != 0): 10 bytes just
/// before the MAC header (struct virtio_net_hdr, native byte order).
static inline const void *weft_v2_vnet(const void *h) {
    return (const uint8_t *)h + ((const struct tpacket2_hdr *)h)->tp_mac - WEFT_VNET_HDR_LEN;
}
static inline void weft_v2_tx_submit(void *slot, uint32_t len) {
    struct tpacket2_hdr *h = (struct tpacket2_hdr *)slot;
    h->tp_len = len;
    h->tp_snaplen = len;
    __atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
}

enum {
    WEFT_TP_STATUS_USER = TP_STATUS_USER,
    WEFT_TP_STATUS_AVAILABLE = TP_STATUS_AVAILABLE,
    WEFT_TP_STATUS_WRONG_FORMAT = TP_STATUS_WRONG_FORMAT,
    WEFT_TP_STATUS_CSUM_NOT_READY = TP_STATUS_CSUMNOTREADY,
    WEFT_TP_STATUS_VLAN_VALID = TP_STATUS_VLAN_VALID,
    WEFT_TP_STATUS_VLAN_TPID_VALID = TP_STATUS_VLAN_TPID_VALID,
    WEFT_TP_STATUS_LOSING = TP_STATUS_LOSING,
    WEFT_TP_STATUS_COPY = TP_STATUS_COPY,
};

/// Pins the calling thread to one CPU. Returns 0 or -errno.
int weft_pin_current_thread(int cpu);

/// Measured TSC frequency in Hz (calibrated once against CLOCK_MONOTONIC).
uint64_t weft_tsc_hz(void);

/// Monotonic clock in nanoseconds (vDSO; cheap enough per poll loop, not per packet).
uint64_t weft_monotonic_ns(void);

/// AF_PACKET socket with a TPACKET_V3 receive ring and a transmit ring, both
/// mmap'd in one region. Options: PACKET_QDISC_BYPASS (tx skips the qdisc),
/// PACKET_IGNORE_OUTGOING (rx does not see our own tx), promiscuous membership.
struct weft_afp_ring {
    int fd;
    int version;              // 2 or 3: TPACKET_V2 or TPACKET_V3 (rx and tx rings)
    int ifindex;
    uint8_t *map;            // rx ring then tx ring
    size_t map_len;
    uint8_t *rx_ring;
    uint32_t rx_block_size;
    uint32_t rx_block_count;
    uint32_t rx_frame_size;   // V2: fixed slot size
    uint32_t rx_frame_count;  // V2: slots in the rx ring
    uint8_t *tx_ring;
    uint32_t tx_frame_size;
    uint32_t tx_frame_count;
    uint32_t tx_data_offset;  // where frame bytes start inside a tx slot
    uint32_t vnet_hdr_len;    // 10 with PACKET_VNET_HDR (V2 rings): every rx and tx frame has a virtio-net header in front
    uint8_t mac[6];
    int mtu;
};

/// Opens `ifname` (in the caller's network namespace) with ring `version`
/// TPACKET_V2 (per-frame status: each packet visible at once) or TPACKET_V3
/// (blocks handed over when full or after `retire_ms`). Returns 0 or -errno;
/// on failure `err` names the step that failed and nothing stays open.
int weft_afp_open(const char *ifname, int version, uint32_t rx_block_size, uint32_t rx_block_count,
                  uint32_t retire_ms, uint32_t tx_frame_count,
                  struct weft_afp_ring *ring, char *err, size_t errlen);
void weft_afp_close(struct weft_afp_ring *ring);

/// The two halves of `weft_afp_open`. Setting up the rings waits for an RCU
/// grace period per ring in the kernel (tens of ms), so weftd prepares
/// unbound sockets ahead of time and only binds one when an interface
/// arrives. After a failed bind, close the socket.
int weft_afp_prepare(int version, uint32_t rx_block_size, uint32_t rx_block_count,
                     uint32_t retire_ms, uint32_t tx_frame_count,
                     struct weft_afp_ring *ring, char *err, size_t errlen);
int weft_afp_bind(struct weft_afp_ring *ring, const char *ifname, char *err, size_t errlen);

/// Kicks the kernel to send every TP_STATUS_SEND_REQUEST slot (non-blocking).
/// Returns 0 or -errno (EAGAIN/ENOBUFS mean "try again later").
int weft_afp_kick_tx(int fd);

/// Reads the next frame of the socket's receive queue (not the ring): the
/// whole frame the kernel could not fit in a ring slot (TP_STATUS_COPY, set
/// on V2 rings with PACKET_COPY_THRESH), virtio-net header first. Returns its
/// full length (larger than `cap` when cut), or -errno (-EAGAIN: none).
long weft_afp_recv_copy(int fd, void *buf, size_t cap);

/// A packet socket without rings, never bound, with PACKET_VNET_HDR (and
/// without PACKET_QDISC_BYPASS, so the kernel segments in software for a
/// device without TSO): how frames too large for a 2048-byte tx slot (GSO
/// super-frames, buffer chains) reach any interface of the namespace whole
/// (a socket with a tx ring only sends from its ring). One per worker, not
/// per port. Returns the fd or -errno (`err` says which step failed).
int weft_afp_large_socket(char *err, size_t errlen);

/// One frame through `weft_afp_large_socket`'s fd to interface `ifindex`:
/// sendmsg(2) of `count` pieces, the first a virtio-net header. Bytes sent
/// or -errno.
long weft_afp_send_large(int fd, int ifindex, const struct iovec *v, int count);

/// readv(2) into `count` pieces (a frame read straight into a buffer chain):
/// bytes or -errno.
long weft_fd_readv(int fd, const struct iovec *v, int count);

/// Packets the kernel dropped because the rx ring was full (PACKET_STATISTICS,
/// reset on read).
uint32_t weft_afp_rx_drops(int fd);

/// TAP devices (/dev/net/tun). Each queue is one file descriptor; every
/// frame read or written starts with a 10-byte virtio-net header
/// (struct virtio_net_hdr, native byte order).
enum { WEFT_TAP_MAX_QUEUES = 8 };

/// Opens `queues` (1...WEFT_TAP_MAX_QUEUES) queues of TAP device `name` in
/// the caller's current network namespace, creating the device if it does
/// not exist: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE, checksum
/// offload and TCPv4 segmentation (TUN_F_CSUM | TUN_F_TSO4: the kernel may
/// hand over partial checksums and TCPv4 GSO super-frames up to 64 KB, and
/// takes them back whole), O_NONBLOCK. `persist` nonzero keeps the device
/// when the last queue closes (so it outlives a weftd restart). Writes the fds
/// to `fds`. Returns 0 or -errno; on failure nothing stays open (a device this
/// call created is gone again).
int weft_tap_open(const char *name, int queues, int persist, int *fds, char *err, size_t errlen);

/// Clears persistence so the device disappears when its last queue closes.
int weft_tap_unpersist(int fd);

/// One frame in or out of a TAP queue, virtio-net header included; thin
/// wrappers over read(2)/write(2) returning the byte count or -errno.
static inline long weft_fd_read(int fd, void *buf, size_t len) {
    long n = read(fd, buf, len);
    return n < 0 ? -(long)errno : n;
}
static inline long weft_fd_write(int fd, const void *buf, size_t len) {
    long n = write(fd, buf, len);
    return n < 0 ? -(long)errno : n;
}
/// A frame read into a buffer, and what does not fit it into a second area
/// (a TAP's GSO super-frame): readv(2) with two vectors, bytes or -errno.
static inline long weft_fd_read2(int fd, void *buf, size_t len, void *rest, size_t restLen) {
    struct iovec v[2] = { { buf, len }, { rest, restLen } };
    long n = readv(fd, v, 2);
    return n < 0 ? -(long)errno : n;
}
/// A frame in pieces (a buffer chain behind its virtio-net header): writev(2).
static inline long weft_fd_writev(int fd, const struct iovec *v, int count) {
    long n = writev(fd, v, count);
    return n < 0 ? -(long)errno : n;
}

/// An eventfd the control thread writes to wake an idle worker out of poll(2)
/// (so a barrier request is served at once, not after the poll timeout).
int weft_wake_fd(void);
void weft_wake(int fd);
void weft_wake_drain(int fd);

/// Waits until any of the `nfds` fds is readable or `timeout_ms` elapses (idle
/// worker). Returns how many are readable, 0 on timeout, -errno on failure.
/// Fds that only report an error (a port whose device vanished) do not end the
/// wait: their socket error is read and the wait goes on with the other fds.
int weft_poll_readable(const int *fds, int nfds, int timeout_ms);

// MARK: latency probe (weft-bench latency; latency_probe.c)

/// A raw AF_PACKET socket bound to `ifname` inside the netns at `netns_path`
/// (the calling thread is back in its own netns on return), with kernel
/// receive timestamps (SO_TIMESTAMPNS) and `mac` set to the interface's MAC.
/// Returns the fd, or -errno with `err` saying what failed.
int weft_probe_open(const char *netns_path, const char *ifname, uint8_t mac[6], char *err, size_t errlen);
/// Sends `count` (at most 64) frames of `len` bytes laid out back to back, in
/// one sendmmsg: how many went, or -errno.
long weft_probe_send(int fd, const void *frames, size_t len, int count);
/// Receives one frame and its kernel receive time (CLOCK_REALTIME ns) within
/// `timeout_ms`: its length, 0 on timeout, or -errno.
long weft_probe_recv(int fd, void *buf, size_t len, int timeout_ms, uint64_t *rx_ns);
/// CLOCK_REALTIME in ns: the clock SO_TIMESTAMPNS stamps arrivals with.
uint64_t weft_realtime_ns(void);
/// Frames the kernel dropped because the socket's buffer was full.
long weft_probe_drops(int fd);
/// The calling thread's timer slack (how late a sleep may end): 0 or -errno.
int weft_set_timer_slack(unsigned long ns);

#endif
