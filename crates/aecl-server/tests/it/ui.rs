//! The approvals web page: sign-in, the context an approver sees (the untrusted values
//! highlighted, tool output escaped), CSRF and origin checks, roles, and, in real headless
//! Chromium driven by Playwright, a click on "Approve" that lets a waiting agent's call
//! complete.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use aecl_engine::identity::Role;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::{Answer, Backend, EMAIL_IBAN, Server, agent, call, start, token};

on_both!(
    the_page_shows_the_context_and_answers_only_with_a_valid_session,
    characters_a_reader_cannot_see_are_written_out_for_the_approver
);

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

fn form(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish()
}

fn header<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The agent reads its inbox (a vendor's e-mail naming a new IBAN), then asks to pay that
/// IBAN: the call waits for approval. Returns the approval id.
async fn risky_call(server: &Server, run: &str) -> String {
    let read = server
        .post(
            "/v1/execute",
            Some(&agent()),
            &call(run, "c1", "read_email", json!({"folder": "inbox", "limit": 5})),
        )
        .await;
    assert_eq!(read.body["decision"], "allow", "{}", read.text);
    let asked = pay(server, run, "c2").await;
    assert_eq!(asked["decision"], "require_approval", "{asked}");
    asked["approval_id"].as_str().expect("an approval id").to_owned()
}

async fn pay(server: &Server, run: &str, id: &str) -> Value {
    let args = json!({"vendor": "V-221", "amount": 1200, "currency": "EUR", "iban": EMAIL_IBAN});
    let answer =
        server.post("/v1/execute", Some(&agent()), &call(run, id, "transfer_funds", args)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body
}

/// Signs in with `token`; returns the `Cookie` header of the session.
async fn sign_in(server: &Server, token: &str) -> String {
    let answer = server.send("POST", "/ui/login", None, &[FORM], &form(&[("token", token)])).await;
    assert_eq!(answer.status, 303, "{}", answer.text);
    assert_eq!(header(&answer, "location"), "/ui/approvals");
    let cookie = header(&answer, "set-cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    cookie.split(';').next().unwrap().to_owned()
}

/// The CSRF value in a page's forms.
fn csrf_in(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a form with a CSRF value") + 19;
    page[at..at + 64].to_owned()
}

async fn the_page_shows_the_context_and_answers_only_with_a_valid_session(backend: Backend) {
    let server = start(backend).await;
    let id = risky_call(&server, "r1").await;
    let detail_path = format!("/ui/approvals/{id}");

    // No session: to the sign-in page. An agent's token does not sign in, and is recorded.
    let anonymous = server.get(&detail_path, None).await;
    assert_eq!((anonymous.status, header(&anonymous, "location")), (303, "/ui/login"));
    let by_agent =
        server.send("POST", "/ui/login", None, &[FORM], &form(&[("token", &agent())])).await;
    assert_eq!(by_agent.status, 403, "{}", by_agent.text);
    assert!(by_agent.text.contains("needs an approver"), "{}", by_agent.text);
    let forged =
        server.send("POST", "/ui/login", None, &[FORM], &form(&[("token", "aecl1.x.y")])).await;
    assert_eq!(forged.status, 401, "{}", forged.text);

    let alice = sign_in(&server, &token("alice", Role::Approver)).await;
    let cookie = [("cookie", alice.as_str())];
    let list = server.send("GET", "/ui/approvals", None, &cookie, "").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(list.text.contains(&detail_path), "{}", list.text);
    assert_eq!(header(&list, "x-frame-options"), "DENY");
    assert!(header(&list, "content-security-policy").contains("frame-ancestors 'none'"));

    let detail = server.send("GET", &detail_path, None, &cookie, "").await;
    assert_eq!(detail.status, 200, "{}", detail.text);
    let page = &detail.text;
    // The reasons and the highlighted values come before the buttons.
    let why = page.find("id=\"why\"").expect("the reasons");
    let marked = page.find("<mark>").expect("a highlighted value");
    let button = page.find("id=\"approve\"").expect("the approve button");
    assert!(why < button && marked < button, "reasons and values before the buttons");
    // The list shows the arguments that matter and refreshes itself.
    assert!(list.text.contains(EMAIL_IBAN), "the IBAN in the list: {}", list.text);
    assert!(list.text.contains("http-equiv=\"refresh\""), "{}", list.text);
    assert!(list.text.contains("just now") || list.text.contains(" s ago"), "{}", list.text);
    assert!(
        page.contains(&format!("<mark>{EMAIL_IBAN}</mark>")),
        "the untrusted IBAN is marked: {page}"
    );
    assert!(
        page.contains("untrusted_input") && page.contains("irreversible"),
        "risk factors: {page}"
    );
    assert!(page.contains("Please process immediately"), "the e-mail is in the history");
    assert!(!page.contains("<script>"), "tool output is escaped: {page}");
    assert!(page.contains("&lt;script&gt;"), "{page}");
    let csrf = csrf_in(page);

    // Posts without the session's CSRF value, or from another origin, are refused.
    let approve = format!("{detail_path}/approve");
    let wrong = server
        .send("POST", &approve, None, &[FORM, cookie[0]], &form(&[("csrf", &"0".repeat(64))]))
        .await;
    assert_eq!(wrong.status, 403, "{}", wrong.text);
    let elsewhere = server
        .send(
            "POST",
            &approve,
            None,
            &[FORM, cookie[0], ("origin", "http://evil.example")],
            &form(&[("csrf", &csrf)]),
        )
        .await;
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.text);
    // An administrator reads but does not answer; the agent's own identity never approves.
    let admin = sign_in(&server, &token("root", Role::Admin)).await;
    let admin_page = server.send("GET", &detail_path, None, &[("cookie", &admin)], "").await;
    assert!(!admin_page.text.contains("id=\"approve\""), "no buttons for admins");
    // The sign-out form carries the session's value.
    let admin_csrf = csrf_in(&admin_page.text);
    let by_admin = server
        .send("POST", &approve, None, &[FORM, ("cookie", &admin)], &form(&[("csrf", &admin_csrf)]))
        .await;
    assert_eq!(by_admin.status, 403, "{}", by_admin.text);
    let own = sign_in(&server, &token("finance_agent", Role::Approver)).await;
    let own_page = server.send("GET", &detail_path, None, &[("cookie", &own)], "").await;
    let own_csrf = csrf_in(&own_page.text);
    let by_self = server
        .send("POST", &approve, None, &[FORM, ("cookie", &own)], &form(&[("csrf", &own_csrf)]))
        .await;
    // Every answered post redirects to a page (post/redirect/get), refusals too.
    assert_eq!(by_self.status, 303, "{}", by_self.text);
    assert_eq!(header(&by_self, "location"), format!("{detail_path}?error=self"));
    let told =
        server.send("GET", header(&by_self, "location"), None, &[("cookie", &own)], "").await;
    assert!(told.text.contains("someone else must answer"), "{}", told.text);
    assert_eq!(server.executed.0.load(Ordering::SeqCst), 1, "only the inbox was read");

    // Rejecting needs a reason; approving with the session's value works.
    let reject = format!("{detail_path}/reject");
    let no_reason = server
        .send("POST", &reject, None, &[FORM, cookie[0]], &form(&[("csrf", &csrf), ("reason", " ")]))
        .await;
    assert_eq!(no_reason.status, 303, "{}", no_reason.text);
    assert_eq!(header(&no_reason, "location"), format!("{detail_path}?error=reason"));
    let approved = server
        .send(
            "POST",
            &approve,
            None,
            &[FORM, cookie[0]],
            &form(&[("csrf", &csrf), ("reason", "called the vendor")]),
        )
        .await;
    assert_eq!(approved.status, 303, "{}", approved.text);
    let landing = header(&approved, "location").to_owned();
    assert_eq!(landing, format!("{detail_path}?done=approved"));
    // The page after the redirect: reloading it answers nothing again.
    for _ in 0..2 {
        let shown = server.send("GET", &landing, None, &cookie, "").await;
        assert_eq!(shown.status, 200, "{}", shown.text);
        assert!(shown.text.contains("badge approved"), "{}", shown.text);
        assert!(shown.text.contains("will run once"), "{}", shown.text);
    }
    // Reasons come before the buttons (on a pending request's page: the list's other ones).
    let again =
        server.send("POST", &approve, None, &[FORM, cookie[0]], &form(&[("csrf", &csrf)])).await;
    assert_eq!(header(&again, "location"), format!("{detail_path}?error=closed"));
    let done = pay(&server, "r1", "c3").await;
    assert_eq!(done["effect"]["state"], "succeeded", "{done}");

    let refusals = server.audit().await.into_iter().filter(|r| r["kind"] == "refusal").count();
    assert!(refusals >= 5, "refused sign-ins and posts are recorded ({refusals})");

    // Signing out ends the session.
    let out = server
        .send("POST", "/ui/logout", None, &[FORM, cookie[0]], &form(&[("csrf", &csrf)]))
        .await;
    assert_eq!(out.status, 303);
    assert!(header(&out, "set-cookie").contains("Max-Age=0"));
}

/// The Playwright script and its pinned dependencies.
fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_an_approver_signs_in_and_approves_a_waiting_call() {
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "Playwright is not installed: run `npm ci --prefix {}` (`cargo xtask ci` does)",
        dir.display()
    );
    let chromium =
        std::env::var("AECL_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        Path::new(&chromium).is_file(),
        "no Chromium at {chromium} (Debian: apt-get install chromium)"
    );

    let server = Arc::new(start(Backend::Sqlite).await);
    let id = risky_call(&server, "r1").await;
    // The agent waits on its request, then retries the call.
    let agent_side = {
        let (server, id) = (server.clone(), id.clone());
        tokio::spawn(async move {
            let waited = server.get(&format!("/v1/approvals/{id}?wait=60s"), Some(&agent())).await;
            (waited, pay(&server, "r1", "c3").await)
        })
    };

    // A second server, whose policy needs two approvers for a transfer.
    let quorum = crate::quorum::gate(crate::quorum::finance_with(
        crate::quorum::transfer_approval("approvals_required = 2"),
    ))
    .await;
    let approver = token("alice", Role::Approver);
    let (agent_token, bob) = (agent(), token("bob", Role::Approver));
    let (base, quorum_base) = (server.base.clone(), quorum.base.clone());
    let started = std::time::Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("approve.mjs")
            .args([&base, &approver, &id, EMAIL_IBAN, &agent_token, &bob, &quorum_base])
            .env("AECL_CHROMIUM", &chromium)
            .current_dir(browser_dir())
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the browser script failed:\n{stdout}\n{stderr}");
    let seen: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("a JSON line");
    assert_eq!(seen["status"], "approved", "{stdout}");
    let marked = seen["marked"].as_array().expect("the marked values");
    assert!(
        marked.contains(&json!(EMAIL_IBAN)),
        "the page highlighted the untrusted IBAN: {stdout}"
    );
    assert_eq!(seen["foreign_requests"], json!([]), "the page fetched nothing from elsewhere");
    assert_eq!(seen["live_refresh"], true, "{stdout}");
    assert_eq!(seen["similar"], true, "{stdout}");
    assert_eq!(seen["rejected_resubmission"], true, "{stdout}");
    assert!(seen["quorum"].as_str().is_some_and(|q| q.contains("1 of 2")), "{stdout}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "{:?}", started.elapsed());

    let (waited, done) = agent_side.await.unwrap();
    assert_eq!(waited.body["status"], "approved", "{}", waited.text);
    assert_eq!(waited.body["decided_by"], "alice");
    assert_eq!(done["decision"], "allow", "{done}");
    assert_eq!(done["effect"]["state"], "succeeded", "{done}");
    // The inbox read, the payment, and the two similar transfers.
    assert_eq!(server.executed.0.load(Ordering::SeqCst), 4);
    assert_eq!(quorum.executed.0.load(Ordering::SeqCst), 1, "the transfer at quorum");
}

/// A red-team finding: a right-to-left override in an argument made the approver's page
/// show `DE44…` for a text that reads `…44ED` (and zero-width characters split look-alike
/// names unseen). Every such character is written out on the page.
async fn characters_a_reader_cannot_see_are_written_out_for_the_approver(backend: Backend) {
    let server = start(backend).await;
    let reference = "invoice \u{202e}1394237045715010054ED\u{202c} pay\u{200b}pal";
    let args = json!({"vendor": "V-221", "amount": 1200, "currency": "EUR",
        "iban": "DE89370400440532013000", "reference": reference});
    let asked =
        server.post("/v1/execute", Some(&agent()), &call("r1", "c1", "transfer_funds", args)).await;
    assert_eq!(asked.body["decision"], "require_approval", "{}", asked.text);
    let id = asked.body["approval_id"].as_str().expect("an approval id");
    let alice = sign_in(&server, &token("alice", Role::Approver)).await;
    let cookie = [("cookie", alice.as_str())];
    let detail = server.send("GET", &format!("/ui/approvals/{id}"), None, &cookie, "").await;
    assert_eq!(detail.status, 200, "{}", detail.text);
    let page = &detail.text;
    assert!(
        page.contains("invoice ⟨U+202E⟩1394237045715010054ED⟨U+202C⟩ pay⟨U+200B⟩pal"),
        "{page}"
    );
    for hidden in ['\u{202e}', '\u{202c}', '\u{200b}'] {
        assert!(!page.contains(hidden), "{hidden:?} on the page");
    }
}
