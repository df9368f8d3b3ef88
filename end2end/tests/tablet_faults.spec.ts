// The tablet under faults, against the real server and the real PWA: the browser killed around
// the commit of a handoff, the origin's storage quota used up, and the tablet's clock set a year
// ahead or behind. Each test asserts what the nurse sees and what the tablet and the server hold
// afterwards (docs/RELIABILITY.md, "Tablet faults").
import {
  chromium,
  expect,
  test,
  type BrowserContext,
  type Page,
  type TestInfo,
} from "@playwright/test";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  enroll,
  enrollmentCode,
  person,
  scan,
  screens,
  signInManager,
  typePin,
  waitForServiceWorkerControl,
  type Manager,
  type StaffCredential,
} from "./support";

const YEAR_MS = 365 * 24 * 3_600_000;

interface StoredEvent {
  id: string;
  seq: number;
  prev: string | null;
  signer: string;
  hlc: { ms: number; c: number };
  wall_ms: number;
  body: { type: string; device: string; custodian?: { staff: string } };
}

interface StoredReceipt {
  event_id: string;
  status: string;
  fork?: boolean;
  reason?: { code: string; message: string };
}

/// An event's id: SHA-256 of its canonical form, which is its stored wire form without `sig`
/// (docs/PROTOCOL.md §1).
function eventId(wireJson: string): string {
  const canonical = wireJson.replace(/,"sig":"[0-9a-f]{128}"/, "");
  return createHash("sha256").update(canonical, "utf8").digest("hex");
}

/// Every record of one of the tablet's object stores, as the app stored it.
async function storedRecords(page: Page, store: string): Promise<string[]> {
  return page.evaluate(async (store) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open("baton-tablet");
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const records = await new Promise<string[]>((resolve, reject) => {
      const get = db.transaction(store).objectStore(store).getAll();
      get.onsuccess = () => resolve(get.result);
      get.onerror = () => reject(get.error);
    });
    db.close();
    return records;
  }, store);
}

async function ownEvents(page: Page): Promise<StoredEvent[]> {
  return (await storedRecords(page, "own_chains")).map((json) => ({
    ...JSON.parse(json),
    id: eventId(json),
  }));
}

async function receipts(page: Page): Promise<Map<string, StoredReceipt>> {
  const parsed: StoredReceipt[] = (await storedRecords(page, "receipts")).map((json) =>
    JSON.parse(json),
  );
  return new Map(parsed.map((receipt) => [receipt.event_id, receipt]));
}

/// The chain holds together: seq 1, 2, 3… of one signer, each naming the one before.
function expectOneUnbrokenChain(events: StoredEvent[]) {
  events.forEach((event, event_idx) => {
    expect(event.seq, `event ${event_idx}'s seq`).toBe(event_idx + 1);
    expect(event.prev, `event ${event.seq}'s prev`).toBe(
      event_idx === 0 ? null : events[event_idx - 1].id,
    );
    expect(event.signer).toBe(events[0].signer);
  });
}

/// The three interactions of a check-out: device, badge, PIN (typed, not yet confirmed).
async function startCheckOut(page: Page, assetTag: string, nurse: StaffCredential) {
  await scan(page, "Device asset tag", assetTag);
  await expect(page.getByTestId("device-card")).toContainText(assetTag);
  await scan(page, "Staff badge", nurse.badge);
  await expect(page.getByTestId("person-card")).toContainText(nurse.name);
  const pin = page.getByLabel(/^PIN for /);
  await expect(pin).toBeFocused();
  await pin.fill(nurse.pin);
}

async function checkOut(page: Page, assetTag: string, nurse: StaffCredential) {
  await scan(page, "Device asset tag", assetTag);
  await expect(page.getByTestId("device-card")).toContainText(assetTag);
  await scan(page, "Staff badge", nurse.badge);
  await typePin(page, nurse.pin);
  await expect(page.getByTestId("confirmation")).toContainText(
    `${assetTag} checked out to ${nurse.name} at`,
  );
}

/// The device id behind a demo asset tag: BT-10017 is D-0017.
function deviceId(assetTag: string): string {
  return `D-${assetTag.slice(-4)}`;
}

async function exceptions(manager: Manager): Promise<any[]> {
  const response = await manager.api.get("/api/v1/dashboard/exceptions");
  expect(response.status()).toBe(200);
  return (await response.json()).exceptions;
}

/// The events of one device that the server stores from this tablet, by id.
async function storedOnServer(manager: Manager, device: string): Promise<string[]> {
  const response = await manager.api.get(`/api/v1/dashboard/devices/${device}/timeline`);
  expect(response.status()).toBe(200);
  return (await response.json()).entries.map((entry: { event_id: string }) => entry.event_id);
}

// ---------------------------------------------------------------------------------------------
// The browser killed between the confirm tap and the IndexedDB commit.

/// Where a kill lands. The app marks nothing between signing and committing, so the test
/// watches the IndexedDB calls themselves: an init script wraps `add` on the `own_chains` store
/// (the handoff's write, issued right after signing) and `commit` on its transaction, and tells
/// the test through a binding when the armed point is reached; the test then SIGKILLs the
/// browser. Where the page must not move on before the kill lands, the script holds the page's
/// thread (the browser process, which writes to disk, keeps running).
type FaultPoint = "before-write" | "commit-requested" | "committed";

const faultHooks = `(() => {
  const hold = (ms) => { const end = performance.now() + ms; while (performance.now() < end) {} };
  const reached = (point) => {
    if (window.__batonFaultAt !== point || !window.batonFault) return false;
    window.__batonFaultAt = null;
    window.batonFault(point);
    return true;
  };
  const add = IDBObjectStore.prototype.add;
  IDBObjectStore.prototype.add = function (...args) {
    if (this.name === "own_chains") {
      // Signed, the write not yet issued.
      if (reached("before-write")) hold(5000);
      // Durable on disk (strict durability), the app not yet told.
      this.transaction.addEventListener("complete", () => {
        if (reached("committed")) hold(5000);
      });
    }
    return add.apply(this, args);
  };
  const commit = IDBTransaction.prototype.commit;
  IDBTransaction.prototype.commit = function () {
    const result = commit.apply(this);
    // The write issued and the commit requested: the flush races the kill.
    if (this.mode === "readwrite" && this.objectStoreNames.contains("own_chains")) {
      reached("commit-requested");
    }
    return result;
  };
})();`;

interface Tablet {
  context: BrowserContext;
  page: Page;
  closed: Promise<void>;
  /// Resolves with the point once the armed point is reached.
  faultReached: Promise<FaultPoint>;
}

/// A Chromium on a profile kept across launches, as a tablet's browser keeps its storage.
async function launchTablet(
  testInfo: TestInfo,
  userDataDir: string,
  baseURL: string,
): Promise<Tablet> {
  const launchOptions = testInfo.project.use.launchOptions ?? {};
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: launchOptions.executablePath,
    args: launchOptions.args,
    baseURL,
  });
  const closed = new Promise<void>((resolve) => context.once("close", () => resolve()));
  let onFault: (point: FaultPoint) => void = () => {};
  const faultReached = new Promise<FaultPoint>((resolve) => {
    onFault = resolve;
  });
  await context.exposeBinding("batonFault", (_source, point: FaultPoint) => onFault(point));
  await context.addInitScript(faultHooks);
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page, closed, faultReached };
}

/// The browser process of a profile (the one process without `--type=`) and all its
/// descendants, read from /proc.
function browserProcesses(userDataDir: string): number[] {
  const parents = new Map<number, number>();
  let browser: number | undefined;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // The command name may hold spaces: the fields after its closing parenthesis.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parents.set(pid, Number(fields[1]));
      const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (
        args.includes(`--user-data-dir=${userDataDir}`) &&
        !args.some((arg) => arg.startsWith("--type="))
      ) {
        browser = pid;
      }
    } catch {
      // The process ended while we looked.
    }
  }
  if (browser === undefined) throw new Error(`no browser process for ${userDataDir}`);
  const family = [browser];
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, parent] of parents) {
      if (family.includes(parent) && !family.includes(pid)) {
        family.push(pid);
        grew = true;
      }
    }
  }
  return family;
}

/// SIGKILL to the browser and every process it started, as a crash or a power cut would end
/// them: no unload, no IndexedDB shutdown.
async function killBrowser(userDataDir: string, closed: Promise<void>) {
  for (const pid of browserProcesses(userDataDir)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone with its parent.
    }
  }
  await closed;
}

/// The kill points, each with what the relaunched tablet must hold.
const killPoints: Array<{
  name: string;
  hook?: FaultPoint;
  delayMs?: number;
  expected: "absent" | "kept" | "either";
}> = [
  { name: "signed, before the write is issued", hook: "before-write", expected: "absent" },
  { name: "as the commit is requested", hook: "commit-requested", expected: "either" },
  {
    name: "2 ms after the commit is requested",
    hook: "commit-requested",
    delayMs: 2,
    expected: "either",
  },
  {
    name: "once the commit is durable, before the app is told",
    hook: "committed",
    expected: "kept",
  },
  { name: "once the confirmation shows", expected: "kept" },
];

test("a browser killed around the commit of a handoff never confirms a lost event nor breaks the chain", async ({
  baseURL,
}, testInfo) => {
  test.setTimeout(300_000);
  const manager = await signInManager(baseURL!);
  const nurse = person("S-0005");
  const userDataDir = mkdtempSync(join(tmpdir(), "baton-killed-tablet-"));
  const assetTags = ["BT-10017", "BT-10018", "BT-10019", "BT-10020", "BT-10002"];
  try {
    let tablet = await launchTablet(testInfo, userDataDir, baseURL!);
    await enroll(tablet.page, await enrollmentCode(manager));
    await waitForServiceWorkerControl(tablet.page);

    for (const [point_idx, point] of killPoints.entries()) {
      const assetTag = assetTags[point_idx % assetTags.length];
      const { page } = tablet;
      const before = await ownEvents(page);
      await startCheckOut(page, assetTag, nurse);
      await page.evaluate((hook) => {
        (window as any).__batonFaultAt = hook ?? null;
      }, point.hook);
      // The tap. Its promise fails when the page dies under it.
      const tap = page
        .getByLabel(/^PIN for /)
        .press("Enter")
        .catch(() => {});
      let confirmed = false;
      if (point.hook) {
        expect(await tablet.faultReached).toBe(point.hook);
        if (point.delayMs) await new Promise((resolve) => setTimeout(resolve, point.delayMs));
      } else {
        await expect(page.getByTestId("confirmation")).toBeVisible();
        confirmed = true;
      }
      await killBrowser(userDataDir, tablet.closed);
      await tap;

      tablet = await launchTablet(testInfo, userDataDir, baseURL!);
      await tablet.page.goto("/");
      // The app starts: it found its stored chain whole (a gap or a fork fails its start).
      await expect(tablet.page.getByRole("heading", { level: 1 })).toHaveText(
        "Check out a device",
      );
      const after = await ownEvents(tablet.page);
      const kept = after.length === before.length + 1;
      testInfo.annotations.push({
        type: "kill",
        description: `${point.name}: confirmation shown ${confirmed}, event kept ${kept}`,
      });
      // Either the handoff is there, whole, or it is absent; a confirmed one is always there.
      expect([before.length, before.length + 1]).toContain(after.length);
      if (point.expected !== "either") {
        expect(kept, `${point.name}: expected the handoff ${point.expected}`).toBe(
          point.expected === "kept",
        );
      }
      if (confirmed) expect(kept, `${point.name}: a confirmed handoff was lost`).toBe(true);
      expect(after.slice(0, before.length)).toEqual(before);
      expectOneUnbrokenChain(after);
      if (kept) {
        const event = after[after.length - 1];
        expect(event.body).toMatchObject({
          type: "check_out",
          device: deviceId(assetTag),
          custodian: { staff: nurse.staffId },
        });
        // A kept handoff is shown on the board like any other.
        await tablet.page.getByRole("link", { name: "Ward board" }).click();
        await expect(tablet.page.getByTestId("recent-handoff").first()).toContainText(
          `${assetTag} checked out to ${nurse.name}`,
        );
        await tablet.page.getByRole("link", { name: "Check out" }).click();
      }
    }

    // The next capture signs the next seq, and the server accepts every kept event once, with
    // no fork and no gap.
    const { page } = tablet;
    const before = await ownEvents(page);
    await checkOut(page, "BT-10002", nurse);
    await page.screenshot({ path: `${screens}/fault-kill-next-capture.png`, fullPage: true });
    const events = await ownEvents(page);
    expect(events).toHaveLength(before.length + 1);
    expect(events[events.length - 1].seq).toBe(before.length + 1);
    expectOneUnbrokenChain(events);
    await expect(page.getByTestId("pending-count")).toHaveText("0", { timeout: 40_000 });
    const receiptsById = await receipts(page);
    for (const event of events) {
      const receipt = receiptsById.get(event.id);
      expect(receipt, `receipt of seq ${event.seq}`).toBeDefined();
      expect(["accepted", "duplicate"]).toContain(receipt!.status);
      expect(receipt!.fork ?? false).toBe(false);
    }
    const onServer: string[] = [];
    for (const assetTag of new Set(assetTags)) {
      onServer.push(...(await storedOnServer(manager, deviceId(assetTag))));
    }
    for (const event of events) {
      expect(
        onServer.filter((id) => id === event.id),
        `seq ${event.seq} stored once`,
      ).toHaveLength(1);
    }
    const signerTrouble = (await exceptions(manager)).filter(
      (exception) =>
        ["fork_detected", "persistent_gap"].includes(exception.kind) &&
        events.some((event) => (exception.evidence ?? []).includes(event.id)),
    );
    expect(signerTrouble).toEqual([]);
    await tablet.context.close();
  } finally {
    rmSync(userDataDir, { recursive: true, force: true });
    await manager.api.dispose();
  }
});

// ---------------------------------------------------------------------------------------------
// The storage quota used up.

/// One strict write of a few bytes to a database of the test's own in the tablet's origin: the
/// name of the error that refused it, or "written".
async function probeWrite(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open("quota-probe", 1);
      open.onupgradeneeded = () => open.result.createObjectStore("probe");
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const outcome = await new Promise<string>((resolve) => {
      const transaction = db.transaction("probe", "readwrite", { durability: "strict" });
      transaction.objectStore("probe").put("x".repeat(64), Date.now());
      transaction.oncomplete = () => resolve("written");
      transaction.onabort = () => resolve(transaction.error?.name ?? "aborted");
    });
    db.close();
    return outcome;
  });
}

test("with the storage quota used up a handoff is refused with nothing recorded, and goes through once space is back", async ({
  page,
  context,
  baseURL,
}) => {
  test.setTimeout(120_000);
  const manager = await signInManager(baseURL!);
  const nurse = person("S-0006");
  await enroll(page, await enrollmentCode(manager));
  await waitForServiceWorkerControl(page);
  await expect(page.getByTestId("pending-count")).toHaveText("0");
  const before = await ownEvents(page);

  // Chromium's own quota override (DevTools protocol): the origin may store one byte, far
  // below what the service worker's cache already holds, so every write is refused.
  const cdp = await context.newCDPSession(page);
  const origin = new URL(baseURL!).origin;
  await cdp.send("Storage.overrideQuotaForOrigin", { origin, quotaSize: 1 });
  // IndexedDB caches the space it was granted for a while: wait until a write of this origin
  // (to a database of the test's own) is refused, as the handoff's will be.
  await expect
    .poll(() => probeWrite(page), { timeout: 60_000, intervals: [500] })
    .toBe("QuotaExceededError");

  await startCheckOut(page, "BT-10017", nurse);
  await page.getByLabel(/^PIN for /).press("Enter");
  const error = page.locator(".capture > p.error[role=alert]");
  await expect(error).toHaveText(
    "NOT SAVED. This tablet could not store the handoff, so nothing was recorded: " +
      "this tablet's storage is full. The device has not changed hands in the record: " +
      "keep it where it is, ask IT support to free space on this tablet, then enter the PIN " +
      "again.",
  );
  await expect(page.getByTestId("confirmation")).toHaveCount(0);
  await expect(page.getByTestId("pending-count")).toHaveText("0");
  await page.screenshot({ path: `${screens}/fault-storage-full.png`, fullPage: true });
  expect(await ownEvents(page)).toEqual(before);

  // Space is back: the form still holds the device and the person, the PIN goes in again, and
  // the same handoff signs the next seq and syncs.
  await cdp.send("Storage.overrideQuotaForOrigin", { origin });
  await expect.poll(() => probeWrite(page), { timeout: 60_000, intervals: [500] }).toBe("written");
  await expect(page.getByTestId("device-card")).toContainText("BT-10017");
  await expect(page.getByTestId("person-card")).toContainText(nurse.name);
  await page.getByLabel(/^PIN for /).fill(nurse.pin);
  await page.getByLabel(/^PIN for /).press("Enter");
  await expect(page.getByTestId("confirmation")).toContainText(
    `BT-10017 checked out to ${nurse.name} at`,
  );
  await expect(error).toHaveCount(0);
  const events = await ownEvents(page);
  expect(events).toHaveLength(before.length + 1);
  expectOneUnbrokenChain(events);
  const handoff = events[events.length - 1];
  expect(handoff.body).toMatchObject({ type: "check_out", device: "D-0017" });
  await expect(page.getByTestId("pending-count")).toHaveText("0", { timeout: 40_000 });
  expect((await receipts(page)).get(handoff.id)?.status).toBe("accepted");
  expect(await storedOnServer(manager, "D-0017")).toContain(handoff.id);
  await manager.api.dispose();
});

// ---------------------------------------------------------------------------------------------
// The clock set a year ahead or behind.

for (const { direction, offsetMs, assetTag, staffId } of [
  { direction: "ahead of", offsetMs: YEAR_MS, assetTag: "BT-10018", staffId: "S-0007" },
  { direction: "behind", offsetMs: -YEAR_MS, assetTag: "BT-10019", staffId: "S-0008" },
]) {
  test(`a clock set a year ${direction.replace(" of", "")} is flagged on the tablet, and its handoff is accepted with the skew shown to the manager`, async ({
    page,
    baseURL,
  }) => {
    test.setTimeout(120_000);
    // Playwright's clock moves `Date` for the page; the server's clock is untouched.
    await page.clock.install();
    const manager = await signInManager(baseURL!);
    const nurse = person(staffId);
    await enroll(page, await enrollmentCode(manager));
    await expect(page.getByTestId("pending-count")).toHaveText("0");
    await expect(page.getByTestId("clock-warning")).toHaveCount(0);

    await page.clock.setSystemTime(Date.now() + offsetMs);
    const capturedAt = Date.now();
    await checkOut(page, assetTag, nurse);
    await expect(page.getByTestId("clock-warning")).toHaveText(
      `This tablet's clock is 365 days ${direction} the server's. Handoffs are still recorded, ` +
        "with the server's time, and the manager is shown the difference. Ask IT support to " +
        "set this tablet's date and time.",
    );
    await page.screenshot({
      path: `${screens}/fault-clock-${offsetMs > 0 ? "ahead" : "behind"}.png`,
      fullPage: true,
    });

    // The event keeps the tablet's own reading and orders as of the server's time.
    const [handoff] = (await ownEvents(page)).slice(-1);
    expect(Math.abs(handoff.hlc.ms - capturedAt)).toBeLessThan(60_000);
    expect(Math.abs(handoff.wall_ms - (capturedAt + offsetMs))).toBeLessThan(60_000);

    // It syncs: the requests carry the server's time, and the server accepts the event.
    await expect(page.getByTestId("pending-count")).toHaveText("0", { timeout: 40_000 });
    expect((await receipts(page)).get(handoff.id)?.status).toBe("accepted");
    expect(await storedOnServer(manager, deviceId(assetTag))).toContain(handoff.id);
    // The manager sees the skew, with the event as evidence.
    const skews = (await exceptions(manager)).filter(
      (exception) =>
        exception.kind === "clock_skew" && (exception.evidence ?? []).includes(handoff.id),
    );
    expect(skews).toHaveLength(1);
    expect(skews[0].device).toBe(deviceId(assetTag));
    await manager.api.dispose();
  });
}

/// The tablet's record of the server's clock at its last contact (`LastServerTime`), once a
/// sync round has kept it.
async function lastServerTime(page: Page): Promise<{ server_ms: number; local_ms: number }> {
  let kept: string | undefined;
  await expect(async () => {
    kept = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const open = indexedDB.open("baton-tablet");
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
      const record = await new Promise<string | undefined>((resolve, reject) => {
        const get = db.transaction("meta").objectStore("meta").get("last_server_time");
        get.onsuccess = () => resolve(get.result);
        get.onerror = () => reject(get.error);
      });
      db.close();
      return record;
    });
    expect(kept).toBeDefined();
  }).toPass({ timeout: 40_000 });
  return JSON.parse(kept!);
}

for (const { direction, offsetMs, assetTags, staffId } of [
  {
    direction: "ahead",
    offsetMs: YEAR_MS,
    assetTags: ["BT-10020", "BT-10002"],
    staffId: "S-0009",
  },
  {
    direction: "behind",
    offsetMs: -YEAR_MS,
    assetTags: ["BT-10016", "BT-10003"],
    staffId: "S-0010",
  },
]) {
  test(`a tablet started offline with its clock a year ${direction} signs with the last time it knew, and its handoffs are accepted and flagged once online`, async ({
    page,
    context,
    baseURL,
  }) => {
    test.setTimeout(120_000);
    const manager = await signInManager(baseURL!);
    const nurse = person(staffId);
    await enroll(page, await enrollmentCode(manager));
    await waitForServiceWorkerControl(page);
    await expect(page.getByTestId("pending-count")).toHaveText("0");
    // A sync round keeps what it measured of the server's clock, for a page started offline.
    const lastContact = await lastServerTime(page);
    expect(Math.abs(lastContact.server_ms - Date.now())).toBeLessThan(60_000);
    // Playwright's clock moves `Date` for the page. Installed only now: across a reload it
    // replays its monotonic clock from the install, where a real page's starts again at zero,
    // and it must not count time from before the last contact.
    await page.clock.install();

    // The clock jumps while the tablet is off the network, and the app starts again: this page
    // has never heard the server's time, and its own clock says a year has passed since the
    // last contact (or that time ran a year back), which it does not believe.
    await context.setOffline(true);
    await page.clock.setSystemTime(Date.now() + offsetMs);
    await page.reload();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Check out a device");
    await expect(page.getByTestId("clock-warning")).toContainText(
      "This tablet has not been able to check its clock since ",
    );
    await expect(page.getByTestId("clock-warning")).toContainText(
      "Handoffs are still recorded, with the last time it knew",
    );
    const [offlineTag, onlineTag] = assetTags;
    await checkOut(page, offlineTag, nurse);
    await expect(page.getByTestId("pending-count")).toHaveText("1");
    await page.screenshot({
      path: `${screens}/fault-clock-${direction}-offline-start.png`,
      fullPage: true,
    });
    // Signed with the last time it knew, which has certainly passed; its own clock's reading
    // stays in the record.
    const [offline] = (await ownEvents(page)).slice(-1);
    expect(offline.hlc.ms).toBeGreaterThanOrEqual(lastContact.server_ms);
    expect(offline.hlc.ms).toBeLessThanOrEqual(Date.now());
    expect(Math.abs(offline.wall_ms - (Date.now() + offsetMs))).toBeLessThan(120_000);

    // Back online: the first request is refused for its time if the last contact is too old,
    // the refusal's Date header gives the server's, and the round goes through with it. The
    // server accepts the handoff, and shows the manager the year between its two clocks.
    await context.setOffline(false);
    await expect(page.getByTestId("pending-count")).toHaveText("0", { timeout: 40_000 });
    const relation = direction === "ahead" ? "ahead of" : "behind";
    await expect(page.getByTestId("clock-warning")).toContainText(
      `This tablet's clock is 365 days ${relation} the server's.`,
      { timeout: 40_000 },
    );
    expect((await receipts(page)).get(offline.id)?.status).toBe("accepted");
    expect(await storedOnServer(manager, deviceId(offlineTag))).toContain(offline.id);
    const skewsOf = async (eventId: string) =>
      (await exceptions(manager)).filter(
        (exception) =>
          exception.kind === "clock_skew" && (exception.evidence ?? []).includes(eventId),
      );
    const offlineSkews = await skewsOf(offline.id);
    expect(offlineSkews).toHaveLength(1);
    expect(offlineSkews[0].device).toBe(deviceId(offlineTag));

    // The tablet's later handoffs are not poisoned: the next one orders as of the server's time,
    // after the first, and is accepted too.
    await checkOut(page, onlineTag, nurse);
    const [online] = (await ownEvents(page)).slice(-1);
    expect(online.seq).toBe(offline.seq + 1);
    expect(Math.abs(online.hlc.ms - Date.now())).toBeLessThan(60_000);
    expect(online.hlc.ms).toBeGreaterThanOrEqual(offline.hlc.ms);
    await expect(page.getByTestId("pending-count")).toHaveText("0", { timeout: 40_000 });
    expect((await receipts(page)).get(online.id)?.status).toBe("accepted");
    expect(await storedOnServer(manager, deviceId(onlineTag))).toContain(online.id);
    expect(await skewsOf(online.id)).toHaveLength(1);
    await page.getByRole("link", { name: "Ward board" }).click();
    await expect(page.getByTestId("retrying-list")).toHaveCount(0);
    await expect(page.getByTestId("refused-list")).toHaveCount(0);
    expectOneUnbrokenChain(await ownEvents(page));
    await manager.api.dispose();
  });
}
