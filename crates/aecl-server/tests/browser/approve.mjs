// The approvals page as an approver uses it, in one headless Chromium: sign in, open a
// pending approval, check the context shown (reasons and highlighted values before the
// buttons), approve it (post/redirect/get: a reload answers nothing again); watch the list
// refresh itself when a new request arrives, with its summary arguments; "approve and
// allow similar for 10 minutes" (a second identical call then runs without a request);
// reject a call and see its resubmission answered without a new request; and, on a second
// server whose policy needs two approvers, a quorum reached by two people ("1 of 2").
// The agent's calls are made by this script over the API. Prints one JSON line.
//
// Usage: node approve.mjs BASE_URL APPROVER_TOKEN APPROVAL_ID SUSPICIOUS_VALUE \
//          AGENT_TOKEN SECOND_APPROVER_TOKEN QUORUM_BASE_URL
// Chromium: $AECL_CHROMIUM, else /usr/bin/chromium (Debian's package; Playwright's own
// browser download is never used).
import { chromium } from 'playwright-core';

const [base, token, id, suspicious, agentToken, bobToken, quorumBase] = process.argv.slice(2);
if (!quorumBase) {
  console.error('usage: node approve.mjs BASE_URL APPROVER_TOKEN APPROVAL_ID SUSPICIOUS_VALUE '
    + 'AGENT_TOKEN SECOND_APPROVER_TOKEN QUORUM_BASE_URL');
  process.exit(2);
}

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

/// The agent's call over the API.
async function execute(server, run, callId, args) {
  const response = await fetch(`${server}/v1/execute`, {
    method: 'POST',
    headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ run, id: callId, action: 'transfer_funds', args }),
  });
  check(response.status === 200, `execute answered ${response.status}`);
  return response.json();
}

function transfer(vendor, amount) {
  return { vendor, amount, currency: 'EUR', iban: 'GB29NWBK60161331926819' };
}

const rules = (answer) => (answer.reasons || []).map((r) => r.rule);

async function signIn(page, server, withToken) {
  await page.goto(`${server}/ui/approvals`);
  check(page.url() === `${server}/ui/login`, `redirected to sign in, at ${page.url()}`);
  await page.fill('#token', withToken);
  await page.click('#sign-in');
  await page.waitForURL(`${server}/ui/approvals`);
}

const browser = await chromium.launch({
  executablePath: process.env.AECL_CHROMIUM || '/usr/bin/chromium',
  // As root in CI, and without Chromium's calls home (refused on a closed network).
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const seen = {};
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  // The page must work offline: any request to another origin is reported.
  const foreign = [];
  const posts = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(base)) foreign.push(request.url());
    if (request.method() === 'POST') posts.push(new URL(request.url()).pathname);
  });
  const scripts = [];
  page.on('dialog', (dialog) => { scripts.push(dialog.message()); dialog.dismiss(); });

  await signIn(page, base, token);
  await page.click(`a[href="/ui/approvals/${id}"]`);
  await page.waitForURL(`${base}/ui/approvals/${id}`);
  check((await page.textContent('#approval-id')) === id, 'the request id is shown');
  const marked = await page.locator('#arguments mark').allTextContents();
  check(marked.includes(suspicious), `${suspicious} is marked in the arguments (${marked})`);
  const risk = await page.locator('#risk tbody tr').count();
  check(risk > 0, 'risk factors are listed');
  const history = await page.textContent('#history');
  check(history.includes('Please process immediately'), 'the e-mail is in the run history');
  check(history.includes("<script>alert('x')</script>"), 'markup in a tool output shows as text');
  check((await page.locator('#history mark').count()) > 0, 'the value is marked in the e-mail');
  // The reasons and the highlighted values come before the buttons.
  const above = await page.evaluate(() => {
    const button = document.querySelector('#approve');
    const before = (selector) => Boolean(document.querySelector(selector)
      .compareDocumentPosition(button) & Node.DOCUMENT_POSITION_FOLLOWING);
    return before('#why') && before('#suspicious mark');
  });
  check(above, 'reasons and highlighted values come before the buttons');

  await page.fill('#approve-reason', 'called the vendor on the number we have on file');
  await page.click('#approve');
  await page.waitForURL(`${base}/ui/approvals/${id}?done=approved`);
  await page.waitForSelector('.badge.approved');
  const flash = await page.textContent('[role=status]');
  // Post/redirect/get: reloading shows the answer and posts nothing.
  await page.reload();
  await page.waitForSelector('.badge.approved');
  check(posts.filter((p) => p.endsWith('/approve')).length === 1, `one approve post (${posts})`);
  if (process.env.AECL_SCREENSHOT) await page.screenshot({ path: process.env.AECL_SCREENSHOT, fullPage: true });
  Object.assign(seen, { status: 'approved', marked, risk_rows: risk, flash });

  // The list refreshes itself: a request made while it is open appears, with the
  // arguments that matter.
  await page.goto(`${base}/ui/approvals`);
  const similar = await execute(base, 'r2', 's1', transfer('V-555', 300));
  check(similar.decision === 'require_approval', `a call that needs approval (${similar.decision})`);
  const row = page.locator(`tr[data-id="${similar.approval_id}"]`);
  await row.waitFor({ timeout: 12000 });
  const summary = await row.locator('td.summary').textContent();
  check(summary.includes('V-555') && summary.includes('GB29NWBK60161331926819'), `summary: ${summary}`);
  seen.live_refresh = true;

  // Approve and allow similar calls for 10 minutes.
  await row.locator('a').click();
  await page.waitForURL(`${base}/ui/approvals/${similar.approval_id}`);
  await page.fill('#similar-minutes', '10');
  await page.click('#approve-similar');
  await page.waitForURL(`${base}/ui/approvals/${similar.approval_id}?done=similar`);
  const retried = await execute(base, 'r2', 's2', transfer('V-555', 300));
  check(retried.decision === 'allow', `the approved call runs (${JSON.stringify(retried)})`);
  const second = await execute(base, 'r2', 's3', transfer('V-555', 300));
  check(second.decision === 'allow', `a similar call runs (${JSON.stringify(second)})`);
  check(rules(second).includes('approval.standing_grant'), `by the standing grant (${rules(second)})`);
  // The amount is bound too: a larger transfer to the same vendor and IBAN is asked again.
  const larger = await execute(base, 'r2', 's4', transfer('V-555', 301));
  check(larger.decision !== 'allow' && !rules(larger).includes('approval.standing_grant'),
    `a larger transfer is not the grant's (${JSON.stringify(larger)})`);
  if (larger.approval_id) {
    // Answered, so that the list is empty again below.
    await page.goto(`${base}/ui/approvals/${larger.approval_id}`);
    await page.fill('#reject-reason', 'more than the similar calls allowed');
    await page.click('#reject');
    await page.waitForURL(`${base}/ui/approvals/${larger.approval_id}?done=rejected`);
  }
  seen.similar = true;

  // A rejected call, resubmitted, is answered without a new request.
  const risky = await execute(base, 'r3', 'x1', transfer('V-666', 900));
  await page.goto(`${base}/ui/approvals/${risky.approval_id}`);
  await page.fill('#reject-reason', 'we do not pay V-666');
  await page.click('#reject');
  await page.waitForURL(`${base}/ui/approvals/${risky.approval_id}?done=rejected`);
  const again = await execute(base, 'r3', 'x2', transfer('V-666', 900));
  check(again.decision === 'block' && rules(again).includes('approval.rejected'),
    `the resubmission is rejected (${JSON.stringify(again)})`);
  check(JSON.stringify(again).includes('we do not pay V-666'), 'with the first reason');
  await page.goto(`${base}/ui/approvals`);
  check((await page.locator('tr[data-id]').count()) === 0, 'nothing new waits for an answer');
  seen.rejected_resubmission = true;

  // A quorum: two people, each in their own session.
  const asked = await execute(quorumBase, 'q1', 'q1', transfer('V-777', 400));
  check(asked.decision === 'require_approval', `quorum call waits (${asked.decision})`);
  const alice = await (await browser.newContext()).newPage();
  await signIn(alice, quorumBase, token);
  await alice.goto(`${quorumBase}/ui/approvals/${asked.approval_id}`);
  await alice.click('#approve');
  await alice.waitForURL(`${quorumBase}/ui/approvals/${asked.approval_id}?done=counted`);
  const half = await alice.textContent('#quorum');
  check(half.includes('1 of 2'), `the page shows 1 of 2 (${half})`);
  const early = await execute(quorumBase, 'q1', 'q2', transfer('V-777', 400));
  check(early.decision === 'require_approval', `below quorum nothing runs (${early.decision})`);
  const bob = await (await browser.newContext()).newPage();
  await signIn(bob, quorumBase, bobToken);
  await bob.goto(`${quorumBase}/ui/approvals/${asked.approval_id}`);
  await bob.click('#approve');
  await bob.waitForURL(`${quorumBase}/ui/approvals/${asked.approval_id}?done=approved`);
  const done = await execute(quorumBase, 'q1', 'q3', transfer('V-777', 400));
  check(done.decision === 'allow', `at quorum the call runs (${done.decision})`);
  seen.quorum = half;

  console.log(JSON.stringify({ ...seen, foreign_requests: foreign, dialogs: scripts }));
} catch (error) {
  // What the page showed helps more than a timeout.
  const pages = browser.contexts().flatMap((context) => context.pages());
  for (const page of pages) console.error(`at ${page.url()}:\n${await page.content()}`);
  throw error;
} finally {
  await browser.close();
}
