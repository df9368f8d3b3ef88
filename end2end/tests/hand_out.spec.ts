// The charge nurse's bulk hand-out at shift start: badge and PIN once, then a badge scan per
// recipient and a scan per device; every device is its own signed check-out naming both people,
// and the server holds them as such after the sync.
import { expect, test } from "@playwright/test";
import {
  enroll,
  enrollmentCode,
  person,
  scan,
  screens,
  signInManager,
  typePin,
  waitForServiceWorkerControl,
} from "./support";

test("a charge nurse hands devices to two people in turn; each device is its own signed check-out", async ({
  page,
  baseURL,
}) => {
  test.setTimeout(120_000);
  const manager = await signInManager(baseURL!);
  await enroll(page, await enrollmentCode(manager));
  await waitForServiceWorkerControl(page);
  // The demo roster: S-0001 to S-0004 are charge nurses, everyone else a nurse.
  const chargeNurse = person("S-0003");
  const nurse = person("S-0006");
  const firstRecipient = person("S-0008");
  const secondRecipient = person("S-0009");

  await page.getByRole("link", { name: "Hand out" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(
    "Hand out devices at shift start",
  );

  // A nurse cannot issue a hand-out: refused before the PIN is asked.
  await scan(page, "Staff badge", nurse.badge);
  await expect(page.getByRole("alert")).toContainText(
    `${nurse.name} cannot start a hand-out: only a charge nurse or a manager can`,
  );
  await expect(page.getByLabel(/^PIN for /)).toHaveCount(0);

  // The charge nurse: badge and PIN, once.
  await page.getByLabel("Staff badge", { exact: true }).fill("");
  await scan(page, "Staff badge", chargeNurse.badge);
  await typePin(page, chargeNurse.pin);
  await expect(page.getByTestId("hand-out-issuer")).toHaveText(
    `Hand-out started by ${chargeNurse.name}.`,
  );

  // The charge nurse cannot hand to themself here.
  await scan(page, "Hand out to: scan their badge", chargeNurse.badge);
  await expect(page.getByRole("alert")).toContainText("cannot hand a device to themself");

  // First recipient: a badge scan, then two devices.
  await scan(page, "Hand out to: scan their badge", firstRecipient.badge);
  await expect(page.getByTestId("hand-out-to")).toContainText(firstRecipient.name);
  const deviceField = `Devices for ${firstRecipient.name}: scan each one`;
  await scan(page, deviceField, "BT-10018");
  const list = page.getByTestId("hand-out-list");
  await expect(list.locator("li")).toHaveCount(1);
  await scan(page, deviceField, "BT-10019");
  await expect(list.locator("li")).toHaveCount(2);
  await expect(list).toContainText(`BT-10019 handed out to ${firstRecipient.name} at`);

  // A device already handed out is refused, not taken from its holder.
  await scan(page, deviceField, "BT-10018");
  await expect(page.getByRole("alert")).toContainText(
    `BT-10018 is held by ${firstRecipient.name} since`,
  );
  await expect(list.locator("li")).toHaveCount(2);

  // Next person: another badge, another device.
  await page.getByRole("button", { name: "Next person" }).click();
  await scan(page, "Hand out to: scan their badge", secondRecipient.badge);
  await scan(page, `Devices for ${secondRecipient.name}: scan each one`, "BT-10020");
  await expect(list.locator("li")).toHaveCount(3);
  await expect(list.locator("li").first()).toContainText(
    `BT-10020 handed out to ${secondRecipient.name} at`,
  );
  await page.screenshot({ path: `${screens}/hand-out.png`, fullPage: true });

  // Finishing ends the charge nurse's authentication: the next run asks for badge and PIN.
  await page.getByRole("button", { name: "Finish hand-out" }).click();
  await expect(page.getByLabel("Staff badge", { exact: true })).toBeVisible();
  await expect(page.getByTestId("hand-out-issuer")).toHaveCount(0);

  // The tablet syncs by itself; the server holds three check-outs, each naming both people.
  await expect(page.getByTestId("pending-count")).toHaveText("0", { timeout: 30_000 });
  for (const [deviceId, recipient] of [
    ["D-0018", firstRecipient],
    ["D-0019", firstRecipient],
    ["D-0020", secondRecipient],
  ] as const) {
    const response = await manager.api.get(`/api/v1/dashboard/devices/${deviceId}/timeline`);
    expect(response.status(), await response.text()).toBe(200);
    const bodies = bodiesIn(await response.json());
    const handOut = bodies.find(
      (body) => body.type === "check_out" && body.custodian?.staff === recipient.staffId,
    );
    expect(handOut, JSON.stringify(bodies)).toMatchObject({
      device: deviceId,
      custodian: { staff: recipient.staffId, method: "badge" },
      issued_by: { staff: chargeNurse.staffId, method: "badge_pin" },
      ward: "W-4E",
    });
  }

  // The devices go back, so that later journeys find them free.
  await page.getByRole("link", { name: "Check in" }).click();
  for (const [tag, holder] of [
    ["BT-10018", firstRecipient],
    ["BT-10019", firstRecipient],
    ["BT-10020", secondRecipient],
  ] as const) {
    const field = page.getByLabel("Device asset tag", { exact: true });
    await field.fill(tag);
    await field.press("Enter");
    await page.getByLabel("Signed out of every app").check();
    await page.getByLabel("Local patient data wiped").check();
    await page.getByLabel("Staff badge", { exact: true }).click();
    await scan(page, "Staff badge", holder.badge);
    await typePin(page, holder.pin);
    await expect(page.getByTestId("confirmation")).toContainText(`${tag} checked in by`);
  }
  await expect(page.getByTestId("pending-count")).toHaveText("0", { timeout: 30_000 });
  await manager.api.dispose();
});

/// Every event body in a timeline response, wherever its entries sit.
function bodiesIn(value: unknown): any[] {
  if (Array.isArray(value)) return value.flatMap(bodiesIn);
  if (value && typeof value === "object") {
    const object = value as Record<string, unknown>;
    const own = object.body && typeof object.body === "object" ? [object.body] : [];
    return own.concat(
      Object.entries(object)
        .filter(([key]) => key !== "body")
        .flatMap(([, child]) => bodiesIn(child)),
    );
  }
  return [];
}
