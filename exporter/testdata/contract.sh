#!/bin/sh
# The JSON contract (DESIGN.md §4) of an appliance pair in the middle of a sync.
cat <<'JSON'
{"nodes":[
 {"node":"node-a","role":"active","redundancy_enabled":true,"peer_up":true,"sync_state":"syncing","sync_progress":0.42,
  "sync_pending_bytes":1048576,"version":"2.0.7","restart_required":false,
  "queues":{"hold":{"messages":3,"bytes":4096,"oldest_age_seconds":120}}},
 {"node":"node-b","role":"standby","redundancy_enabled":true,"peer_up":true,"sync_state":"syncing","version":"2.0.7","restart_required":true}
]}
JSON
