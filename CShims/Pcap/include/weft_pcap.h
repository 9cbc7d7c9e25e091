// libpcap glue for pcap-input (replay) and packet capture (writer).
//
// Swift sees only these functions and two opaque handles: <pcap/pcap.h> is
// included by the .c file alone, because its `struct bpf_insn` clashes with
// the kernel's <linux/bpf.h> (CXDP) when both reach one Swift module.
#ifndef WEFT_PCAP_H
#define WEFT_PCAP_H
#include <stddef.h>
#include <stdint.h>

#define WEFT_DLT_EN10MB 1

/// A pcap file being written (dumper + optional compiled BPF filter).
typedef struct weft_pcap_writer weft_pcap_writer;
/// A capture file being read (pcap or pcapng).
typedef struct weft_pcap_reader weft_pcap_reader;

/// Compiles `filter` (may be NULL or empty: no filter), then creates or
/// truncates `path` as an Ethernet pcap file. On failure returns NULL, sets
/// *filter_failed (1: the filter, 0: the file) and copies libpcap's message to `err`.
weft_pcap_writer *weft_pcap_writer_open(const char *path, int snaplen, const char *filter,
                                        char *err, size_t errlen, int *filter_failed);
/// Writes one packet unless the filter rejects it: 1 written, 0 filtered out.
int weft_pcap_writer_write(weft_pcap_writer *w, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                           int64_t sec, int32_t usec);
void weft_pcap_writer_flush(weft_pcap_writer *w);
/// Flushes, closes the file and frees `w`.
void weft_pcap_writer_close(weft_pcap_writer *w);

/// 0 when `filter` compiles; otherwise -1 with libpcap's message in `err`.
int weft_pcap_filter_check(const char *filter, char *err, size_t errlen);

/// Opens `path` for reading; NULL with libpcap's message in `err` on failure.
weft_pcap_reader *weft_pcap_reader_open(const char *path, char *err, size_t errlen);
/// The file's link type (DLT_*), and its name ("EN10MB", "RAW", ...).
int weft_pcap_reader_linktype(weft_pcap_reader *r);
const char *weft_pcap_linktype_name(int linktype);
/// Next record: 1 with *data/*caplen/*wirelen set (valid until the next
/// call), 0 at the end of the file, -1 on an error (weft_pcap_reader_error
/// says which; a truncated file is one).
int weft_pcap_reader_next(weft_pcap_reader *r, const uint8_t **data, uint32_t *caplen, uint32_t *wirelen);
const char *weft_pcap_reader_error(weft_pcap_reader *r);
void weft_pcap_reader_close(weft_pcap_reader *r);

#endif
