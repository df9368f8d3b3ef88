// The duties of a tablet that is itself a registry device: at its check-in it wipes the previous
// custodian's session from this origin (caches, storage, foreign databases, cookies through the
// server's logout) and keeps only Baton's custody log, and the signed check-in says whether the
// wipe succeeded; while someone holds it, it locks after the site's idle minutes until that
// person's badge and PIN, or until someone else checks it in.
import { expect, request, test, type Page } from "@playwright/test";
import {
  demoCredentials,
  enroll,
  enrollmentCode,
  person,
  scan,
  signInManager,
  typePin,
  waitForServiceWorkerControl,
  wrongPin,
  type StaffCredential,
} from "./support";

/// Tells the tablet which registry device it is, on its "This device" screen.
async function bindThisDevice(page: Page, assetTag: string, setBy: StaffCredential) {
  await page.getByRole("link", { name: "Ward board" }).click();
  await page.getByRole("link", { name: "This device" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("This device");
  await expect(page.getByTestId("this-device")).toContainText("has not been told");
  await scan(page, "Device asset tag", assetTag);
  await scan(page, "Staff badge", setBy.badge);
  await typePin(page, setBy.pin);
  await expect(page.getByTestId("this-device")).toContainText(`This tablet is ${assetTag}`);
}

async function checkOut(page: Page, assetTag: string, nurse: StaffCredential) {
  await page.getByRole("link", { name: "Check out" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Check out a device");
  await scan(page, "Device asset tag", assetTag);
  await scan(page, "Staff badge", nurse.badge);
  await typePin(page, nurse.pin);
  await expect(page.getByTestId("confirmation")).toContainText(
    `${assetTag} checked out to ${nurse.name}`,
  );
}

/// What the origin holds, and this tablet's own signed events from Baton's database.
async function originState(page: Page) {
  return page.evaluate(async () => {
    const events = await new Promise<string[]>((resolve, reject) => {
      const open = indexedDB.open("baton-tablet");
      open.onsuccess = () => {
        const get = open.result.transaction("own_chains").objectStore("own_chains").getAll();
        get.onsuccess = () => {
          open.result.close();
          resolve(get.result);
        };
        get.onerror = () => reject(get.error);
      };
      open.onerror = () => reject(open.error);
    });
    return {
      databases: (await indexedDB.databases()).map((database) => database.name).sort(),
      caches: (await caches.keys()).sort(),
      localKeys: Object.keys(localStorage),
      sessionKeys: Object.keys(sessionStorage),
      scriptCookies: document.cookie,
      events: events.map((json) => JSON.parse(json)),
    };
  });
}

/// What a previous custodian's web apps leave on the origin.
async function leaveSessionData(page: Page) {
  await page.evaluate(async () => {
    const cache = await caches.open("ehr-offline");
    await cache.put("/ehr/patient/123", new Response("synthetic patient record"));
    localStorage.setItem("ehr.token", "synthetic-token");
    sessionStorage.setItem("ehr.draft", "synthetic draft note");
    await new Promise<void>((resolve, reject) => {
      const open = indexedDB.open("ehr-cache", 1);
      open.onupgradeneeded = () => open.result.createObjectStore("patients");
      open.onsuccess = () => {
        const db = open.result;
        const transaction = db.transaction("patients", "readwrite");
        transaction.objectStore("patients").put({ name: "Synthetic Patient" }, "p-1");
        transaction.oncomplete = () => {
          db.close();
          resolve();
        };
        transaction.onerror = () => reject(transaction.error);
      };
      open.onerror = () => reject(open.error);
    });
    document.cookie = "ehr_sid=synthetic; Path=/";
  });
}

test("checking in the tablet itself wipes the previous custodian's session and the signed record says so", async ({
  page,
  context,
  baseURL,
}) => {
  test.setTimeout(120_000);
  const manager = await signInManager(baseURL!);
  const nurse = person("S-0001");
  const returner = person("S-0002");
  await enroll(page, await enrollmentCode(manager));
  await waitForServiceWorkerControl(page);
  await bindThisDevice(page, "BT-10004", nurse);
  await checkOut(page, "BT-10004", nurse);

  // The custodian's session: an app's caches, storage and database, a script cookie, and a
  // dashboard session (HttpOnly: no script can remove it) signed in from this browser.
  await leaveSessionData(page);
  const credentials = demoCredentials();
  const signIn = await page.request.post("/api/v1/auth/sign-in", {
    data: { username: credentials.managerUsername, password: credentials.managerPassword },
  });
  expect(signIn.status()).toBe(200);
  const sessionCookie = (await context.cookies()).find((cookie) => cookie.name === "baton_session");
  expect(sessionCookie?.httpOnly).toBe(true);
  const before = await originState(page);
  expect(before.databases).toEqual(["baton-tablet", "ehr-cache"]);
  expect(before.caches).toContain("ehr-offline");
  const shellCaches = before.caches.filter((name) => name.startsWith("baton-shell-"));
  expect(shellCaches.length).toBeGreaterThan(0);

  await page.getByRole("link", { name: "Check in" }).click();
  await scan(page, "Device asset tag", "BT-10004");
  // Nobody ticks "wiped" for the tablet itself: the wipe's result is recorded.
  await expect(page.getByTestId("auto-wipe")).toBeVisible();
  await expect(page.getByLabel("Local patient data wiped")).toHaveCount(0);
  await page.getByLabel("Signed out of every app").check();
  await page.getByLabel("Staff badge", { exact: true }).click();
  await scan(page, "Staff badge", returner.badge);
  await typePin(page, returner.pin);
  await expect(page.getByTestId("confirmation")).toContainText(
    `BT-10004 checked in by ${returner.name}`,
  );
  await expect(page.getByTestId("wipe-report")).toContainText(
    "Local data of the previous custodian wiped",
  );

  const after = await originState(page);
  expect(after.databases).toEqual(["baton-tablet"]);
  expect(after.caches).toEqual(shellCaches);
  expect(after.localKeys).toEqual([]);
  expect(after.sessionKeys).toEqual([]);
  expect(after.scriptCookies).toBe("");
  expect((await context.cookies()).map((cookie) => cookie.name)).not.toContain("baton_session");
  // The custody log is whole, and the signed check-in records the wipe.
  expect(after.events.map((event) => event.body.type)).toEqual(["check_out", "check_in"]);
  expect(after.events[1].body.checklist).toEqual({
    apps_signed_out: true,
    local_data_wiped: true,
    condition: "ok",
  });
  // The dashboard session is over on the server too: a copy of the cookie is worthless.
  const copied = await request.newContext({
    baseURL,
    extraHTTPHeaders: { cookie: `baton_session=${sessionCookie!.value}` },
  });
  expect((await copied.get("/api/v1/auth/session")).status()).toBe(401);
  await copied.dispose();

  // Offline, the server cannot expire its cookie: the wipe is incomplete, the nurse is told
  // what is left, and the record does not claim it.
  await checkOut(page, "BT-10004", nurse);
  await leaveSessionData(page);
  await context.setOffline(true);
  await page.getByRole("link", { name: "Check in" }).click();
  await scan(page, "Device asset tag", "BT-10004");
  await page.getByLabel("Staff badge", { exact: true }).click();
  await scan(page, "Staff badge", returner.badge);
  await typePin(page, returner.pin);
  await expect(page.getByTestId("confirmation")).toContainText(
    `BT-10004 checked in by ${returner.name}`,
  );
  const report = page.getByTestId("wipe-report");
  await expect(report).toContainText("did not finish, so it is not recorded as done");
  await expect(report).toContainText("the server's session cookies");
  const offline = await originState(page);
  expect(offline.databases).toEqual(["baton-tablet"]);
  expect(offline.localKeys).toEqual([]);
  expect(offline.events.map((event) => event.body.type)).toEqual([
    "check_out",
    "check_in",
    "check_out",
    "check_in",
  ]);
  expect(offline.events[3].body.checklist.local_data_wiped).toBe(false);
  await context.setOffline(false);
});

test("a held tablet locks after the site's idle minutes until its custodian's badge and PIN, or someone checks it in", async ({
  page,
  baseURL,
}) => {
  test.setTimeout(120_000);
  await page.clock.install();
  const manager = await signInManager(baseURL!);
  const nurse = person("S-0003");
  const colleague = person("S-0004");
  await enroll(page, await enrollmentCode(manager));
  await bindThisDevice(page, "BT-10012", nurse);
  await checkOut(page, "BT-10012", nurse);

  // The demo site locks after 5 idle minutes.
  await page.clock.fastForward("05:01");
  const lockScreen = page.getByTestId("lock-screen");
  await expect(lockScreen).toBeVisible();
  await expect(lockScreen).toContainText(`It is held by ${nurse.name}`);
  // The pages are gone, not hidden behind it.
  await expect(page.getByRole("link", { name: "Ward board" })).toHaveCount(0);

  // Someone else's right badge does not unlock it; the custodian's wrong PIN does not either.
  await scan(page, "Staff badge", colleague.badge);
  await expect(lockScreen.getByRole("alert")).toContainText(
    `${colleague.name} does not hold this tablet`,
  );
  await scan(page, "Staff badge", nurse.badge);
  await typePin(page, wrongPin(nurse));
  await expect(lockScreen.getByRole("alert")).toContainText("Wrong PIN");
  await expect(lockScreen).toBeVisible();
  await typePin(page, nurse.pin);
  await expect(lockScreen).toHaveCount(0);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Check out a device");

  // Idle again: a colleague who finds it checks it in with their own badge and PIN, which ends
  // the custody, lifts the lock and wipes the session.
  await page.clock.fastForward("05:01");
  await expect(lockScreen).toBeVisible();
  await page.getByRole("button", { name: "Someone else: check this tablet in" }).click();
  await expect(page.getByTestId("device-card")).toContainText("BT-10012");
  await page.getByLabel("Staff badge", { exact: true }).click();
  await scan(page, "Staff badge", colleague.badge);
  await typePin(page, colleague.pin);
  await expect(lockScreen).toHaveCount(0);
  // The wipe ran. The faked clock is now ten minutes ahead of the server's, outside the
  // signed-request window: the logout is refused for its time once, and signed again with the
  // server's time read from the refusal (app/src/tablet/clock_check.rs), so the wipe completes.
  await expect(page.getByTestId("wipe-report")).toContainText(
    "Local data of the previous custodian wiped from this tablet",
  );
  const events = await page.evaluate(async () => {
    return new Promise<string[]>((resolve, reject) => {
      const open = indexedDB.open("baton-tablet");
      open.onsuccess = () => {
        const get = open.result.transaction("own_chains").objectStore("own_chains").getAll();
        get.onsuccess = () => resolve(get.result);
        get.onerror = () => reject(get.error);
      };
      open.onerror = () => reject(open.error);
    });
  });
  const last = JSON.parse(events[events.length - 1]);
  expect(last.body).toMatchObject({
    type: "check_in",
    device: "D-0012",
    returned_by: { staff: colleague.staffId, method: "badge_pin" },
  });
  // The lock is a screen lock, not the end of custody: no lockout event was signed.
  expect(events.map((json) => JSON.parse(json).body.type)).toEqual(["check_out", "check_in"]);
});
