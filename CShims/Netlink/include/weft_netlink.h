// Thin netlink / netns / ethtool calls for attaching containers with veth
// pairs (libnl-route-3 underneath).
//
// Conventions, shared by every function:
//  - Returns 0 (or a non-negative value where documented) on success and a
//    negative errno on failure. Kernel errors are reported with the kernel's
//    own errno (not libnl's lossy NLE_* code).
//  - On failure, `err` (size `errlen`) receives a human message naming the
//    operation and object: "creating veth wf1 (peer wfp1 in /var/run/netns/c1): ...".
//    `err` may be NULL.
//  - Every call opens its own netlink / ioctl socket and closes it before
//    returning. A socket belongs to the namespace of the thread that created
//    it, so a fresh socket per call acts on the caller's *current* netns.
//  - Not thread-safe with respect to namespaces: call only from the one
//    thread that owns setns() switching (NetnsWorker's thread).
#ifndef WEFT_NETLINK_H
#define WEFT_NETLINK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Opens a network namespace file (/var/run/netns/X, /proc/PID/ns/net,
/// /proc/thread-self/ns/net) O_RDONLY|O_CLOEXEC. Returns the fd (>= 0).
/// Fails with -EINVAL if the file is not a network namespace (e.g. a stale,
/// unmounted /var/run/netns entry).
int weft_netns_open(const char *path, char *err, size_t errlen);

/// setns(fd, CLONE_NEWNET) for the calling thread. `label` names the
/// namespace in error messages.
int weft_netns_enter(int fd, const char *label, char *err, size_t errlen);

/// Creates a veth pair `name` <-> `peer`, both ends with `mtu` (0 = kernel
/// default). `name` goes into the current netns; `peer` straight into the
/// namespace open at `peer_nsfd` (-1: the current one too), so no later move
/// (which costs an RCU grace period) is needed. `peer_nslabel` names that
/// namespace in messages. `peer_mac` (6 bytes) is the peer's address from
/// birth; NULL = random. Atomic: on failure neither end exists (and an
/// existing link with either name, each in its own netns, is left untouched,
/// -EEXIST).
int weft_veth_create(const char *name, const char *peer, int mtu,
                     int peer_nsfd, const char *peer_nslabel, const uint8_t *peer_mac,
                     char *err, size_t errlen);

/// Changes link `name` in the current netns in a single request. Each part is
/// optional: `newname` NULL = keep, `mac` NULL = keep (else 6 bytes), `mtu` 0 =
/// keep, `up` nonzero = set IFF_UP. The kernel applies the rename before the
/// up flag, so renaming a down link and bringing it up in one call works.
/// Returns the link's ifindex (> 0).
int weft_link_configure(const char *name, const char *newname,
                        const uint8_t *mac, int mtu, int up,
                        char *err, size_t errlen);

/// Adds IPv4 `addr`/`prefixlen` (addr dotted quad) to link `ifname`.
/// `ifindex` > 0 is taken as `ifname`'s index (saves a lookup); 0 = look up.
int weft_addr_add_ipv4(const char *ifname, int ifindex, const char *addr, int prefixlen,
                       char *err, size_t errlen);

/// Adds the IPv4 default route via `gateway` out of `ifname` (main table).
/// The link must be up with an address covering the gateway (-ENETUNREACH
/// otherwise). `ifindex` as for weft_addr_add_ipv4.
int weft_route_add_default_ipv4(const char *ifname, int ifindex, const char *gateway,
                                char *err, size_t errlen);

/// Turns every segmentation offload of `ifname` off (TSO, GSO, UDP/tunnel/
/// SCTP segmentation, gso-list) with ETHTOOL_SFEATURES, so that the kernel
/// hands the device MTU-sized frames only. Checksum offloads are untouched.
/// Verifies afterwards that TSO and GSO are really off.
int weft_ethtool_segmentation_off(const char *ifname, char *err, size_t errlen);

/// Writes 1 to /proc/sys/net/ipv6/conf/<ifname>/disable_ipv6 (the current
/// thread's netns). Succeeds doing nothing if IPv6 is absent from the kernel.
int weft_ipv6_disable(const char *ifname, char *err, size_t errlen);

/// Deletes link `name` (for a veth, both ends). -ENODEV if it does not exist.
int weft_link_delete(const char *name, char *err, size_t errlen);

/// Returns the ifindex (> 0) of link `name`, or -ENODEV if there is none.
int weft_link_ifindex(const char *name, char *err, size_t errlen);

/// Copies the 6-byte MAC of link `name` into `mac`; returns its ifindex.
int weft_link_mac(const char *name, uint8_t mac[6], char *err, size_t errlen);

/// Waits (in the calling thread's netns) until link `name`'s operstate is UP:
/// its carrier is on and the kernel's link watcher has run, which also
/// activates its qdisc (until then the device drops what it sends). Returns the
/// milliseconds waited, -ETIMEDOUT after `timeout_ms`, or -errno.
int weft_link_wait_running(const char *name, int timeout_ms, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
