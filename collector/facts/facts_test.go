package facts

import "testing"

// Merge combines sources inside one exporter as the rules combine
// exporters, whatever order the sources are configured in.
func TestMergeOrder(t *testing.T) {
	type view struct {
		role       Role
		redundancy *bool
		peerUp     *bool
		sync       SyncState
	}
	node := func(v view) *Node {
		n := &Node{Role: v.role, RedundancyEnabled: v.redundancy, SyncState: v.sync}
		if v.peerUp != nil {
			n.PeerUp = map[string]bool{"b": *v.peerUp}
		}
		return n
	}
	cases := []struct {
		name        string
		first, then view
		want        view
	}{
		{"peer down seen later wins", view{peerUp: Bool(true)}, view{peerUp: Bool(false)}, view{peerUp: Bool(false)}},
		{"peer down seen first stays", view{peerUp: Bool(false)}, view{peerUp: Bool(true)}, view{peerUp: Bool(false)}},
		{"peer only in the later source", view{}, view{peerUp: Bool(true)}, view{peerUp: Bool(true)}},
		{"switch-off seen later wins", view{redundancy: Bool(true)}, view{redundancy: Bool(false)}, view{redundancy: Bool(false)}},
		{"switch-off seen first stays", view{redundancy: Bool(false)}, view{redundancy: Bool(true)}, view{redundancy: Bool(false)}},
		{"redundancy absent later keeps on", view{redundancy: Bool(true)}, view{}, view{redundancy: Bool(true)}},
		{"known role beats earlier unknown", view{role: RoleUnknown}, view{role: RoleStandby}, view{role: RoleStandby}},
		{"known role beats later unknown", view{role: RoleActive}, view{role: RoleUnknown}, view{role: RoleActive}},
		{"first known role kept", view{role: RoleActive}, view{role: RoleStandby}, view{role: RoleActive}},
		{"worse sync wins", view{sync: SyncSynced}, view{sync: SyncOutOfSync}, view{sync: SyncOutOfSync}},
		{"unknown sync beats synced", view{sync: SyncUnknown}, view{sync: SyncSynced}, view{sync: SyncUnknown}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := node(c.first)
			got.Merge(node(c.then))
			want := node(c.want)
			if got.Role != want.Role || got.SyncState != want.SyncState {
				t.Errorf("role %q sync %q, want role %q sync %q", got.Role, got.SyncState, want.Role, want.SyncState)
			}
			if !eqBool(got.RedundancyEnabled, want.RedundancyEnabled) {
				t.Errorf("redundancy_enabled %v, want %v", deref(got.RedundancyEnabled), deref(want.RedundancyEnabled))
			}
			gotPeer, gotOK := got.PeerUp["b"]
			wantPeer, wantOK := want.PeerUp["b"]
			if gotOK != wantOK || gotPeer != wantPeer {
				t.Errorf("peer_up %v (set %v), want %v (set %v)", gotPeer, gotOK, wantPeer, wantOK)
			}
		})
	}
}

func eqBool(a, b *bool) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func deref(b *bool) any {
	if b == nil {
		return "absent"
	}
	return *b
}
