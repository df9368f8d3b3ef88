// A site's administration from the dashboard, against the real server and the real PWA: an
// admin (made with `baton create-account`, as an operator would) creates a manager account whose
// generated password is shown once, the new manager signs in in another browser, the admin
// changes the tablets' inactivity lockout (a value out of bounds is refused naming the field,
// a good one is kept across a reload), disabling the account ends the manager's session, and a
// revocation connector is added without its secret ever showing, then disabled.
import { expect, test, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { screens } from "./support";

async function signIn(page: Page, username: string, password: string) {
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Sign in to the dashboard");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

test("an admin creates a manager who signs in, and changes the tablets' inactivity lockout", async ({
  browser,
}) => {
  test.setTimeout(120_000);
  const bin = process.env.BATON_BIN!;
  const dataDir = process.env.BATON_E2E_DATA_DIR!;
  const adminPassword = `admin-${randomBytes(12).toString("hex")}`;
  execFileSync(
    bin,
    ["create-account", "--data-dir", dataDir, "--username", "admin1", "--role", "admin"],
    { env: { ...process.env, BATON_NEW_PASSWORD: adminPassword }, stdio: "pipe" },
  );

  const adminContext = await browser.newContext();
  const page = await adminContext.newPage();
  const dialogs: string[] = [];
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto("/dashboard/admin");
  await signIn(page, "admin1", adminPassword);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Administration");
  await expect(page.getByRole("heading", { name: "Site administration" })).toBeVisible();
  await expect(page.getByRole("combobox", { name: "Site", exact: true })).toHaveValue("SITE-DEMO");

  // A bad username is refused by the server, which says why; nothing is listed.
  await page.getByLabel("New account's username").fill("two words");
  await page.getByRole("button", { name: "Create the account" }).click();
  await expect(page.getByRole("alert")).toContainText("username");
  await expect(page.getByTestId("account-two words")).toHaveCount(0);

  // A manager with a generated password, shown once.
  await page.getByLabel("New account's username").fill("nadia.manager");
  await page.getByLabel("Role").selectOption("manager");
  await page.getByRole("button", { name: "Create the account" }).click();
  const generated = page.getByTestId("generated-password");
  await expect(generated).toHaveText(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
  const managerPassword = (await generated.textContent())!.trim();
  const account = page.getByTestId("account-nadia.manager");
  await expect(account).toContainText("manager");
  await expect(account).toContainText("enabled");

  // The new manager signs in in another browser and sees the site's board.
  const managerContext = await browser.newContext();
  const managerPage = await managerContext.newPage();
  await managerPage.goto("/dashboard");
  await signIn(managerPage, "nadia.manager", managerPassword);
  await expect(managerPage.getByRole("heading", { level: 1 })).toHaveText("Custody board");
  await expect(managerPage.getByTestId("dash-row-BT-10015")).toBeVisible();

  // The lockout: out of bounds is refused naming the field, and nothing is stored.
  const lockout = page.getByLabel("Inactivity lockout (minutes)");
  await expect(lockout).toHaveValue("5");
  await lockout.fill("90");
  await page.getByRole("button", { name: "Save the configuration" }).click();
  await expect(page.getByTestId("config-problems")).toContainText(
    "inactivity_lockout_minutes: must be between 1 and 60 minutes",
  );
  await page.reload();
  await expect(page.getByLabel("Inactivity lockout (minutes)")).toHaveValue("5");

  // A good value is saved, ledgered, and still there after a reload.
  await page.getByLabel("Inactivity lockout (minutes)").fill("12");
  await page.getByRole("button", { name: "Save the configuration" }).click();
  await expect(page.getByText("Configuration saved.")).toBeVisible();
  await page.reload();
  await expect(page.getByLabel("Inactivity lockout (minutes)")).toHaveValue("12");
  const config = await (await page.request.get("/api/v1/admin/sites/SITE-DEMO/config")).json();
  expect(config.config.inactivity_lockout_minutes).toBe(12);
  // The site's ledger records it (the admin of every site reads no site's ledger; the manager does).
  const bundle = await (await managerPage.request.get("/api/v1/ledger/export")).text();
  expect(bundle).toContain("site_config_changed");
  await page.screenshot({ path: `${screens}/dashboard-admin-access.png`, fullPage: true });

  // Disabling the account ends the manager's session at once.
  await page.getByTestId("account-nadia.manager").getByRole("button", { name: "Disable" }).click();
  await expect(page.getByTestId("account-nadia.manager")).toContainText("disabled");
  await managerPage.reload();
  await expect(managerPage.getByRole("heading", { level: 1 })).toHaveText("Sign in to the dashboard");

  // A revocation connector: a bad URL is refused with the server's reason; a webhook's secret
  // is sent once and never shown; disabled again so that the other journeys' custodies are not
  // delivered to a receiver that does not exist.
  const secret = `whsec-${randomBytes(24).toString("hex")}`;
  await page.getByLabel("Kind").selectOption("webhook");
  await page.getByLabel("Connector name").fill("mdm");
  await page.getByLabel("URL", { exact: true }).fill("http://mdm.example/hook");
  await page.getByLabel("Secret (webhook").fill(secret);
  await page.getByRole("button", { name: "Add the connector" }).click();
  await expect(page.getByRole("alert")).toContainText("https");
  await expect(page.getByTestId("connector-mdm")).toHaveCount(0);
  await page.getByLabel("URL", { exact: true }).fill("https://mdm.example/hook");
  await page.getByLabel("Secret (webhook").fill(secret);
  await page.getByRole("button", { name: "Add the connector" }).click();
  const connector = page.getByTestId("connector-mdm");
  await expect(connector).toContainText("secret set");
  await expect(connector).toContainText("enabled");
  expect(await page.content()).not.toContain(secret);
  await connector.getByRole("button", { name: "Disable" }).click();
  await expect(connector).toContainText("disabled");

  // The demo's 5 minutes again, which the tablet journeys expect.
  await page.getByLabel("Inactivity lockout (minutes)").fill("5");
  await page.getByRole("button", { name: "Save the configuration" }).click();
  await expect(page.getByText("Configuration saved.")).toBeVisible();
  expect(dialogs).toEqual([]);
  await managerContext.close();
  await adminContext.close();
});
