#!/bin/sh
# Regenerates the CIBs (with status sections) and the crm_mon XML outputs in
# this directory from the two hand-written configurations base-*.cib.xml.
# Needs pacemaker-cli-utils (crm_simulate, crm_attribute, crm_mon); tested
# with Pacemaker 2.1.5 (Debian 12). Run from this directory.
#
# Every scenario is a real Pacemaker scheduler run: crm_simulate brings the
# nodes up, runs the transition and saves the resulting CIB (-O); crm_mon
# then renders that CIB exactly as it would render a live cluster's.
set -eu
sim() { crm_simulate "$@" >/dev/null 2>&1; }
attr() { f=$1; shift; CIB_file=$f crm_attribute "$@" >/dev/null 2>&1; }

# healthy pair: group Public-IP+Postfix+Dovecot on node1 (preferred), node2 idle
sim -x base-pair.cib.xml -u node1 -u node2 -S -O healthy.cib.xml
# node1 failed (no fencing configured): the group moves to node2
sim -x healthy.cib.xml --node-fail node1 -S -O failover.cib.xml
# node2 put in standby: it can no longer take over
cp healthy.cib.xml standby.cib.xml
attr standby.cib.xml -N node2 -n standby -v on
sim -x standby.cib.xml -S -O standby.cib.xml
# cluster-wide maintenance mode
cp healthy.cib.xml maintenance.cib.xml
attr maintenance.cib.xml -n maintenance-mode -v true
sim -x maintenance.cib.xml -S -O maintenance.cib.xml
# node1 failed and Postfix fails to start on node2 (rc 5 = not installed)
sim -x healthy.cib.xml --node-fail node1 -F Postfix_start_0@node2=5 -S -O failed-start.cib.xml
# promotable DRBD (ocf:linbit:drbd) with the group colocated with Promoted
# The drbd agent does not run in a simulation, so set the promotion scores it
# would publish (master-<rsc>, transient) and let the scheduler promote.
sim -x base-drbd.cib.xml -u node1 -u node2 -S -O drbd.cib.xml
attr drbd.cib.xml -N node1 -l reboot -n master-mail-drbd -v 10000
attr drbd.cib.xml -N node2 -l reboot -n master-mail-drbd -v 1000
sim -x drbd.cib.xml -S -O drbd.cib.xml
# ... and after node1 fails: node2 is promoted and runs the group
sim -x drbd.cib.xml --node-fail node1 -S -O drbd-failover.cib.xml

for c in healthy failover standby maintenance failed-start drbd drbd-failover; do
	CIB_file=$c.cib.xml crm_mon --output-as=xml -1 >$c.crm_mon.xml || true
done
