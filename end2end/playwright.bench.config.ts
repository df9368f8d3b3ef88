// The tablet's timing benchmarks (`cargo xtask bench`), in the same Chromium against the same
// real server as the tests, but never part of `cargo xtask test`: timings are measured and
// written down, not asserted.
import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

export default defineConfig({
  ...base,
  testDir: "./bench",
  testMatch: /.*\.bench\.ts/,
  timeout: 300_000,
});
