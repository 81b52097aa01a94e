package prober

import (
	"context"
	"errors"
)

// tcpDialogue is explicitly a liveness check (SSH, replica and sync ports):
// up when the connection is accepted and, with implicit TLS, when the TLS
// handshake completes (the certificate is then reported). No bytes of any
// application protocol are exchanged.
func tcpDialogue(ctx context.Context, t Target, r *Result) error {
	mode, err := tlsMode(t)
	if err != nil {
		return err
	}
	if mode == TLSStartTLS {
		return fail(ReasonStartTLSUnavailable, errors.New("STARTTLS is not defined for plain tcp"))
	}
	c, err := dial(ctx, "tcp", t.Address)
	if err != nil {
		return err
	}
	defer c.Close()
	if mode == TLSImplicit {
		if _, err := newTLSClient(t, "").handshake(ctx, c, r); err != nil {
			return err
		}
	}
	return nil
}
