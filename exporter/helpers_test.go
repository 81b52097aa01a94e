package exporter

import (
	"net"
	"testing"

	"github.com/mailcluster/mailcluster_exporter/internal/testmail"
)

// The loopback servers these tests point the probes at (internal/testmail).
var (
	// fakeSMTP greets with "220 golden.invalid ESMTP ready".
	fakeSMTP  = testmail.SMTP("golden.invalid")
	blackHole = testmail.BlackHole
)

// listen serves addr with handle until the test ends (testmail.Listen).
func listen(t *testing.T, addr string, handle func(net.Conn)) {
	t.Helper()
	testmail.Listen(t, addr, handle)
}
