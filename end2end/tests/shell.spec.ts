// The walking skeleton, end to end: the page is drawn by the wasm app, the service worker makes
// a second visit work with no network, and the server's headers hold. A fresh browser is an
// unenrolled tablet, so the start screen sends it to the enrollment page.
import { expect, test, type Page } from "@playwright/test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

async function waitForServiceWorkerControl(page: Page) {
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, {
    timeout: 30_000,
  });
}

test("the page renders its heading from wasm and generates a signing key", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") violations.push(message.text());
  });
  await page.goto("/");
  // index.html has no <h1>: one on the page was drawn by the Leptos app, whose router moved an
  // unenrolled tablet from the start screen to the enrollment page.
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Enroll this tablet");
  await expect(page).toHaveURL(/\/enroll$/);
  await expect(page.getByTestId("key-fingerprint")).toHaveText(/^[0-9a-f]{64}$/);
  await expect(page.getByTestId("network-status")).toHaveText("Online");
  await expect(page.getByText("Signed event format version 1")).toBeVisible();
  await expect(page.getByLabel("Enrollment code")).toBeFocused();
  await page.screenshot({ path: "test-results/screens/enroll.png", fullPage: true });
  // The strict Content-Security-Policy must not have blocked anything the app needs.
  expect(violations.filter((text) => /Content Security Policy|Refused/.test(text))).toEqual([]);
});

test("after one online visit the app starts and routes with no network", async ({ page, context }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Enroll this tablet");
  await waitForServiceWorkerControl(page);

  await context.setOffline(true);
  try {
    await page.reload();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Enroll this tablet");
    await expect(page.getByTestId("key-fingerprint")).toHaveText(/^[0-9a-f]{64}$/);
    await expect(page.getByTestId("network-status")).toContainText("Offline");
    // Enrollment needs the server: offline, the tablet says so instead of failing silently.
    await page.getByLabel("Enrollment code").fill("ABCDE-FGHJK");
    await page.getByLabel("Enrollment code").press("Enter");
    await expect(page.getByRole("alert")).toHaveText(
      "Enrollment needs the network. Connect this tablet and try again.",
    );
    // A client-side route never visited online is served from the precached shell.
    await page.goto("/board");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Enroll this tablet");
    await page.screenshot({ path: "test-results/screens/offline-route.png", fullPage: true });
  } finally {
    await context.setOffline(false);
  }
  // Back online, the status says so without a reload.
  await expect(page.getByTestId("network-status")).toHaveText("Online");
});

test("the server sends the caching and security headers the PWA relies on", async ({ request }) => {
  const index = await request.get("/");
  expect(index.status()).toBe(200);
  expect(index.headers()["cache-control"]).toBe("no-cache");
  const policy = index.headers()["content-security-policy"];
  expect(policy).toContain("'wasm-unsafe-eval'");
  expect(policy).toContain("frame-ancestors 'none'");
  expect(policy).not.toContain("unsafe-inline");

  const html = await index.text();
  const wasmPath = html.match(/\/baton-app-[0-9a-f]+_bg\.wasm/)?.[0];
  expect(wasmPath, "index.html names the hashed wasm bundle").toBeTruthy();
  const wasm = await request.get(wasmPath!);
  expect(wasm.status()).toBe(200);
  expect(wasm.headers()["cache-control"]).toBe("public, max-age=31536000, immutable");
  expect(wasm.headers()["content-type"]).toBe("application/wasm");

  // The dashboard is its own bundle: the tablet's shell never names it, and /dashboard serves it
  // under the same CSP, which lists both loaders' hashes.
  expect(html).not.toContain("baton-dashboard");
  const dashboard = await request.get("/dashboard/exceptions");
  expect(dashboard.status()).toBe(200);
  const dashboardHtml = await dashboard.text();
  expect(dashboardHtml).toMatch(/\/dashboard\/baton-dashboard-[0-9a-f]+_bg\.wasm/);
  expect(dashboard.headers()["content-security-policy"]).toBe(policy);
  expect(dashboard.headers()["cache-control"]).toBe("no-cache");
  expect((policy.match(/'sha256-/g) ?? []).length).toBe(2);

  const worker = await request.get("/sw.js");
  expect(worker.headers()["cache-control"]).toBe("no-cache");
  expect(await worker.text()).not.toContain("__BATON_BUILD_ID__");

  const manifest = await request.get("/manifest.webmanifest");
  expect((await manifest.json()).display).toBe("standalone");
});

test("a new version installs in the background and takes over only when the nurse taps it", async ({
  page,
}) => {
  const workerFile = join(process.env.BATON_DIST!, "sw.js");
  const original = readFileSync(workerFile, "utf8");
  const shellCaches = () =>
    page.evaluate(async () => (await caches.keys()).filter((name) => name.startsWith("baton-shell-")));
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Enroll this tablet");
  await waitForServiceWorkerControl(page);
  const before = await shellCaches();
  expect(before).toHaveLength(1);
  try {
    // A new build is deployed: its service worker differs byte for byte.
    writeFileSync(workerFile, original.replace(/const BUILD_ID = "([0-9a-f]+)"/, 'const BUILD_ID = "$1-next"'));
    await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      await registration!.update();
    });
    const update = page.getByTestId("update-ready");
    await expect(update).toBeVisible({ timeout: 30_000 });
    // Until asked, the old version keeps the page: nothing changes under a handoff.
    expect(await shellCaches()).toContain(before[0]);
    await page.screenshot({ path: "test-results/screens/update-ready.png", fullPage: true });
    // The tap makes the waiting worker take over and the page reload: wait for that load, and
    // poll through it (a page being replaced has no context to evaluate in for a moment).
    const reloaded = page.waitForEvent("load");
    await update.click();
    await reloaded;
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Enroll this tablet");
    await expect
      .poll(() => shellCaches().catch(() => ["(page reloading)"]), { timeout: 30_000 })
      .toEqual([`${before[0]}-next`]);
    await expect(page.getByTestId("update-ready")).toHaveCount(0);
  } finally {
    writeFileSync(workerFile, original);
  }
});
