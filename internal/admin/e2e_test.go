package admin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/carepath/carepath/internal/apitest"
)

const chromiumPath = "/usr/bin/chromium"

// artifactsDir is where the browser test leaves its screenshots: out/e2e at
// the repository root (ignored by git), or $CAREPATH_E2E_ARTIFACTS.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("CAREPATH_E2E_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "out", "e2e")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts folder: %v", err)
	}
	return dir
}

// TestDeskInRealBrowser drives the desk in headless Chromium as a CM would:
// log in, read the dashboard, open the patient of a fresh critical alert
// (BP 186/112 reported through the patient API), acknowledge it, see a new
// message arrive live, reply, and check through the patient's own API that
// the reply arrived. CI installs Debian's chromium and sets CAREPATH_E2E=require.
func TestDeskInRealBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CAREPATH_E2E") == "require" {
			t.Fatalf("CAREPATH_E2E=require but %s is missing: apt-get install -y chromium", chromiumPath)
		}
		t.Skipf("browser test skipped: %s is absent (apt-get install -y chromium, or set CAREPATH_E2E=require to make this a failure)", chromiumPath)
	}
	e := apitest.New(t)
	srv := httptest.NewServer(e.App.Engine)
	t.Cleanup(srv.Close)
	p1 := e.Demo.Patients["patient1"]
	patientTok := e.LoginWeChat("patient1").AccessToken
	send := func(id, text string) {
		t.Helper()
		r := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/thread/messages", Token: patientTok,
			Body: map[string]string{"client_msg_id": id, "text": text}})
		if r.Status != http.StatusCreated && r.Status != http.StatusOK {
			t.Fatalf("patient message: %d %s", r.Status, r.Body)
		}
	}
	send("e2e-1", "护士您好，今天伤口有点渗液")
	// A fresh critical alert: the patient reports BP 186/112 through the API.
	rep := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/observations", Token: patientTok,
		Headers: map[string]string{"Idempotency-Key": "e2e-bp-1"},
		Body:    map[string]any{"type": "blood_pressure", "systolic": 186, "diastolic": 112, "measured_at": e.Clock.Now().Add(-time.Minute).Format(time.RFC3339)}})
	if rep.Status != http.StatusCreated {
		t.Fatalf("report BP: %d %s", rep.Status, rep.Body)
	}
	var reported struct {
		Alerts []struct {
			ID       string `json:"id"`
			Severity string `json:"severity"`
		} `json:"alerts"`
	}
	rep.JSON(t, &reported)
	alertID := ""
	for _, a := range reported.Alerts {
		if a.Severity == "critical" {
			alertID = a.ID
		}
	}
	if alertID == "" {
		t.Fatalf("BP 186/112 raised no critical alert: %s", rep.Body)
	}

	// Chromium's helper processes may still be writing to the profile for a
	// moment after the browser is told to quit, which would fail t.TempDir's
	// strict cleanup: remove it ourselves, patiently, once the test is over.
	profile, err := os.MkdirTemp("", "carepath-e2e-profile-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath), chromedp.UserDataDir(profile),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 1000),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	dir := artifactsDir(t)
	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var buf []byte // quality 100: PNG
			if err := chromedp.FullScreenshot(&buf, 100).Do(ctx); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name), buf, 0o644)
		})
	}
	step := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// waitFor polls the page until js is true; a form post navigates the
	// page, so an evaluation may fail while it loads and is retried.
	waitFor := func(what, js string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			var ok bool
			err := chromedp.Run(ctx, chromedp.Evaluate(js, &ok))
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not seen within 15 s (last error: %v)", what, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// Log in through the form (the double-submit CSRF cookie is set by the page).
	step("log in as cm1",
		chromedp.Navigate(srv.URL+"/admin"),
		chromedp.WaitVisible(`input[name=username]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=username]`, "cm1", chromedp.ByQuery),
		chromedp.SendKeys(`input[name=password]`, apitest.Password, chromedp.ByQuery),
		chromedp.Click(`.login button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#kpi`, chromedp.ByID),
	)
	var waiting, alerts string
	step("read the dashboard",
		chromedp.Text(`#waiting`, &waiting, chromedp.ByID),
		chromedp.Text(`#alerts tbody tr:first-child`, &alerts, chromedp.ByQuery),
		shot("dashboard.png"),
	)
	if !strings.Contains(waiting, "分钟") && !strings.Contains(waiting, "刚刚") {
		t.Errorf("dashboard does not show the waiting thread with its waiting time: %q", waiting)
	}
	if !strings.Contains(alerts, "危急") {
		t.Errorf("the first open alert on the dashboard is not the critical one: %q", alerts)
	}

	step("open patient1 from the critical alert on the dashboard",
		chromedp.Click(`#alerts tr.sev-critical a[href^="/admin/patients/`+p1+`"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#thread-list`, chromedp.ByID),
		chromedp.WaitVisible(`#alert-`+alertID+` button.ack`, chromedp.ByQuery),
	)
	step("acknowledge the critical alert",
		chromedp.Click(`#alert-`+alertID+` button.ack`, chromedp.ByQuery),
	)
	waitFor("the alert acknowledged", `!!document.getElementById("alert-`+alertID+`") && document.getElementById("alert-`+alertID+`").dataset.status === "acknowledged" && document.querySelector("#alert-`+alertID+` button.ack") === null`)
	if al, _, err := e.App.Alerts.Get(t.Context(), alertID); err != nil || al.Status != "acknowledged" || al.AcknowledgedBy == nil || *al.AcknowledgedBy != e.Demo.Staff["cm1"] {
		t.Errorf("after the click the alert is not acknowledged by cm1: %+v %v", al, err)
	}

	// A new message arrives while the page is open: shown without a reload.
	var marked bool
	step("wait for the live connection", chromedp.WaitVisible(`#live.on`, chromedp.ByQuery),
		chromedp.Evaluate(`window.noReloadMarker = true`, &marked))
	send("e2e-2", "另外想问一下复诊时间")
	waitFor("the new message shown live", `document.getElementById("thread-list").innerText.includes("复诊时间")`)
	var same bool
	step("check the page was not reloaded", chromedp.Evaluate(`window.noReloadMarker === true`, &same))
	if !same {
		t.Errorf("the page reloaded to show the new message")
	}

	reply := "收到，请明天上午来换药，复诊安排在下周一。"
	step("reply in the thread",
		chromedp.SendKeys(`#thread textarea[name=text]`, reply, chromedp.ByQuery),
		chromedp.Click(`#send`, chromedp.ByID),
	)
	waitFor("the reply in the thread", `location.pathname.endsWith("`+p1+`") && !!document.getElementById("thread-list") && document.getElementById("thread-list").innerText.includes("复诊安排在下周一")`)
	step("screenshot the patient page", chromedp.WaitVisible(`#thread-list`, chromedp.ByID), shot("patient.png"))

	// The patient's own API shows the reply.
	msgs := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p1 + "/thread/messages", Token: patientTok})
	if msgs.Status != http.StatusOK || !strings.Contains(string(msgs.Body), reply) {
		t.Fatalf("the patient does not see the reply: %d %s", msgs.Status, msgs.Body)
	}

	// Closing the plan (结案) asks first: dismissed, nothing happens; accepted, the plan is closed.
	var acceptDialog atomic.Bool
	var dialogs atomic.Int32
	chromedp.ListenTarget(ctx, func(ev any) {
		if d, ok := ev.(*cdppage.EventJavascriptDialogOpening); ok && d.Type == cdppage.DialogTypeConfirm && strings.Contains(d.Message, "结案") {
			dialogs.Add(1)
			go chromedp.Run(ctx, cdppage.HandleJavaScriptDialog(acceptDialog.Load())) //nolint:errcheck // a failure shows as the plan's state below
		}
	})
	plan, err := e.App.Careplan.Current(t.Context(), p1)
	if err != nil {
		t.Fatal(err)
	}
	step("choose a reason to close the plan",
		chromedp.Click(`#plan details.close-plan summary`, chromedp.ByQuery),
		chromedp.SetValue(`#plan .close-plan select[name=reason]`, "goals_met", chromedp.ByQuery),
		chromedp.Click(`#plan .close-plan button.danger`, chromedp.ByQuery),
	)
	time.Sleep(500 * time.Millisecond) // a dismissed confirmation leaves nothing on the page to wait for
	if cur, err := e.App.Careplan.Current(t.Context(), p1); dialogs.Load() != 1 || err != nil || cur.ID != plan.ID {
		t.Fatalf("after dismissing the confirmation (%d asked) the plan is %+v, %v", dialogs.Load(), cur.Status, err)
	}
	acceptDialog.Store(true)
	step("close the plan, confirming", chromedp.Click(`#plan .close-plan button.danger`, chromedp.ByQuery))
	waitFor("the plan listed as closed", `!!document.querySelector("#plan .closed-plans") && document.querySelector("#plan .closed-plans").innerText.includes("目标达成")`)
	step("screenshot the closed plan", shot("plan-closed.png"))
	if v, err := e.App.Careplan.View(t.Context(), p1, plan.ID); err != nil || v.Status != "closed" || v.Closure == nil || v.Closure.Reason != "goals_met" {
		t.Errorf("after confirming the plan is %+v, %v", v.Closure, err)
	}
	t.Logf("screenshots in %s", dir)
}
