// Signs in to the approvals page in headless Chromium, opens a pending approval, checks
// the context shown, and clicks "Approve". Prints one JSON line of what it saw.
//
// Usage: node approve.mjs BASE_URL APPROVER_TOKEN APPROVAL_ID SUSPICIOUS_VALUE
// Chromium: $AECL_CHROMIUM, else /usr/bin/chromium (Debian's package; Playwright's own
// browser download is never used).
import { chromium } from 'playwright-core';

const [base, token, id, suspicious] = process.argv.slice(2);
if (!suspicious) {
  console.error('usage: node approve.mjs BASE_URL APPROVER_TOKEN APPROVAL_ID SUSPICIOUS_VALUE');
  process.exit(2);
}

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.AECL_CHROMIUM || '/usr/bin/chromium',
  // As root in CI, and without Chromium's calls home (refused on a closed network).
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(20000);
  // The page must work offline: any request to another origin is reported.
  const foreign = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(base)) foreign.push(request.url());
  });
  const scripts = [];
  page.on('dialog', (dialog) => { scripts.push(dialog.message()); dialog.dismiss(); });

  await page.goto(`${base}/ui/approvals`);
  check(page.url() === `${base}/ui/login`, `redirected to sign in, at ${page.url()}`);
  await page.fill('#token', token);
  await page.click('#sign-in');
  await page.waitForURL(`${base}/ui/approvals`);

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

  await page.fill('#approve-reason', 'called the vendor on the number we have on file');
  await page.click('#approve');
  await page.waitForSelector('.badge.approved');
  const flash = await page.textContent('[role=status]');
  if (process.env.AECL_SCREENSHOT) await page.screenshot({ path: process.env.AECL_SCREENSHOT, fullPage: true });

  console.log(JSON.stringify({
    status: 'approved', marked, risk_rows: risk, flash, foreign_requests: foreign, dialogs: scripts,
  }));
} catch (error) {
  // What the page showed helps more than a timeout.
  const pages = browser.contexts().flatMap((context) => context.pages());
  for (const page of pages) console.error(`at ${page.url()}:\n${await page.content()}`);
  throw error;
} finally {
  await browser.close();
}
