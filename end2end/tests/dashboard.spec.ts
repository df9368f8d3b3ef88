// The manager dashboard against the real server and the real PWA: sign-in, a tablet's handoff
// arriving on the board live, an exception worked from evidence to resolution (with a hostile
// note rendered as text), a quarantine signed by the server, and the audit export.
import { expect, test, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  demoCredentials,
  enroll,
  enrollmentCode,
  person,
  scan,
  screens,
  signInManager,
  typePin,
} from "./support";

const XSS_NOTE = `<img src=x onerror="window.__xss = 1"> called the ward; back in the drawer`;

async function signInThroughTheForm(page: Page) {
  const credentials = demoCredentials();
  await page.goto("/dashboard");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Sign in to the dashboard");
  await expect(page.getByLabel("Username")).toBeFocused();
  await page.getByLabel("Username").fill(credentials.managerUsername);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
  await expect(page.getByLabel("Password")).toHaveValue("");
  await page.getByLabel("Password").fill(credentials.managerPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Custody board");
}

test("a manager sees a handoff arrive live and works its exception to resolution", async ({
  browser,
  baseURL,
}) => {
  test.setTimeout(120_000);
  const managerContext = await browser.newContext();
  const dashboard = await managerContext.newPage();
  const dialogs: string[] = [];
  dashboard.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await signInThroughTheForm(dashboard);
  await expect(dashboard.getByTestId("live-indicator")).toHaveText("Live");
  const row = dashboard.getByTestId("dash-row-BT-10015");
  await expect(row).toContainText("Available");
  await dashboard.screenshot({ path: `${screens}/dashboard-board.png`, fullPage: true });

  // A tablet in another browser checks the device out; the board changes without a reload.
  const manager = await signInManager(baseURL!);
  const tabletContext = await browser.newContext();
  const tablet = await tabletContext.newPage();
  await enroll(tablet, await enrollmentCode(manager));
  const nurse = person("S-0003");
  await scan(tablet, "Device asset tag", "BT-10015");
  await scan(tablet, "Staff badge", nurse.badge);
  await typePin(tablet, nurse.pin);
  await expect(tablet.getByTestId("confirmation")).toContainText("BT-10015 checked out to");
  await expect(row).toContainText("In use", { timeout: 20_000 });
  await expect(row).toContainText(nurse.name);
  await expect(row).toContainText("last sync");

  // Search by the nurse's name keeps only her device: the server filters, and the page says
  // how many rows of how many it shows.
  await expect(dashboard.getByTestId("board-range")).toHaveText("Devices 1–20 of 20");
  await dashboard.getByTestId("board-search").fill(nurse.name.split(" ")[0]);
  await expect(dashboard.locator("[data-testid^=dash-row-]")).toHaveCount(1);
  await expect(dashboard.getByTestId("board-range")).toHaveText("Devices 1–1 of 1");
  await dashboard.getByTestId("board-search").fill("");
  await expect(dashboard.locator("[data-testid^=dash-row-]")).toHaveCount(20);

  // Returned without the checklist done: an exception reaches the queue.
  await tablet.getByRole("link", { name: "Check in" }).click();
  await scan(tablet, "Device asset tag", "BT-10015");
  await tablet.getByLabel("Staff badge", { exact: true }).click();
  await scan(tablet, "Staff badge", nurse.badge);
  await typePin(tablet, nurse.pin);
  await expect(tablet.getByTestId("confirmation")).toContainText("BT-10015 checked in by");
  await expect(row).toContainText("Available", { timeout: 20_000 });

  await dashboard.getByRole("link", { name: "Exceptions" }).click();
  await expect(dashboard.getByRole("heading", { level: 1 })).toHaveText("Exceptions");
  const exception = dashboard
    .getByTestId("exception-incomplete_checklist")
    .filter({ hasText: "D-0015" });
  await expect(exception).toHaveCount(1);
  await expect(dashboard.getByTestId("exceptions-range")).toContainText(/^Exceptions 1–\d+ of \d+/);
  await exception.getByText("Evidence").click();
  await expect(exception.locator(".evidence li")).toHaveCount(1);
  await expect(exception).toContainText(nurse.name);
  await dashboard.screenshot({ path: `${screens}/dashboard-exception.png`, fullPage: true });

  await exception.getByRole("button", { name: "Acknowledge" }).click();
  await expect(exception.getByTestId("review")).toContainText("Acknowledged by manager");
  // Resolving needs a note.
  await exception.getByRole("button", { name: "Resolve" }).click();
  await expect(exception.getByRole("alert")).toContainText("Write a note");
  await exception.getByLabel("Note").fill(XSS_NOTE);
  await exception.getByRole("button", { name: "Resolve" }).click();
  await expect(exception).toHaveCount(0);
  await dashboard.getByLabel("Show resolved").check();
  await expect(exception.getByTestId("review")).toContainText("Resolved by manager");
  // The note is shown as the text it is; nothing in it ran or became an element.
  await expect(exception.getByTestId("review")).toContainText(XSS_NOTE);
  expect(await dashboard.locator("img[src=x]").count()).toBe(0);
  expect(await dashboard.evaluate(() => (window as any).__xss)).toBeUndefined();

  // The device page: the timeline names who signed what; a quarantine is signed by the server.
  await exception.getByRole("link", { name: "D-0015" }).first().click();
  await expect(dashboard.getByRole("heading", { level: 1 })).toHaveText("Device BT-10015");
  const timeline = dashboard.getByTestId("timeline");
  await expect(timeline.locator("tbody tr")).toHaveCount(2);
  await expect(timeline).toContainText(`Checked out to ${nurse.name}`);
  await expect(timeline).toContainText("local data not wiped");
  await dashboard.getByText("Manager actions").click();
  await dashboard.getByRole("button", { name: "Quarantine", exact: true }).click();
  await expect(dashboard.getByRole("alert")).toContainText("Write a note");
  await dashboard.getByTestId("action-note").fill("Screen cracked at return");
  await dashboard.getByRole("button", { name: "Quarantine", exact: true }).click();
  await expect(dashboard.getByTestId("device-status")).toHaveText("Quarantined");
  await expect(timeline).toContainText("Quarantined by manager");
  await expect(timeline).toContainText("the server (manager action)");
  await dashboard.getByTestId("action-note").fill("Screen replaced");
  await dashboard.getByRole("button", { name: "Release from quarantine" }).click();
  await expect(dashboard.getByTestId("device-status")).toHaveText("Available");
  await dashboard.screenshot({ path: `${screens}/dashboard-device.png`, fullPage: true });

  // Reports: the evidence report counts the handoffs; the export is the verifiable bundle.
  await dashboard.getByRole("link", { name: "Reports and export" }).click();
  const report = dashboard.getByTestId("evidence-report");
  await expect(report).toContainText("Handoffs recorded");
  await expect(report).toContainText("PR.AA-01");
  await expect(dashboard.locator("svg.chart").first()).toBeVisible();
  await expect(dashboard.locator("pre")).toContainText(/--server-key [0-9a-f]{64}/);
  await dashboard.screenshot({ path: `${screens}/dashboard-reports.png`, fullPage: true });
  const bundle = await dashboard.request.get("/api/v1/ledger/export");
  expect(bundle.status()).toBe(200);
  const parsed = await bundle.json();
  expect(parsed.format).toBe("baton.audit-bundle.v1");
  const actions = parsed.entries.filter((entry: any) => JSON.stringify(entry.entry).includes("resolve"));
  expect(actions.length, "the resolution is in the ledger").toBeGreaterThan(0);

  // Signing out ends the session: the board asks for a sign-in again.
  await dashboard.getByRole("button", { name: "Sign out" }).click();
  await expect(dashboard.getByRole("heading", { level: 1 })).toHaveText("Sign in to the dashboard");
  expect(dialogs).toEqual([]);
  await manager.api.dispose();
  await tabletContext.close();
  await managerContext.close();
});

test("a manager enrolls a tablet, imports staff and deactivates a leaver without touching the database", async ({
  page,
}) => {
  await signInThroughTheForm(page);
  await page.getByRole("link", { name: "Administration" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Administration");

  // An enrollment code for a ward, shown as text and as a QR code a tablet can scan.
  await page.getByLabel("Ward").selectOption("W-5W");
  await page.getByRole("button", { name: "Create an enrollment code" }).click();
  const code = page.getByTestId("enrollment-code");
  await expect(code).toContainText("W-5W");
  await expect(code.locator("code")).toHaveText(/^[A-Z0-9-]{8,}$/);
  const qr = code.getByRole("img", { name: "QR code of the enrollment code" });
  await expect(qr).toBeVisible();
  expect(await qr.evaluate((image: HTMLImageElement) => image.naturalWidth)).toBeGreaterThan(0);

  // A bad import changes nothing and says which line is wrong.
  const csv = (rows: string) => ({
    name: "staff.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(`staff_id,display_name,role,badge_id,home_ward,pin,active\n${rows}`),
  });
  await page.getByTestId("import-file").setInputFiles(csv("S-0100,Imported Nurse,nurse,B-9100,W-4E,12,true\n"));
  await page.getByRole("button", { name: "Import staff (CSV)" }).click();
  await expect(page.getByRole("alert")).toContainText("line");
  await expect(page.getByTestId("staff-S-0100")).toHaveCount(0);

  await page.getByTestId("import-file").setInputFiles(csv("S-0100,Imported Nurse,nurse,B-9100,W-4E,4321,true\n"));
  await page.getByRole("button", { name: "Import staff (CSV)" }).click();
  await expect(page.getByText("Imported: 1 new, 0 updated")).toBeVisible();
  const imported = page.getByTestId("staff-S-0100");
  await expect(imported).toContainText("Imported Nurse");
  await expect(imported).toContainText("active");

  // The leaver is deactivated: tablets refuse them after their next roster sync.
  await imported.getByRole("button", { name: "Deactivate (leaving)" }).click();
  await expect(imported).toContainText("inactive");
  await expect(imported.getByRole("button", { name: "Reactivate" })).toBeVisible();
  await page.screenshot({ path: `${screens}/dashboard-admin.png`, fullPage: true });
});

test("an auditor reads everything, changes nothing, and verifies the exported bundle offline", async ({
  page,
}) => {
  const bin = process.env.BATON_BIN!;
  const dataDir = process.env.BATON_E2E_DATA_DIR!;
  const password = `audit-${randomBytes(12).toString("hex")}`;
  execFileSync(
    bin,
    ["create-account", "--data-dir", dataDir, "--username", "auditor1", "--role", "auditor", "--site", "SITE-DEMO"],
    { env: { ...process.env, BATON_NEW_PASSWORD: password }, stdio: "pipe" },
  );
  await page.goto("/dashboard");
  await page.getByLabel("Username").fill("auditor1");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Custody board");
  await expect(page.getByText("Auditor: read only")).toBeVisible();

  // Everything is readable; no action is offered.
  await page.getByRole("link", { name: "Exceptions" }).click();
  await page.getByLabel("Show resolved").check();
  await expect(page.locator("[data-testid^=exception-]").first()).toBeVisible();
  await expect(page.getByRole("button", { name: "Acknowledge" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Resolve" })).toHaveCount(0);
  await page.goto("/dashboard/devices/D-0015");
  await expect(page.getByTestId("timeline")).toBeVisible();
  await expect(page.getByText("Manager actions")).toHaveCount(0);
  // And the server refuses what the page does not offer.
  const session = await (await page.request.get("/api/v1/auth/session")).json();
  const refused = await page.request.post("/api/v1/dashboard/devices/D-0015/quarantine", {
    headers: { "x-csrf-token": session.csrf_token },
    data: { note: "an auditor trying" },
  });
  expect(refused.status()).toBe(403);
  expect((await refused.json()).error.code).toBe("forbidden");

  // The bundle verifies offline with the key published by the server, and a doctored copy fails.
  const meta = await (await page.request.get("/api/v1/meta")).json();
  const bundle = await page.request.get("/api/v1/ledger/export");
  expect(bundle.status()).toBe(200);
  const dir = mkdtempSync(join(tmpdir(), "baton-bundle-"));
  const file = join(dir, "bundle.json");
  writeFileSync(file, await bundle.body());
  const report = execFileSync(bin, ["verify", file, "--server-key", meta.server_public_key], {
    encoding: "utf8",
  });
  expect(report).toMatch(/ok/);
  const doctored = JSON.parse(readFileSync(file, "utf8"));
  const event = doctored.entries.find((entry: any) => entry.entry.kind === "event");
  event.entry.received_at_ms += 1;
  const doctoredFile = join(dir, "doctored.json");
  writeFileSync(doctoredFile, JSON.stringify(doctored));
  let failed = false;
  try {
    execFileSync(bin, ["verify", doctoredFile, "--server-key", meta.server_public_key], { stdio: "pipe" });
  } catch (error: any) {
    failed = true;
    expect(String(error.stdout)).toContain("FAIL");
  }
  expect(failed, "a doctored bundle must fail verification").toBe(true);

  // The device page's bundle: that device's events, each proven; the CLI says it is a selection.
  await page.goto("/dashboard/devices/D-0015");
  const [deviceDownload] = await Promise.all([
    page.waitForEvent("download"),
    page.getByTestId("export-device-bundle").click(),
  ]);
  const deviceFile = join(dir, "device.json");
  await deviceDownload.saveAs(deviceFile);
  const deviceReport = execFileSync(
    bin,
    ["verify", deviceFile, "--server-key", meta.server_public_key],
    { encoding: "utf8" },
  );
  expect(deviceReport).toContain("SCOPE: a selection of the events about device D-0015");

  // The reports page's bundle of the period shown: complete between its two ends.
  await page.getByRole("link", { name: "Reports and export" }).click();
  const [periodDownload] = await Promise.all([
    page.waitForEvent("download"),
    page.getByTestId("export-bundle-period").click(),
  ]);
  const periodFile = join(dir, "period.json");
  await periodDownload.saveAs(periodFile);
  const periodReport = execFileSync(
    bin,
    ["verify", periodFile, "--server-key", meta.server_public_key],
    { encoding: "utf8" },
  );
  expect(periodReport).toMatch(/SCOPE: complete from leaf \d+ to leaf \d+/);
});

test("a charge nurse reviews a ward's shift change, device by device", async ({ page }) => {
  const credentials = demoCredentials();
  await page.goto("/dashboard");
  await page.getByLabel("Username").fill(credentials.managerUsername);
  await page.getByLabel("Password").fill(credentials.managerPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Custody board");
  await page.getByRole("link", { name: "Shift change" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Shift change");
  // The first ward is chosen, and the latest shift start with an hour each side of it.
  await expect(page.getByTestId("shift-ward")).toHaveValue("W-4E");
  await expect(page.getByTestId("shift-window")).toContainText("From ");
  // Every device of the ward has a row with its outcome; another ward's devices do not.
  await expect(page.getByTestId("shift-row-BT-10001")).toBeVisible();
  await expect(page.getByTestId("shift-row-BT-10002")).toHaveCount(0);
  await page.getByTestId("shift-ward").selectOption("W-5W");
  await expect(page.getByTestId("shift-row-BT-10002")).toBeVisible();
  await expect(page.getByTestId("shift-row-BT-10001")).toHaveCount(0);
  // An earlier shift start can be chosen.
  const starts = page.getByTestId("shift-start").locator("option");
  expect(await starts.count()).toBeGreaterThanOrEqual(2);
  const before = await page.getByTestId("shift-window").textContent();
  await page.getByTestId("shift-start").selectOption({ index: 1 });
  await expect(page.getByTestId("shift-window")).not.toHaveText(before!);
  await page.screenshot({ path: `${screens}/dashboard-shift-change.png`, fullPage: true });
});
