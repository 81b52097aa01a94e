package prober

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// Reason says, in one word on-call can act on, why a probe failed. It is
// exported as the reason label of mailcluster_service_probe_failure.
type Reason string

// Failure reasons, from the network up to the application.
const (
	ReasonRefused             Reason = "refused"              // connection refused (nothing listens; ICMP port unreachable for UDP)
	ReasonConnectTimeout      Reason = "connect_timeout"      // no answer to the connection attempt within the deadline
	ReasonUnreachable         Reason = "unreachable"          // no route, host down, name not resolvable
	ReasonTimeout             Reason = "timeout"              // connected, then the server stopped answering within the deadline
	ReasonClosed              Reason = "closed"               // connected, then the server closed or reset the connection
	ReasonBadGreeting         Reason = "bad_greeting"         // the greeting refused service or was not the protocol's
	ReasonRejected            Reason = "rejected"             // a command got an error reply (SMTP 4xx/5xx, -ERR, NO, HTTP status, DNS rcode, LDAP result)
	ReasonStartTLSUnavailable Reason = "starttls_unavailable" // STARTTLS required but not offered, or refused
	ReasonTLSHandshake        Reason = "tls_handshake"        // the TLS handshake itself failed (never a verification problem)
	ReasonProtocolError       Reason = "protocol_error"       // malformed or unexpected protocol data
	ReasonAuthFailed          Reason = "auth_failed"          // credentials were refused
)

// Reasons lists every Reason, in the order above.
var Reasons = []Reason{
	ReasonRefused, ReasonConnectTimeout, ReasonUnreachable, ReasonTimeout, ReasonClosed,
	ReasonBadGreeting, ReasonRejected, ReasonStartTLSUnavailable, ReasonTLSHandshake,
	ReasonProtocolError, ReasonAuthFailed,
}

// Failure is an error that knows its Reason. Dialogues return it where the
// reason is known at the failing step; anything else is classified by
// classify.
type Failure struct {
	Reason Reason
	Err    error
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

// fail tags err with reason; a nil err stays nil, and an err that already
// carries a reason keeps it.
func fail(reason Reason, err error) error {
	if err == nil {
		return nil
	}
	var f *Failure
	if errors.As(err, &f) {
		return err
	}
	return &Failure{Reason: reason, Err: err}
}

// ReasonOf returns the reason a probe error stands for: the one a dialogue
// attached, else one read from the error itself (timeouts, resets, EOF),
// else protocol_error.
func ReasonOf(err error) Reason {
	var f *Failure
	if errors.As(err, &f) {
		return f.Reason
	}
	return transportReason(err, ReasonProtocolError)
}

// transportReason classifies an error of an established connection:
// timeout, closed, refused (UDP), or otherwise def.
func transportReason(err error, def Reason) Reason {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, context.Canceled), errors.As(err, &ne) && ne.Timeout():
		return ReasonTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED), errors.Is(err, net.ErrClosed):
		return ReasonClosed
	}
	return def
}

// dialReason classifies an error of the connection attempt.
func dialReason(err error) Reason {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, context.Canceled), errors.As(err, &ne) && ne.Timeout():
		return ReasonConnectTimeout
	}
	// EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, name resolution failures...
	return ReasonUnreachable
}

// greetingFailure tags a failure to read or understand the greeting:
// a timeout or closed connection stays what it is, anything else is a bad
// greeting.
func greetingFailure(err error) error {
	if r := transportReason(err, ""); r != "" {
		return fail(r, err)
	}
	return fail(ReasonBadGreeting, err)
}
