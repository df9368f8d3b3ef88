// Helpers shared by the tablet journeys: the demo credentials the server wrote, a signed-in
// manager for enrollment codes and timelines, and the steps every tablet test repeats.
import {
  expect,
  request,
  type APIRequestContext,
  type APIResponse,
  type Page,
} from "@playwright/test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface StaffCredential {
  staffId: string;
  name: string;
  badge: string;
  pin: string;
}

export interface DemoCredentials {
  managerUsername: string;
  managerPassword: string;
  staff: StaffCredential[];
}

/// `demo-credentials.txt`, written by `baton serve --demo` into the data directory.
export function demoCredentials(): DemoCredentials {
  const dataDir = process.env.BATON_E2E_DATA_DIR;
  if (!dataDir) throw new Error("BATON_E2E_DATA_DIR is not set");
  const text = readFileSync(join(dataDir, "demo-credentials.txt"), "utf8");
  const manager = text.match(/username (\S+)\s+password (\S+)/);
  if (!manager) throw new Error("no manager line in demo-credentials.txt");
  const staff: StaffCredential[] = [];
  for (const line of text.split("\n")) {
    const row = line.match(/^(S-\d{4})\s+(.+?)\s+(?:charge_nurse|nurse)\s+(B-\d+)\s+(\d+)\s*$/);
    if (row) staff.push({ staffId: row[1], name: row[2], badge: row[3], pin: row[4] });
  }
  expect(staff.length, "the demo roster lists its staff").toBeGreaterThan(3);
  return { managerUsername: manager[1], managerPassword: manager[2], staff };
}

export function person(staffId: string): StaffCredential {
  const found = demoCredentials().staff.find((member) => member.staffId === staffId);
  if (!found) throw new Error(`${staffId} is not in the demo credentials`);
  return found;
}

/// A PIN of the same length that is certainly not this person's.
export function wrongPin(member: StaffCredential): string {
  return member.pin === "000000" ? "111111" : "000000";
}

/// A manager's POST with the session's CSRF token. A server error fails the test: the server
/// must not answer 5xx to a well-formed request (its SQLite writes take the lock up front with
/// BEGIN IMMEDIATE, so a busy database waits rather than failing).
export async function post(
  manager: Manager,
  url: string,
  data?: unknown,
): Promise<APIResponse> {
  return manager.api.post(url, {
    headers: { "x-csrf-token": manager.csrfToken },
    data,
  });
}

export interface Manager {
  api: APIRequestContext;
  csrfToken: string;
}

export async function signInManager(baseURL: string): Promise<Manager> {
  const credentials = demoCredentials();
  const api = await request.newContext({ baseURL });
  const response = await api.post("/api/v1/auth/sign-in", {
    data: { username: credentials.managerUsername, password: credentials.managerPassword },
  });
  expect(response.status(), await response.text()).toBe(200);
  const session = await response.json();
  return { api, csrfToken: session.csrf_token };
}

export async function enrollmentCode(manager: Manager, wardId = "W-4E"): Promise<string> {
  const response = await post(manager, "/api/v1/enrollment-codes", { ward_id: wardId });
  expect(response.status(), await response.text()).toBe(201);
  return (await response.json()).code;
}

export async function waitForServiceWorkerControl(page: Page) {
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, {
    timeout: 30_000,
  });
}

/// Opens the app on a fresh tablet, which lands on the enrollment page, and enrolls it with
/// the code typed as a scanner would: one burst and Enter.
export async function enroll(page: Page, code: string) {
  await page.goto("/");
  await expect(page).toHaveURL(/\/enroll$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Enroll this tablet");
  await page.getByLabel("Enrollment code").pressSequentially(code, { delay: 5 });
  const enrolled = page.getByRole("heading", { level: 1, name: "Check out a device" });
  const refused = page.getByRole("alert");
  await page.getByLabel("Enrollment code").press("Enter");
  await expect(enrolled.or(refused)).toBeVisible();
  if (!(await enrolled.isVisible())) {
    throw new Error(`enrollment refused: ${(await refused.textContent()) ?? ""}`);
  }
  await expect(page).toHaveURL(/\/$/);
}

/// A scan: the scanner types the value in one burst into the focused field and presses Enter.
export async function scan(page: Page, label: string | RegExp, value: string) {
  const field = page.getByLabel(label, { exact: typeof label === "string" });
  await expect(field).toBeFocused();
  await field.pressSequentially(value, { delay: 2 });
  await field.press("Enter");
}

export async function typePin(page: Page, pin: string) {
  const field = page.getByLabel(/^PIN for /);
  await expect(field).toBeFocused();
  await field.fill(pin);
  await field.press("Enter");
}

export const screens = "test-results/screens";
