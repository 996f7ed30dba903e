/*
 * diagnose's verdicts: the region's STUN and DERP paths from its nodes' checks, and the
 * counts of checks by status.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "diagnose_int.h"

/* ---- verdicts ------------------------------------------------------------------------------ */

static const struct dc_diag_check *first_fail(const struct dc_diag_node *dn, enum dc_diag_path path)
{
	for (size_t i = 0; i < dn->count; i++)
		if (dn->checks[i].path == path && dn->checks[i].status == DC_CHECK_FAIL)
			return &dn->checks[i];
	return NULL;
}

void dc_diag_verdicts(struct dc_diag_report *r)
{
	size_t stun_nodes = 0, stun_ok = 0, derp_nodes = 0, derp_ok = 0, derp_off = 0;
	const struct dc_diag_check *stun_bad = NULL, *derp_bad = NULL;
	const char *stun_bad_node = NULL, *derp_bad_node = NULL;
	const struct dc_diag_node *off_node = NULL; /* relays only with certificate checks off */
	bool derp_bad_relayed = false;
	for (size_t i = 0; i < r->node_count; i++) {
		const struct dc_diag_node *dn = &r->nodes[i];
		bool any_stun = false;
		for (size_t k = 0; k < dn->count; k++)
			any_stun = any_stun || (dn->checks[k].path == DC_PATH_STUN && dn->checks[k].status != DC_CHECK_SKIP);
		if (any_stun) {
			stun_nodes++;
			const struct dc_diag_check *f = first_fail(dn, DC_PATH_STUN);
			if (!f)
				stun_ok++;
			else if (!stun_bad)
				stun_bad = f, stun_bad_node = dn->node->name;
		}
		if (!dn->node->stun_only) {
			const struct dc_diag_check *f = first_fail(dn, DC_PATH_DERP);
			bool relayed = false;
			for (size_t k = 0; k < dn->count; k++)
				relayed = relayed || (strcmp(dn->checks[k].id, DC_DIAG_RELAY) == 0 &&
						      (dn->checks[k].status == DC_CHECK_OK || dn->checks[k].status == DC_CHECK_WARN));
			/* A node nothing could be tried on (-4 with an IPv6-only node) is not counted. */
			if (!f && !relayed)
				continue;
			derp_nodes++;
			if (!f) {
				derp_ok++;
				if (dc_trust_checks_off(dn->trust)) {
					derp_off++;
					off_node = off_node ? off_node : dn;
				}
			} else if (!derp_bad) {
				derp_bad = f, derp_bad_node = dn->node->name, derp_bad_relayed = relayed;
			}
		}
	}
	const struct dc_diag_check *mesh_bad = NULL;
	for (size_t i = 0; i < r->region_count; i++)
		if (r->region_checks[i].path == DC_PATH_DERP && r->region_checks[i].status == DC_CHECK_FAIL && !mesh_bad)
			mesh_bad = &r->region_checks[i];

	bool any_stun_port = false;
	for (size_t i = 0; i < r->node_count; i++)
		any_stun_port = any_stun_port || dc_node_stun_port(r->nodes[i].node) >= 0;
	if (stun_nodes == 0) {
		r->stun = DC_VERDICT_NA;
		dc_textf(r->stun_reason, sizeof(r->stun_reason), "%s",
		      any_stun_port ? "no node could be probed: no address of the family asked for"
				    : "no node of the region serves STUN");
	} else {
		r->stun = stun_ok == stun_nodes ? DC_VERDICT_OK : stun_ok ? DC_VERDICT_DEGRADED : DC_VERDICT_BROKEN;
		if (stun_bad)
			dc_textf(r->stun_reason, sizeof(r->stun_reason), "%zu of %zu nodes answer STUN; %s: %s", stun_ok,
				 stun_nodes, stun_bad_node, stun_bad->id);
		else
			dc_textf(r->stun_reason, sizeof(r->stun_reason), "%zu of %zu nodes answer STUN", stun_ok, stun_nodes);
	}
	bool all_stun_only = true;
	for (size_t i = 0; i < r->node_count; i++)
		all_stun_only = all_stun_only && r->nodes[i].node->stun_only;
	if (derp_nodes == 0) {
		r->derp = DC_VERDICT_NA;
		dc_textf(r->derp_reason, sizeof(r->derp_reason), "%s",
		      all_stun_only ? "every node is STUNOnly: the region relays nothing"
				    : "no node could be tried: no address of the family asked for");
	} else {
		r->derp = derp_ok == 0				  ? DC_VERDICT_BROKEN
			  : derp_ok < derp_nodes || mesh_bad ? DC_VERDICT_DEGRADED
			  : derp_off			  ? DC_VERDICT_INSECURE
							  : DC_VERDICT_OK;
		char off[300] = "";
		if (off_node && dc_trust_checks_off(off_node->trust))
			dc_textf(off, sizeof(off), off_node->trust == DC_TRUST_INSECURE
				? ", %zu only because InsecureForTests turns certificate checks off; %s: certificate"
				: ", %zu with certificate checks turned off by InsecureForTests; %s: certificate (it verifies: remove "
				  "InsecureForTests)",
			      derp_off, off_node->node->name);
		/* A node whose own relay test passed but that fails clients elsewhere (its certificate). */
		const char *clients = derp_bad && derp_bad_relayed ? " for clients" : "";
		char relayed_note[120] = "";
		if (derp_bad && derp_bad_relayed)
			dc_textf(relayed_note, sizeof(relayed_note), ", although it relays when %s",
			      strcmp(derp_bad->id, DC_DIAG_CERT) == 0 ? "the certificate is not checked" : "that is ignored");
		if (derp_bad)
			dc_textf(r->derp_reason, sizeof(r->derp_reason), "%zu of %zu nodes relay%s; %s: %s%s%s", derp_ok, derp_nodes,
			      clients, derp_bad_node, derp_bad->id, relayed_note, off);
		else if (mesh_bad)
			dc_textf(r->derp_reason, sizeof(r->derp_reason), "%zu of %zu nodes relay; the mesh %s \u2194 %s fails%s",
			      derp_ok, derp_nodes, mesh_bad->pair[0], mesh_bad->pair[1], off);
		else
			dc_textf(r->derp_reason, sizeof(r->derp_reason), "%zu of %zu nodes relay%s", derp_ok, derp_nodes, off);
	}
}

size_t dc_diag_count(const struct dc_diag_report *r, enum dc_check_status st)
{
	size_t n = 0;
	for (size_t i = 0; i < r->region_count; i++)
		n += r->region_checks[i].status == st;
	for (size_t i = 0; i < r->node_count; i++)
		for (size_t k = 0; k < r->nodes[i].count; k++)
			n += r->nodes[i].checks[k].status == st;
	return n;
}
