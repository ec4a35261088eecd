/*
 * conntrack.h -- Weft's connection tracker (stateful firewall substrate).
 *
 * What it is.  A table of connections, each named by a zone (one per port,
 * chosen by the caller) and a 5-tuple (protocol, IPv4 or IPv6 addresses,
 * ports; the ICMP echo identifier stands in for both ports).  For
 * every IP packet the caller hands over, ct_execute() finds the connection
 * the packet belongs to (in either direction), advances its protocol state
 * and says what the packet is, as state bits:
 *
 *   TRACKED      always set for an IP packet (the tracker looked at it);
 *   NEW          the packet may start a connection, or belongs to one that
 *                has not seen a reply yet;
 *   ESTABLISHED  the connection has seen packets in both directions;
 *   RELATED      an ICMP error quoting a packet of a tracked connection;
 *   REPLY        the packet travels in the reply direction;
 *   INVALID      none of the above: malformed, out of the TCP window, a
 *                flag combination TCP forbids in this state, a reply or ICMP
 *                error for nothing we track, a fragment, a full table.
 *                ct_result.reason names which (CT_INVALID_*), and the
 *                connection's state is left exactly as it was.
 *
 * Commit.  Only committed connections are stored, as with OVS ct(commit):
 * a first packet is reported NEW and forgotten unless the caller passes
 * commit = true (the security-group code commits what its rules allow).
 * Processing is idempotent for a repeated identical packet, so a caller may
 * call once without commit (classify) and again with commit (allow) -- the
 * second call sees the same packet and leaves the same state.
 *
 * Lookup.  The key is canonical: the two endpoints (address, port) are
 * ordered, so both directions of a connection hash to the same bucket and
 * one probe sequence finds it; the entry remembers which endpoint opened
 * it.  (NAT, when it comes, needs a second key per entry; this table has
 * room for that change but does not do it.)
 *
 * TCP.  Connections start only with a pure SYN (no mid-stream pickup: an
 * unknown non-SYN segment is INVALID).  Per direction the tracker keeps the
 * highest sequence sent (end), the highest it may send (maxend: the peer's
 * ack + advertised window), and the largest window it advertised, with
 * window scaling taken from the SYN options when both sides offer it
 * (after Guido van Rooij's "Real Stateful TCP Packet Filtering", the scheme
 * Linux and OVS use).  A segment is in window if
 *     seq <= maxend[sender],  seq + len >= end[sender] - maxwin[receiver],
 *     ack <= end[receiver],   ack >= end[receiver] - maxwin[sender] (or
 *                             66000 before a window is known).
 * States: SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT (one FIN sent),
 * CLOSE_WAIT (that FIN acked: half-closed), LAST_ACK (both FINs sent),
 * TIME_WAIT (both acked), CLOSE (RST).  A pure SYN from the originator in
 * TIME_WAIT or CLOSE replaces the old connection (port reuse).
 * Simultaneous open is not supported (the reply's bare SYN is INVALID); a
 * connection closed (RST) before any reply accepts nothing but a new SYN.
 * Only the originator's SYN may carry a commit: ct_result.conn_state tells
 * the caller the TCP state after the packet, for tracing.
 *
 * UDP and other IP protocols: NEW until the first reply, then ESTABLISHED.
 * ICMP/ICMPv6 echo: a request creates (id as port), the reply is
 * ESTABLISHED|REPLY; an echo reply for nothing tracked is INVALID.  ICMP
 * errors (unreachable incl. frag-needed / packet-too-big, time exceeded,
 * parameter problem) whose quoted header matches a connection (the quoted
 * packet was sent by the error's destination) are RELATED (|REPLY when the
 * error flows in the reply direction); they never create or update a
 * connection; a non-matching error is INVALID.  Other ICMP types (neighbor
 * discovery, MLD, router advertisements...) are INVALID: the firewall must
 * let them through before conntrack, as Neutron does.  IP fragments are
 * INVALID (the tracker does not reassemble).
 *
 * Timeouts (defaults, milliseconds, configurable per state via ct_config):
 * SYN_SENT 30 s, SYN_RECV 60 s, ESTABLISHED 24 h, FIN_WAIT and CLOSE_WAIT
 * 120 s, LAST_ACK 30 s, TIME_WAIT 30 s, CLOSE 10 s; UDP/other 30 s before a
 * reply, 120 s after; ICMP 30 s.  Every accepted packet rearms the timer
 * with the timeout of the connection's new state.  Expiry is lazy on lookup
 * (an expired entry is never matched) plus ct_run(), which visits a bounded
 * number of slots per call, so no call does unbounded work.
 *
 * Bounded table and eviction policy.  At most config.max_entries
 * connections.  A commit into a full table first examines up to
 * CT_EVICT_SCAN entries from a rotating cursor and frees the first expired
 * one; failing that the first "unassured" one (never saw a reply, TCP
 * not past SYN_RECV, or TCP already in TIME_WAIT/CLOSE), counting an early
 * eviction (Linux's early_drop).  If neither is found the commit fails: the
 * packet is INVALID with reason CT_INVALID_TABLE_FULL and stats.full_drops
 * counts it.  Live replied connections are never evicted.
 *
 * Memory.  Entries live in 2 MiB chunks allocated on demand (no per-entry
 * malloc; transparent huge pages requested); the bucket array (32-bit
 * indices, a power of two >= max_entries) is allocated at creation.  An
 * entry is 88 bytes, so a million connections cost about 92 MB
 * (stats.bytes_used counts every allocation; a unit test checks it).
 *
 * Lookup cost: one hash of the 40-byte key and one bucket chain (load
 * factor <= 1).  At a million connections that is two dependent cache
 * misses (bucket, entry); a batch interface with prefetching would hide
 * them and is the next step if the cached path needs it.
 *
 * Threads: none.  A tracker belongs to the datapath thread; every function
 * must be called from it (dumps for `weftctl conntrack` included).
 */
#ifndef WEFT_CONNTRACK_H
#define WEFT_CONNTRACK_H 1

#include "lib/flow-key.h"

/* State bits (ct_result.state, the return value of ct_execute()). */
#define CT_STATE_BITS                                                    \
    CT_BIT(NEW,         0, "new")                                        \
    CT_BIT(ESTABLISHED, 1, "est")                                        \
    CT_BIT(RELATED,     2, "rel")                                        \
    CT_BIT(REPLY,       3, "rpl")                                        \
    CT_BIT(INVALID,     4, "inv")                                        \
    CT_BIT(TRACKED,     5, "trk")

enum {
#define CT_BIT(NAME, BIT, STR) CT_##NAME = 1 << BIT,
    CT_STATE_BITS
#undef CT_BIT
};

/* Connection states, with their default timeouts in milliseconds. */
#define CT_CONN_STATES                                                   \
    CT_S(NONE,           "none",         0)                              \
    CT_S(TCP_SYN_SENT,   "SYN_SENT",     30 * 1000)                      \
    CT_S(TCP_SYN_RECV,   "SYN_RECV",     60 * 1000)                      \
    CT_S(TCP_ESTABLISHED, "ESTABLISHED", 24 * 3600 * 1000)               \
    CT_S(TCP_FIN_WAIT,   "FIN_WAIT",     120 * 1000)                     \
    CT_S(TCP_CLOSE_WAIT, "CLOSE_WAIT",   120 * 1000)                     \
    CT_S(TCP_LAST_ACK,   "LAST_ACK",     30 * 1000)                      \
    CT_S(TCP_TIME_WAIT,  "TIME_WAIT",    30 * 1000)                      \
    CT_S(TCP_CLOSE,      "CLOSE",        10 * 1000)                      \
    CT_S(UDP_FIRST,      "UDP_FIRST",    30 * 1000)                      \
    CT_S(UDP_MULTIPLE,   "UDP_MULTIPLE", 120 * 1000)                     \
    CT_S(ICMP_FIRST,     "ICMP_FIRST",   30 * 1000)                      \
    CT_S(ICMP_REPLY,     "ICMP_REPLY",   30 * 1000)                      \
    CT_S(OTHER_FIRST,    "OTHER_FIRST",  30 * 1000)                      \
    CT_S(OTHER_MULTIPLE, "OTHER_MULTIPLE", 120 * 1000)

enum ct_conn_state {
#define CT_S(NAME, STR, TMO) CT_CS_##NAME,
    CT_CONN_STATES
#undef CT_S
    CT_N_CONN_STATES
};

/* Why a packet was INVALID (ct_result.reason), each with a counter. */
#define CT_INVALID_REASONS                                               \
    CT_R(NONE,          "none")                                          \
    CT_R(NOT_TRACKABLE, "not_trackable")    /* ND/MLD/other ICMP. */     \
    CT_R(FRAGMENT,      "fragment")                                      \
    CT_R(TRUNCATED,     "truncated")                                     \
    CT_R(TCP_FLAGS,     "tcp_flags")        /* Illegal combination. */   \
    CT_R(TCP_STATE,     "tcp_state")        /* Not legal in state. */    \
    CT_R(TCP_WINDOW,    "tcp_window")       /* Out of window. */         \
    CT_R(NO_CONN,       "no_conn")          /* Needs a connection. */    \
    CT_R(ICMP_UNRELATED, "icmp_unrelated")  /* Error quoting nothing. */ \
    CT_R(TABLE_FULL,    "table_full")

enum ct_invalid_reason {
#define CT_R(NAME, STR) CT_INVALID_##NAME,
    CT_INVALID_REASONS
#undef CT_R
    CT_N_INVALID_REASONS
};

#define CT_ZONE_ALL (-1)        /* For ct_dump()/ct_flush(): every zone. */
#define CT_EVICT_SCAN 64        /* Entries examined per full-table commit. */
#define CT_MAX_ENTRIES_LIMIT (1u << 26)

struct ct_config {
    uint32_t max_entries;       /* 1 .. CT_MAX_ENTRIES_LIMIT. */
    uint32_t timeout_msec[CT_N_CONN_STATES];   /* Indexed by CT_CS_*. */
};

struct ct_result {
    uint8_t state;              /* CT_* bits; 0 for a non-IP packet. */
    uint8_t reason;             /* enum ct_invalid_reason if INVALID. */
    uint8_t conn_state;         /* enum ct_conn_state after the packet,
                                 * CT_CS_NONE if no connection. */
};

struct ct_stats {
    uint64_t n_entries;
    uint64_t max_entries;
    uint64_t bytes_used;        /* Everything the tracker allocated. */
    uint64_t n_packets;         /* IP packets examined. */
    uint64_t commits;           /* Connections created. */
    uint64_t full_drops;        /* Commits refused: table full. */
    uint64_t early_evictions;   /* Unassured entries evicted for room. */
    uint64_t expired;           /* Removed by timeout (lazy or ct_run). */
    uint64_t related;           /* ICMP errors found related. */
    uint64_t invalid;           /* All INVALID packets ... */
    uint64_t invalid_by_reason[CT_N_INVALID_REASONS];   /* ... by reason. */
};

/* A connection as ct_dump() shows it, in its original direction. */
struct ct_conn_info {
    uint16_t zone;
    uint8_t proto;              /* IPPROTO_*. */
    bool ipv6;
    union flow_addr src, dst;
    be16 sport, dport;          /* ICMP echo: both are the echo id. */
    enum ct_conn_state state;
    bool replied;               /* Seen a packet in the reply direction. */
    long long expiration_msec;
};

struct conntrack;

/* Fills 'cfg' with the defaults: 256k entries and the timeouts above. */
void ct_config_default(struct ct_config *cfg);

/* Creates an empty tracker with a copy of 'cfg' (NULL: defaults).  Returns
 * NULL if cfg->max_entries is 0 or above CT_MAX_ENTRIES_LIMIT. */
struct conntrack *ct_create(const struct ct_config *cfg);

/* Frees 'ct' and every connection in it.  Accepts NULL. */
void ct_destroy(struct conntrack *ct);

/* Tracks one packet: 'frame' of 'len' bytes parsed by flow_key_extract()
 * into 'key' and 'layout' (all three must describe the same packet; the
 * tracker reads TCP sequence numbers, options and ICMP quoted headers from
 * the frame, bounds-checked against both 'len' and 'layout').  'zone'
 * scopes the lookup; with 'commit' a NEW packet creates its connection
 * (which may fail, see the eviction policy).  'now_msec' is the caller's
 * clock (time_msec() in the datapath; tests inject their own), and must not
 * go backwards.  Writes the verdict to 'res' (may be NULL) and returns its
 * state bits. */
uint8_t ct_execute(struct conntrack *ct, uint16_t zone, bool commit,
                   const void *frame, size_t len, const struct flow_key *key,
                   const struct packet_layout *layout, long long now_msec,
                   struct ct_result *res);

/* Expires connections whose timeout passed before 'now_msec', examining at
 * most 'max_work' slots (a cursor remembers where it stopped, so repeated
 * calls cover the table).  Returns the number of connections removed. */
size_t ct_run(struct conntrack *ct, long long now_msec, size_t max_work);

/* Calls 'cb' for every live connection in 'zone' (or CT_ZONE_ALL), in no
 * particular order, until it returns false.  'cb' must not modify 'ct'.
 * Expired-but-not-yet-swept entries are included (their expiration says
 * so). */
void ct_dump(const struct conntrack *ct, int zone,
             bool (*cb)(const struct ct_conn_info *, void *aux), void *aux);

/* Removes every connection in 'zone' (or CT_ZONE_ALL).  Returns how many.
 * Costs a pass over the whole table. */
size_t ct_flush(struct conntrack *ct, int zone);

/* Removes the connections in 'zone' (or CT_ZONE_ALL) for which 'pred'
 * returns true (e.g. those a deleted security-group rule had allowed).
 * Returns how many. */
size_t ct_flush_if(struct conntrack *ct, int zone,
                   bool (*pred)(const struct ct_conn_info *, void *aux),
                   void *aux);

/* ct_flush_if() over every zone in bounded steps, for a caller that must
 * not stop for a whole pass over a large table: examines at most
 * 'max_slots' slots from '*cursor' (0 starts a pass), advances '*cursor'
 * and sets '*done' once the pass has reached the end of the table.
 * Returns how many connections it removed.  Connections committed while a
 * pass is under way may land behind the cursor and be skipped by it. */
size_t ct_flush_if_step(struct conntrack *ct, uint32_t *cursor,
                        uint32_t max_slots,
                        bool (*pred)(const struct ct_conn_info *, void *aux),
                        void *aux, bool *done);

/* Copies the counters into 'stats'. */
void ct_get_stats(const struct conntrack *ct, struct ct_stats *stats);

/* Names, for logs and `weftctl conntrack`. */
const char *ct_conn_state_name(enum ct_conn_state state);
const char *ct_invalid_reason_name(enum ct_invalid_reason reason);

/* Writes the state bits as e.g. "+trk+est+rpl" (or "-trk" for 0) into
 * 'buf' of 'size' bytes.  Returns 'buf'. */
char *ct_state_format(uint8_t state, char *buf, size_t size);

/* Writes one line, e.g. "zone=3 tcp 10.0.0.1:40000->10.0.0.2:80
 * ESTABLISHED replied expires=86399000", into 'buf' of 'size' bytes, with
 * the expiry relative to 'now_msec'.  Returns 'buf'. */
char *ct_conn_format(const struct ct_conn_info *info, long long now_msec,
                     char *buf, size_t size);

#endif /* WEFT_CONNTRACK_H */
