// The tablet's journeys against the real server and the real PWA: enrollment, handoffs captured
// offline and kept across a reload, the board, the sync when the network returns, and the PIN
// throttle.
import { expect, test } from "@playwright/test";
import {
  enroll,
  enrollmentCode,
  person,
  post,
  scan,
  screens,
  signInManager,
  typePin,
  waitForServiceWorkerControl,
  wrongPin,
} from "./support";

test("a handoff captured offline survives a reload, shows on the board and reaches the server", async ({
  page,
  context,
  baseURL,
}) => {
  test.setTimeout(120_000);
  const consoleErrors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  const manager = await signInManager(baseURL!);
  const code = await enrollmentCode(manager);
  const nurse = person("S-0001");
  const returner = person("S-0002");

  await enroll(page, code);
  await expect(page.getByTestId("pending-count")).toHaveText("0");
  await waitForServiceWorkerControl(page);

  // The signing key is stored only encrypted, under a WebCrypto key that cannot be exported.
  const storedKey = await page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open("baton-tablet");
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const record = await new Promise<any>((resolve, reject) => {
      const get = db.transaction("meta").objectStore("meta").get("signing_key");
      get.onsuccess = () => resolve(get.result);
      get.onerror = () => reject(get.error);
    });
    const enrollment = await new Promise<any>((resolve, reject) => {
      const get = db.transaction("meta").objectStore("meta").get("enrollment");
      get.onsuccess = () => resolve(JSON.parse(get.result));
      get.onerror = () => reject(get.error);
    });
    const key = record.wrapping_key as CryptoKey;
    const exported = await crypto.subtle.exportKey("raw", key).then(
      () => "exported",
      (error: Error) => error.name,
    );
    db.close();
    return {
      isCryptoKey: key instanceof CryptoKey,
      extractable: key.extractable,
      algorithm: (key.algorithm as AesKeyAlgorithm).name,
      length: (key.algorithm as AesKeyAlgorithm).length,
      exported,
      ciphertextBytes: record.ciphertext.length,
      enrollment,
    };
  });
  expect(storedKey).toMatchObject({
    isCryptoKey: true,
    extractable: false,
    algorithm: "AES-GCM",
    length: 256,
    exported: "InvalidAccessError",
    // 32 bytes of ed25519 seed plus the 16-byte GCM tag: nothing else is stored for the key.
    ciphertextBytes: 48,
  });
  expect(storedKey.enrollment).toMatchObject({ site_id: "SITE-DEMO", ward_id: "W-4E" });
  expect(storedKey.enrollment.tablet_id).toMatch(/^T-/);
  expect(storedKey.enrollment.server_public_key).toMatch(/^[0-9a-f]{64}$/);

  await context.setOffline(true);
  await expect(page.getByTestId("network-status")).toContainText("Offline");

  // Check-out: three interactions: device, badge, PIN.
  await scan(page, "Device asset tag", "BT-10001");
  await expect(page.getByTestId("device-card")).toContainText("BT-10001");
  await scan(page, "Staff badge", nurse.badge);
  await expect(page.getByTestId("person-card")).toContainText(nurse.name);
  await typePin(page, nurse.pin);
  const checkOutConfirmation = page.getByTestId("confirmation");
  await expect(checkOutConfirmation).toContainText(`BT-10001 checked out to ${nurse.name} at`);
  await expect(checkOutConfirmation).toContainText("Signed and saved on this tablet");
  await expect(page.getByTestId("pending-count")).toHaveText("1");
  // The form is ready for the next scan at once.
  await expect(page.getByLabel("Device asset tag", { exact: true })).toBeFocused();
  await expect(page.getByLabel("Device asset tag", { exact: true })).toHaveValue("");
  await page.screenshot({ path: `${screens}/check-out-offline.png`, fullPage: true });

  // Check-in of the same device, with the return checklist, by another nurse.
  await page.getByRole("link", { name: "Check in" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Check in a device");
  await scan(page, "Device asset tag", "BT-10001");
  await expect(page.getByTestId("device-card")).toContainText(`Held by ${nurse.name}`);
  await page.getByLabel("Signed out of every app").check();
  await page.getByLabel("Local patient data wiped").check();
  await page.getByLabel("Needs charging").check();
  await page.getByLabel("Note (optional)").fill("Battery at 5%");
  await page.getByLabel("Staff badge", { exact: true }).click();
  await scan(page, "Staff badge", returner.badge);
  await typePin(page, returner.pin);
  await expect(page.getByTestId("confirmation")).toContainText(
    `BT-10001 checked in by ${returner.name} at`,
  );
  await expect(page.getByTestId("pending-count")).toHaveText("2");
  await page.screenshot({ path: `${screens}/check-in-offline.png`, fullPage: true });

  // Reload with no network: the handoffs were committed to IndexedDB, not kept in memory.
  await page.goto("/board");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Ward board");
  await expect(page.getByTestId("network-status")).toContainText("Offline");
  await expect(page.getByTestId("pending-count")).toHaveText("2");
  const recent = page.getByTestId("recent-handoff");
  await expect(recent).toHaveCount(2);
  await expect(recent.nth(0)).toContainText(`BT-10001 checked in by ${returner.name}`);
  await expect(recent.nth(0)).toContainText("Waiting to send");
  await expect(recent.nth(1)).toContainText(`BT-10001 checked out to ${nurse.name}`);
  // The fold: the device went out and came back, and the checklist's "needs charging" is an
  // exception for someone to look at.
  await expect(page.getByTestId("board-row-BT-10001")).toContainText("Available");
  await expect(page.getByTestId("exception-list")).toContainText("Return checklist not complete");
  await expect(page.getByTestId("board-as-of")).toContainText("2 are not sent yet");
  await page.screenshot({ path: `${screens}/board-offline.png`, fullPage: true });

  // Back online: the `online` event starts a sync without any touch.
  await context.setOffline(false);
  await expect(page.getByTestId("pending-count")).toHaveText("0", { timeout: 30_000 });
  await expect(recent.nth(0)).toContainText("Sent");
  await expect(recent.nth(1)).toContainText("Sent");
  await expect(page.getByTestId("last-sync")).toContainText("Last sync");
  await page.screenshot({ path: `${screens}/board-synced.png`, fullPage: true });

  // The server holds both, signed by this tablet, in order.
  const timeline = await manager.api.get("/api/v1/dashboard/devices/D-0001/timeline");
  expect(timeline.status()).toBe(200);
  const entries = (await timeline.json()).entries as Array<{
    body_type: string;
    tablet_id: string | null;
    body: { custodian?: { staff: string }; returned_by?: { staff: string }; checklist?: object };
  }>;
  expect(entries.map((entry) => entry.body_type)).toEqual(["check_out", "check_in"]);
  expect(entries[0].body.custodian).toEqual({ staff: nurse.staffId, method: "badge_pin" });
  expect(entries[1].body.returned_by).toEqual({ staff: returner.staffId, method: "badge_pin" });
  expect(entries[1].body.checklist).toEqual({
    apps_signed_out: true,
    local_data_wiped: true,
    condition: "needs_charging",
  });
  expect(entries[0].tablet_id).toMatch(/^T-/);
  expect(entries[1].tablet_id).toBe(entries[0].tablet_id);
  // No secret left the tablet: the PIN is in no event.
  expect(JSON.stringify(entries)).not.toContain(nurse.pin);

  // The tablet witnessed the ledger: it keeps a signed head that verified with the server's key
  // and proved both of its events included in it, with no alarm.
  await expect
    .poll(
      async () =>
        page.evaluate(async () => {
          const db = await new Promise<IDBDatabase>((resolve, reject) => {
            const open = indexedDB.open("baton-tablet");
            open.onsuccess = () => resolve(open.result);
            open.onerror = () => reject(open.error);
          });
          const json = await new Promise<string | undefined>((resolve, reject) => {
            const get = db.transaction("meta").objectStore("meta").get("witness");
            get.onsuccess = () => resolve(get.result);
            get.onerror = () => reject(get.error);
          });
          db.close();
          if (!json) return null;
          const witness = JSON.parse(json);
          return {
            hasHead: witness.head !== null && witness.head.head.tree_size >= 2,
            provenAtLeastTwo: witness.proven_below_leaf >= 2,
            alarms: witness.alarms.length,
          };
        }),
      { timeout: 40_000 },
    )
    .toEqual({ hasHead: true, provenAtLeastTwo: true, alarms: 0 });
  await expect(page.getByTestId("ledger-alarm")).toHaveCount(0);

  expect(consoleErrors.filter((text) => /Content Security Policy|Refused/.test(text))).toEqual([]);
  await manager.api.dispose();
});

test("a wrong PIN is refused, and five wrong PINs lock the person out, even after a reload", async ({
  page,
  baseURL,
}) => {
  test.setTimeout(120_000);
  const manager = await signInManager(baseURL!);
  await enroll(page, await enrollmentCode(manager));
  const nurse = person("S-0003");
  const bad = wrongPin(nurse);

  await scan(page, "Device asset tag", "BT-10003");
  await scan(page, "Staff badge", nurse.badge);
  await typePin(page, bad);
  await expect(page.getByRole("alert")).toHaveText("Wrong PIN. 4 tries left.");
  await expect(page.getByTestId("confirmation")).toHaveCount(0);
  await page.screenshot({ path: `${screens}/wrong-pin.png`, fullPage: true });

  // Each further wrong PIN costs a longer wait (1 s, 2 s, 4 s); a PIN typed too soon is not
  // even checked.
  await typePin(page, bad);
  await expect(page.getByRole("alert")).toHaveText("Wrong PIN. 3 tries left.");
  await typePin(page, nurse.pin);
  await expect(page.getByRole("alert")).toContainText("before trying the PIN again");
  await page.waitForTimeout(1_100);
  await typePin(page, bad);
  await expect(page.getByRole("alert")).toHaveText("Wrong PIN. 2 tries left.");
  await page.waitForTimeout(2_100);
  await typePin(page, bad);
  await expect(page.getByRole("alert")).toHaveText(
    "Wrong PIN. One more wrong PIN locks this person out.",
  );
  await page.waitForTimeout(4_100);
  await typePin(page, bad);
  await expect(page.getByRole("alert")).toContainText(
    `Too many wrong PINs (5) for ${nurse.name}: locked out until`,
  );
  await expect(page.getByLabel(/^PIN for /)).toHaveCount(0);
  await page.screenshot({ path: `${screens}/locked-out.png`, fullPage: true });

  // The lockout is kept in IndexedDB: a reload does not give the tries back.
  await page.reload();
  await scan(page, "Device asset tag", "BT-10003");
  await scan(page, "Staff badge", nurse.badge);
  await expect(page.getByRole("alert")).toContainText("locked out until");
  await expect(page.getByLabel(/^PIN for /)).toHaveCount(0);

  // Someone else can still work on this tablet.
  const colleague = person("S-0004");
  await scan(page, "Staff badge", colleague.badge);
  await typePin(page, colleague.pin);
  await expect(page.getByTestId("confirmation")).toContainText(
    `BT-10003 checked out to ${colleague.name}`,
  );
  await expect(page.getByTestId("pending-count")).toHaveText("0", { timeout: 30_000 });
  await manager.api.dispose();
});

test("unknown devices and badges are refused, and the board shows overlapping custody", async ({
  page,
  baseURL,
}) => {
  test.setTimeout(90_000);
  const manager = await signInManager(baseURL!);
  await enroll(page, await enrollmentCode(manager));
  const first = person("S-0005");
  const second = person("S-0006");

  await scan(page, "Device asset tag", "BT-99999");
  await expect(page.getByRole("alert")).toContainText("No device with the tag “BT-99999”");
  await scan(page, "Device asset tag", "bt-10005");
  await expect(page.getByTestId("device-card")).toContainText("BT-10005");
  await scan(page, "Staff badge", "B-99999");
  await expect(page.getByRole("alert")).toContainText("No one on this site's roster");

  await scan(page, "Staff badge", first.badge);
  await typePin(page, first.pin);
  await expect(page.getByTestId("confirmation")).toContainText(`checked out to ${first.name}`);

  // The same device again, to someone else: allowed, with a warning, and flagged on the board.
  await scan(page, "Device asset tag", "BT-10005");
  await expect(page.getByTestId("device-card")).toContainText(`Held by ${first.name}`);
  await expect(page.getByTestId("device-card")).toContainText("overlapping custody");
  await scan(page, "Staff badge", second.badge);
  await typePin(page, second.pin);
  await expect(page.getByTestId("confirmation")).toContainText(`checked out to ${second.name}`);

  await page.getByRole("link", { name: "Ward board" }).click();
  const row = page.getByTestId("board-row-BT-10005");
  await expect(row).toContainText("In use");
  await expect(row).toContainText("Overlapping custody");
  await expect(row).toContainText(`${first.name}, ${second.name}`);
  await expect(page.getByTestId("exception-list")).toContainText("Overlapping custody");
  await expect(page.getByTestId("board-row-BT-10006")).toContainText("Available");
  await expect(page.getByTestId("pending-count")).toHaveText("0", { timeout: 30_000 });
  await page.screenshot({ path: `${screens}/board-overlap.png`, fullPage: true });
  await manager.api.dispose();
});

test("a person deactivated on the server is refused once the tablet has synced the new roster", async ({
  page,
  baseURL,
}) => {
  test.setTimeout(90_000);
  const manager = await signInManager(baseURL!);
  await enroll(page, await enrollmentCode(manager));
  const leaver = person("S-0030");
  const deactivate = await post(manager, `/api/v1/admin/staff/${leaver.staffId}/deactivate`);
  expect(deactivate.status(), await deactivate.text()).toBe(200);
  try {
    // A start syncs; the pull reports a new roster version and the tablet fetches the roster.
    const rosterFetched = page.waitForResponse(
      (response) => response.url().endsWith("/api/v1/sync/roster") && response.status() === 200,
    );
    await page.reload();
    await rosterFetched;
    await expect(page.getByText("Sending…")).toHaveCount(0);
    await scan(page, "Device asset tag", "BT-10007");
    await scan(page, "Staff badge", leaver.badge);
    await expect(page.getByRole("alert")).toHaveText(
      `${leaver.name} is not active on this site's roster and cannot take or return devices. Ask the nurse in charge.`,
    );
    await expect(page.getByLabel(/^PIN for /)).toHaveCount(0);
    await page.screenshot({ path: `${screens}/inactive-person.png`, fullPage: true });
  } finally {
    await post(manager, `/api/v1/admin/staff/${leaver.staffId}/activate`);
    await manager.api.dispose();
  }
});

test("a device is handed from one nurse to another, then reported missing and found", async ({
  page,
  baseURL,
}) => {
  test.setTimeout(90_000);
  const manager = await signInManager(baseURL!);
  await enroll(page, await enrollmentCode(manager));
  const first = person("S-0004");
  const second = person("S-0005");

  await scan(page, "Device asset tag", "BT-10007");
  await scan(page, "Staff badge", first.badge);
  await typePin(page, first.pin);
  await expect(page.getByTestId("confirmation")).toContainText(`BT-10007 checked out to ${first.name}`);

  // The handover: the holder, then the colleague, each with badge and PIN.
  await page.getByRole("link", { name: "Hand over" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Hand a device to a colleague");
  await scan(page, "Device asset tag", "BT-10007");
  await expect(page.getByTestId("device-card")).toContainText(`Held by ${first.name}`);
  await scan(page, "Staff badge", first.badge);
  await typePin(page, first.pin);
  await expect(page.getByTestId("transfer-from")).toContainText(first.name);
  // Handing it to oneself is refused and records nothing.
  await scan(page, "Staff badge", first.badge);
  await typePin(page, first.pin);
  await expect(page.getByRole("alert")).toHaveText(
    "The same person cannot hand a device to themselves. Scan the colleague's badge.",
  );
  await scan(page, "Staff badge", second.badge);
  await typePin(page, second.pin);
  await expect(page.getByTestId("confirmation")).toContainText(
    `BT-10007 handed from ${first.name} to ${second.name} at`,
  );
  await page.screenshot({ path: `${screens}/transfer.png`, fullPage: true });

  // Missing, then found on this ward.
  await page.getByRole("link", { name: "Missing / found" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Report a device missing or found");
  await scan(page, "Device asset tag", "BT-10008");
  await page.getByLabel("Where it was last seen or found (optional)").fill("last seen in bay 4");
  await page.getByLabel("Staff badge", { exact: true }).click();
  await scan(page, "Staff badge", first.badge);
  await typePin(page, first.pin);
  await expect(page.getByTestId("confirmation")).toContainText(`BT-10008 reported missing by ${first.name}`);
  await page.getByRole("link", { name: "Ward board" }).click();
  await expect(page.getByTestId("board-row-BT-10008")).toContainText("Missing");
  await expect(page.getByTestId("board-row-BT-10007")).toContainText(second.name);

  await page.getByRole("link", { name: "Missing / found" }).click();
  await page.getByLabel("It was found here").check();
  await page.getByLabel("Device asset tag", { exact: true }).click();
  await scan(page, "Device asset tag", "BT-10008");
  await page.getByLabel("Staff badge", { exact: true }).click();
  await scan(page, "Staff badge", second.badge);
  await typePin(page, second.pin);
  await expect(page.getByTestId("confirmation")).toContainText(`BT-10008 reported found by ${second.name}`);

  // A device from another ward is flagged at the moment of return, so it can be sent home.
  await page.getByRole("link", { name: "Check in" }).click();
  await scan(page, "Device asset tag", "BT-10008");
  await expect(page.getByTestId("away-from-home")).toContainText("BT-10008 belongs to");
  const tagField = page.getByLabel("Device asset tag", { exact: true });
  await tagField.fill("BT-10007");
  await tagField.press("Enter");
  await expect(page.getByTestId("device-card")).toContainText("BT-10007");
  await expect(page.getByTestId("away-from-home")).toHaveCount(0);

  // The server has all four, in order, once the tablet has synced.
  await expect(page.getByTestId("pending-count")).toHaveText("0", { timeout: 30_000 });
  const handed = await (await manager.api.get("/api/v1/dashboard/devices/D-0007/timeline")).json();
  expect(handed.entries.map((entry: any) => entry.body_type)).toEqual(["check_out", "transfer"]);
  expect(handed.entries[1].body.from.staff).toBe(first.staffId);
  expect(handed.entries[1].body.to.staff).toBe(second.staffId);
  const lost = await (await manager.api.get("/api/v1/dashboard/devices/D-0008/timeline")).json();
  expect(lost.entries.map((entry: any) => entry.body_type)).toEqual(["report_missing", "report_found"]);
  expect(lost.entries[0].body.note).toBe("last seen in bay 4");
  await manager.api.dispose();
});

test("in an emergency a device goes out by badge alone, with a reason the manager sees", async ({
  page,
  baseURL,
}) => {
  const manager = await signInManager(baseURL!);
  await enroll(page, await enrollmentCode(manager));
  const nurse = person("S-0006");
  await page.getByRole("link", { name: /Break-glass hand-out/ }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Break-glass hand-out");
  await scan(page, "Device asset tag", "BT-10009");
  await scan(page, "Staff badge", nurse.badge);
  await expect(page.getByTestId("person-card")).toContainText(nurse.name);
  // No PIN is asked; a note is.
  await expect(page.getByLabel(/^PIN for /)).toHaveCount(0);
  await page.getByRole("button", { name: "Hand out (break-glass)" }).click();
  await expect(page.getByRole("alert")).toContainText("Write what is happening");
  await page.getByLabel("No second person to hand over").check();
  await page.getByLabel("What is happening (required)").fill("Night shift alone on the ward; rapid response call");
  await page.getByRole("button", { name: "Hand out (break-glass)" }).click();
  await expect(page.getByTestId("confirmation")).toContainText(
    `BT-10009 handed out to ${nurse.name} by break-glass at`,
  );
  await page.screenshot({ path: `${screens}/break-glass.png`, fullPage: true });

  await page.getByRole("link", { name: "Ward board" }).click();
  await expect(page.getByTestId("exception-list")).toContainText("Break-glass access");
  await expect(page.getByTestId("pending-count")).toHaveText("0", { timeout: 30_000 });
  const timeline = await (await manager.api.get("/api/v1/dashboard/devices/D-0009/timeline")).json();
  expect(timeline.entries[0].body_type).toBe("break_glass");
  expect(timeline.entries[0].body.custodian).toEqual({ staff: nurse.staffId, method: "break_glass" });
  expect(timeline.entries[0].body.reason).toBe("second_party_absent");
  const exceptions = await (await manager.api.get("/api/v1/dashboard/exceptions")).json();
  expect(
    exceptions.exceptions.some(
      (exception: any) => exception.kind === "break_glass_used" && exception.device === "D-0009",
    ),
  ).toBe(true);
  await manager.api.dispose();
});

test("a mis-scanned check-out is voided by a correction that keeps it in the record", async ({
  page,
  baseURL,
}) => {
  const manager = await signInManager(baseURL!);
  await enroll(page, await enrollmentCode(manager));
  const nurse = person("S-0007");
  await scan(page, "Device asset tag", "BT-10010");
  await scan(page, "Staff badge", nurse.badge);
  await typePin(page, nurse.pin);
  await expect(page.getByTestId("confirmation")).toContainText("BT-10010 checked out to");

  await page.getByRole("link", { name: "Ward board" }).click();
  await expect(page.getByTestId("board-row-BT-10010")).toContainText("In use");
  const recent = page.getByTestId("recent-handoff").filter({ hasText: "BT-10010" });
  await recent.getByRole("link", { name: "Correct" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Correct a record");
  await expect(page.getByTestId("correct-target")).toContainText(`BT-10010 checked out to ${nurse.name}`);
  await page.getByLabel("What was wrong (required)").fill("Scanned the wrong phone; took BT-10011");
  await page.getByLabel("Staff badge", { exact: true }).click();
  await scan(page, "Staff badge", nurse.badge);
  await typePin(page, nurse.pin);
  await expect(page.getByTestId("confirmation")).toContainText(
    `The record for BT-10010 was voided by ${nurse.name}`,
  );

  // The board ignores the voided check-out; the server keeps both, the first marked voided.
  await page.getByRole("link", { name: "Ward board" }).click();
  await expect(page.getByTestId("board-row-BT-10010")).toContainText("Available");
  await expect(page.getByTestId("pending-count")).toHaveText("0", { timeout: 30_000 });
  const timeline = await (await manager.api.get("/api/v1/dashboard/devices/D-0010/timeline")).json();
  expect(timeline.entries.map((entry: any) => entry.body_type)).toEqual(["check_out", "correction"]);
  expect(timeline.entries[0].voided_by).toBe(timeline.entries[1].event_id);
  expect(timeline.entries[1].body.note).toBe("Scanned the wrong phone; took BT-10011");
  await manager.api.dispose();
});
