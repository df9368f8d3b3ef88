// A tablet rotates its own signing key (issue 11): a charge nurse confirms with badge and PIN,
// the tablet pushes everything its old key signed, the old key signs over to the new one, and
// the server takes the new key only through that rotation. The record continues: a device
// checked out under the old key is checked in under the new one, both stay on the timeline,
// and the ledger holds the rotation.
import { expect, test, type Page } from "@playwright/test";
import {
  enroll,
  enrollmentCode,
  person,
  scan,
  screens,
  signInManager,
  typePin,
  type StaffCredential,
} from "./support";

/// The tablet's enrollment as IndexedDB holds it, and whether a pending key is left over.
async function storedKeys(page: Page) {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open("baton-tablet");
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const get = (key: string) =>
      new Promise<any>((resolve, reject) => {
        const request = db.transaction("meta").objectStore("meta").get(key);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    const enrollment = JSON.parse(await get("enrollment"));
    const sealed = await get("signing_key");
    const pending = await get("pending_signing_key");
    db.close();
    return {
      publicKey: enrollment.public_key as string,
      rotations: (enrollment.key_rotations ?? []).length as number,
      sealedFor: sealed.public_key as string,
      pending: pending !== undefined,
    };
  });
}

/// A check-out on the start screen, where enrollment leaves the tablet.
async function checkOut(page: Page, assetTag: string, nurse: StaffCredential) {
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Check out a device");
  await scan(page, "Device asset tag", assetTag);
  await scan(page, "Staff badge", nurse.badge);
  await typePin(page, nurse.pin);
  await expect(page.getByTestId("confirmation")).toContainText(
    `${assetTag} checked out to ${nurse.name}`,
  );
}

async function checkIn(page: Page, assetTag: string, returner: StaffCredential) {
  await page.getByRole("link", { name: "Check in" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Check in a device");
  await scan(page, "Device asset tag", assetTag);
  await page.getByLabel("Signed out of every app").check();
  await page.getByLabel("Local patient data wiped").check();
  await page.getByLabel("Staff badge", { exact: true }).click();
  await scan(page, "Staff badge", returner.badge);
  await typePin(page, returner.pin);
  await expect(page.getByTestId("confirmation")).toContainText(
    `${assetTag} checked in by ${returner.name}`,
  );
}

test("a charge nurse rotates the tablet's key and the record goes on under the new key", async ({
  page,
  baseURL,
}) => {
  test.setTimeout(120_000);
  const manager = await signInManager(baseURL!);
  const code = await enrollmentCode(manager);
  const chargeNurse = person("S-0002");
  const nurse = person("S-0005");
  const assetTag = "BT-10013";

  await enroll(page, code);
  const before = await storedKeys(page);
  expect(before).toMatchObject({ rotations: 0, pending: false });
  expect(before.sealedFor).toBe(before.publicKey);

  // Signed by the enrolled key; whether or not the sync has sent it yet, the rotation sends it
  // before the old key retires.
  await checkOut(page, assetTag, nurse);

  await page.getByRole("link", { name: "Ward board" }).click();
  await page.getByRole("link", { name: "Signing key" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("This tablet's signing key");
  await expect(page.getByTestId("tablet-key")).toContainText(before.publicKey.slice(0, 16));

  // A nurse may not rotate the key; a charge nurse may, with badge and PIN.
  await scan(page, "Staff badge", nurse.badge);
  await expect(page.getByRole("alert")).toContainText("a charge nurse or a manager must confirm");
  await page.getByLabel("Staff badge", { exact: true }).fill("");
  await scan(page, "Staff badge", chargeNurse.badge);
  await typePin(page, chargeNurse.pin);
  const rotated = page.getByTestId("key-rotated");
  await expect(rotated).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId("old-key")).toHaveText(before.publicKey.slice(0, 16));

  const after = await storedKeys(page);
  expect(after).toMatchObject({ rotations: 1, pending: false });
  expect(after.publicKey).not.toBe(before.publicKey);
  expect(after.sealedFor).toBe(after.publicKey);
  await expect(page.getByTestId("new-key")).toHaveText(after.publicKey.slice(0, 16));
  await expect(page.getByTestId("tablet-key")).toContainText(after.publicKey.slice(0, 16));
  await expect(page.getByTestId("tablet-key")).toContainText("1 earlier key(s) retired");
  await page.screenshot({ path: `${screens}/tablet-key-rotated.png`, fullPage: true });

  // The new key checks the device in, and the sync delivers it.
  await checkIn(page, assetTag, nurse);
  await page.getByRole("link", { name: "Ward board" }).click();
  await expect(page.getByTestId("pending-count")).toHaveText("0", { timeout: 30_000 });
  // The check-out under the old key is still this tablet's, on its board and in its list.
  await expect(page.getByTestId(`board-row-${assetTag}`)).toContainText("Available");
  const recent = page.getByTestId("recent-handoff");
  await expect(recent.nth(0)).toContainText(`${assetTag} checked in by ${nurse.name}`);
  await expect(recent.nth(1)).toContainText(`${assetTag} checked out to ${nurse.name}`);

  // A reload brings the tablet back with both keys' chains and the new key.
  await page.reload();
  await expect(page.getByTestId(`board-row-${assetTag}`)).toContainText("Available");
  await expect(page.getByTestId("pending-count")).toHaveText("0");

  // The server: the check-out signed by the old key, the check-in by the new one, one tablet.
  const timeline = await manager.api.get("/api/v1/dashboard/devices/D-0013/timeline");
  expect(timeline.status()).toBe(200);
  const entries = (await timeline.json()).entries as Array<{
    body_type: string;
    signer: string;
    tablet_id: string | null;
  }>;
  expect(entries.map((entry) => [entry.body_type, entry.signer])).toEqual([
    ["check_out", before.publicKey],
    ["check_in", after.publicKey],
  ]);

  // The ledger holds the rotation as a governance entry naming both keys.
  const rotations: any[] = [];
  let from = 0;
  for (;;) {
    const page = await manager.api.get(`/api/v1/ledger/entries?from=${from}&limit=1000`);
    expect(page.status()).toBe(200);
    const lines = (await page.text()).split("\n").filter((line) => line.trim() !== "");
    for (const line of lines) {
      const leaf = JSON.parse(line);
      if (leaf.entry?.kind === "governance" && leaf.entry.action?.type === "tablet_key_rotated") {
        rotations.push(leaf.entry);
      }
    }
    const next = page.headers()["baton-next-from"];
    if (lines.length === 0 || !next || Number(next) === from) break;
    from = Number(next);
  }
  const ours = rotations.filter((entry) => JSON.stringify(entry).includes(after.publicKey));
  expect(ours).toHaveLength(1);
  expect(JSON.stringify(ours[0])).toContain(before.publicKey);
});

test("a tablet enrolled before keys could rotate keeps its events when the new version opens its database", async ({
  page,
  baseURL,
}) => {
  const manager = await signInManager(baseURL!);
  const nurse = person("S-0006");
  const assetTag = "BT-10014";
  await enroll(page, await enrollmentCode(manager));
  await checkOut(page, assetTag, nurse);

  // Away from the app (the service worker leaves /healthz to the network), the database is
  // rebuilt as version 1 held it: the same records, the events keyed by seq alone.
  await page.goto("/healthz");
  const nEvents = await page.evaluate(async () => {
    const done = (request: IDBRequest | IDBTransaction) =>
      new Promise<void>((resolve, reject) => {
        if (request instanceof IDBTransaction) {
          request.oncomplete = () => resolve();
          request.onerror = () => reject(request.error);
        } else {
          request.onsuccess = () => resolve();
          request.onerror = () => reject(request.error);
        }
      });
    const open = (version?: number, upgrade?: (db: IDBDatabase) => void) => {
      const request = indexedDB.open("baton-tablet", version);
      if (upgrade) request.onupgradeneeded = () => upgrade(request.result);
      return done(request).then(() => request.result);
    };
    const everything = async (db: IDBDatabase, store: string) => {
      const keys = db.transaction(store).objectStore(store).getAllKeys();
      const values = db.transaction(store).objectStore(store).getAll();
      await Promise.all([done(keys), done(values)]);
      return (keys.result as IDBValidKey[]).map((key, index) => [key, values.result[index]]);
    };
    const current = await open();
    const stores = ["meta", "receipts", "pulled_events", "pin_attempts"];
    const kept = Object.fromEntries(
      await Promise.all(stores.map(async (store) => [store, await everything(current, store)])),
    );
    const events = (await everything(current, "own_chains")).map(([, json]) => json as string);
    current.close();
    await done(indexedDB.deleteDatabase("baton-tablet"));
    const v1 = await open(1, (db) => {
      for (const store of [...stores, "own_events"]) db.createObjectStore(store);
    });
    const write = v1.transaction([...stores, "own_events"], "readwrite");
    for (const store of stores) {
      for (const [key, value] of kept[store]) write.objectStore(store).put(value, key);
    }
    for (const json of events) write.objectStore("own_events").add(json, JSON.parse(json).seq);
    await done(write);
    v1.close();
    return events.length;
  });
  expect(nEvents).toBe(1);

  await page.goto("/board");
  await expect(page.getByTestId(`board-row-${assetTag}`)).toContainText(nurse.name);
  await expect(page.getByTestId("recent-handoff").first()).toContainText(
    `${assetTag} checked out to ${nurse.name}`,
  );
  const stored = await page.evaluate(async () => {
    const request = indexedDB.open("baton-tablet");
    await new Promise((resolve) => (request.onsuccess = resolve));
    const db = request.result;
    const count = (store: string) =>
      new Promise<number>((resolve) => {
        const counting = db.transaction(store).objectStore(store).count();
        counting.onsuccess = () => resolve(counting.result);
      });
    const result = {
      version: db.version,
      legacy: await count("own_events"),
      chains: await count("own_chains"),
    };
    db.close();
    return result;
  });
  expect(stored).toEqual({ version: 2, legacy: 0, chains: 1 });
});

test("a rotation whose answer is lost is settled from the server once it can be asked, and nothing is signed meanwhile", async ({
  page,
  baseURL,
}) => {
  test.setTimeout(120_000);
  const manager = await signInManager(baseURL!);
  const chargeNurse = person("S-0003");
  const nurse = person("S-0007");
  await enroll(page, await enrollmentCode(manager));
  const before = await storedKeys(page);

  // The server takes the rotation but its answer never reaches the tablet, and the server
  // cannot be asked which key it accepts.
  await page.route("**/api/v1/tablet/key-rotation", async (route) => {
    await route.fetch();
    await route.abort("connectionreset");
  });
  await page.route("**/api/v1/sync/**", (route) => route.abort("connectionreset"));
  await page.getByRole("link", { name: "Ward board" }).click();
  await page.getByRole("link", { name: "Signing key" }).click();
  await scan(page, "Staff badge", chargeNurse.badge);
  await typePin(page, chargeNurse.pin);
  // The rotation's own sync fails first: nothing is rotated then.
  await expect(page.getByRole("alert")).toContainText("could not send its records");
  expect(await storedKeys(page)).toMatchObject({ publicKey: before.publicKey, pending: false });

  // With the sync back but the probe and the answer lost, the new key stays pending.
  await page.unroute("**/api/v1/sync/**");
  await page.route("**/api/v1/sync/roster", (route) => route.abort("connectionreset"));
  await scan(page, "Staff badge", chargeNurse.badge);
  await typePin(page, chargeNurse.pin);
  await expect(page.getByRole("alert")).toContainText("cannot tell yet which key", {
    timeout: 30_000,
  });
  expect(await storedKeys(page)).toMatchObject({ publicKey: before.publicKey, pending: true });

  // Meanwhile the tablet signs nothing: the old key may already be retired.
  await page.getByRole("link", { name: "Check out" }).click();
  await scan(page, "Device asset tag", "BT-10016");
  await scan(page, "Staff badge", nurse.badge);
  await typePin(page, nurse.pin);
  await expect(page.getByRole("alert")).toContainText("signing key is being changed");

  // After a restart with the server reachable, the first sync round asks it and takes the key.
  await page.unrouteAll();
  await page.reload();
  await expect.poll(async () => (await storedKeys(page)).pending, { timeout: 30_000 }).toBe(false);
  const after = await storedKeys(page);
  expect(after.publicKey).not.toBe(before.publicKey);
  expect(after).toMatchObject({ rotations: 1 });
  expect(after.sealedFor).toBe(after.publicKey);
  await checkOut(page, "BT-10016", nurse);
  await page.getByRole("link", { name: "Ward board" }).click();
  await expect(page.getByTestId("pending-count")).toHaveText("0", { timeout: 30_000 });
  const timeline = await manager.api.get("/api/v1/dashboard/devices/D-0016/timeline");
  const entries = (await timeline.json()).entries as Array<{ body_type: string; signer: string }>;
  expect(entries.map((entry) => [entry.body_type, entry.signer])).toEqual([
    ["check_out", after.publicKey],
  ]);
});
