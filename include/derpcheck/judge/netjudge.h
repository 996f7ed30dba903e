/*
 * Judging a netcheck report: what the measurements of probe/netcheck.c mean. The home
 * region and MappingVariesByDestIP by Tailscale's rules (protocols.md §3.7), the NAT's
 * RFC 4787 mapping behaviour, derpcheck's verdict on UDP (judge/udpverdict.h) and the
 * findings with their hints. dc_netcheck_run calls the last two at the end of a run.
 */
#ifndef DERPCHECK_NETJUDGE_H
#define DERPCHECK_NETJUDGE_H

#include "derpcheck/probe/netcheck.h"

/*
 * Tailscale's home-region choice (§3.7): the lowest latency scaled by the map's region
 * scores; with a previous home, its hysteresis (keep it unless the new one is 10 ms and
 * a third faster). 0 when nothing was measured.
 */
int64_t dc_netcheck_pick_home(const struct dc_netreport *r, const struct dc_derpmap *map, int64_t previous_home);

/*
 * MappingVariesByDestIP from the IPv4 mappings in reply order (Tailscale's rule): unset
 * with fewer than two, true as soon as one differs from the first.
 */
enum dc_optbool dc_netcheck_mapping_varies(const struct dc_endpoint *mapped, size_t n);

/* RFC 4787 classification from (server, mapping) pairs of one local socket. */
enum dc_nat_mapping dc_netcheck_classify(const struct dc_endpoint *servers, const struct dc_endpoint *mapped, size_t n,
					 const struct dc_endpoint *local, char *detail, size_t detail_len);

const char *dc_nat_mapping_key(enum dc_nat_mapping m);  /* "endpoint-independent", ... */
const char *dc_nat_mapping_text(enum dc_nat_mapping m); /* the words for text output */

/*
 * The nodes' failure words from their evidence (node.why), then the verdict on UDP
 * (extra.udp_verdict, udp_detail, udp_hint, stun_ports); phase_ns is how long the STUN
 * phase waited for replies.
 */
void dc_netcheck_judge_udp(struct dc_netcheck_result *res, uint64_t phase_ns);

/* The report's findings (extra.findings), with hints that carry o's map, format and --ca-file. */
void dc_netcheck_judge(const struct dc_netcheck_opts *o, struct dc_netcheck_result *res);

#endif
