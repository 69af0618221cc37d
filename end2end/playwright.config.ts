import { defineConfig, devices } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// The server under test is the binary cargo-leptos built, on its own port and a throw-away database,
// so a developer's running instance and its data are never touched.
const port = Number(process.env.E2E_PORT ?? 8123);
const baseURL = `http://127.0.0.1:${port}`;
const workspace = resolve(__dirname, "..");
const serverBinary = process.env.BRAINSCAN_BIN ?? join(workspace, "target/debug/brainscan");
const dataDir = mkdtempSync(join(tmpdir(), "brainscan-e2e-"));

// Debian's Chromium, never a downloaded browser. The flags keep it off the (closed) network.
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: true,
  reporter: [["list"], ["html", { outputFolder: "playwright-report", open: "never" }]],
  outputDir: "test-results",
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: chromiumArgs,
    },
  },
  projects: [
    { name: "desktop", use: { ...devices["Desktop Chrome"], channel: undefined } },
    { name: "phone", use: { ...devices["Pixel 7"], channel: undefined }, grep: /@phone/ },
  ],
  webServer: {
    command: serverBinary,
    cwd: workspace,
    url: `${baseURL}/health`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      HOST: "127.0.0.1",
      PORT: String(port),
      DATABASE_URL: `sqlite://${join(dataDir, "app.db")}`,
      UPLOAD_DIR: join(dataDir, "uploads"),
      MODEL_STORE: join(dataDir, "models"),
      MODEL_DIR: join(workspace, "models"),
      LEPTOS_SITE_ROOT: process.env.LEPTOS_SITE_ROOT ?? join(workspace, "target/site"),
      RUST_LOG: "warn",
    },
  },
});
