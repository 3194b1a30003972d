package app_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestShutdownWritesQueuedAuditEvents: a CM's read served just before the
// server is told to stop (SIGTERM cancels Serve's context) is in the audit
// log once Serve has returned, though audit events are written in batches.
func TestShutdownWritesQueuedAuditEvents(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	sum, password, err := a.SeedDemo(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- a.Serve(serveCtx, ln, false) }()
	base := "http://" + ln.Addr().String()

	resp, err := http.Post(base+"/api/v1/auth/staff/login", "application/json",
		strings.NewReader(`{"username":"cm1","password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("staff login: %s", resp.Status)
	}
	const reads = 5
	for i := 0; i < reads; i++ {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/patients/"+sum.Patients["patient1"], nil)
		for _, c := range resp.Cookies() {
			req.AddCookie(c)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusOK {
			t.Fatalf("CM reads patient1: %s", r.Status)
		}
	}
	stop()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	var n int64
	if err := a.DB.Table("audit_events").Where("actor_id = ? AND action = ? AND patient_id = ?",
		sum.Staff["cm1"], "GET /api/v1/patients/:patientID", sum.Patients["patient1"]).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	if n != reads {
		t.Errorf("audit events of the CM's reads after shutdown: %d, want %d", n, reads)
	}
}
