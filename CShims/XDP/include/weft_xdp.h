// AF_XDP glue (libxdp's xsk API). See Sources/WeftIO/AfXdp/AfXdpPorts.swift and docs/af-xdp.md.
//
// The ring accessors below are thin static inline wrappers over libxdp's
// xsk_ring_* functions: those are declared C99 `inline` (no external
// definition anywhere), which Swift cannot call directly; a static inline
// wrapper is compiled into the caller and inlined away.
//
// Setup and teardown (UMEM registration, socket creation with attach-mode
// fallback, statistics) live in xdp_shim.c. Every setup function returns 0
// or -errno and writes a message naming the failed step into `err`.
#ifndef WEFT_XDP_H
#define WEFT_XDP_H
#include <stddef.h>
#include <stdint.h>
#include <linux/if_xdp.h>
#include <xdp/xsk.h>

struct xdp_program;

/// The UMEM: the buffer arena registered with the kernel, shared by every
/// AF_XDP socket (each socket gets its own fill/completion rings).
struct weft_xsk_umem {
    struct xsk_umem *umem;
    // Rings libxdp creates with the UMEM; they are handed to the first socket
    // (libxdp copies them into that socket's own fill/comp structs).
    struct xsk_ring_prod fill0;
    struct xsk_ring_cons comp0;
    void *area;
    uint64_t size;
    uint32_t frame_size;
    uint32_t fill_size, comp_size;
    int sockets;       // sockets using the UMEM; it is unregistered when the last one closes
};

/// Attach modes and bind flags a socket ended up with.
enum {
    WEFT_XSK_MODE_NATIVE = 1,   // XDP_FLAGS_DRV_MODE: the driver runs the program
    WEFT_XSK_MODE_GENERIC = 2,  // XDP_FLAGS_SKB_MODE: the stack runs it on the skb
    WEFT_XSK_MODE_AUTO = 0,     // try native, fall back to generic
};

/// One AF_XDP socket bound to queue 0 of a link, and its four rings.
struct weft_xsk_port {
    struct xsk_socket *xsk;
    struct xsk_ring_cons rx;
    struct xsk_ring_prod tx;
    struct xsk_ring_prod fill;
    struct xsk_ring_cons comp;
    int fd;
    int ifindex;
    int mode;          // WEFT_XSK_MODE_NATIVE or _GENERIC
    int zerocopy;      // 1: XDP_ZEROCOPY bind, 0: XDP_COPY
    uint32_t prog_id;  // id of the XDP program we attached to the link
    struct xdp_program *prog;  // libxdp's handle of that program (detached at close)
    int map_fd;        // its xsks_map
    uint32_t rx_size, tx_size, fill_size, comp_size;
    uint8_t mac[6];
    int mtu;
};

/// Raises RLIMIT_MEMLOCK to infinity, or to the hard limit without CAP_SYS_RESOURCE
/// (the kernel charges the UMEM against it unless the process has CAP_IPC_LOCK).
int weft_xsk_raise_memlock(char *err, size_t errlen);

/// Describes the UMEM: `area` (page aligned, `size` bytes, frames of
/// `frame_size`) and the size of every socket's fill/completion rings. Nothing
/// is registered yet: `weft_xsk_open` registers the UMEM with the first socket
/// and `weft_xsk_close` unregisters it with the last (libxdp binds the first
/// socket on the UMEM's own descriptor, so the UMEM cannot outlive its sockets
/// usefully, and a failed first bind leaves that descriptor unusable).
/// Frame headroom is 0: the kernel puts received data at chunk + XDP_PACKET_HEADROOM.
void weft_xsk_umem_init(struct weft_xsk_umem *u, void *area, uint64_t size, uint32_t frame_size,
                        uint32_t fill_size, uint32_t comp_size);

/// Attaches libxdp's default redirect program (xsk_def_xdp_prog.o) to
/// `ifname`, then opens an AF_XDP socket on queue 0 sharing the UMEM
/// (registering it first when no socket uses it) and puts it in the program's
/// xsks_map. `mode`: WEFT_XSK_MODE_AUTO tries native then generic; `zerocopy`
/// 1 tries XDP_ZEROCOPY before XDP_COPY. Refuses a link that already has an XDP program.
/// On failure nothing is left: no socket, no program on the link.
int weft_xsk_open(struct weft_xsk_port *p, struct weft_xsk_umem *u, const char *ifname, int mode, int zerocopy,
                  uint32_t rx_size, uint32_t tx_size, char *err, size_t errlen);
/// Closes the socket, detaches our program from the link, and unregisters the
/// UMEM with the last socket.
void weft_xsk_close(struct weft_xsk_port *p, struct weft_xsk_umem *u);

/// Whether `p`'s socket is the UMEM's own descriptor (libxdp binds the first
/// socket of a UMEM on it). Closing that socket does not unbind it while the
/// UMEM lives: its link's queue 0 stays taken, and a new socket there is refused.
int weft_xsk_owns_umem(const struct weft_xsk_port *p, const struct weft_xsk_umem *u);
/// Takes the port off its link without closing the socket: its xsks_map entry
/// and our XDP program go (no frame reaches it any more), the socket stays
/// bound. For the UMEM's own socket while other sockets still share the UMEM.
void weft_xsk_park(struct weft_xsk_port *p);
/// Puts a parked port back on `ifname` (the same link, by ifindex): program
/// attached again (mode fallback as in weft_xsk_open), socket back in the map.
int weft_xsk_unpark(struct weft_xsk_port *p, const char *ifname, int mode, char *err, size_t errlen);

/// XDP_STATISTICS of the socket (cumulative); 0 or -errno.
int weft_xsk_statistics(int fd, struct xdp_statistics *out);

/// Wakes the kernel to transmit (sendto, MSG_DONTWAIT): 0, or -errno
/// (-EAGAIN/-EBUSY/-ENOBUFS: try again later; the descriptors stay queued).
int weft_xsk_kick_tx(int fd);
/// Wakes the kernel's receive side after the fill ring was refilled (recvfrom, MSG_DONTWAIT).
int weft_xsk_kick_rx(int fd);

/// Id of the XDP program attached to ifindex in any mode (0: none), for tests and `show`.
uint32_t weft_xdp_attached_prog(int ifindex);

// MARK: ring accessors (per packet; inlined)

/// Free slots in a producer ring (fill, tx), refreshing the kernel's consumer index when fewer than `n` look free.
static inline uint32_t weft_xsk_prod_free(struct xsk_ring_prod *r, uint32_t n) { return xsk_prod_nb_free(r, n); }
/// Reserves `n` producer slots (all or none); the first index goes to `*idx`.
static inline uint32_t weft_xsk_prod_reserve(struct xsk_ring_prod *r, uint32_t n, uint32_t *idx) { return xsk_ring_prod__reserve(r, n, idx); }
/// Publishes `n` reserved slots to the kernel (release store of the producer index).
static inline void weft_xsk_prod_submit(struct xsk_ring_prod *r, uint32_t n) { xsk_ring_prod__submit(r, n); }
/// Whether the kernel asked to be woken (XDP_USE_NEED_WAKEUP) before it looks at this ring again.
static inline int weft_xsk_prod_needs_wakeup(const struct xsk_ring_prod *r) { return xsk_ring_prod__needs_wakeup(r); }
/// Entries the kernel has consumed but we have not reclaimed, i.e. descriptors still in flight on a producer ring.
static inline uint32_t weft_xsk_prod_outstanding(const struct xsk_ring_prod *r) {
    return r->cached_prod - __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE);
}
/// Fill-ring slot `idx`: the address of the frame handed to the kernel.
static inline void weft_xsk_fill_set(struct xsk_ring_prod *r, uint32_t idx, uint64_t addr) { *xsk_ring_prod__fill_addr(r, idx) = addr; }
/// Tx-ring slot `idx`: the frame at `addr`, `len` bytes.
static inline void weft_xsk_tx_set(struct xsk_ring_prod *r, uint32_t idx, uint64_t addr, uint32_t len) {
    struct xdp_desc *d = xsk_ring_prod__tx_desc(r, idx);
    d->addr = addr; d->len = len; d->options = 0;
}

/// Up to `n` entries available in a consumer ring (rx, completion); the first index goes to `*idx`.
static inline uint32_t weft_xsk_cons_peek(struct xsk_ring_cons *r, uint32_t n, uint32_t *idx) { return xsk_ring_cons__peek(r, n, idx); }
/// Hands `n` consumed entries back to the kernel.
static inline void weft_xsk_cons_release(struct xsk_ring_cons *r, uint32_t n) { xsk_ring_cons__release(r, n); }
/// Rx slot `idx`: the received frame's address (chunk + headroom) and length.
static inline uint64_t weft_xsk_rx_addr(const struct xsk_ring_cons *r, uint32_t idx) { return xsk_ring_cons__rx_desc(r, idx)->addr; }
static inline uint32_t weft_xsk_rx_len(const struct xsk_ring_cons *r, uint32_t idx) { return xsk_ring_cons__rx_desc(r, idx)->len; }
/// Completion slot `idx`: the address of a transmitted frame, ours again.
static inline uint64_t weft_xsk_comp_addr(const struct xsk_ring_cons *r, uint32_t idx) { return *xsk_ring_cons__comp_addr(r, idx); }

#endif
