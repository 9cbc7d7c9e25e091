#include "weft_pcap.h"
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct weft_pcap_writer {
    pcap_t *dead;
    pcap_dumper_t *dumper;
    struct bpf_program program;
    int has_filter;
};

static void copy_message(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg ? msg : "unknown error");
}

weft_pcap_writer *weft_pcap_writer_open(const char *path, int snaplen, const char *filter,
                                        char *err, size_t errlen, int *filter_failed) {
    *filter_failed = 0;
    weft_pcap_writer *w = calloc(1, sizeof(*w));
    if (!w) { copy_message(err, errlen, "out of memory"); return NULL; }
    w->dead = pcap_open_dead(DLT_EN10MB, snaplen);
    if (!w->dead) { copy_message(err, errlen, "pcap_open_dead failed"); free(w); return NULL; }
    if (filter && filter[0]) {
        if (pcap_compile(w->dead, &w->program, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            *filter_failed = 1;
            copy_message(err, errlen, pcap_geterr(w->dead));
            pcap_close(w->dead);
            free(w);
            return NULL;
        }
        w->has_filter = 1;
    }
    w->dumper = pcap_dump_open(w->dead, path);
    if (!w->dumper) {
        copy_message(err, errlen, pcap_geterr(w->dead));
        if (w->has_filter) pcap_freecode(&w->program);
        pcap_close(w->dead);
        free(w);
        return NULL;
    }
    return w;
}

int weft_pcap_writer_write(weft_pcap_writer *w, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                           int64_t sec, int32_t usec) {
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)sec;
    h.ts.tv_usec = (suseconds_t)usec;
    h.caplen = caplen;
    h.len = wirelen;
    if (w->has_filter && pcap_offline_filter(&w->program, &h, data) == 0) return 0;
    pcap_dump((u_char *)w->dumper, &h, data);
    return 1;
}

void weft_pcap_writer_flush(weft_pcap_writer *w) { pcap_dump_flush(w->dumper); }

void weft_pcap_writer_close(weft_pcap_writer *w) {
    pcap_dump_close(w->dumper);
    if (w->has_filter) pcap_freecode(&w->program);
    pcap_close(w->dead);
    free(w);
}

int weft_pcap_filter_check(const char *filter, char *err, size_t errlen) {
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
    if (!dead) { copy_message(err, errlen, "pcap_open_dead failed"); return -1; }
    struct bpf_program program;
    int rc = pcap_compile(dead, &program, filter, 1, PCAP_NETMASK_UNKNOWN);
    if (rc != 0) copy_message(err, errlen, pcap_geterr(dead));
    else pcap_freecode(&program);
    pcap_close(dead);
    return rc == 0 ? 0 : -1;
}

struct weft_pcap_reader { pcap_t *p; };

weft_pcap_reader *weft_pcap_reader_open(const char *path, char *err, size_t errlen) {
    char errbuf[PCAP_ERRBUF_SIZE];
    errbuf[0] = 0;
    pcap_t *p = pcap_open_offline(path, errbuf);
    if (!p) { copy_message(err, errlen, errbuf); return NULL; }
    weft_pcap_reader *r = malloc(sizeof(*r));
    if (!r) { pcap_close(p); copy_message(err, errlen, "out of memory"); return NULL; }
    r->p = p;
    return r;
}

int weft_pcap_reader_linktype(weft_pcap_reader *r) { return pcap_datalink(r->p); }

const char *weft_pcap_linktype_name(int linktype) {
    const char *name = pcap_datalink_val_to_name(linktype);
    return name ? name : "unknown";
}

int weft_pcap_reader_next(weft_pcap_reader *r, const uint8_t **data, uint32_t *caplen, uint32_t *wirelen) {
    struct pcap_pkthdr *h;
    const u_char *d;
    int rc = pcap_next_ex(r->p, &h, &d);
    if (rc == 1) {
        *data = d;
        *caplen = h->caplen;
        *wirelen = h->len;
        return 1;
    }
    if (rc == PCAP_ERROR_BREAK) return 0; /* end of a savefile */
    return -1;
}

const char *weft_pcap_reader_error(weft_pcap_reader *r) { return pcap_geterr(r->p); }

void weft_pcap_reader_close(weft_pcap_reader *r) {
    pcap_close(r->p);
    free(r);
}
