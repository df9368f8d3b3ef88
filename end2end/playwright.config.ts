// Playwright drives Debian's Chromium (never a downloaded browser) against the real `baton`
// server and the real built PWA. `cargo xtask test` provides the environment below; the server
// starts on a free port with a fresh data directory and synthetic demo data.
import { defineConfig } from "@playwright/test";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the browser tests through \`cargo xtask test\``);
  }
  return value;
}

const port = required("BATON_E2E_PORT");
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: process.env.CI === "true",
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL,
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: [
      JSON.stringify(required("BATON_BIN")),
      "serve",
      "--demo",
      `--listen 127.0.0.1:${port}`,
      `--dist ${JSON.stringify(required("BATON_DIST"))}`,
      `--data-dir ${JSON.stringify(required("BATON_E2E_DATA_DIR"))}`,
      "--log-level warn",
    ].join(" "),
    url: `${baseURL}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore",
    stderr: "pipe",
  },
});
